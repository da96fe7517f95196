package hf_test

import (
	"fmt"

	"github.com/masklab/masklab/pkg/hf"
)

// Load a BERT tokenizer (here from tokenizer.json; vocab.txt with tokenizer_config.json
// works the same) and tokenize Chinese, English and a pair: every CJK character is a
// word, English words split into ## wordpieces (this small vocabulary lacks naive and
// cafe), accents stripped and lower-cased; characters not in the vocabulary are [UNK].
func ExampleLoadWordPiece() {
	w, err := hf.LoadWordPiece("testdata/wordpiece/lower")
	if err != nil {
		panic(err)
	}
	fmt.Println(w.Tokenize("秦川雄帝宅，函谷壯皇居。"))
	fmt.Println(w.Tokenize("Naïve CAFÉ, unbelievably!"))
	ids, types := w.EncodePair("何為掩碼？", "Mask")
	fmt.Println(len(ids), types)
	fmt.Println(w.Decode(ids))
	// Output:
	// [秦 川 雄 帝 宅 ， 函 谷 壯 皇 居 。]
	// [n ##a ##i ##v ##e c ##a ##f ##e , un ##believ ##a ##b ##ly !]
	// 9 [0 0 0 0 0 0 0 1 1]
	// [CLS] 何 [UNK] 掩 [UNK] ？ [SEP] mask [SEP]
}
