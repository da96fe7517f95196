package hf

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenizer splits a piece into words, appended to out.
type preTokenizer func(p piece, out []piece) []piece

// The regexes of the byte-level BPE families. Go's regexp has no lookahead, so each is
// matched by a scanner that implements its alternation (first alternative that matches
// wins, as in Rust's fancy-regex and Oniguruma).
const (
	// gpt2Regex is GPT-2's (the ByteLevel pre-tokenizer's with use_regex).
	gpt2Regex = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// llama3Regex is Llama 3's (tiktoken's cl100k_base); qwen2Regex is Qwen2's and Qwen3's,
	// the same with single digits.
	llama3Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Regex  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// matcher returns the length in bytes of the match at the start of s (s is not empty; a
// match is never empty for these regexes).
type matcher func(s string) int

func knownRegex(re string) matcher {
	switch re {
	case gpt2Regex:
		return matchGPT2
	case llama3Regex:
		return func(s string) int { return matchTiktoken(s, 3) }
	case qwen2Regex:
		return func(s string) int { return matchTiktoken(s, 1) }
	}
	return nil
}

func isL(r rune) bool { return unicode.IsLetter(r) }
func isN(r rune) bool { return unicode.IsNumber(r) }

// isS is \s: Unicode White_Space.
func isS(r rune) bool { return unicode.IsSpace(r) }

// isOther is [^\s\p{L}\p{N}].
func isOther(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }

// run is the length of the longest prefix of s whose runes satisfy f, and how many runes.
func run(s string, f func(rune) bool) (n, count int) {
	for n < len(s) {
		r, k := utf8.DecodeRuneInString(s[n:])
		if !f(r) {
			break
		}
		n += k
		count++
	}
	return n, count
}

func contraction(s string, fold bool) int {
	if len(s) < 2 || s[0] != '\'' {
		return 0
	}
	for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
		if len(s) > len(c) && (s[1:1+len(c)] == c || fold && strings.EqualFold(s[1:1+len(c)], c)) {
			return 1 + len(c)
		}
	}
	return 0
}

// whitespace matches \s+(?!\S)|\s+ at s, which starts with whitespace: the run, less its
// last character when a non-space follows and the run is longer than one character.
func whitespace(s string) int {
	n, count := run(s, isS)
	if n == len(s) || count == 1 {
		return n
	}
	_, k := utf8.DecodeLastRuneInString(s[:n])
	return n - k
}

// optSpace matches ` ?X+` at s.
func optSpace(s string, f func(rune) bool) int {
	off := 0
	if s[0] == ' ' {
		off = 1
	}
	n, _ := run(s[off:], f)
	if n == 0 {
		return 0
	}
	return off + n
}

func matchGPT2(s string) int {
	if n := contraction(s, false); n > 0 {
		return n
	}
	for _, f := range []func(rune) bool{isL, isN, isOther} {
		if n := optSpace(s, f); n > 0 {
			return n
		}
	}
	return whitespace(s)
}

