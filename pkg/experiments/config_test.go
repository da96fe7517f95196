package experiments

import (
	"os"
	"path/filepath"
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

// A user data file is part of a run's identity: its path is made absolute (relative to
// the config or sweep file that names it) and its content hash recorded, so editing the
// file makes a new run instead of reporting the old one as done; a planned run whose
// file changed since refuses to train or evaluate on the new content.
func TestDataFileIsPartOfTheRunIdentity(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "pairs.tsv")
	write := func(s string) {
		if err := os.WriteFile(data, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("abc\tcba\nhello\tolleh\n")
	cfgPath := filepath.Join(dir, "run.yaml")
	os.WriteFile(cfgPath, []byte("task:\n  name: tsv:pairs.tsv\n"), 0o644)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Task.Name != "tsv:"+data {
		t.Errorf("task.name = %q, want the path relative to the config file: %q", cfg.Task.Name, "tsv:"+data)
	}
	if err := cfg.ResolveData("/elsewhere"); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Task.DataSHA256) != 64 {
		t.Fatalf("data_sha256 = %q", cfg.Task.DataSHA256)
	}
	before := cfg.ID()
	again := cfg.Clone()
	if err := again.ResolveData("."); err != nil || again.ID() != before {
		t.Errorf("resolving the same file again changed the id: %v", err)
	}
	write("abc\tcba\nhello\tolleh\nnew\twen\n")
	if err := cfg.checkData(); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("checkData after an edit: %v, want it to say the file changed", err)
	}
	edited := cfg.Clone()
	if err := edited.ResolveData("."); err != nil || edited.ID() == before {
		t.Errorf("an edited data file kept the run id %s (err %v)", before, err)
	}
	// A sweep file's relative paths are relative to the sweep file.
	sweep := filepath.Join(dir, "s.yaml")
	os.WriteFile(sweep, []byte("name: s\nbase:\n  task: {name: pairs.tsv}\n  model: {layers: 1}\n"), 0o644)
	sf, err := LoadSweep(sweep)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanSweep(sf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Runs[0].Config.Task.Name; got != data || p.Runs[0].Config.Task.DataSHA256 != edited.Task.DataSHA256 {
		t.Errorf("sweep run task %q (sha %.8s), want %q", got, p.Runs[0].Config.Task.DataSHA256, data)
	}
	// A missing file is an error naming it.
	missing := Default()
	missing.Task.Name = "tsv:nope.tsv"
	if err := missing.ResolveData(dir); err == nil || !strings.Contains(err.Error(), "nope.tsv") {
		t.Errorf("missing data file: %v", err)
	}
	// Built-in tasks have no hash, so their run ids are what they were.
	b := Default()
	if err := b.ResolveData(dir); err != nil || b.Task.DataSHA256 != "" || strings.Contains(string(b.YAML()), "data_sha256") {
		t.Errorf("built-in task: %v, %q", err, b.Task.DataSHA256)
	}
}

// A poetry task's arguments reach datasets.CheckName: filters pass, an unknown one is an
// error naming it, and a misspelt task still gets "did you mean".
func TestTaskNameArguments(t *testing.T) {
	for name, want := range map[string]string{
		"poetry-lm:tang,by-author": "",
		"poetry-couplet:song":      "",
		"poetry-lm:ming":           `unknown argument "ming"`,
		"poetyr-lm":                `did you mean "poetry-lm"`,
	} {
		c := Default()
		c.Task.Name = name
		c.Model.Kind = "decoder"
		if name == "poetry-couplet:song" {
			c.Model.Kind = "seq2seq"
		}
		errs := strings.Join(validateTask(c), "; ")
		if (want == "") != (errs == "") || (want != "" && !strings.Contains(errs, want)) {
			t.Errorf("%s: errors %q, want %q", name, errs, want)
		}
	}
}

// masks.score defaults to none and is left out of the resolved YAML when none, so every
// config from before it keeps its run id; set, it is part of the id and validated.
func TestScoreKeepsOldRunIDs(t *testing.T) {
	c := Default()
	if c.Masks.Score != "none" || strings.Contains(string(c.YAML()), "score") {
		t.Fatalf("default masks.score = %q; YAML:\n%s", c.Masks.Score, c.YAML())
	}
	// The default config's id, as before masks.score existed (at commit ffa106f).
	old := c.ID()
	if old != "281174a5360e" {
		t.Errorf("the default config's id is %s, was 281174a5360e before masks.score", old)
	}
	for _, none := range []string{"", "none"} {
		c.Masks.Score = Score(none)
		if c.ID() != old {
			t.Errorf("masks.score=%q changes the run id", none)
		}
	}
	if err := c.SetAll([]string{"masks.score=alibi + softcap(30)", "model.positions=none"}); err != nil {
		t.Fatal(err)
	}
	if c.Masks.Score != "alibi + softcap(30)" || c.ID() == old || !strings.Contains(string(c.YAML()), "score: alibi + softcap(30)") {
		t.Errorf("masks.score=%q, id %s (default %s); YAML:\n%s", c.Masks.Score, c.ID(), old, c.YAML())
	}
	if err := c.Validate(); err != nil {
		t.Errorf("alibi with positions none: %v", err)
	}
	// A config file written with the score loads it back.
	back, err := ParseConfig(c.YAML(), "back")
	if err != nil || back.Masks.Score != c.Masks.Score || back.ID() != c.ID() {
		t.Errorf("round trip: %v, %q", err, back.Masks.Score)
	}
	c.Masks.Score = "alibbi"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `masks.score="alibbi"`) || !strings.Contains(err.Error(), `did you mean "alibi"`) {
		t.Errorf("masks.score=alibbi: %v", err)
	}
}
