package experiments

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/layers"
)

// Without input corruption the evaluation decodes greedily with the key/value cache
// (layers.Generator): the same tokens as layers.Greedy recomputing the whole prefix at
// every step, for a trained seq2seq model and for an untrained decoder LM continuing
// prompts, whose outputs are not all alike (the comparison is not vacuous). A model that
// takes no cache (an LSTM) is decoded by layers.Greedy.
func TestGreedyEvalCacheMatchesRecomputing(t *testing.T) {
	cases := map[string][]string{
		"seq2seq": {"train.steps=40"},
		// No key/value cache: layers.Greedy decodes, as before.
		"lstm": {"model.kind=lstm", "train.steps=40"},
		"decoder-sft": {"task.name=cedict-sft", "task.min_len=0", "task.max_len=48", "task.vocab=300", "task.tgt_len=64",
			"task.max_examples=256", "task.max_eval=32", "model.kind=decoder", "masks.loss=completion",
			// Untrained: 40 steps of this tiny LM decode one character everywhere.
			"train.steps=2", "train.checkpoint_every=2", "eval.every=0", "optim.lr=1e-30", "optim.warmup_steps=0"},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := tinyConfig(t, set...)
			s := trainedRun(t, cfg).sess
			opts := s.su.bopts
			opts.Pack = datasets.NoPacking
			b, err := s.su.task.Batch("valid", cfg.Train.BatchSize, evalSeed, 0, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.greedy(b, cfg.Train.Steps)
			if err != nil {
				t.Fatal(err)
			}
			if cached := name != "lstm"; cached == (s.decoder != nil) {
				t.Fatalf("masks.input none, %s: decoded with layers.Greedy %v, want %v", name, s.decoder != nil, !cached)
			}
			v := s.su.task.Vocab
			ref, err := layers.NewGreedy(s.be, s.store, s.su.model, layers.GreedyOptions{
				BOS: int32(v.BOS), EOS: int32(v.EOS), PAD: int32(v.PAD), MaxLen: b.T, SrcLen: b.S, Scope: "model"})
			if err != nil {
				t.Fatal(err)
			}
			src, prompts := greedyInputs(s.su, b)
			want, err := ref.Decode(src, prompts)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("cached\n%v\nrecomputing\n%v", got, want)
			}
			distinct, outputs := map[int32]bool{}, map[string]bool{}
			for _, row := range got {
				for _, tok := range row {
					distinct[tok] = true
				}
				outputs[fmt.Sprint(row)] = true
			}
			if len(distinct) < 3 || len(outputs) < 2 {
				t.Fatalf("%d rows decode %d distinct tokens in %d distinct outputs: the comparison is vacuous (%v)", len(got), len(distinct), len(outputs), got)
			}
			t.Logf("%d rows, %d distinct tokens, %d distinct outputs", len(got), len(distinct), len(outputs))
		})
	}
}

// A cancelled context stops an evaluation at its next batch (Ctrl-C or SIGTERM during a
// long greedy evaluation), with an error that says so; without one it runs.
func TestEvaluateStopsWhenCancelled(t *testing.T) {
	l := trainedRun(t, tinyConfig(t, "train.steps=2", "train.checkpoint_every=2"))
	if _, err := l.sess.evaluate("valid", 2); err != nil {
		t.Fatalf("evaluation without a context: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.sess.ctx = ctx
	if _, err := l.sess.evaluate("valid", 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("evaluation with a cancelled context returned %v, want context.Canceled", err)
	}
	if _, _, err := l.sess.greedyMetrics("valid", 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("greedy decoding with a cancelled context returned %v, want context.Canceled", err)
	}
}

// trainedRun trains cfg into a temporary directory and loads the finished run.
func trainedRun(t *testing.T, cfg *Config) *Loaded {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := TrainRun(context.Background(), cfg, dir, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := LoadRun(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
