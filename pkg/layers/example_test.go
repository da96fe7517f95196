package layers_test

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// A decoder-only LM on two packed documents: the self mask is a spec string, the
// positions restart per document, and Run also returns each layer's attention weights.
func ExampleRun() {
	self, err := mask.ParseAttention("causal & doc")
	if err != nil {
		panic(err)
	}
	cfg := layers.Config{Kind: layers.KindDecoder, Vocab: 16, DModel: 8, Heads: 2, DecLayers: 1, Self: self}
	exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, ids, seg, pos *graph.Node) (*graph.Node, *graph.Node) {
		res, err := layers.Run(scope, cfg, layers.Inputs{Dec: ids, Segments: seg, Positions: pos}, true)
		if err != nil {
			panic(err)
		}
		return res.Logits, res.Attention[0].Weights
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Exec([][]int32{{1, 5, 6, 1, 7}}, [][]int32{{1, 1, 1, 2, 2}}, [][]int32{{0, 1, 2, 0, 1}})
	if err != nil {
		panic(err)
	}
	fmt.Println("logits", out[0].Shape())
	w := out[1].Value().([][][][]float32)[0][0] // example 0, head 0: [Q][K]
	for _, row := range w {
		for _, v := range row {
			if v > 0 {
				fmt.Print("#")
			} else {
				fmt.Print(".")
			}
		}
		fmt.Println()
	}
	// Output:
	// logits (Float32)[1, 5, 16]
	// #....
	// ##...
	// ###..
	// ...#.
	// ...##
}

// LoRA on a pretrained decoder: PEFT's target names pick the linear modules; a bad one
// is an error that lists the model's.
func ExampleConfig_LoRATargets() {
	cfg := layers.Config{Kind: layers.KindDecoder, Vocab: 100, DModel: 32, Heads: 4, FF: 64, DecLayers: 1,
		Positions: layers.PosRotary, Arch: &layers.Arch{Family: layers.FamilyLlama, KVHeads: 2}}
	cfg.LoRA = &layers.LoRA{Rank: 8, Alpha: 16, Targets: []string{"q_proj", "v_proj"}}
	targets, _ := cfg.LoRATargets()
	for _, m := range targets {
		fmt.Printf("%s [%d -> %d] at %s\n", m.Name, m.In, m.Out, m.Scope)
	}
	fmt.Println("scaling", cfg.LoRA.Scaling(), "trainable", cfg.Footprint(1, 0, 16).Params)
	cfg.LoRA.Targets = []string{"query"}
	fmt.Println(cfg.Validate())
	// Output:
	// model.layers.0.self_attn.q_proj [32 -> 32] at /decoder/layer_0/self/MultiHeadAttention/query/dense
	// model.layers.0.self_attn.v_proj [32 -> 16] at /decoder/layer_0/self/MultiHeadAttention/value/dense
	// scaling 2 trainable 896
	// layers: LoRA target "query" matches no module of this llama model; its linear modules are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (or all-linear)
}
