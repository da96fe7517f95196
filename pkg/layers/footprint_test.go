package layers

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
)

// Footprint's parameter count is exactly the number of values in the trainable
// variables a built model creates.
func TestFootprintCountsTheModelsParameters(t *testing.T) {
	for _, cfg := range []Config{
		{Kind: KindSeq2Seq, Vocab: 37, SrcVocab: 29, DModel: 16, Heads: 2, FF: 24, DecLayers: 2, EncLayers: 3},
		{Kind: KindSeq2Seq, Vocab: 37, DModel: 16, Heads: 4, DecLayers: 1, EncLayers: 1, Tied: true, Positions: PosLearned, MaxLen: 20},
		{Kind: KindDecoder, Vocab: 50, DModel: 24, Heads: 3, FF: 40, DecLayers: 3, Positions: PosRotary},
		{Kind: KindDecoder, Vocab: 50, DModel: 24, Heads: 3, FF: 40, DecLayers: 2, Positions: PosRotary, Score: mustScore(t, "t5(16, 64) + softcap(30)")},
		{Kind: KindLSTM, Vocab: 37, SrcVocab: 29, DModel: 16, Heads: 1, DecLayers: 1, EncLayers: 1},
		{Kind: KindDecoder, Vocab: 50, DModel: 24, Heads: 4, FF: 40, DecLayers: 2, Positions: PosRotary,
			Arch: &Arch{Family: FamilyLlama, KVHeads: 2, HeadDim: 8, QKVBias: true, QKNorm: true}},
		{Kind: KindDecoder, Vocab: 50, DModel: 24, Heads: 4, FF: 40, DecLayers: 2, Positions: PosRotary, Tied: true,
			Arch: &Arch{Family: FamilyLlama, OutBias: true, MLPBias: true}},
		{Kind: KindDecoder, Vocab: 50, DModel: 24, Heads: 4, FF: 40, DecLayers: 2, Positions: PosLearned, Tied: true, MaxLen: 16,
			Arch: &Arch{Family: FamilyGPT2}},
	} {
		t.Run(fmt.Sprintf("%s-tied=%v-%s", cfg.Kind, cfg.Tied, cfg.Positions), func(t *testing.T) {
			store := model.NewStore()
			exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, src, dec *graph.Node) *graph.Node {
				in := Inputs{Dec: dec}
				if cfg.Kind != KindDecoder {
					in.Src = src
				}
				logits, err := Forward(scope, cfg, in)
				if err != nil {
					panic(err)
				}
				return logits
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := exec.Exec([][]int32{{3, 4, 5, 2}}, [][]int32{{1, 6, 7, 8}}); err != nil {
				t.Fatal(err)
			}
			var n int64
			for v := range store.IterVariables() {
				if v.Trainable {
					n += int64(v.Shape().Size())
				}
			}
			got := cfg.Footprint(8, 4, 4).Params
			if got != n {
				t.Errorf("Footprint says %d parameters, the model has %d", got, n)
			}
		})
	}
}

// Activations and arithmetic grow with the batch and, for attention, with the square of
// the length.
func TestFootprintScales(t *testing.T) {
	cfg := Config{Kind: KindDecoder, Vocab: 100, DModel: 32, Heads: 4, DecLayers: 2}
	a, b, c := cfg.Footprint(8, 0, 64), cfg.Footprint(16, 0, 64), cfg.Footprint(8, 0, 128)
	if b.Activations != 2*a.Activations || b.FLOPs != 2*a.FLOPs {
		t.Errorf("doubling the batch: activations %d -> %d, FLOPs %g -> %g", a.Activations, b.Activations, a.FLOPs, b.FLOPs)
	}
	if c.Activations <= 2*a.Activations || c.FLOPs <= 2*a.FLOPs {
		t.Errorf("doubling the length should more than double attention's share: %d -> %d", a.Activations, c.Activations)
	}
}
