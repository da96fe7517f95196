package experiments_test

import (
	"bytes"
	"testing"

	"github.com/masklab/masklab/pkg/experiments"
)

// FuzzParseConfig: the config loader never panics on any bytes (errors are fine), and a
// config it accepts survives the trip through its own YAML: the re-parsed config
// serializes to the same bytes and so has the same hash, the run's identity.
// Seeds: f.Add below and testdata/fuzz/FuzzParseConfig (both replayed by go test).
// Found by fuzzing and kept there: 924f97b94a4a668a and leading-tab-multiline (and
// FuzzSetOverride's leading-newline), strings of several lines that start with a line
// break or a tab, which yaml.v3 writes as block scalars that read back as another value
// or not at all.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"",
		"{}",
		experiments.DefaultYAML,
		"model:\n  layers: 4\n  d_model: 128\nmasks:\n  self: \"causal & window(3)\"\n",
		"task: {name: reverse, vocab: 32}\ntrain: {steps: 10}\n",
		"model:\n  layres: 2\n",              // unknown key
		"model: 3\n",                         // scalar for a mapping
		"model:\n  layers: two\n",            // wrong type
		"seed: 99999999999999999999999\n",    // out of range
		"model:\n  dropout: .nan\n",          // NaN
		"optim:\n  lr: .inf\n",               // Inf
		"optim:\n  lr: 1e400\n",              // overflows float64
		"seed: 0x10\n",                       // hex
		"seed: -0\n",                         // negative zero
		"model: ~\n",                         // null
		"a: &x 1\nb: *x\n",                   // anchors
		"model: &m {layers: 2}\ntrain: *m\n", // an alias of the wrong mapping
		"<<: {seed: 3}\n",                    // merge key
		"seed: 1\nseed: 2\n",                 // duplicate key
		"--- \nseed: 1\n---\nseed: 2\n",      // two documents
		"seed: !!binary aGVsbG8=\n",          // a tag
		"task:\n  name: \"tsv:caf\u00e9 \u7a0b\u5e8f.tsv\"\n", // unicode in a string
		"\ufeffseed: 4\n", // byte-order mark
		"masks:\n  self: |\n    causal &\n    pad\n", // block scalar with a newline
		"backend: \"\\x00\"\n",                       // NUL in a string
		"init_from: [1, 2]\n",                        // sequence for a string
		"seed:\t1\n",                                 // tab
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := experiments.ParseConfig(data, "fuzz.yaml")
		if err != nil {
			return
		}
		y := c.YAML()
		c2, err := experiments.ParseConfig(y, "fuzz-again.yaml")
		if err != nil {
			t.Fatalf("a parsed config's YAML does not parse again: %v\ninput:\n%q\nYAML:\n%s", err, data, y)
		}
		if y2 := c2.YAML(); !bytes.Equal(y, y2) {
			t.Fatalf("YAML changes on a second trip:\ninput %q\nfirst:\n%s\nsecond:\n%s", data, y, y2)
		}
		if c.Hash() != c2.Hash() || c.ID() != c2.ID() {
			t.Fatalf("hash changes on a trip through YAML: %s -> %s (input %q)", c.Hash(), c2.Hash(), data)
		}
	})
}

// FuzzSetOverride: "--set key=value" never panics, whatever the key and value, and an
// override it accepts is a config that survives the trip through YAML with its hash.
func FuzzSetOverride(f *testing.F) {
	for _, kv := range [][2]string{
		{"model.layers", "4"},
		{"model.layers", "-1"},
		{"model.layers", "4.5"},
		{"model.layers", "99999999999999999999"},
		{"model.layr", "3"},
		{"layers", "3"},
		{"model", "3"},
		{"masks.self", "causal & windw(2)"},
		{"masks.input", "span(0.15,3)"},
		{"optim.lr", "fast"},
		{"optim.lr", ".nan"},
		{"optim.lr", "1e-3"},
		{"model.tie_embeddings", "yes"},
		{"model.tie_embeddings", "true"},
		{"seed", "0x7fffffffffffffff"},
		{"task.name", "tsv:data.tsv"},
		{"task.name", "{a: 1}"},
		{"backend", "xla:cpu"},
		{"init_from", ""},
		{"", ""},
		{".", "1"},
		{"model.", "1"},
		{"eval.test", "[1]"},
		{"train.steps", "&a 1"},
		{"train.steps", "*a"},
	} {
		f.Add(kv[0], kv[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		c := experiments.Default()
		if err := c.Set(key, value); err != nil {
			return
		}
		y := c.YAML()
		c2, err := experiments.ParseConfig(y, "set.yaml")
		if err != nil {
			t.Fatalf("Set(%q, %q) gives a config whose YAML does not parse: %v\n%s", key, value, err, y)
		}
		if c.Hash() != c2.Hash() {
			t.Fatalf("Set(%q, %q): hash changes on a trip through YAML:\n%s\nvs\n%s", key, value, y, c2.YAML())
		}
	})
}
