package layers

import (
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
)

func TestSmokeSeq2Seq(t *testing.T) {
	cfg := Config{Kind: KindSeq2Seq, Vocab: 11, DModel: 8, Heads: 2, FF: 16, EncLayers: 1, DecLayers: 1}
	store := model.NewStore()
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, src, srcLen, dec *graph.Node) *graph.Node {
		l, err := Forward(scope, cfg, Inputs{Src: src, SrcLen: srcLen, Dec: dec})
		if err != nil {
			panic(err)
		}
		return l
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec([][]int32{{3, 4, 5, 0}, {6, 7, 0, 0}}, []int32{3, 2}, [][]int32{{1, 3, 4}, {1, 6, 7}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out[0].Shape())
	for v := range store.IterVariables() {
		t.Log(v.Path(), v.Shape())
	}
}
