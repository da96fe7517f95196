package yamlkeys

import (
	"strings"
	"testing"
)

type cfg struct {
	Model struct {
		Layers int    `yaml:"layers"`
		Norm   string `yaml:"norm"`
	} `yaml:"model"`
	LR float64 `yaml:"lr"`
}

const defaults = "model:\n  layers: 2\n  norm: pre\nlr: 0.001\n"

func TestSchema(t *testing.T) {
	s := New[cfg](defaults)
	if got := strings.Join(s.Keys(), ","); got != "model.layers,model.norm,lr" {
		t.Fatalf("Keys = %s", got)
	}
	c, err := s.Decode([]byte("model:\n  layers: 4\n"), "config x.yaml", nil)
	if err != nil || c.Model.Layers != 4 {
		t.Fatalf("Decode: %+v, %v", c, err)
	}
	if err := s.Set(c, "model.norm", "post"); err != nil || c.Model.Norm != "post" {
		t.Fatalf("Set: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		do   func() error
		want []string
	}{
		{func() error { _, err := s.Decode([]byte("model:\n  layres: 4\n"), "config x.yaml", nil); return err }, []string{"config x.yaml", "line 2", `did you mean "model.layers"`}},
		{func() error { _, err := s.Decode([]byte("model:\n  layers: four\n"), "config x.yaml", nil); return err }, []string{"line 2", "want an integer", `"four"`}},
		{func() error { _, err := s.Decode([]byte("model: 3\n"), "c", nil); return err }, []string{"model is a section"}},
		{func() error { return s.Set(c, "lr", "fast") }, []string{"--set lr=fast", "want a number"}},
		{func() error { return s.Set(c, "model.layr", "3") }, []string{"model.layr", `did you mean "model.layers"`}},
		{func() error { return s.Set(c, "model", "3") }, []string{"model is a section"}},
		// A string yaml.v3 cannot write back as itself (found by FuzzParseConfig).
		{func() error { return s.Set(c, "model.norm", "\npre") }, []string{"several lines", "line break"}},
	} {
		err := tc.do()
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error %v, want it to mention %q", err, w)
			}
		}
	}
}

// A key its type leaves out of the YAML when empty (omitempty) can still be set.
func TestSetOmittedKey(t *testing.T) {
	type opt struct {
		Masks struct {
			Self  string `yaml:"self"`
			Score string `yaml:"score,omitempty"`
		} `yaml:"masks"`
	}
	s := New[opt]("masks:\n  self: causal\n  score: \"\"\n")
	c, err := s.Decode([]byte("masks: {self: pad}\n"), "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(c, "masks.score", "alibi + softcap(3)"); err != nil || c.Masks.Score != "alibi + softcap(3)" || c.Masks.Self != "pad" {
		t.Fatalf("Set of an omitted key: %+v, %v", c, err)
	}
	if err := s.Set(c, "masks.scor", "alibi"); err == nil || !strings.Contains(err.Error(), `did you mean "masks.score"`) {
		t.Errorf("misspelt omitted key: %v", err)
	}
}

// A whole section its type leaves out when all its keys are zero (omitempty on the
// section, as lora: is) can still have a key set, and is left out again when zero.
func TestSetOmittedSection(t *testing.T) {
	type opt struct {
		Seed int `yaml:"seed"`
		LoRA struct {
			Rank    int    `yaml:"rank,omitempty"`
			Targets string `yaml:"targets,omitempty"`
		} `yaml:"lora,omitempty"`
	}
	s := New[opt]("seed: 1\nlora:\n  rank: 0\n  targets: \"\"\n")
	c, err := s.Decode([]byte("seed: 2\n"), "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(c, "lora.rank", "4"); err != nil || c.LoRA.Rank != 4 || c.Seed != 2 {
		t.Fatalf("Set in an omitted section: %+v, %v", c, err)
	}
	if err := s.Set(c, "lora.targets", "q_proj,v_proj"); err != nil || c.LoRA.Targets != "q_proj,v_proj" || c.LoRA.Rank != 4 {
		t.Fatalf("second key: %+v, %v", c, err)
	}
	if err := s.Set(c, "lora.rnk", "4"); err == nil || !strings.Contains(err.Error(), `did you mean "lora.rank"`) {
		t.Errorf("misspelt key of an omitted section: %v", err)
	}
}
