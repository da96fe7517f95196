package datasets

import (
	"bytes"
	"cmp"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// poetryGz is the Tang shi and Song ci of the npm package chinese-poetry 2.0.1 (MIT,
// © 2016 JackeyGao) as TSV; see data/README.md for its provenance and sha256, and
// data/poetry-LICENSE for its licence.
//
//go:embed data/poetry.tsv.gz
var poetryGz []byte

// Poem is one poem as shipped in data/poetry.tsv.gz.
type Poem struct {
	// Dynasty is "tang" or "song"; Form is "shi" (regulated and old-style verse) or
	// "ci" (lyrics to a tune). In this corpus the Tang poems (traditional characters)
	// are all shi and the Song poems (simplified characters) all ci.
	Dynasty, Form string
	// Author is the poet as the source gives it (无名氏, 不詳 and 佚名 for unknown
	// poets); Title is the title, for ci the tune name (词牌), sometimes with a
	// subtitle after "・"; it may be empty.
	Author, Title string
	// Text is the poem's lines joined by newlines (the file joins them with "/").
	// A line keeps its punctuation, usually one couplet: "上句，下句。".
	Text string
	// Line is the 1-based line number in poetry.tsv (the header is line 1).
	Line int
}

// Lines returns the poem's lines.
func (p *Poem) Lines() []string { return strings.Split(p.Text, "\n") }

// Known values of the poetry columns and options.
var (
	poetryDynasties = []string{"tang", "song"}
	poetryForms     = []string{"shi", "ci"}
	poetrySplits    = []string{"poem", "author"}
)

const poetryHeader = "dynasty\tform\tauthor\ttitle\ttext"

// poetryWriter receives the decompressed file: it keeps it in one string builder
// (the fields of every Poem share that string, nothing is copied twice), turns the
// "/" line separators of the text column into newlines, and notes each record's
// boundaries (its start, its four tabs, its end).
type poetryWriter struct {
	b      strings.Builder
	bounds [][6]int
	cur    [6]int
	tabs   int
	chunk  []byte
}

func (w *poetryWriter) Write(p []byte) (int, error) {
	w.chunk = append(w.chunk[:0], p...)
	base := w.b.Len()
	for i, c := range w.chunk {
		switch {
		case c == '\n':
			w.cur[5] = base + i
			if w.tabs != 4 {
				w.cur[1] = -w.tabs - 1 // a bad record: remember its number of fields
			}
			w.bounds = append(w.bounds, w.cur)
			w.cur, w.tabs = [6]int{base + i + 1}, 0
		case c == '\t':
			if w.tabs++; w.tabs < 5 {
				w.cur[w.tabs] = base + i
			}
		case c == '/' && w.tabs == 4:
			w.chunk[i] = '\n'
		}
	}
	return w.b.Write(w.chunk)
}

// parsePoetry reads poetry.tsv.gz.
func parsePoetry(gz []byte) ([]Poem, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("poetry.tsv.gz: %w", err)
	}
	w := &poetryWriter{bounds: make([][6]int, 0, 80000)}
	w.b.Grow(20 << 20) // 19.4 MB decompressed
	if _, err := io.Copy(w, zr); err != nil {
		return nil, fmt.Errorf("poetry.tsv.gz: %w", err)
	}
	if w.cur[0] < w.b.Len() { // no final newline
		w.Write([]byte{'\n'})
	}
	s := w.b.String()
	if len(w.bounds) == 0 || s[w.bounds[0][0]:w.bounds[0][5]] != poetryHeader {
		first, _, _ := strings.Cut(s, "\n")
		return nil, fmt.Errorf("poetry.tsv:1: unexpected header %q", clip(first))
	}
	intern := map[string]string{} // the few dynasty and form strings
	short := func(v string) string {
		if w, ok := intern[v]; ok {
			return w
		}
		intern[v] = v
		return v
	}
	poems := make([]Poem, 0, len(w.bounds)-1)
	for k, b := range w.bounds[1:] {
		line := k + 2
		if b[1] < 0 {
			return nil, fmt.Errorf("poetry.tsv:%d: want 5 tab-separated fields, got %d", line, -b[1])
		}
		if !utf8.ValidString(s[b[0]:b[5]]) {
			return nil, fmt.Errorf("poetry.tsv:%d: invalid UTF-8", line)
		}
		p := Poem{Dynasty: short(s[b[0]:b[1]]), Form: short(s[b[1]+1 : b[2]]), Author: s[b[2]+1 : b[3]],
			Title: s[b[3]+1 : b[4]], Text: s[b[4]+1 : b[5]], Line: line}
		if !slices.Contains(poetryDynasties, p.Dynasty) || !slices.Contains(poetryForms, p.Form) {
			return nil, fmt.Errorf("poetry.tsv:%d: unknown dynasty %q or form %q", line, p.Dynasty, p.Form)
		}
		if strings.TrimSpace(p.Text) == "" {
			return nil, fmt.Errorf("poetry.tsv:%d: empty text", line)
		}
		poems = append(poems, p)
	}
	return poems, nil
}