// matchTiktoken matches llama3Regex (digits 3) or qwen2Regex (digits 1).
func matchTiktoken(s string, digits int) int {
	if n := contraction(s, true); n > 0 {
		return n
	}
	r, k := utf8.DecodeRuneInString(s)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isL(r) {
		n, _ := run(s, isL)
		return n
	}
	if r != '\r' && r != '\n' && !isN(r) {
		if n, _ := run(s[k:], isL); n > 0 {
			return k + n
		}
	}
	// \p{N}{1,digits}
	if isN(r) {
		n := 0
		for i := 0; i < digits && n < len(s); i++ {
			r, k := utf8.DecodeRuneInString(s[n:])
			if !isN(r) {
				break
			}
			n += k
		}
		return n
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	if n := optSpace(s, isOther); n > 0 {
		m, _ := run(s[n:], func(r rune) bool { return r == '\r' || r == '\n' })
		return n + m
	}
	// \s*[\r\n]+: up to the last \r or \n of the whitespace run
	ws, _ := run(s, isS)
	if last := strings.LastIndexAny(s[:ws], "\r\n"); last >= 0 {
		return last + 1
	}
	return whitespace(s)
}

// splitIsolated splits p into its matches and the text between them, each a piece.
func splitIsolated(m matcher) preTokenizer {
	return func(p piece, out []piece) []piece {
		s, first := p.s, p.start
		for len(s) > 0 {
			n := m(s)
			if n <= 0 {
				panic(fmt.Sprintf("hf: pre-tokenizer regex matched nothing at %q", s))
			}
			out = append(out, piece{s[:n], first})
			first = false
			s = s[n:]
		}
		return out
	}
}

// goRegexSplit splits on a regex Go's regexp can run, with behavior Isolated or Removed.
func goRegexSplit(re *regexp.Regexp, behavior string, invert bool) preTokenizer {
	return func(p piece, out []piece) []piece {
		first := p.start
		add := func(s string) {
			if s != "" {
				out = append(out, piece{s, first})
				first = false
			}
		}
		prev := 0
		for _, loc := range re.FindAllStringIndex(p.s, -1) {
			if invert { // the matches are the words; the rest is removed or isolated
				if behavior == "Isolated" {
					add(p.s[prev:loc[0]])
				}
				add(p.s[loc[0]:loc[1]])
			} else {
				add(p.s[prev:loc[0]])
				if behavior == "Isolated" {
					add(p.s[loc[0]:loc[1]])
				}
			}
			prev = loc[1]
		}
		if !invert || behavior == "Isolated" {
			add(p.s[prev:])
		}
		return out
	}
}

type metaspace struct {
	Replacement    string  `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	Split          *bool   `json:"split"`
	scheme         string
}

func parseMetaspace(c *typed) (*metaspace, error) {
	var v metaspace
	if err := c.into(&v); err != nil {
		return nil, err
	}
	if v.Replacement == "" {
		v.Replacement = "▁"
	}
	switch {
	case v.PrependScheme != nil:
		v.scheme = *v.PrependScheme
	case v.AddPrefixSpace != nil && !*v.AddPrefixSpace:
		v.scheme = "never"
	default:
		v.scheme = "always"
	}
	if v.AddPrefixSpace != nil && !*v.AddPrefixSpace {
		v.scheme = "never" // the legacy flag wins, as in Hugging Face's deserializer
	}
	switch v.scheme {
	case "always", "first", "never":
	default:
		return nil, fmt.Errorf("%s prepend_scheme %q is not supported (always, first, never)", c.Type, v.scheme)
	}
	return &v, nil
}

// byteToUnicode is GPT-2's map of bytes to printable characters: printable Latin-1 bytes
// map to themselves, the others to U+0100 onwards, in byte order.
var byteToUnicode, unicodeToByte = func() ([256]rune, map[rune]byte) {
	var b2u [256]rune
	u2b := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			b2u[b] = rune(b)
		} else {
			b2u[b] = rune(256 + n)
			n++
		}
		u2b[b2u[b]] = byte(b)
	}
	return b2u, u2b
}()

func byteLevelMap(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteToUnicode[s[i]])
	}
	return sb.String()
}

func (t *Tokenizer) parsePreTokenizer(c *typed) ([]preTokenizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "Sequence":
		return sequence(c, "pretokenizers", t.parsePreTokenizer)
	case "ByteLevel":
		var v struct {
			AddPrefixSpace bool  `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}
		if err := c.into(&v); err != nil {
			return nil, err
		}
		t.byteLevel = true
		useRegex := v.UseRegex == nil || *v.UseRegex
		split := splitIsolated(matchGPT2)
		return []preTokenizer{func(p piece, out []piece) []piece {
			if v.AddPrefixSpace && !strings.HasPrefix(p.s, " ") {
				p.s = " " + p.s
			}
			words := []piece{p}
			if useRegex {
				words = split(p, nil)
			}
			for _, w := range words {
				out = append(out, piece{byteLevelMap(w.s), w.start})
			}
			return out
		}}, nil
	case "Split":
		var v struct {
			Pattern  pattern `json:"pattern"`
			Behavior string  `json:"behavior"`
			Invert   bool    `json:"invert"`
		}
		if err := c.into(&v); err != nil {
			return nil, err
		}
		if v.Behavior != "Isolated" && v.Behavior != "Removed" {
			return nil, fmt.Errorf("pre_tokenizer Split behavior %q is not supported (Isolated, Removed)", v.Behavior)
		}
		if v.Pattern.Regex != nil {
			if m := knownRegex(*v.Pattern.Regex); m != nil && v.Behavior == "Isolated" && !v.Invert {
				return []preTokenizer{splitIsolated(m)}, nil
			}
			re, err := regexp.Compile(*v.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("pre_tokenizer Split regex %q is not supported: not GPT-2's, Llama 3's or Qwen's, and Go's regexp cannot run it (%v)", *v.Pattern.Regex, err)
			}
			return []preTokenizer{goRegexSplit(re, v.Behavior, v.Invert)}, nil
		}
		if v.Pattern.String != nil {
			return []preTokenizer{goRegexSplit(regexp.MustCompile(regexp.QuoteMeta(*v.Pattern.String)), v.Behavior, v.Invert)}, nil
		}
		return nil, fmt.Errorf("pre_tokenizer Split without a pattern")
	case "Metaspace":
		ms, err := parseMetaspace(c)
		if err != nil {
			return nil, err
		}
		split := ms.Split == nil || *ms.Split
		return []preTokenizer{func(p piece, out []piece) []piece {
			s := strings.ReplaceAll(p.s, " ", ms.Replacement)
			if !strings.HasPrefix(s, ms.Replacement) && (ms.scheme == "always" || ms.scheme == "first" && p.start) {
				s = ms.Replacement + s
			}
			if !split {
				return append(out, piece{s, p.start})
			}
			return splitBefore(s, ms.Replacement, p.start, out)
		}}, nil
	}
	return nil, fmt.Errorf("pre_tokenizer type %q is not supported (supported: ByteLevel, Split, Metaspace, Sequence)", c.Type)
}

// splitBefore splits s before each occurrence of sep (Hugging Face's MergedWithNext):
// "▁a▁▁b" gives "▁a", "▁", "▁b"; "a▁b" gives "a", "▁b".
func splitBefore(s, sep string, first bool, out []piece) []piece {
	for s != "" {
		skip := 0
		if strings.HasPrefix(s, sep) {
			skip = len(sep)
		}
		n := len(s)
		if i := strings.Index(s[skip:], sep); i >= 0 {
			n = skip + i
		}
		out = append(out, piece{s[:n], first})
		first = false
		s = s[n:]
	}
	return out
}
