package experiments

import (
	"strings"
	"testing"
)

func TestDefaultsDecodeAndValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.Model.Layers != 2 || c.Masks.Self != "causal & pad" || c.Optim.Epsilon != 1e-8 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	// Every key of DefaultYAML is settable and the listing is complete.
	if len(Keys()) < 30 {
		t.Fatalf("Keys() = %v", Keys())
	}
}

func TestSetOverrides(t *testing.T) {
	c := Default()
	if err := c.SetAll([]string{"model.layers=4", "masks.input=span(0.15,3)", "optim.lr=3e-4", "masks.self=!causal | pad", "eval.test=true"}); err != nil {
		t.Fatal(err)
	}
	if c.Model.Layers != 4 || c.Masks.Input != "span(0.15,3)" || c.Optim.LR != 3e-4 || c.Masks.Self != "!causal | pad" || !c.Eval.Test {
		t.Fatalf("overrides not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSetErrors(t *testing.T) {
	for _, tc := range []struct {
		kv   string
		want []string // substrings of the error
	}{
		{"model.layer=4", []string{"model.layer", "4", `did you mean "model.layers"`}},
		{"layers=4", []string{"layers", `"model.layers"`}},
		{"optim.lr=fast", []string{"optim.lr", "fast", "a number"}},
		{"model.layers=2.5", []string{"model.layers", "2.5", "an integer"}},
		{"model=3", []string{"model", "is a section", "model.kind"}},
		{"nokeyvalue", []string{"want key=value"}},
	} {
		err := Default().SetAll([]string{tc.kv})
		if err == nil {
			t.Errorf("--set %s: no error", tc.kv)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("--set %s: error %q lacks %q", tc.kv, err, w)
			}
		}
	}
}

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		kv   string
		want []string
	}{
		{"masks.self=causal & windw(3)", []string{"masks.self", "windw", "window"}},
		{"masks.input=spam(0.1,3)", []string{"masks.input", "spam", "span"}},
		{"masks.loss=plw(2)", []string{"masks.loss", "plw"}},
		{"model.kind=transformer", []string{"model.kind", "transformer", "seq2seq"}},
		{"task.name=revrse", []string{"task.name", "revrse", `did you mean "reverse"`}},
		{"model.d_model=30", []string{"model.d_model", "multiple of model.heads"}},
	} {
		c := Default()
		if err := c.SetAll([]string{tc.kv}); err != nil {
			t.Fatalf("%s: %v", tc.kv, err)
		}
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: validates", tc.kv)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.kv, err, w)
			}
		}
	}
}

func TestParseConfigUnknownKey(t *testing.T) {
	_, err := ParseConfig([]byte("model:\n  layer: 3\n"), "x.yaml")
	if err == nil || !strings.Contains(err.Error(), `did you mean "model.layers"`) || !strings.Contains(err.Error(), "x.yaml") {
		t.Fatalf("err = %v", err)
	}
	c, err := ParseConfig([]byte("model:\n  layers: 3\n"), "x.yaml")
	if err != nil || c.Model.Layers != 3 || c.Model.DModel != 64 {
		t.Fatalf("c=%+v err=%v", c, err)
	}
}

func TestHashIgnoresBackend(t *testing.T) {
	a, b := Default(), Default()
	b.Backend = "xla:cpu"
	if a.Hash() != b.Hash() {
		t.Fatal("backend changes the hash")
	}
	b.Seed = 2
	if a.Hash() == b.Hash() {
		t.Fatal("seed does not change the hash")
	}
}

// A config file's mistakes are named by dotted key and line: a misspelt section or key
// with the closest valid one, and a value of the wrong type with the type wanted.
func TestParseConfigNamesKeyAndLine(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"modle:\n  layers: 2\n", `line 1: unknown key "modle"; did you mean "model"?`},
		{"model:\n  layers: four\n", `line 2: bad value for model.layers: want an integer, got "four"`},
		{"eval:\n  test: yes\n", `line 2: bad value for eval.test: want true or false, got "yes"`},
		{"task: reverse\n", `line 1: task is a section: want keys under it (e.g. task.name), got "reverse"`},
		{"optim:\n  lr: [1]\n", `line 2: bad value for optim.lr: want a number, got a list`},
	} {
		_, err := ParseConfig([]byte(tc.yaml), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config x.yaml: ") {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
