package experiments

import (
	"fmt"
	"strings"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/internal/textutil"
	"github.com/masklab/masklab/pkg/mask"
)

// validateMasks parses every mask string of the config with pkg/mask.
func validateMasks(c *Config) []string {
	var errs []string
	for _, m := range []struct {
		key  string
		kind mask.Kind
		spec string
	}{
		{"masks.self", mask.KindSelf, c.Masks.Self},
		{"masks.cross", mask.KindCross, c.Masks.Cross},
		{"masks.input", mask.KindInput, c.Masks.Input},
		{"masks.loss", mask.KindLoss, c.Masks.Loss},
	} {
		if err := mask.Validate(m.kind, m.spec); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: %v", m.key, m.spec, err))
		}
	}
	return errs
}

// validateTask checks the task name against the datasets package.
func validateTask(c *Config) []string {
	name := c.Task.Name
	if kind, _, ok := strings.Cut(name, ":"); ok && (kind == "tsv" || kind == "jsonl") {
		return nil
	}
	if strings.HasSuffix(name, ".tsv") || strings.HasSuffix(name, ".jsonl") {
		return nil
	}
	known := datasets.Names()
	for _, k := range known {
		if k == name {
			return nil
		}
	}
	msg := fmt.Sprintf("task.name=%q: unknown task; known: %s, tsv:PATH, jsonl:PATH", name, strings.Join(known, ", "))
	if near := textutil.Closest(name, known); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return []string{msg}
}
