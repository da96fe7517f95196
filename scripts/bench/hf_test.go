package main

import (
	"slices"
	"testing"
)

// hfTokens makes the same batches as hf_torch.py's tokens (the PyTorch side trains on
// them): the expected ids were printed by `hf_torch.tokens(3, 2, 4, 10000)` and
// `hf_torch.tokens(0, 1, 7, 32000)` with Debian's python3-torch.
func TestHFTokensMatchPyTorchSide(t *testing.T) {
	for _, c := range []struct {
		step, batch, seq, vocab int
		want                    [][]int32
	}{
		{3, 2, 4, 10000, [][]int32{{1502, 9967, 5728, 4193, 2658}, {8419, 6884, 2645, 1110, 9575}}},
		{0, 1, 7, 32000, [][]int32{{0, 3761, 16226, 19987, 452, 12917, 16678, 29143}}},
	} {
		got := hfTokens(c.step, c.batch, c.seq, c.vocab)
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("hfTokens(%d, %d, %d, %d) = %v, want %v", c.step, c.batch, c.seq, c.vocab, got, c.want)
		}
	}
}
