package layers

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Kind: KindSeq2Seq, Vocab: 10, DModel: 8, Heads: 2, EncLayers: 1, DecLayers: 1}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Kind = "rnn" }, `got "rnn"`},
		{func(c *Config) { c.Vocab = 1 }, "vocab must be >= 2, got 1"},
		{func(c *Config) { c.Heads = 3 }, "d_model 8 is not a multiple of heads 3"},
		{func(c *Config) { c.EncLayers = 0 }, "encoder layers >= 1, got 0"},
		{func(c *Config) { c.Kind = KindDecoder }, "no encoder, got encoder layers 1"},
		{func(c *Config) { c.Dropout = 1 }, "dropout must be in [0, 1), got 1"},
		{func(c *Config) { c.Positions = "alibi" }, `got "alibi"`},
		{func(c *Config) { c.Positions, c.DModel, c.Heads = PosRotary, 6, 2 }, "even head dimension, got d_model/heads = 3"},
	} {
		cfg := good
		c.mod(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", cfg, err, c.want)
		}
	}
}

// WeightedCrossEntropy is sum(w*l)/max(sum(w), 1), checked against a host computation:
// the weighted mean when the weights sum to at least 1, sum(w*l) when they sum to less.
func TestWeightedCrossEntropy(t *testing.T) {
	logits := [][][]float32{{{1, 2, 0.5}, {0, 0, 3}, {2, -1, 1}}}
	labels := [][]int32{{1, 2, 0}}
	weights := [][]float32{{0.25, 1, 0}}
	want := 0.0
	wsum := 0.0
	for i, row := range logits[0] {
		lse := 0.0
		for _, v := range row {
			lse += math.Exp(float64(v))
		}
		l := math.Log(lse) - float64(row[labels[0][i]])
		want += float64(weights[0][i]) * l
		wsum += float64(weights[0][i])
	}
	want /= wsum
	exec := graph.MustNewExec(backend.Must(), func(lg, lb, w *graph.Node) []*graph.Node {
		return []*graph.Node{WeightedCrossEntropy(lg, lb, w), WeightedCrossEntropy(lg, lb, graph.ZerosLike(w)), WeightedCrossEntropy(lg, lb, graph.MulScalar(w, 0.1))}
	})
	res, err := exec.Exec(logits, labels, weights)
	if err != nil {
		t.Fatal(err)
	}
	if got := float64(res[0].Value().(float32)); math.Abs(got-want) > 1e-6 {
		t.Errorf("loss = %g, want %g", got, want)
	}
	if got := res[1].Value().(float32); got != 0 {
		t.Errorf("loss with all-zero weights = %g, want 0", got)
	}
	// Weights summing to 0.125 < 1: divided by 1, so the loss is 0.1·sum(w·l).
	if got, want := float64(res[2].Value().(float32)), 0.1*want*wsum; math.Abs(got-want) > 1e-6 {
		t.Errorf("loss with weights summing to %g = %g, want %g (divided by 1)", 0.1*wsum, got, want)
	}
}

// Greedy decoding agrees with teacher forcing on its own output, stops at EOS, and is
// bounded by MaxLen.
func TestGreedy(t *testing.T) {
	const EOS = 2
	for _, kind := range []string{KindSeq2Seq, KindDecoder} {
		t.Run(kind, func(t *testing.T) {
			cfg := variants(kind)[0]
			store := model.NewStore()
			_ = store.SetRNGStateFromSeed(11)
			opts := GreedyOptions{BOS: 1, EOS: EOS, PAD: 0, MaxLen: 7}
			dec, err := NewGreedy(backend.Must(), store, cfg, opts)
			if err != nil {
				t.Fatal(err)
			}
			var src, prompts [][]int32
			if kind == KindSeq2Seq {
				src = [][]int32{{3, 4, 5, 2}, {6, 2}, {7, 8, 9, 10, 2}}
			} else {
				prompts = [][]int32{{1, 4}, {1}, {1, 5, 6}}
			}
			// Force an ordinary run: no EOS at all (bias -100) -> every row fills the buffer.
			setBias := func(v float32) {
				if store.GetVariable("/output/dense/biases") == nil {
					if _, err := dec.Decode(src, prompts); err != nil { // creates the variables
						t.Fatal(err)
					}
				}
				b := store.GetVariable("/output/dense/biases")
				vals := tensors.MustCopyFlatData[float32](b.MustValue())
				vals[EOS] = v
				b.MustSetValue(tensors.FromFlatDataAndDimensions(vals, len(vals)))
			}
			setBias(-100)
			out, err := dec.Decode(src, prompts)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range out {
				p := 1
				if prompts != nil {
					p = len(prompts[i])
				}
				if len(o) != opts.MaxLen-p+1 {
					t.Fatalf("row %d: %d tokens, want MaxLen-prompt+1 = %d", i, len(o), opts.MaxLen-p+1)
				}
			}
			// Teacher forcing on [prompt + output] reproduces the greedy choices.
			names := []string{"dec"}
			if kind == KindSeq2Seq {
				names = []string{"src", "srclen", "dec"}
			}
			r := newRunnerOnStore(t, store, cfg, names...)
			full := make([][]int32, len(out))
			for i, o := range out {
				p := []int32{1}
				if prompts != nil {
					p = prompts[i]
				}
				full[i] = append(append([]int32{}, p...), o[:len(o)-1]...)
			}
			var logits [][][]float32
			if kind == KindSeq2Seq {
				padded := [][]int32{{3, 4, 5, 2, 0}, {6, 2, 0, 0, 0}, {7, 8, 9, 10, 2}}
				logits = r.run(padded, []int32{4, 2, 5}, full)
			} else {
				logits = r.run(full)
			}
			for i, o := range out {
				p := len(full[i]) - len(o) + 1
				for j, tok := range o {
					if best := argmax(logits[i][p-1+j]); best != tok {
						t.Fatalf("row %d step %d: greedy chose %d, teacher forcing argmax is %d", i, j, tok, best)
					}
				}
			}
			// EOS strongly favoured: every row stops after one token, EOS.
			setBias(100)
			out, err = dec.Decode(src, prompts)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range out {
				if len(o) != 1 || o[0] != EOS {
					t.Fatalf("row %d: got %v, want [EOS]", i, o)
				}
			}
		})
	}
}

