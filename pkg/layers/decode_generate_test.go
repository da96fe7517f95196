package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
)

// generationCases are the models the key/value cache must decode exactly: masklab's
// decoder LM and encoder-decoder in every variant, and the pretrained blocks of each
// Hugging Face family (Llama with GQA and llama3 RoPE scaling, Qwen2's q/k/v biases,
// Qwen3's q/k norms, Mistral's sliding window, GPT-2's learned positions and fused QKV),
// under the masks decoding meets (causal, causal & pad, the prefix LM).
func generationCases(t *testing.T) []struct {
	name string
	cfg  Config
} {
	type tc = struct {
		name string
		cfg  Config
	}
	var cases []tc
	for _, kind := range []string{KindDecoder, KindSeq2Seq} {
		for _, c := range variants(kind) {
			cases = append(cases, tc{variantName(c), c})
		}
	}
	prefix := variants(KindDecoder)[2]
	prefix.Self = mustParse(t, "prefix")
	cases = append(cases, tc{"decoder/prefix-lm", prefix})
	s2sPad := variants(KindSeq2Seq)[0]
	s2sPad.Self, s2sPad.Cross = mustParse(t, "causal & pad"), mustParse(t, "pad")
	cases = append(cases, tc{"seq2seq/causal&pad", s2sPad})

	llama := Config{Kind: KindDecoder, Vocab: 13, DModel: 16, Heads: 4, FF: 24, DecLayers: 2, Positions: PosRotary, RotaryBase: 10000,
		Arch: &Arch{Family: FamilyLlama, KVHeads: 2, Rope: RopeScaling{Type: RopeLlama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8}}}
	qwen2 := llama
	qwen2.Arch = &Arch{Family: FamilyLlama, KVHeads: 1, QKVBias: true}
	qwen2.Tied = true
	qwen3 := llama
	qwen3.Arch = &Arch{Family: FamilyLlama, KVHeads: 2, HeadDim: 6, QKNorm: true}
	mistral := llama
	mistral.Arch = &Arch{Family: FamilyLlama, KVHeads: 2, Window: 3, Sliding: []bool{true, false}}
	gpt2 := Config{Kind: KindDecoder, Vocab: 13, DModel: 16, Heads: 4, FF: 32, DecLayers: 2, Positions: PosLearned, MaxLen: 16, Tied: true,
		Arch: &Arch{Family: FamilyGPT2}}
	for _, c := range []tc{{"llama", llama}, {"qwen2", qwen2}, {"qwen3", qwen3}, {"mistral", mistral}, {"gpt2", gpt2}} {
		c.cfg.Self = mustParse(t, "causal & pad")
		cases = append(cases, tc{"arch/" + c.name, c.cfg})
	}
	return cases
}

// Decoding with the key/value cache gives, token for token, what recomputing the prefix
// at every step gives, and what Greedy (the decoder used by evaluation) gives; and every
// step's logits agree within float32 rounding. Prompts of 1 to 3 tokens share a batch
// (the prefill pads them), rows stop at EOS or when the 12-position buffer is full. A
// seq2seq step gets zeros in place of the encoder output, so its match proves that the
// cross-attention keys and values come from the prefill's cache, computed once.
func TestGenerateCacheMatchesRecomputing(t *testing.T) {
	for i, c := range generationCases(t) {
		t.Run(c.name, func(t *testing.T) {
			store := model.NewStore()
			_ = store.SetRNGStateFromSeed(int64(200 + i))
			opts := GenerateOptions{BOS: 1, EOS: 2, PAD: 0, MaxNewTokens: 20, MaxLen: 12, SrcLen: 8, KeepLogits: true}
			cached, err := NewGenerator(backend.Must(), store, c.cfg, opts)
			if err != nil {
				t.Fatal(err)
			}
			if ok, why := cached.Cached(); !ok {
				t.Fatalf("the generator does not use the cache: %s", why)
			}
			opts.NoCache = true
			full, err := NewGenerator(backend.Must(), store, c.cfg, opts)
			if err != nil {
				t.Fatal(err)
			}
			src, prompts := greedyInputs(c.cfg.Kind, 6, c.cfg.Vocab)
			got, err := cached.Generate(src, prompts)
			if err != nil {
				t.Fatal(err)
			}
			want, err := full.Generate(src, prompts)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.Tokens) != fmt.Sprint(want.Tokens) {
				t.Fatalf("cached decoding\n%v\nrecomputing the prefix\n%v", got.Tokens, want.Tokens)
			}
			greedy, err := GreedyDecode(backend.Must(), store, c.cfg,
				GreedyOptions{BOS: 1, EOS: 2, PAD: 0, MaxLen: 12, SrcLen: 8}, src, prompts)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.Tokens) != fmt.Sprint(greedy) {
				t.Fatalf("cached decoding\n%v\nGreedy\n%v", got.Tokens, greedy)
			}
			worst, steps, distinct := 0.0, 0, map[int32]bool{}
			for s := range want.Logits {
				for b := range want.Logits[s] {
					if want.Logits[s][b] == nil {
						continue
					}
					steps++
					for v, w := range want.Logits[s][b] {
						worst = max(worst, math.Abs(float64(got.Logits[s][b][v]-w))/max(1, math.Abs(float64(w))))
					}
				}
			}
			for _, row := range want.Tokens {
				for _, tok := range row {
					distinct[tok] = true
				}
			}
			if worst > 2e-5 {
				t.Fatalf("logits differ by up to %g (relative) over %d row-steps", worst, steps)
			}
			if len(distinct) < 3 || steps < 12 {
				t.Fatalf("the random model decodes %d distinct tokens over %d row-steps: the comparison is vacuous", len(distinct), steps)
			}
			t.Logf("%d row-steps, logits agree within %.2g, tokens %v", steps, worst, got.Tokens)
		})
	}
}
