package datasets_test

import (
	"fmt"

	"github.com/masklab/masklab/datasets"
)

// Load a CC-CEDICT task and look up a word through its vocabularies.
func ExampleLoad() {
	task, err := datasets.Load("cedict-pinyin", datasets.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	src, _ := task.SrcVocab.EncodeText("程序员")
	tgt, _ := task.Vocab.EncodeText("cheng2 xu4 yuan2")
	fmt.Println(task.Kind, len(src), len(tgt))
	fmt.Println(task.SrcVocab.DecodeText(src), "->", task.Vocab.DecodeText(tgt))
	// Output:
	// seq2seq 3 3
	// 程序员 -> cheng2 xu4 yuan2
}

// The reference benchmark's reverse task: a batch is a pure function of (split,
// batch size, seed, step).
func ExampleTask_Batch() {
	task, _ := datasets.Load("reverse", datasets.Options{MinLen: 3, MaxLen: 5})
	b, _ := task.Batch("train", 2, 42, 0, datasets.BatchOptions{})
	fmt.Println("B", b.B, "S", b.S, "T", b.T)
	for r := range b.B {
		fmt.Println("src", b.Src[r*b.S:(r+1)*b.S], "len", b.SrcLen[r])
		fmt.Println("dec", b.Dec[r*b.T:(r+1)*b.T])
		fmt.Println("tgt", b.Tgt[r*b.T:(r+1)*b.T], "len", b.TgtLen[r])
	}
	// Output:
	// B 2 S 8 T 8
	// src [27 48 62 39 17 2 0 0] len 6
	// dec [1 17 39 62 48 27 0 0]
	// tgt [17 39 62 48 27 2 0 0] len 6
	// src [8 36 27 62 10 2 0 0] len 6
	// dec [1 10 62 27 36 8 0 0]
	// tgt [10 62 27 36 8 2 0 0] len 6
}

// Packing documents for the decoder-only LM.
func ExampleTask_Batch_packing() {
	task, _ := datasets.Load("cedict-docs", datasets.Options{MaxExamples: 1000, MaxEval: 100})
	b, _ := task.Batch("train", 4, 1, 0, datasets.BatchOptions{Pack: datasets.BestFitDecreasing, TgtLen: 64})
	for r := range b.B {
		fmt.Println("row", r, "documents", len(b.Docs[r]), "tokens", b.TgtLen[r], "of", b.T)
	}
	// Output:
	// row 0 documents 5 tokens 64 of 64
	// row 1 documents 4 tokens 64 of 64
	// row 2 documents 5 tokens 64 of 64
	// row 3 documents 6 tokens 60 of 64
}
