package hf_test

import (
	"fmt"

	"github.com/masklab/masklab/pkg/hf"
)

// Load a checkpoint's tokenizer (here Qwen3's, cut to 6,000 tokens) and encode a chat turn:
// the special tokens in the text are matched first, the rest goes through byte-level BPE
// (the cut vocabulary spells most Chinese characters in bytes; the whole one has them).
func ExampleLoadTokenizer() {
	tok, err := hf.LoadTokenizer("testdata/tokenizers/qwen3")
	if err != nil {
		panic(err)
	}
	ids := tok.Encode("<|im_start|>user\n床前明月光<|im_end|>")
	fmt.Println(ids)
	fmt.Printf("%q\n", tok.Decode(ids))
	fmt.Printf("eos %d pad %d, vocabulary %d\n", tok.Special.EOS, tok.Special.PAD, tok.Vocab)
	// Output:
	// [151644 872 198 161 118 232 161 231 235 162 246 236 4811 230 161 227 231 151645]
	// "<|im_start|>user\n床前明月光<|im_end|>"
	// eos 151645 pad 151643, vocabulary 151669
}
