package experiments

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/hf"
)

// model.style sets the keys of its recipe that were not given; one given with another
// value is an error naming both, whatever the order (config file, --set, sweep axis); a
// config without a style keeps its YAML, so its run id.
func TestModelStyle(t *testing.T) {
	c := Default()
	if err := c.Set("model.style", "llama"); err != nil {
		t.Fatal(err)
	}
	if m := c.Model; m.Kind != "decoder" || m.Positions != "rotary" || m.Norm != "pre" || m.TieEmbeddings {
		t.Errorf("llama: %+v", m)
	}
	if err := c.Set("model.style", "gpt2"); err != nil {
		t.Fatal(err)
	}
	if m := c.Model; m.Positions != "learned" || !m.TieEmbeddings {
		t.Errorf("gpt2: %+v", m)
	}
	if strings.Contains(string(Default().YAML()), "style") {
		t.Errorf("a config without model.style has a style key in its YAML (run ids would change)")
	}
	for _, tc := range []struct {
		sets []string
		yaml string
		want string
	}{
		{sets: []string{"model.style=llama", "model.positions=sinusoidal"}, want: "model.style=llama sets model.positions=rotary, but model.positions=sinusoidal is given"},
		{sets: []string{"model.positions=sinusoidal", "model.style=llama"}, want: "model.style=llama sets model.positions=rotary, but model.positions=sinusoidal is given"},
		{sets: []string{"model.style=gpt2", "model.tie_embeddings=false"}, want: "model.style=gpt2 sets model.tie_embeddings=true, but model.tie_embeddings=false"},
		{sets: []string{"model.norm=post", "model.style=gpt2"}, want: "model.norm=pre, but model.norm=post"},
		{yaml: "model: {style: llama, kind: seq2seq}", want: "model.style=llama sets model.kind=decoder, but model.kind=seq2seq is given"},
		{yaml: "model: {positions: learned}", sets: []string{"model.style=llama"}, want: "model.positions=learned is given"},
	} {
		c, err := ParseConfig([]byte(tc.yaml), "test")
		if err == nil {
			err = c.SetAll(tc.sets)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %v: err = %v, want %q", tc.yaml, tc.sets, err, tc.want)
		}
	}
	c = Default()
	c.Model.Style = "mistral"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "model.style=mistral: want one of llama, gpt2") {
		t.Errorf("unknown style: %v", err)
	}
	c = Default()
	c.Model.Style, c.Model.Kind = "llama", "decoder" // set as fields: Validate finds the positions
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "model.positions=sinusoidal") {
		t.Errorf("style set as a field: %v", err)
	}
	// A run's saved config (every key given) loads back.
	c = tinyLM(t, "model.style=gpt2")
	if _, err := ParseConfig(c.YAML(), "saved"); err != nil {
		t.Errorf("a saved style config does not load: %v", err)
	}
}

func tinyLM(t *testing.T, overrides ...string) *Config {
	return tinyConfig(t, append([]string{"task.name=poetry-lm", "model.kind=decoder", "task.max_examples=64", "task.max_len=24",
		"train.batch_size=8", "eval.greedy_examples=0", "model.d_model=32", "model.heads=4"}, overrides...)...)
}

// A style run exports as a Hugging Face checkpoint; a run initialised from the export
// with a negligible learning rate has the same validation loss as the run itself. Runs
// whose recipe has no Hugging Face architecture are refused, naming the key.
func TestStyleRunExportRoundTrip(t *testing.T) {
	for _, style := range []string{"llama", "gpt2"} {
		t.Run(style, func(t *testing.T) {
			tmp := t.TempDir()
			cfg := tinyLM(t, "model.style="+style)
			s, err := TrainRun(context.Background(), cfg, filepath.Join(tmp, "run"), TrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l, err := LoadRun(filepath.Join(tmp, "run"), "")
			if err != nil {
				t.Fatal(err)
			}
			export := filepath.Join(tmp, "hf")
			if err := l.Export(export, hf.ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			ft := tinyLM(t, "init_from="+export, "train.steps=1", "optim.lr=1e-30", "optim.warmup_steps=0")
			if err := ft.ResolveData("."); err != nil {
				t.Fatal(err)
			}
			s2, err := TrainRun(context.Background(), ft, filepath.Join(tmp, "ft"), TrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			a, b := s.Final["valid_loss"], s2.Final["valid_loss"]
			if math.Abs(a-b) > 1e-6 || a == 0 {
				t.Errorf("valid_loss %v from scratch, %v initialised from its export", a, b)
			}
		})
	}
	tmp := t.TempDir()
	for _, c := range []struct {
		cfg  *Config
		want string
	}{
		{tinyConfig(t), "model.kind=seq2seq has no Hugging Face architecture"},
		{tinyLM(t), "model.style is not set"},
	} {
		dir := filepath.Join(tmp, c.cfg.ID())
		if _, err := TrainRun(context.Background(), c.cfg, dir, TrainOptions{}); err != nil {
			t.Fatal(err)
		}
		l, err := LoadRun(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Export(filepath.Join(tmp, "x"), hf.ExportOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("export: %v, want %q", err, c.want)
		}
	}
}
