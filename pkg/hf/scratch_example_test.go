package hf_test

import (
	"fmt"
	"os"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/hf"
)

// A from-scratch vocabulary written as a Hugging Face WordLevel tokenizer, and read back:
// it splits text as masklab's own tokenizer does (one token per CJK character, words,
// each punctuation mark) and puts <bos> first; unknown words become <unk>.
func ExampleWriteWordLevel() {
	v, err := datasets.NewVocab([]string{"<pad>", "<bos>", "<eos>", "<unk>", "床", "前", "明", "月", "光", "moon", ","})
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "wordlevel")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := hf.WriteWordLevel(dir, v, 512); err != nil {
		panic(err)
	}
	tok, err := hf.LoadTokenizer(dir)
	if err != nil {
		panic(err)
	}
	ids := tok.Encode("床前明月光, moonlight moon")
	own, _ := v.EncodeText("床前明月光, moonlight moon")
	fmt.Println(ids, own)
	fmt.Printf("%q\n", tok.Decode(ids))
	// Output:
	// [1 4 5 6 7 8 10 3 9] [4 5 6 7 8 10 3 9]
	// "<bos> 床 前 明 月 光 , <unk> moon"
}
