package yamlkeys

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/masklab/masklab/internal/textutil"
)

// ExplainTypeError turns yaml.v3's decoding errors into one line, and its "field X not
// found in type PKG.T" (T one of types, values of the structs a document decodes into)
// into the unknown key with the closest valid one.
func ExplainTypeError(err error, pkg string, types ...any) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	byName := map[string]reflect.Type{}
	for _, v := range types {
		t := reflect.TypeOf(v)
		byName[t.Name()] = t
	}
	var parts []string
	for _, e := range te.Errors {
		var line int
		var field, typ string
		if n, _ := fmt.Sscanf(e, "line %d: field %s not found in type "+pkg+".%s", &line, &field, &typ); n == 3 && byName[typ] != nil {
			var keys []string
			t := byName[typ]
			for i := 0; i < t.NumField(); i++ {
				keys = append(keys, strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
			}
			e = fmt.Sprintf("line %d: unknown key %q", line, field)
			if near := textutil.Closest(field, keys); near != "" {
				e += fmt.Sprintf("; did you mean %q?", near)
			} else {
				e += "; known keys: " + strings.Join(keys, ", ")
			}
		}
		parts = append(parts, e)
	}
	return strings.Join(parts, "; ")
}

// Diff names the dotted keys (in the order of keys, skipping skip) whose values differ
// between two YAML documents ("model.layers: \"2\" there, \"4\" here"), at most max of
// them and a count of the rest.
func Diff(old, cur []byte, keys []string, max int, skip ...string) string {
	leaves := func(doc []byte) map[string]string {
		var n yaml.Node
		_ = yaml.Unmarshal(doc, &n)
		out := map[string]string{}
		var walk func(prefix string, m *yaml.Node)
		walk = func(prefix string, m *yaml.Node) {
			for i := 0; i+1 < len(m.Content); i += 2 {
				k := m.Content[i].Value
				if prefix != "" {
					k = prefix + "." + k
				}
				if v := m.Content[i+1]; v.Kind == yaml.MappingNode {
					walk(k, v)
				} else {
					out[k] = v.Value
				}
			}
		}
		if len(n.Content) > 0 {
			walk("", n.Content[0])
		}
		return out
	}
	a, b := leaves(old), leaves(cur)
	skipped := map[string]bool{}
	for _, k := range skip {
		skipped[k] = true
	}
	var diffs []string
	for _, k := range keys {
		if a[k] != b[k] && !skipped[k] {
			diffs = append(diffs, fmt.Sprintf("%s: %q there, %q here", k, a[k], b[k]))
		}
	}
	if len(diffs) > max {
		diffs = append(diffs[:max], fmt.Sprintf("and %d more", len(diffs)-max))
	}
	return strings.Join(diffs, ", ")
}
