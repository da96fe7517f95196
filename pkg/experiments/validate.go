package experiments

import (
	"cmp"
	"fmt"
	"slices"
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
		{"masks.score", mask.KindScore, cmp.Or(string(c.Masks.Score), "none")},
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
	err := datasets.CheckName(name)
	if err == nil {
		return nil
	}
	known := datasets.Names()
	if base, _, ok := strings.Cut(name, ":"); ok && slices.Contains(known, base) {
		return []string{"task.name: " + err.Error()} // a known task with a bad argument
	}
	msg := fmt.Sprintf("task.name=%q: unknown task; known: %s, tsv:PATH, jsonl:PATH", name, strings.Join(known, ", "))
	if near := textutil.Closest(name, known); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return []string{msg}
}
