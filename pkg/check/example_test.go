package check_test

import (
	"fmt"

	"github.com/masklab/masklab/pkg/check"
	"github.com/masklab/masklab/pkg/experiments"
)

// Packing documents into rows without the "doc" mask lets them see each other: the
// check names it, and a sweep that does it on purpose allows it by name.
func ExampleConfig() {
	cfg, err := experiments.ParseConfig([]byte(`
task: {name: cedict-docs, vocab: 1000, max_len: 40, max_examples: 2000, tgt_len: 64, packing: first-fit}
model: {kind: decoder, layers: 2, d_model: 32, heads: 2, ff: 64}
masks: {self: "causal & pad"}
train: {batch_size: 16}
`), "packed.yaml")
	if err != nil {
		panic(err)
	}
	r, err := check.Config(cfg, check.Options{Batches: 2})
	if err != nil {
		panic(err)
	}
	fmt.Println("ok:", r.OK)
	for _, c := range r.Checks {
		fmt.Println(c.Status, c.Name)
	}
	r, _ = check.Config(cfg, check.Options{Batches: 2, Allow: []string{check.CrossDocument}})
	fmt.Println("allowed, ok:", r.OK)
	// Output:
	// ok: false
	// pass zero-supervision
	// pass degenerate-loss-mask
	// fail cross-document
	// pass future-leakage
	// pass positions
	// pass fully-masked-rows
	// pass padding-attended
	// pass causal-alignment
	// allowed, ok: true
}
