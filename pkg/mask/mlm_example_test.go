package mask_test

import (
	"fmt"

	"github.com/masklab/masklab/pkg/mask"
)

// Whole-word masked-LM corruption of a Chinese sentence segmented into words (word ids
// per character, as a CC-CEDICT segmentation gives them): [CLS] and [SEP] are kept, a
// chosen word is chosen whole, and the loss is taken where Chosen is true.
func ExampleMLM_Apply() {
	// [CLS] 注 意 力 掩 码 [SEP]: words 注意力 and 掩码.
	tokens := []int32{101, 3800, 2692, 1213, 2961, 4772, 102}
	words := []int32{0, 1, 1, 1, 2, 2, 3}
	keep := []bool{true, false, false, false, false, false, true}
	m := mask.MLM{Rate: 0.5, MaskProb: 1, WholeWord: true}
	res, err := m.Apply(mask.MLMInput{Tokens: tokens, Words: words, Keep: keep, MaskID: 103}, mask.ExampleRNG(1, 0, 3))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Inputs)
	fmt.Println(res.Chosen)
	// Output:
	// [101 3800 2692 1213 103 103 102]
	// [false false false false true true false]
}
