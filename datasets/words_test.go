package datasets

import (
	"slices"
	"testing"
)

// TestMLMWordIDs: CC-CEDICT forward maximum matching groups 一个 and 程序员 and
// 明月 (traditional text too), leaving unmatched characters, punctuation and
// multi-character tokens as words of their own.
func TestMLMWordIDs(t *testing.T) {
	for _, c := range []struct {
		toks []string
		want []int32
	}{
		{[]string{"我", "是", "一", "个", "程", "序", "员"}, []int32{0, 1, 2, 2, 3, 3, 3}}, // 一个 and 程序员 are headwords
		{[]string{"床", "前", "明", "月", "光", "，"}, []int32{0, 1, 2, 2, 3, 4}},
		{[]string{"<eos>", "明", "月"}, []int32{0, 1, 1}},
		{nil, []int32{}},
	} {
		got, err := WordIDs(c.toks)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("WordIDs(%v) = %v, want %v", c.toks, got, c.want)
		}
	}
}
