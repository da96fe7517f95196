package layers_test

import (
	"fmt"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
)

// Generation with a key/value cache on a (random) Llama-style decoder: the cache gives
// the tokens that recomputing the prefix at every step gives, and a seeded sample
// repeats itself.
func ExampleGenerator() {
	cfg := layers.Config{Kind: layers.KindDecoder, Vocab: 32, DModel: 16, Heads: 4, FF: 32, DecLayers: 2,
		Positions: layers.PosRotary, RotaryBase: 10000, Arch: &layers.Arch{Family: layers.FamilyLlama, KVHeads: 2}}
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(1)
	decode := func(opts layers.GenerateOptions) [][]int32 {
		opts.BOS, opts.EOS, opts.PAD, opts.MaxNewTokens = 1, 2, 0, 6
		g, err := layers.NewGenerator(backend.Must(), store, cfg, opts)
		if err != nil {
			panic(err)
		}
		out, err := g.Generate(nil, [][]int32{{1, 7, 9}, {1, 4}})
		if err != nil {
			panic(err)
		}
		return out.Tokens
	}
	cached, recomputed := decode(layers.GenerateOptions{}), decode(layers.GenerateOptions{NoCache: true})
	fmt.Println("cache equals recomputing:", fmt.Sprint(cached) == fmt.Sprint(recomputed))
	hot := layers.GenerateOptions{Sampling: layers.Sampling{Temperature: 1, TopP: 0.9, Seed: 5}}
	fmt.Println("same seed, same sample:", fmt.Sprint(decode(hot)) == fmt.Sprint(decode(hot)))
	// Output:
	// cache equals recomputing: true
	// same seed, same sample: true
}
