package datasets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// cedictGz is CC-CEDICT (MDBG, https://cc-cedict.org, CC BY-SA 4.0) as TSV; see
// data/README.md for its provenance, sha256 and license.
//
//go:embed data/cedict.tsv.gz
var cedictGz []byte

// CedictEntry is one CC-CEDICT entry as shipped in data/cedict.tsv.gz.
type CedictEntry struct {
	Simplified, Traditional string
	// Pinyin is the numbered pinyin, lower-cased, with "u:" written "ü"
	// (e.g. "cheng2 xu4 yuan2", "lü4").
	Pinyin string
	// English is the raw definitions field ("def1 / def2 / ...").
	English string
	// Glosses are the cleaned definitions, in order (see CleanGlosses).
	Glosses []string
	// Line is the 1-based line number in cedict.tsv (the header is line 1).
	Line int
}

func parseCedict(gz []byte) ([]CedictEntry, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("cedict.tsv.gz: %w", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var out []CedictEntry
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			if sc.Text() != "simplified\ttraditional\tpinyin\tenglish" {
				return nil, fmt.Errorf("cedict.tsv:1: unexpected header %q", sc.Text())
			}
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("cedict.tsv:%d: want 4 tab-separated fields, got %d", line, len(f))
		}
		out = append(out, CedictEntry{Simplified: f[0], Traditional: f[1],
			Pinyin: normalizePinyin(f[2]), English: f[3], Glosses: CleanGlosses(f[3]), Line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cedict.tsv:%d: %w", line, err)
	}
	return out, nil
}

func normalizePinyin(p string) string {
	return strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(p, "u:", "ü"), "U:", "Ü"))
}

// crossRefPrefixes start glosses that only point at another entry or note usage.
var crossRefPrefixes = []string{"see also ", "see ", "variant of ", "old variant of ", "Japanese variant of ",
	"archaic variant of ", "erhua variant of ", "erhua form of ", "used in ", "abbr. for ", "abbr. of ",
	"also written ", "CL:", "Taiwan pr.", "pr. ", "also pr. ", "(Tw) variant of ", "(old) variant of "}

// CleanGlosses splits a CC-CEDICT definitions field on " / " and cleans each gloss:
// cross-references ("see ...", "variant of ...", "CL:...", "abbr. for ...", ...) are
// dropped; parenthesized notes and bracketed headword references (曲阜市[Qu1 fu4 Shi4])
// are removed; "lit. X; fig. Y" keeps the figurative Y; "surname X" glosses come
// after the others. Glosses that end up empty or with unbalanced brackets are dropped.
func CleanGlosses(english string) []string {
	var out, surnames []string
next:
	for _, g := range strings.Split(english, " / ") {
		g = strings.TrimSpace(g)
		for _, p := range crossRefPrefixes {
			if strings.HasPrefix(g, p) {
				continue next
			}
		}
		g, ok := removeNotes(g)
		if !ok {
			continue
		}
		if _, fig, ok := strings.Cut(g, "; fig. "); ok && strings.HasPrefix(g, "lit. ") {
			g = fig
		}
		g = strings.TrimPrefix(g, "lit. ")
		g = strings.TrimPrefix(g, "fig. ")
		g = strings.Trim(strings.Join(strings.Fields(g), " "), " ,;:")
		if g == "" {
			continue
		}
		if strings.HasPrefix(g, "surname ") && len(g) > 8 && g[8] >= 'A' && g[8] <= 'Z' {
			surnames = append(surnames, g)
			continue
		}
		out = append(out, g)
	}
	return append(out, surnames...)
}

