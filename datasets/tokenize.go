package datasets

import (
	"strings"
	"unicode"
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
	start := -1 // start of the current word, -1 when none
	flush := func(end int) {
		if start >= 0 {
			toks = append(toks, text[start:end])
			start = -1
		}
	}
	for i, r := range text {
		switch {
		case isCJK(r):
			flush(i)
			toks = append(toks, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			if start < 0 {
				start = i
			}
		case unicode.IsSpace(r):
			flush(i)
		case r == unicode.ReplacementChar:
			flush(i)
			toks = append(toks, string(unicode.ReplacementChar))
		default: // punctuation, symbols, controls
			flush(i)
			if !unicode.IsControl(r) {
				toks = append(toks, string(r))
			}
		}
	}
	flush(len(text))
	return toks
}

// isCJK reports whether r is written one character per token.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

func isCJKToken(t string) bool {
	for _, r := range t {
		return isCJK(r) || isFullwidthPunct(r)
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