// poetryNorm is the split key of a poem: the concatenation of its letter and digit
// tokens (CJK characters, words), without punctuation, spaces and line breaks, so
// that copies differing only in those share a split. word[id] says whether
// interned token id starts with a letter or digit.
func poetryNorm(in *interner, toks []int32, word []bool) string {
	n := 0
	for _, id := range toks {
		if word[id] {
			n += len(in.toks[id])
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, id := range toks {
		if word[id] {
			b.WriteString(in.toks[id])
		}
	}
	return b.String()
}

// isHan is unicode.Is(unicode.Han, r), faster for the common characters.
func isHan(r rune) bool { return r >= 0x4e00 && r <= 0x9fff || unicode.Is(unicode.Han, r) }

// couplet is a line "上句，下句。" of a poem whose halves have n Han characters each
// (5 or 7): tokens off..off+n-1 of the poem's tokens are the first half, off+n+1..
// off+2n the second; src and tgt are the halves' byte spans in the poem's Text.
type couplet struct {
	poem, line, off, n int32
	src, tgt           [2]int32
}

// coupletEnds are the marks a couplet line may end with.
const coupletEnds = "。？！；"

// parseCouplet returns the byte spans of the halves of a line "A，B。" where A and B
// are n Han characters each, n 5 or 7; ok is false for any other line.
func parseCouplet(line string) (a, b [2]int, n int, ok bool) {
	last, size := utf8.DecodeLastRuneInString(line)
	if !strings.ContainsRune(coupletEnds, last) {
		return a, b, 0, false
	}
	body := line[:len(line)-size]
	i := strings.Index(body, "，")
	if i < 0 {
		return a, b, 0, false
	}
	first, second := body[:i], body[i+len("，"):]
	han := func(s string) int {
		n := 0
		for _, r := range s {
			if !isHan(r) {
				return -1
			}
			n++
		}
		return n
	}
	n = han(first)
	if (n != 5 && n != 7) || han(second) != n {
		return a, b, 0, false
	}
	return [2]int{0, i}, [2]int{i + len("，"), len(body)}, n, true
}

// poetryCache holds the parsed poems and their interned tokens, built once per
// process.
type poetryCache struct {
	poems                []Poem
	in                   *interner
	norm                 []string  // poetryNorm of each text: the split key
	text, title, author  [][]int32 // tokens of each poem's Text, Title, Author
	couplets             []couplet
	open, close          int32 // 《 》
	titleTpl, composeTpl [3][2][]int32
	tuneTpl              [3][2][]int32
	noTitle, plainTune   []bool // per poem: no usable title; a ci titled by its tune alone
	authorSplit          map[string]int8
	// Per poem: the split of its normalized text, its SFT template (0..2), and hashes
	// of its text, title and heading (for duplicates) and of its normalized text.
	split, template                         []int8
	textHash, titleHash, headHash, normHash []uint64
}

var (
	poetryOnce  sync.Once
	poetryData  *poetryCache
	poetryError error
)

func loadPoetry() (*poetryCache, error) {
	poetryOnce.Do(func() {
		poems, err := parsePoetry(poetryGz)
		if err != nil {
			poetryError = err
			return
		}
		n := len(poems)
		c := &poetryCache{poems: poems, in: newInterner(), norm: make([]string, n),
			text: make([][]int32, n), title: make([][]int32, n), author: make([][]int32, n),
			noTitle: make([]bool, n), plainTune: make([]bool, n)}
		in := c.in
		var word []bool // per interned token: starts with a letter or digit
		c.couplets = make([]couplet, 0, 250000)
		for i := range poems {
			p := &poems[i]
			toks := make([]int32, 0, len(p.Text)/3+4)
			for ln, start := 1, 0; start <= len(p.Text); ln++ {
				end := strings.IndexByte(p.Text[start:], '\n')
				if end < 0 {
					end = len(p.Text)
				} else {
					end += start
				}
				line := p.Text[start:end]
				off := len(toks)
				toks = in.tokenize(toks, line)
				if a, b, k, ok := parseCouplet(line); ok {
					c.couplets = append(c.couplets, couplet{poem: int32(i), line: int32(ln), off: int32(off), n: int32(k),
						src: [2]int32{int32(start + a[0]), int32(start + a[1])}, tgt: [2]int32{int32(start + b[0]), int32(start + b[1])}})
				}
				start = end + 1
			}
			c.text[i] = slices.Clip(toks)
			for id := len(word); id < len(in.toks); id++ {
				r, _ := utf8.DecodeRuneInString(in.toks[id])
				word = append(word, unicode.IsLetter(r) || unicode.IsDigit(r))
			}
			c.norm[i] = poetryNorm(in, toks, word)
			c.title[i] = in.tokenize(nil, p.Title)
			c.author[i] = in.tokenize(nil, p.Author)
			c.noTitle[i] = len(c.title[i]) == 0 || p.Title == lostTune
			c.plainTune[i] = p.Form == "ci" && !c.noTitle[i] && strings.IndexFunc(p.Title, func(r rune) bool { return !isHan(r) }) < 0
		}
		c.authorSplit = splitAuthors(poems)
		c.split, c.template = make([]int8, n), make([]int8, n)
		c.textHash, c.titleHash, c.headHash, c.normHash = make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
		for i := range poems {
			p := &poems[i]
			c.split[i] = int8(splitOf(c.norm[i]))
			c.template[i] = int8(hashPair("template", c.norm[i]) % 3)
			c.textHash[i], c.titleHash[i] = hashString(p.Text), hashString(p.Title)
			c.headHash[i], c.normHash[i] = hashString(PoetryHeading(p)), hashPair("poem", c.norm[i])
		}
		c.open, c.close = in.id("《"), in.id("》")
		tpl := func(f string) [2][]int32 {
			pre, post, _ := strings.Cut(f, "%s")
			return [2][]int32{in.tokenize(nil, pre), in.tokenize(nil, post)}
		}
		for h := range 3 {
			c.titleTpl[h], c.composeTpl[h], c.tuneTpl[h] = tpl(titlePrompts[h]), tpl(composePrompts[h]), tpl(tunePrompts[h])
		}
		poetryData = c
	})
	return poetryData, poetryError
}

// Poets that Options.SplitBy "author" keeps in train: the names of unknown poets,
// and those with more than poetryBigAuthor poems (54 poets, 40% of the poems), so that
// no poet makes up more than about 8% of an evaluation split.
var poetryAnonymous = []string{"无名氏", "無名氏", "不詳", "佚名"}

const poetryBigAuthor = 300

// splitAuthors assigns every author to a split (0 train, 1 valid, 2 test) for
// SplitBy "author": the known poets with at most poetryBigAuthor poems, in the order of
// the FNV-1a hash of their names, go to valid until it holds 5% of all the poems,
// then to test until it does too; the rest to train. The assignment depends only on
// the corpus, not on a task's filters.
func splitAuthors(poems []Poem) map[string]int8 {
	count := map[string]int{}
	for i := range poems {
		count[poems[i].Author]++
	}
	var small []string
	for a, n := range count {
		if n <= poetryBigAuthor && !slices.Contains(poetryAnonymous, a) {
			small = append(small, a)
		}
	}
	slices.SortFunc(small, func(a, b string) int {
		if c := cmp.Compare(hashPair("split", a), hashPair("split", b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	quota := len(poems) * (validPerMille - trainPerMille) / 1000
	split := make(map[string]int8, len(count))
	var held [3]int
	for _, a := range small {
		s := int8(0)
		switch {
		case held[1] < quota:
			s = 1
		case held[2] < quota:
			s = 2
		}
		split[a] = s
		held[s] += count[a]
	}
	return split
}

// lostTune is the title of ci whose tune name is lost ("tune name lost").
const lostTune = "失调名"

// Poetry returns the embedded poems (parsed once per process; the slice is shared and
// must not be modified).
func Poetry() ([]Poem, error) {
	c, err := loadPoetry()
	if err != nil {
		return nil, err
	}
	return c.poems, nil
}

// SFT templates of the poetry tasks; %s is the poem (title, tune) or the author and
// title as 李白《静夜思》 (compose). The template is chosen by a hash of the poem.
var (
	titlePrompts = []string{
		"请写出下面这首诗词的题目，只回答题目，不要解释。作品：%s",
		"下面这首诗词的题目是什么？请只写题目。%s",
		"读下面的作品，说出它的题目：%s",
	}
	composePrompts = []string{"请写出%s的全文。", "背诵%s。", "默写%s。"}
	tunePrompts    = []string{
		"下面这首词用的是哪个词牌？只回答词牌名。词：%s",
		"请写出这首词的词牌：%s",
		"这首词的词牌名是什么？%s",
	}
)

// PoetryHeading is how poetry-lm-titled and poetry-compose name a poem: its author
// and title as 李白《静夜思》.
func PoetryHeading(p *Poem) string { return p.Author + "《" + p.Title + "》" }

// poetryArgs parses the arguments of a poetry task name ("tang,by-author",
// "dynasty=song,split=author") into o.
func poetryArgs(args string, o *Options) error {
	for _, a := range strings.Split(args, ",") {
		a = strings.TrimSpace(a)
		key, val, kv := strings.Cut(a, "=")
		if !kv {
			switch {
			case slices.Contains(poetryDynasties, a):
				key, val = "dynasty", a
			case slices.Contains(poetryForms, a):
				key, val = "form", a
			case a == "by-author" || a == "by-poem":
				key, val = "split", strings.TrimPrefix(a, "by-")
			default:
				return fmt.Errorf("unknown argument %q (known: tang, song, shi, ci, by-author, by-poem, dynasty=, form=, split=)", a)
			}
		}
		var field *string
		switch key {
		case "dynasty":
			field = &o.Dynasty
		case "form":
			field = &o.Form
		case "split":
			field = &o.SplitBy
		default:
			return fmt.Errorf("unknown argument %q (known keys: dynasty, form, split)", a)
		}
		if err := checkPoetryValue(key, val); err != nil {
			return err
		}
		if *field != "" && *field != val {
			return fmt.Errorf("%s %q given twice (and %q)", key, val, *field)
		}
		*field = val
	}
	return nil
}

func checkPoetryValue(key, val string) error {
	known := map[string][]string{"dynasty": poetryDynasties, "form": poetryForms, "split": poetrySplits}[key]
	if !slices.Contains(known, val) {
		return fmt.Errorf("unknown %s %q (known: %s)", key, val, strings.Join(known, ", "))
	}
	return nil
}

// poetryMaxLen is the default Options.MaxLen of the poetry tasks, in tokens: it keeps
// 98% of the poems and makes the default padded length 264, not the 3,300 of the
// longest poem.
const poetryMaxLen = 256

func init() {
	const args = "; name args: tang|song, shi|ci, by-author"
	registerArgs("poetry-lm", "classical Chinese poems (57,552 Tang shi, 21,053 Song ci): one document per poem, for decoder-only LM training and packing"+args, func(o Options) (*Task, error) {
		return poetryTask("poetry-lm", LM, o, func(c *poetryCache, i int, add func(rawExample)) {
			add(rawExample{tgt: c.text[i], tgtText: c.poems[i].Text, dup: c.textHash[i]})
		})
	}, poetryArgs)
	registerArgs("poetry-lm-titled", "poetry-lm with each document headed by its author and title: 李白《静夜思》床前明月光，…"+args, func(o Options) (*Task, error) {
		return poetryTask("poetry-lm-titled", LM, o, func(c *poetryCache, i int, add func(rawExample)) {
			p := &c.poems[i]
			toks := make([]int32, 0, len(c.author[i])+len(c.title[i])+len(c.text[i])+2)
			toks = append(append(toks, c.author[i]...), c.open)
			toks = append(append(append(toks, c.title[i]...), c.close), c.text[i]...)
			add(rawExample{tgt: toks, tgtText: PoetryHeading(p) + "\n" + p.Text, dup: mixHash(c.headHash[i], c.textHash[i])})
		})
	}, poetryArgs)
	registerArgs("poetry-couplet", "the halves of parallel couplets: first half-line -> second (5 or 7 characters each, aligned character for character; seq2seq)"+args, func(o Options) (*Task, error) {
		return poetryTask("poetry-couplet", Seq2Seq, o, nil)
	}, poetryArgs)
	registerArgs("poetry-title", "a Chinese instruction with a poem -> the poem's title (SFT: long prompt, short completion)"+args, func(o Options) (*Task, error) {
		return poetryTask("poetry-title", SFT, o, func(c *poetryCache, i int, add func(rawExample)) {
			if c.noTitle[i] {
				return
			}
			h := poetryTemplate(c, i)
			p := &c.poems[i]
			add(rawExample{prompt: fill(c.titleTpl[h], c.text[i]), tgt: c.title[i],
				srcText: fillTemplate(titlePrompts[h], p.Text), tgtText: p.Title, dup: mixHash(c.textHash[i], c.titleHash[i])})
		})
	}, poetryArgs)
	registerArgs("poetry-compose", "a short instruction naming author and title (背诵李白《静夜思》。) -> the poem (SFT: short prompt, long completion)"+args, func(o Options) (*Task, error) {
		return poetryTask("poetry-compose", SFT, o, func(c *poetryCache, i int, add func(rawExample)) {
			if c.noTitle[i] {
				return
			}
			h := poetryTemplate(c, i)
			p := &c.poems[i]
			head := make([]int32, 0, len(c.author[i])+len(c.title[i])+2)
			head = append(append(append(append(head, c.author[i]...), c.open), c.title[i]...), c.close)
			heading := PoetryHeading(p)
			add(rawExample{prompt: fill(c.composeTpl[h], head), tgt: c.text[i],
				srcText: fillTemplate(composePrompts[h], heading), tgtText: p.Text,
				texts: []uint64{c.headHash[i]}, dup: mixHash(c.headHash[i], c.textHash[i])})
		})
	}, poetryArgs)
	registerArgs("poetry-tune", "a Song ci -> its tune name (词牌), ci titled by a tune alone (SFT: long prompt, short completion); name args: by-author", func(o Options) (*Task, error) {
		return poetryTask("poetry-tune", SFT, o, func(c *poetryCache, i int, add func(rawExample)) {
			if !c.plainTune[i] {
				return
			}
			h := poetryTemplate(c, i)
			p := &c.poems[i]
			add(rawExample{prompt: fill(c.tuneTpl[h], c.text[i]), tgt: c.title[i],
				srcText: fillTemplate(tunePrompts[h], p.Text), tgtText: p.Title, dup: mixHash(c.textHash[i], c.titleHash[i])})
		})
	}, poetryArgs)
}

// poetryTemplate picks one of the three templates of an SFT task for poem i.
func poetryTemplate(c *poetryCache, i int) int { return int(c.template[i]) }

// mixHash combines two hashes (splitmix64 steps, as newRNG combines seeds).
func mixHash(a, b uint64) uint64 {
	r := rng{s: 0x9e3779b97f4a7c15 ^ a}
	r.s = r.next() ^ b
	return r.next()
}

// fill returns the tokens of a template around word.
func fill(tpl [2][]int32, word []int32) []int32 {
	out := make([]int32, 0, len(tpl[0])+len(word)+len(tpl[1]))
	return append(append(append(out, tpl[0]...), word...), tpl[1]...)
}

// poetryTask selects the poems of o.Dynasty and o.Form and turns them into raw
// examples (build; nil for the couplets), keyed by the poem's normalized text or, with
// SplitBy "author", by the author (a poem's text then keeps out of later splits, as
// the halves of a couplet always do). Exact duplicates (same source and target text)
// are kept once and counted in Dropped, as are poems that yield no example.
func poetryTask(name string, kind Kind, o Options, build func(c *poetryCache, i int, add func(rawExample))) (*Task, error) {
	if o.Path != "" {
		return nil, fmt.Errorf("task %q reads the embedded poetry corpus, not a file; got Path %q", name, o.Path)
	}
	for _, kv := range [][2]string{{"dynasty", o.Dynasty}, {"form", o.Form}, {"split", o.SplitBy}} {
		if kv[1] != "" {
			if err := checkPoetryValue(kv[0], kv[1]); err != nil {
				return nil, fmt.Errorf("task %q: %w", name, err)
			}
		}
	}
	if name == "poetry-tune" && (o.Dynasty == "tang" || o.Form == "shi") {
		return nil, fmt.Errorf("task %q is for ci (Song) only; got dynasty %q, form %q", name, o.Dynasty, o.Form)
	}
	filtered := o.Dynasty != "" || o.Form != "" || o.SplitBy == "author"
	if o.SplitBy == "" {
		o.SplitBy = "poem"
	}
	if name == "poetry-tune" {
		o.Form = "ci"
	}
	if o.MaxLen == 0 && kind != Seq2Seq {
		o.MaxLen = poetryMaxLen
	}
	c, err := loadPoetry()
	if err != nil {
		return nil, fmt.Errorf("task %q: %w", name, err)
	}
	selected := func(p *Poem) bool {
		return (o.Dynasty == "" || p.Dynasty == o.Dynasty) && (o.Form == "" || p.Form == o.Form)
	}
	byAuthor := o.SplitBy == "author"
	raws := make([]rawExample, 0, len(c.poems))
	seen := make(map[uint64]bool, len(c.poems))
	dropped, poems := 0, 0
	produced := make([]bool, len(c.poems))
	add := func(i int, origin string, r rawExample) {
		produced[i] = true
		d := r.dup // the hash of the example's texts, cached per poem
		if d == 0 {
			d = hashPair(r.srcText, r.tgtText)
		}
		if seen[d] {
			dropped++
			return
		}
		seen[d] = true
		r.origin = origin
		r.key, r.split = c.norm[i], c.split[i]+1
		if byAuthor {
			r.key = c.poems[i].Author
			r.split = c.authorSplit[r.key] + 1
			r.texts = append(r.texts, c.normHash[i])
		}
		raws = append(raws, r)
	}
	if build == nil { // the couplets
		raws = make([]rawExample, 0, len(c.couplets))
		seen = make(map[uint64]bool, len(c.couplets))
		for _, cp := range c.couplets {
			i := int(cp.poem)
			p := &c.poems[i]
			if !selected(p) {
				continue
			}
			toks := c.text[i][cp.off : cp.off+2*cp.n+1]
			src, tgt := p.Text[cp.src[0]:cp.src[1]], p.Text[cp.tgt[0]:cp.tgt[1]]
			add(i, "poetry.tsv:"+strconv.Itoa(p.Line)+"#"+strconv.Itoa(int(cp.line)), rawExample{
				src: toks[:cp.n:cp.n], tgt: toks[cp.n+1:], srcText: src, tgtText: tgt,
				texts: []uint64{hashPair("half", src), hashPair("half", tgt)}})
		}
	}
	for i := range c.poems {
		p := &c.poems[i]
		if !selected(p) {
			continue
		}
		poems++
		if build != nil {
			origin := "poetry.tsv:" + strconv.Itoa(p.Line)
			build(c, i, func(r rawExample) { add(i, origin, r) })
		}
		if !produced[i] {
			dropped++
		}
	}
	if poems == 0 {
		return nil, fmt.Errorf("task %q: no poems with dynasty %q and form %q (the Tang poems are all shi, the Song poems all ci)", name, o.Dynasty, o.Form)
	}
	t, err := buildTextTask(name, kind, raws, c.in, o)
	if err != nil {
		return nil, err
	}
	for _, s := range []struct {
		name string
		exs  []Example
	}{{"valid", t.Valid}, {"test", t.Test}} {
		if len(s.exs) == 0 {
			return nil, fmt.Errorf("task %q: the %s split is empty (%d examples; dynasty %q, form %q, split by %s, MinLen %d, MaxLen %d)",
				name, s.name, len(raws), o.Dynasty, o.Form, o.SplitBy, o.MinLen, o.MaxLen)
		}
	}
	t.Dropped += dropped
	if filtered {
		t.Description = registry[name].description + fmt.Sprintf(" [dynasty %q, form %q, split by %s]", o.Dynasty, o.Form, o.SplitBy)
	}
	return t, nil
}