// Bad inputs give errors, not panics.
func TestForwardErrors(t *testing.T) {
	cfg := variants(KindSeq2Seq)[0]
	g := graph.NewGraph(backend.Must(), "errors")
	scope := model.NewStore().RootScope()
	dec := graph.Const(g, [][]int32{{1, 2}})
	if _, err := Forward(scope, cfg, Inputs{Dec: dec}); err == nil || !strings.Contains(err.Error(), "needs Inputs.Src") {
		t.Errorf("missing source: err = %v", err)
	}
	dcfg := variants(KindDecoder)[0]
	dcfg.Self = mustParse(t, "causal & doc")
	if _, err := Forward(model.NewStore().RootScope(), dcfg, Inputs{Dec: dec}); err == nil || !strings.Contains(err.Error(), "segment") {
		t.Errorf("doc mask without segments: err = %v", err)
	}
	if _, err := Forward(model.NewStore().RootScope(), Config{Kind: "x"}, Inputs{Dec: dec}); err == nil {
		t.Error("invalid config accepted")
	}
}

// Random masks and dropout are active only when training; with a seed the training
// forward is reproducible, and evaluation ignores both.
func TestRandomMaskAndDropout(t *testing.T) {
	cfg := variants(KindDecoder)[0]
	cfg.Self = mustParse(t, "causal & keydrop(0.5)")
	cfg.Dropout = 0.3
	run := func(training bool) [][][]float32 {
		store := model.NewStore()
		_ = store.SetRNGStateFromSeed(9)
		exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, dec *graph.Node) *graph.Node {
			logits, err := Forward(scope, cfg, Inputs{Dec: dec, Training: training})
			if err != nil {
				panic(err)
			}
			return logits
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := exec.Exec([][]int32{{1, 4, 5, 6, 7, 8}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Value().([][][]float32)
	}
	a, b := run(true), run(true)
	for q := range a[0] {
		if !sameRow(a, b, 0, q) {
			t.Fatal("training forward with the same seed is not reproducible")
		}
		for _, v := range a[0][q] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("training forward gave %v", v)
			}
		}
	}
	e := run(false)
	differ := false
	for q := range a[0] {
		differ = differ || !sameRow(a, e, 0, q)
	}
	if !differ {
		t.Fatal("dropout and keydrop changed nothing in training")
	}
}

// Greedy decoding of a decoder-only model trained on packed rows ("causal & doc")
// treats each row as one document: the same tokens as the model without "doc" (same
// weights). With a Corrupter that hides every decoded token (all inputs BOS), each step
// sees the same inputs, so the tokens are the teacher-forced argmax on all-BOS inputs.
func TestGreedyDocMaskAndCorrupter(t *testing.T) {
	cfg := variants(KindDecoder)[0]
	cfg.Self = mustParse(t, "causal & pad")
	docCfg := cfg
	docCfg.Self = mustParse(t, "causal & doc & pad")
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(5)
	opts := GreedyOptions{BOS: 1, EOS: 2, PAD: 0, MaxLen: 6}
	plain, err := NewGreedy(backend.Must(), store, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	prompts := [][]int32{{1, 4}, {1}, {1, 5, 6}}
	want, err := plain.Decode(nil, prompts)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := NewGreedy(backend.Must(), store, docCfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := doc.Decode(nil, prompts)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("causal & doc decodes %v, causal %v", got, want)
	}

	var calls int
	allBOS := func(dec [][]int32, filled []int32) ([][]int32, error) {
		calls++
		out := make([][]int32, len(dec))
		for r := range dec {
			if len(dec[r]) != opts.MaxLen || filled[r] < 1 || int(filled[r]) > opts.MaxLen {
				return nil, fmt.Errorf("row %d: buffer %d, filled %d", r, len(dec[r]), filled[r])
			}
			out[r] = slices.Repeat([]int32{opts.BOS}, opts.MaxLen)
		}
		return out, nil
	}
	got, err = plain.DecodeCorrupted(nil, prompts, allBOS)
	if err != nil {
		t.Fatal(err)
	}
	bos := make([][]int32, len(prompts))
	for r := range bos {
		bos[r] = slices.Repeat([]int32{opts.BOS}, opts.MaxLen)
	}
	logits := newRunnerOnStore(t, store, cfg, "dec").run(bos)
	for r, o := range got {
		for j, tok := range o {
			if best := argmax(logits[r][len(prompts[r])-1+j]); best != tok {
				t.Fatalf("row %d token %d: decoded %d, argmax on all-BOS inputs is %d", r, j, tok, best)
			}
		}
		if last := o[len(o)-1]; last != opts.EOS && len(prompts[r])+len(o)-1 != opts.MaxLen {
			t.Errorf("row %d stopped early without EOS: %v", r, o)
		}
	}
	if calls == 0 {
		t.Fatal("the corrupter was never called")
	}
}

// argmax is the first index of the largest value, as graph.ArgMax picks it.
func argmax(row []float32) int32 {
	best := 0
	for v := range row {
		if row[v] > row[best] {
			best = v
		}
	}
	return int32(best)
}