// removeNotes drops "(...)" spans (nested too) and "word[...]" references with the
// spaces before them; ok is false when brackets do not balance or "|" remains.
func removeNotes(g string) (string, bool) {
	if !strings.ContainsAny(g, "()[]|") {
		return g, true
	}
	b := make([]byte, 0, len(g))
	depth := 0
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case c == '(':
			if depth == 0 {
				b = trimRightSpace(b)
			}
			depth++
		case c == ')':
			if depth == 0 {
				return "", false
			}
			depth--
		case depth > 0:
		case c == '[':
			j := strings.IndexByte(g[i:], ']')
			if j < 0 || strings.IndexByte(g[i+1:i+j], '[') >= 0 {
				return "", false
			}
			// Drop the non-space run before '[' (the headword, maybe "trad|simp").
			for len(b) > 0 && b[len(b)-1] != ' ' {
				b = b[:len(b)-1]
			}
			b = trimRightSpace(b)
			i += j
		case c == ']' || c == '|':
			return "", false
		default:
			b = append(b, c)
		}
	}
	if depth != 0 {
		return "", false
	}
	return string(b), true
}

func trimRightSpace(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

func init() {
	register("cedict-pinyin", "CC-CEDICT: simplified Chinese -> numbered pinyin syllables (seq2seq, close to monotonic)", func(o Options) (*Task, error) {
		return cedictTask("cedict-pinyin", Seq2Seq, o, func(c *cedictCache, i int, add func(rawExample)) {
			e := &c.entries[i]
			add(rawExample{src: c.simp[i], tgt: c.pinyin[i], srcText: e.Simplified, tgtText: e.Pinyin})
		})
	})
	register("cedict-english", "CC-CEDICT: simplified Chinese -> its first cleaned English gloss (seq2seq)", func(o Options) (*Task, error) {
		return cedictTask("cedict-english", Seq2Seq, o, func(c *cedictCache, i int, add func(rawExample)) {
			e := &c.entries[i]
			if len(e.Glosses) > 0 {
				add(rawExample{src: c.simp[i], tgt: c.glosses[i][0], srcText: e.Simplified, tgtText: e.Glosses[0]})
			}
		})
	})
	register("cedict-docs", "CC-CEDICT: one short document per entry (word [pinyin] up to two glosses) for decoder-only pre-training and packing", func(o Options) (*Task, error) {
		return cedictTask("cedict-docs", LM, o, func(c *cedictCache, i int, add func(rawExample)) {
			e := &c.entries[i]
			// CedictDocument's text, tokenized piece by piece.
			toks := make([]int32, 0, 2*len(c.simp[i])+len(c.pinyin[i])+8)
			toks = append(toks, c.simp[i]...)
			toks = append(toks, c.punct["["])
			toks = append(toks, c.pinyin[i]...)
			toks = append(toks, c.punct["]"])
			for k := range min(len(e.Glosses), 2) {
				if k > 0 {
					toks = append(toks, c.punct[";"])
				}
				toks = append(toks, c.glosses[i][k]...)
			}
			add(rawExample{tgt: toks, tgtText: CedictDocument(e)})
		})
	})
	sft := func(name string, longPrompt, longAnswer bool) func(Options) (*Task, error) {
		return func(o Options) (*Task, error) {
			return cedictTask(name, SFT, o, func(c *cedictCache, i int, add func(rawExample)) {
				e := &c.entries[i]
				h := int(hashString("template\x00"+e.Simplified) % 3)
				fill := func(tpl [2][]int32, word []int32) []int32 {
					out := make([]int32, 0, len(tpl[0])+len(word)+len(tpl[1]))
					return append(append(append(out, tpl[0]...), word...), tpl[1]...)
				}
				if longPrompt {
					p := fillTemplate(pinyinPrompts[h], e.Simplified)
					add(rawExample{prompt: fill(c.pinyinTpl[h], c.simp[i]), tgt: c.pinyin[i], srcText: p, tgtText: e.Pinyin})
					if len(e.Glosses) > 0 {
						p := fillTemplate(englishPrompts[h], e.Simplified)
						add(rawExample{prompt: fill(c.englishTpl[h], c.simp[i]), tgt: c.glosses[i][0], srcText: p, tgtText: e.Glosses[0]})
					}
				}
				if longAnswer && len(e.Glosses) > 0 {
					p := fillTemplate(shortPrompts[h], e.Simplified)
					ans := longAnswerText(e)
					// longAnswerText's tokens: word 读 作 pinyin ， 英 文 意 思 是 ： g1 ; g2 ... 。
					toks := append([]int32(nil), c.simp[i]...)
					toks = append(toks, c.answerMid[0]...)
					toks = append(toks, c.pinyin[i]...)
					toks = append(toks, c.answerMid[1]...)
					for k := range min(len(e.Glosses), 5) {
						if k > 0 {
							toks = append(toks, c.punct[";"])
						}
						toks = append(toks, c.glosses[i][k]...)
					}
					toks = append(toks, c.answerMid[2]...)
					add(rawExample{prompt: fill(c.shortTpl[h], c.simp[i]), tgt: toks, srcText: p, tgtText: ans})
				}
			})
		}
	}
	register("cedict-sft", "CC-CEDICT instructions (Chinese) -> answers: long-prompt/short-answer pairs (pinyin, English) and short-prompt/long-answer pairs, prompt span recorded", sft("cedict-sft", true, true))
	register("cedict-sft-long-prompt", "CC-CEDICT instructions: a long Chinese prompt asking for the pinyin or the English of a word, short answer", sft("cedict-sft-long-prompt", true, false))
	register("cedict-sft-long-answer", "CC-CEDICT instructions: a short Chinese prompt, a long answer (pinyin and up to five glosses)", sft("cedict-sft-long-answer", false, true))
}

// CedictDocument is the cedict-docs text of an entry: "word [pinyin] gloss1; gloss2".
func CedictDocument(e *CedictEntry) string {
	doc := e.Simplified + " [" + e.Pinyin + "]"
	if n := min(len(e.Glosses), 2); n > 0 {
		doc += " " + strings.Join(e.Glosses[:n], "; ")
	}
	return doc
}

// SFT templates; %s is the simplified headword. Each template must tokenize as
// tokens(prefix) + tokens(word) + tokens(suffix) (checked by the tests).
var (
	pinyinPrompts = []string{
		"请写出下面这个词语的汉语拼音，用数字标出声调，音节之间用空格隔开。词语：%s",
		"下面这个中文词语怎么读？请只回答带数字声调的拼音，不要解释。词语：%s",
		"请给这个词注音，使用数字表示声调（例如 zhong1 wen2），只输出拼音：%s",
	}
	englishPrompts = []string{
		"请把下面这个中文词语翻译成英文，只写出最常用的一个意思，不要解释。词语：%s",
		"这个中文词语的英文意思是什么？请用尽量简短的英文回答，不要写拼音。词语：%s",
		"请用一个简短的英文短语解释下面的词语，只输出英文：%s",
	}
	shortPrompts = []string{"解释：%s", "%s 是什么意思？", "介绍一下 %s"}
)

const longAnswerFormat = "%s 读作 %s ，英文意思是：%s 。"

func longAnswerText(e *CedictEntry) string {
	n := min(len(e.Glosses), 5)
	return e.Simplified + " 读作 " + e.Pinyin + " ，英文意思是：" + strings.Join(e.Glosses[:n], "; ") + " 。"
}

// fillTemplate replaces the %s of a template by word.
func fillTemplate(tpl, word string) string {
	pre, post, _ := strings.Cut(tpl, "%s")
	return pre + word + post
}

// CedictInstructions returns the (prompt, completion) pairs of an entry, as the SFT
// tasks use them: with longPrompt, a long Chinese instruction asking for the pinyin
// (answer: the pinyin) and, when the entry has a gloss, one asking for the English
// (answer: the first gloss); with longAnswer (and a gloss), a short prompt answered by
// the word's pinyin and up to five glosses. The template is chosen by a hash of the
// headword.
func CedictInstructions(e *CedictEntry, longPrompt, longAnswer bool) [][2]string {
	h := int(hashString("template\x00"+e.Simplified) % 3)
	var out [][2]string
	if longPrompt {
		out = append(out, [2]string{fillTemplate(pinyinPrompts[h], e.Simplified), e.Pinyin})
		if len(e.Glosses) > 0 {
			out = append(out, [2]string{fillTemplate(englishPrompts[h], e.Simplified), e.Glosses[0]})
		}
	}
	if longAnswer && len(e.Glosses) > 0 {
		out = append(out, [2]string{fillTemplate(shortPrompts[h], e.Simplified), longAnswerText(e)})
	}
	return out
}

// cedictCache holds the parsed entries and their interned tokens, built once per
// process.
type cedictCache struct {
	entries                         []CedictEntry
	in                              *interner
	simp, pinyin                    [][]int32
	glosses                         [][][]int32
	punct                           map[string]int32
	pinyinTpl, englishTpl, shortTpl [3][2][]int32
	answerMid                       [3][]int32
}

var (
	cedictOnce  sync.Once
	cedictData  *cedictCache
	cedictError error
)

func loadCedict() (*cedictCache, error) {
	cedictOnce.Do(func() {
		entries, err := parseCedict(cedictGz)
		if err != nil {
			cedictError = err
			return
		}
		c := &cedictCache{entries: entries, in: newInterner(), punct: map[string]int32{}}
		in := c.in
		n := len(entries)
		c.simp, c.pinyin, c.glosses = make([][]int32, n), make([][]int32, n), make([][][]int32, n)
		for i := range entries {
			e := &entries[i]
			c.simp[i] = in.tokenize(nil, e.Simplified)
			c.pinyin[i] = in.tokenize(nil, e.Pinyin)
			c.glosses[i] = make([][]int32, len(e.Glosses))
			for k, g := range e.Glosses {
				c.glosses[i][k] = in.tokenize(nil, g)
			}
		}
		for _, p := range []string{"[", "]", ";"} {
			c.punct[p] = in.id(p)
		}
		tpl := func(f string) [2][]int32 {
			pre, post, _ := strings.Cut(f, "%s")
			return [2][]int32{in.tokenize(nil, pre), in.tokenize(nil, post)}
		}
		for h := range 3 {
			c.pinyinTpl[h], c.englishTpl[h], c.shortTpl[h] = tpl(pinyinPrompts[h]), tpl(englishPrompts[h]), tpl(shortPrompts[h])
		}
		parts := strings.Split(longAnswerFormat, "%s")
		for k := range 3 {
			c.answerMid[k] = in.tokenize(nil, parts[k+1])
		}
		cedictData = c
	})
	return cedictData, cedictError
}

// Cedict returns the embedded CC-CEDICT entries (parsed once per process; the slice
// is shared and must not be modified).
func Cedict() ([]CedictEntry, error) {
	c, err := loadCedict()
	if err != nil {
		return nil, err
	}
	return c.entries, nil
}

// cedictTask turns entries into raw examples keyed by the simplified headword, so
// entries sharing a headword stay in one split; exact duplicates (same source and
// target text, e.g. from traditional variants) are kept once and counted in Dropped,
// as are entries that yield no example (no usable gloss).
func cedictTask(name string, kind Kind, o Options, build func(c *cedictCache, i int, add func(rawExample))) (*Task, error) {
	if o.Path != "" {
		return nil, fmt.Errorf("task %q reads the embedded CC-CEDICT, not a file; got Path %q", name, o.Path)
	}
	c, err := loadCedict()
	if err != nil {
		return nil, fmt.Errorf("task %q: %w", name, err)
	}
	raws := make([]rawExample, 0, len(c.entries))
	seen := make(map[uint64]bool, len(c.entries))
	dropped := 0
	for i := range c.entries {
		e := &c.entries[i]
		added := false
		build(c, i, func(r rawExample) {
			added = true
			if d := hashPair(r.srcText, r.tgtText); seen[d] {
				dropped++
				return
			} else {
				seen[d] = true
			}
			r.key = e.Simplified
			r.origin = "cedict.tsv:" + strconv.Itoa(e.Line)
			raws = append(raws, r)
		})
		if !added {
			dropped++
		}
	}
	t, err := buildTextTask(name, kind, raws, c.in, o)
	if err != nil {
		return nil, err
	}
	t.Dropped += dropped
	return t, nil
}
