package datasets

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenize splits text into tokens the way every masklab task does: one token per CJK
// character (Han, kana, hangul; as bert-base-chinese does), a run of letters, digits
// and combining marks as one token (an English word, a numbered pinyin syllable such
// as "cheng2"), each punctuation or symbol character as its own token; whitespace only
// separates. Case is kept.
//
//	Tokenize("程序员 cheng2 xu4 yuan2, programmer") = [程 序 员 cheng2 xu4 yuan2 , programmer]
func Tokenize(text string) []string {
	var toks []string
	tokenSpans(text, func(i, j int) { toks = append(toks, text[i:j]) })
	return toks
}

// tokenSpans calls f with the byte span of every token of text, in order.
func tokenSpans(text string, f func(i, j int)) {
	start := -1 // start of the current word, -1 when none
	flush := func(end int) {
		if start >= 0 {
			f(start, end)
			start = -1
		}
	}
	for i, r := range text {
		switch {
		case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
			if start < 0 {
				start = i
			}
		case r < 0x80 && (r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'):
			flush(i)
		case isCJK(r):
			flush(i)
			f(i, i+utf8.RuneLen(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			if start < 0 {
				start = i
			}
		case unicode.IsSpace(r):
			flush(i)
		case r == utf8.RuneError:
			flush(i)
			_, n := utf8.DecodeRuneInString(text[i:])
			f(i, i+n) // an invalid byte (or U+FFFD): its own token, kept as is
		default: // punctuation, symbols, controls
			flush(i)
			if !unicode.IsControl(r) {
				f(i, i+utf8.RuneLen(r))
			}
		}
	}
	flush(len(text))
}

// interner numbers token strings (process-local ids, not vocabulary ids), so that
// counting and encoding large corpora works on ints.
type interner struct {
	ids  map[string]int32
	toks []string
	// byRune[r] is 1 + the id of the one-rune token r (r < maxRuneTable; 0 = not
	// yet seen): a CJK corpus interns millions of such tokens, and a table lookup
	// is several times faster than hashing the string.
	byRune []int32
}

// maxRuneTable bounds the runes byRune covers (the BMP and the CJK extension planes).
const maxRuneTable = 0x40000

func newInterner() *interner { return &interner{ids: map[string]int32{}} }

func (in *interner) id(tok string) int32 {
	if id, ok := in.ids[tok]; ok {
		return id
	}
	id := int32(len(in.toks))
	tok = strings.Clone(tok)
	in.ids[tok] = id
	in.toks = append(in.toks, tok)
	return id
}

// tokenize appends the interned tokens of text to dst.
func (in *interner) tokenize(dst []int32, text string) []int32 {
	tokenSpans(text, func(i, j int) {
		if r, n := utf8.DecodeRuneInString(text[i:j]); n == j-i && r >= 0x80 && r < maxRuneTable && r != utf8.RuneError {
			if in.byRune == nil {
				in.byRune = make([]int32, maxRuneTable)
			}
			if id := in.byRune[r]; id > 0 {
				dst = append(dst, id-1)
				return
			}
			id := in.id(text[i:j])
			in.byRune[r] = id + 1
			dst = append(dst, id)
			return
		}
		dst = append(dst, in.id(text[i:j]))
	})
	return dst
}

// isCJK reports whether r is written one character per token.
func isCJK(r rune) bool {
	if r >= 0x4e00 && r <= 0x9fff { // CJK Unified Ideographs, all Han: the common case
		return true
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

func isCJKToken(t string) bool {
	for _, r := range t {
		return isCJK(r) || (isFullwidthPunct(r) && !unicode.IsLetter(r) && !unicode.IsDigit(r))
	}
	return false
}

func isFullwidthPunct(r rune) bool {
	return (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef)
}

// Detokenize joins tokens back into readable text: no space next to a CJK character
// or full-width punctuation, none before closing punctuation or after opening
// punctuation, none around '-', '\” and '/'; one space elsewhere. It inverts
// [Tokenize] for text written in that style (e.g. "程序员", "cheng2 xu4 yuan2",
// "to act, pragmatically").
func Detokenize(tokens []string) string {
	var b strings.Builder
	for i, t := range tokens {
		if i > 0 && needSpace(tokens[i-1], t) {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}

func needSpace(prev, next string) bool {
	if isCJKToken(prev) || isCJKToken(next) {
		return false
	}
	switch next {
	case ",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "-", "'", "/":
		return false
	}
	switch prev {
	case "(", "[", "{", "-", "'", "/", "$", "#":
		return false
	}
	return true
}
