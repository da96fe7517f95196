package experiments

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// trainMetrics trains cfg in a fresh directory and returns its metrics.jsonl lines.
func trainMetrics(t *testing.T, cfg *Config) []Metrics {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := TrainRun(context.Background(), cfg, dir, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	lines, err := ReadMetrics(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// A packed causal & doc decoder LM at 512 positions takes the block-sparse self-attention
// by itself (model.attention auto, the default) on every step, says so in metrics.jsonl
// (sparse_attention), and trains and evaluates with the losses and gradient norms of
// model.attention=dense within float32 rounding; forcing sparse gives the same run as
// auto. masklab's own decoder and the llama-style (Arch) decoder both.
func TestSparseAttentionTrainsAsDense(t *testing.T) {
	base := []string{"task.name=poetry-lm", "model.kind=decoder", "task.packing=concat", "task.tgt_len=512",
		"task.max_examples=120", "task.max_eval=8", "task.min_len=0", "task.max_len=0", "task.vocab=64",
		"masks.self=causal & doc", "train.steps=3", "train.log_every=1", "train.batch_size=2",
		"train.checkpoint_every=3", "eval.every=3", "eval.batches=1", "eval.greedy_examples=0"}
	for _, style := range []string{"", "llama"} {
		t.Run(style, func(t *testing.T) {
			over := base
			if style != "" {
				over = append(over[:len(over):len(over)], "model.style="+style)
			}
			dense := trainMetrics(t, tinyConfig(t, append(over, "model.attention=dense")...))
			auto := trainMetrics(t, tinyConfig(t, over...))
			forced := trainMetrics(t, tinyConfig(t, append(over, "model.attention=sparse")...))
			if len(auto) != 3 || len(dense) != 3 {
				t.Fatalf("%d and %d metrics lines, want 3", len(auto), len(dense))
			}
			for i := range auto {
				if auto[i]["sparse_attention"] != 1 || forced[i]["sparse_attention"] != 1 {
					t.Errorf("step %v: sparse_attention auto %v, sparse %v; want 1 (every step sparse)", auto[i]["step"], auto[i]["sparse_attention"], forced[i]["sparse_attention"])
				}
				if _, ok := dense[i]["sparse_attention"]; ok {
					t.Errorf("step %v: model.attention=dense logged sparse_attention", dense[i]["step"])
				}
				for _, key := range []string{"train_loss", "grad_norm", "valid_loss"} {
					a, b := auto[i][key], dense[i][key]
					if _, ok := dense[i][key]; ok && math.Abs(a-b) > 1e-5*math.Max(1, math.Abs(b)) {
						t.Errorf("step %v: %s sparse %.7f, dense %.7f", auto[i]["step"], key, a, b)
					}
					if forced[i][key] != a {
						t.Errorf("step %v: %s forced sparse %.7f, auto %.7f", auto[i]["step"], key, forced[i][key], a)
					}
				}
			}
		})
	}
}

// Short sequences stay dense under auto (the quickstart's single tile per example); forced
// sparse runs the seq2seq decoder with the same losses; the key is validated, and auto
// (the default) is left out of a config's YAML, so run ids stay.
func TestAttentionPathChoice(t *testing.T) {
	short := []string{"train.steps=4", "train.log_every=2", "eval.every=4", "eval.greedy_examples=0"}
	auto := trainMetrics(t, tinyConfig(t, short...))
	forced := trainMetrics(t, tinyConfig(t, append(short, "model.attention=sparse")...))
	for i := range auto {
		if _, ok := auto[i]["sparse_attention"]; ok {
			t.Errorf("step %v: a 1-tile batch ran sparse under auto", auto[i]["step"])
		}
		if forced[i]["sparse_attention"] != 1 {
			t.Errorf("step %v: model.attention=sparse: sparse_attention %v", forced[i]["step"], forced[i]["sparse_attention"])
		}
		for _, key := range []string{"train_loss", "grad_norm", "valid_loss"} {
			if a, b := forced[i][key], auto[i][key]; math.Abs(a-b) > 1e-5*math.Max(1, math.Abs(b)) {
				t.Errorf("step %v: %s sparse %.7f, dense %.7f", auto[i]["step"], key, a, b)
			}
		}
	}
	if a, b := tinyConfig(t, "model.attention=auto"), tinyConfig(t); a.Hash() != b.Hash() || strings.Contains(string(a.YAML()), "attention") {
		t.Errorf("model.attention=auto changes the run id or is in the YAML:\n%s", a.YAML())
	}
	for over, want := range map[string]string{
		"model.attention=sparce":          `model.attention=sparce: want one of auto, dense, sparse (did you mean "sparse"?)`,
		"masks.self=causal & random(0.1)": "attention path sparse: ",
	} {
		c := tinyConfig(t, "model.attention=sparse", "train.steps=1", "eval.greedy_examples=0")
		err := c.SetAll([]string{over})
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			_, err = TrainRun(context.Background(), c, filepath.Join(t.TempDir(), "run"), TrainOptions{})
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", over, err, want)
		}
	}
	// A sparse run's attention maps (the dense path, which gives the weights) read back.
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := TrainRun(context.Background(), tinyConfig(t, append(short, "model.attention=sparse")...), dir, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := LoadRun(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Attention(l.sess.su.task.SrcVocab.DecodeText(l.sess.su.task.Valid[0].Source)); err != nil {
		t.Errorf("attention maps of a sparse run: %v", err)
	}
	c := tinyConfig(t, "model.attention=sparse", "train.batch_size=16")
	c.Train.GradAccum = 2
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "train.grad_accum") {
		t.Errorf("sparse with grad_accum 2: %v", err)
	}
}
