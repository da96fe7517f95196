package layers

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
)

// greedyInputs returns B sources (nil for a decoder-only model) and prompts of mixed
// lengths over a vocabulary of size v (ids 3..v-1; 0 PAD, 1 BOS, 2 EOS).
func greedyInputs(kind string, B, v int) (src, prompts [][]int32) {
	for b := range B {
		if kind != KindDecoder {
			s := make([]int32, 2+b%5)
			for i := range s {
				s[i] = int32(3 + (7*b+3*i)%(v-3))
			}
			src = append(src, append(s, 2))
		}
		p := []int32{1}
		for i := range b % 3 {
			p = append(p, int32(3+(5*b+i)%(v-3)))
		}
		prompts = append(prompts, p)
	}
	return src, prompts
}

// The fast greedy path (a seq2seq source encoded once per call, logits only at each
// row's last filled position) decodes the same tokens as the original path (the whole
// model and the logits at every position at each step), with and without a Corrupter,
// for every model kind and variant, on random models whose outputs vary (so the
// comparison can fail).
func TestGreedyAtPositionMatchesFullLogits(t *testing.T) {
	type tc struct {
		name string
		cfg  Config
	}
	var cases []tc
	for _, kind := range []string{KindSeq2Seq, KindDecoder} {
		for _, c := range variants(kind) {
			cases = append(cases, tc{variantName(c), c})
		}
	}
	lstm := Config{Kind: KindLSTM, Vocab: 12, DModel: 8, Heads: 2, EncLayers: 1, DecLayers: 2}
	lstmTied := lstm
	lstmTied.Tied = true
	cases = append(cases, tc{"lstm", lstm}, tc{"lstm/tied", lstmTied})
	// Hides every other decoded token (position 1, 3, ...) behind BOS.
	corrupt := func(dec [][]int32, filled []int32) ([][]int32, error) {
		out := make([][]int32, len(dec))
		for r := range dec {
			out[r] = append([]int32(nil), dec[r]...)
			for i := 1; i < int(filled[r]); i += 2 {
				out[r][i] = 1
			}
		}
		return out, nil
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := model.NewStore()
			_ = store.SetRNGStateFromSeed(int64(100 + i))
			opts := GreedyOptions{BOS: 1, EOS: 2, PAD: 0, MaxLen: 9, SrcLen: 8}
			fast, err := NewGreedy(backend.Must(), store, c.cfg, opts)
			if err != nil {
				t.Fatal(err)
			}
			full, err := newGreedy(backend.Must(), store, c.cfg, opts, true)
			if err != nil {
				t.Fatal(err)
			}
			if (fast.enc != nil) != (c.cfg.Kind == KindSeq2Seq) || full.enc != nil {
				t.Fatalf("separate encoder: fast %v, full %v, for kind %s", fast.enc != nil, full.enc != nil, c.cfg.Kind)
			}
			src, prompts := greedyInputs(c.cfg.Kind, 6, c.cfg.Vocab)
			if c.cfg.Kind == KindLSTM {
				// PyTorch's small LSTM initialisation decodes one token everywhere:
				// create the variables, then scale them up.
				if _, err := fast.Decode(src, prompts); err != nil {
					t.Fatal(err)
				}
				for v := range store.IterVariables() {
					if v.MustValue().DType() != dtypes.Float32 {
						continue
					}
					vals := tensors.MustCopyFlatData[float32](v.MustValue())
					for j := range vals {
						vals[j] *= 6
					}
					v.MustSetValue(tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...))
				}
			}
			distinct := map[int32]bool{}
			for _, cor := range []Corrupter{nil, corrupt} {
				want, err := full.DecodeCorrupted(src, prompts, cor)
				if err != nil {
					t.Fatal(err)
				}
				got, err := fast.DecodeCorrupted(src, prompts, cor)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("corrupter=%v: fast path decodes\n%v\nfull logits\n%v", cor != nil, got, want)
				}
				for _, row := range want {
					for _, tok := range row {
						distinct[tok] = true
					}
				}
			}
			if len(distinct) < 2 {
				t.Fatalf("the random model always decodes the same token %v: the comparison is vacuous", distinct)
			}
		})
	}
}

// BenchmarkGreedy decodes one batch at the size of the CC-CEDICT evaluation
// (seq2seq d64, 2+2 layers, vocabulary 2000, B=64, T=56, S=32).
func BenchmarkGreedy(b *testing.B) {
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("full=%v", full), func(b *testing.B) {
			cfg := Config{Kind: KindSeq2Seq, Vocab: 2000, DModel: 64, Heads: 4, FF: 256, EncLayers: 2, DecLayers: 2}
			store := model.NewStore()
			_ = store.SetRNGStateFromSeed(1)
			// MaxLen=56 with the EOS bias unchanged: random rows rarely stop early.
			d, err := newGreedy(backend.Must(), store, cfg, GreedyOptions{BOS: 1, EOS: 2, PAD: 0, MaxLen: 56, SrcLen: 32}, full)
			if err != nil {
				b.Fatal(err)
			}
			src, prompts := greedyInputs(KindSeq2Seq, 64, cfg.Vocab)
			if _, err := d.Decode(src, prompts); err != nil { // compile
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := d.Decode(src, prompts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
