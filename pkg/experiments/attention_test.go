package experiments

import (
	"math"
	"slices"
	"testing"
)

// Attention reads a trained run back: its output is Generate's, every row of every map
// is a distribution over its keys, source padding gets no weight under the pad mask, the labels are the source and output tokens, and the
// decoder's self-attention gives no weight to later positions (the causal mask).
func TestLoadedAttention(t *testing.T) {
	for _, kind := range []string{"seq2seq", "lstm"} {
		t.Run(kind, func(t *testing.T) {
			cfg := tinyConfig(t, "model.kind="+kind, "train.steps=30")
			l := trainedRun(t, cfg)
			task := l.sess.su.task
			ex := task.Valid[0]
			text := task.SrcVocab.DecodeText(ex.Source)
			want, err := l.Generate(text)
			if err != nil {
				t.Fatal(err)
			}
			r, err := l.Attention(text)
			if err != nil {
				t.Fatal(err)
			}
			if r.Output != want {
				t.Errorf("output %q, Generate gave %q", r.Output, want)
			}
			blocks := map[string]int{}
			for _, m := range r.Maps {
				blocks[m.Block]++
				if len(m.Weights) != cfg.Model.Heads {
					t.Fatalf("%s layer %d: %d heads, want %d", m.Block, m.Layer, len(m.Weights), cfg.Model.Heads)
				}
				for h, w := range m.Weights {
					if len(w) != len(m.Queries) {
						t.Fatalf("%s: %d rows for %d query labels", m.Block, len(w), len(m.Queries))
					}
					for q, row := range w {
						if len(row) != len(m.Keys) {
							t.Fatalf("%s: %d columns for %d key labels", m.Block, len(row), len(m.Keys))
						}
						sum := 0.0
						for k, x := range row {
							sum += x
							if m.Block == "self" && k > q && x != 0 {
								t.Errorf("self layer %d head %d: query %d attends to later key %d (%g)", m.Layer, h, q, k, x)
							}
						}
						if math.Abs(sum-1) > 1e-4 {
							t.Errorf("%s layer %d head %d query %d: weights over the real keys sum to %g", m.Block, m.Layer, h, q, sum)
						}
					}
				}
				if m.Block == "cross" {
					// Every source position is a key, padding included; the default cross
					// mask (pad) gives the padding no weight.
					src := append(task.SrcVocab.Decode(ex.Source), task.SrcVocab.Token(task.SrcVocab.EOS))
					if len(m.Keys) < len(src) || !slices.Equal(m.Keys[:len(src)], src) {
						t.Errorf("cross keys %v, want the source tokens %v then padding", m.Keys, src)
					}
					for _, w := range m.Weights {
						for q, row := range w {
							for k := len(src); k < len(row); k++ {
								if m.Keys[k] != task.SrcVocab.Token(task.SrcVocab.PAD) || row[k] != 0 {
									t.Errorf("cross query %d: key %d (%s) has weight %g, want padding with 0", q, k, m.Keys[k], row[k])
								}
							}
						}
					}
				}
			}
			if blocks["cross"] != cfg.Model.Layers {
				t.Errorf("blocks %v: want %d cross layers", blocks, cfg.Model.Layers)
			}
			if _, _, _, err := r.Block("nope"); err == nil {
				t.Error("Block(nope): no error")
			}
			w, q, k, err := r.Block("cross")
			if err != nil || len(w) != cfg.Model.Layers || len(q) != len(w[0][0]) || len(k) != len(w[0][0][0]) {
				t.Errorf("Block(cross): %d layers, %d/%d labels, err %v", len(w), len(q), len(k), err)
			}
		})
	}
}
