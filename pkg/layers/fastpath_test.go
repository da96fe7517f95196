package layers

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
	"github.com/masklab/masklab/pkg/mask"
)

// The fast path changes gradients only in the order of their sums: a whole model's loss
// and every parameter gradient equal those of the same model built with stock GoMLX
// ops and gradients (fast.Plain), within float32 tolerance, for the seq2seq Transformer
// (masked self- and cross-attention, tied and untied outputs) and the decoder-only LM.
func TestModelGradientsMatchStockGoMLX(t *testing.T) {
	self, err := mask.ParseAttention("causal & pad")
	if err != nil {
		t.Fatal(err)
	}
	cross, err := mask.ParseCross("pad")
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{
		{Kind: KindSeq2Seq, Vocab: 11, SrcVocab: 11, DModel: 8, Heads: 2, FF: 16, DecLayers: 2, EncLayers: 1, Self: self, Cross: cross},
		{Kind: KindSeq2Seq, Vocab: 11, SrcVocab: 11, DModel: 8, Heads: 2, FF: 16, DecLayers: 1, EncLayers: 1, Self: self, Cross: cross, Tied: true},
		{Kind: KindDecoder, Vocab: 11, DModel: 8, Heads: 2, FF: 16, DecLayers: 2, Self: self, Positions: "rotary"},
		{Kind: KindDecoder, Vocab: 11, DModel: 8, Heads: 2, FF: 16, DecLayers: 2, Self: self, Positions: "none",
			Score: mustScore(t, "t5(8, 16) + alibi + softcap(5)")},
		{Kind: KindDecoder, Vocab: 11, DModel: 8, Heads: 4, FF: 16, DecLayers: 2, Self: self, Positions: "rotary",
			Arch: &Arch{Family: FamilyLlama, KVHeads: 2, HeadDim: 4, QKVBias: true, QKNorm: true, Window: 2, Sliding: []bool{true, false},
				Rope: RopeScaling{Type: RopeLlama3, Factor: 4, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8}}},
		{Kind: KindDecoder, Vocab: 11, DModel: 8, Heads: 2, FF: 16, DecLayers: 2, Self: self, Positions: "learned", Tied: true, MaxLen: 8,
			Arch: &Arch{Family: FamilyGPT2}},
	} {
		t.Run(fmt.Sprintf("%s-tied=%v", cfg.Kind, cfg.Tied), func(t *testing.T) {
			fastGrads := modelGradients(t, cfg, false)
			plainGrads := modelGradients(t, cfg, true)
			if len(fastGrads) != len(plainGrads) || len(fastGrads) < 5 {
				t.Fatalf("%d gradients on the fast path, %d on the stock one", len(fastGrads), len(plainGrads))
			}
			for name, a := range fastGrads {
				b := plainGrads[name]
				if len(a) != len(b) {
					t.Fatalf("%s: %d values, stock %d", name, len(a), len(b))
				}
				for i := range a {
					if d := math.Abs(float64(a[i] - b[i])); d > 1e-5*(1+math.Abs(float64(b[i]))) {
						t.Errorf("%s[%d]: %g, stock GoMLX %g", name, i, a[i], b[i])
						break
					}
				}
			}
		})
	}
}

// modelGradients builds cfg with fixed (seeded) parameters and returns the loss ("loss")
// and the gradient of every variable, by path.
func modelGradients(t *testing.T, cfg Config, plain bool) map[string][]float32 {
	t.Helper()
	old := fast.Plain
	fast.Plain = plain
	defer func() { fast.Plain = old }()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(7); err != nil {
		t.Fatal(err)
	}
	var names []string
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, src, srcLen, dec, decLen, tgt *graph.Node) []*graph.Node {
		in := Inputs{Dec: dec, DecLen: decLen}
		if cfg.Kind != KindDecoder {
			in.Src, in.SrcLen = src, srcLen
		}
		mscope := scope.In("model")
		logits, err := Forward(mscope, cfg, in)
		if err != nil {
			panic(err)
		}
		w := graph.ConvertDType(graph.GreaterOrEqual(tgt, graph.ScalarOne(tgt.Graph(), tgt.DType())), logits.DType())
		loss := WeightedCrossEntropy(logits, tgt, w)
		var vars []*model.Variable
		for v := range mscope.IterVariables() {
			vars = append(vars, v)
		}
		sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
		nodes := make([]*graph.Node, len(vars))
		names = names[:0]
		for i, v := range vars {
			nodes[i], names = v.NodeValue(loss.Graph()), append(names, v.Path())
		}
		return append([]*graph.Node{loss}, graph.Gradient(loss, nodes...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	src := [][]int32{{3, 4, 5, 2}, {6, 2, 0, 0}}
	dec := [][]int32{{1, 7, 8, 9}, {1, 10, 0, 0}}
	tgt := [][]int32{{7, 8, 9, 2}, {10, 2, 0, 0}}
	out, err := exec.Exec(src, []int32{4, 2}, dec, []int32{4, 2}, tgt)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string][]float32{"loss": tensors.MustCopyFlatData[float32](out[0])}
	for i, name := range names {
		res[name] = tensors.MustCopyFlatData[float32](out[1+i])
	}
	return res
}
