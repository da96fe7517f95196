package hf

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
)

// Each tiny checkpoint of testdata (Llama with llama3 RoPE scaling, Qwen2 sharded with
// q/k/v biases, Qwen3 with q/k norms, Mistral with a sliding window of 4, GPT-2), loaded
// as from_pretrained would, decodes the same tokens with the key/value cache as by
// recomputing the prefix, with every step's logits equal within float32 rounding, for a
// batch of prompts longer than the sliding window.
func TestCheckpointGenerateCacheMatchesRecomputing(t *testing.T) {
	for _, name := range []string{"llama", "qwen2", "qwen3", "mistral", "gpt2"} {
		t.Run(name, func(t *testing.T) {
			ck, store, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			cfg := ck.Config.Model(layers.Config{}.Self)
			prompts := [][]int32{{5, 17, 33, 2, 60, 71, 9}, {40}, {11, 12, 13}}
			run := func(noCache bool) *layers.Generation {
				g, err := layers.NewGenerator(backend.Must(), store, cfg, layers.GenerateOptions{BOS: 1, EOS: -1, MaxNewTokens: 10, NoCache: noCache, KeepLogits: true})
				if err != nil {
					t.Fatal(err)
				}
				if ok, why := g.Cached(); ok == noCache {
					t.Fatalf("NoCache %v, Cached %v (%s)", noCache, ok, why)
				}
				out, err := g.Generate(nil, prompts)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			got, want := run(false), run(true)
			if fmt.Sprint(got.Tokens) != fmt.Sprint(want.Tokens) {
				t.Fatalf("cache %v, recomputing %v", got.Tokens, want.Tokens)
			}
			worst, distinct := 0.0, map[int32]bool{}
			for s := range want.Logits {
				for b := range want.Logits[s] {
					for v, w := range want.Logits[s][b] {
						worst = math.Max(worst, math.Abs(float64(got.Logits[s][b][v]-w))/math.Max(1, math.Abs(float64(w))))
					}
				}
			}
			for _, row := range want.Tokens {
				for _, tok := range row {
					distinct[tok] = true
				}
			}
			if worst > 2e-5 || len(distinct) < 3 {
				t.Fatalf("logits differ by %g; %d distinct tokens %v", worst, len(distinct), want.Tokens)
			}
			t.Logf("%s: tokens %v, logits within %.2g", ck.Config.Architecture, got.Tokens, worst)
		})
	}
}
