package datasets

import (
	"sync"
	"unicode/utf8"
)

// maxCedictWord is the longest headword (in characters) WordIDs tries to match.
const maxCedictWord = 8

var (
	cedictWordsOnce sync.Once
	cedictWords     map[string]bool
	cedictWordsErr  error
)

// WordIDs segments a row of tokens into CC-CEDICT words for whole-word masking
// (masks.input mlm_word): it returns each token's word id (0, 1, 2, ... in order).
// Runs of single-character tokens are matched greedily, longest first, against the
// CC-CEDICT headwords (simplified and traditional, up to 8 characters: forward maximum
// matching); every other token (a multi-character token, an unmatched character) is a
// word of its own. tokens are the token strings (Vocab.Token of each id).
func WordIDs(tokens []string) ([]int32, error) {
	cedictWordsOnce.Do(func() {
		entries, err := Cedict()
		if err != nil {
			cedictWordsErr = err
			return
		}
		cedictWords = make(map[string]bool, 2*len(entries))
		for _, e := range entries {
			for _, w := range []string{e.Simplified, e.Traditional} {
				if n := utf8.RuneCountInString(w); n > 1 && n <= maxCedictWord {
					cedictWords[w] = true
				}
			}
		}
	})
	if cedictWordsErr != nil {
		return nil, cedictWordsErr
	}
	ids := make([]int32, len(tokens))
	word := int32(0)
	for i := 0; i < len(tokens); word++ {
		n := 1
		if utf8.RuneCountInString(tokens[i]) == 1 {
			s := tokens[i]
			for j := i + 1; j < len(tokens) && j-i < maxCedictWord && utf8.RuneCountInString(tokens[j]) == 1; j++ {
				s += tokens[j]
				if cedictWords[s] {
					n = j - i + 1
				}
			}
		}
		for k := i; k < i+n; k++ {
			ids[k] = word
		}
		i += n
	}
	return ids, nil
}
