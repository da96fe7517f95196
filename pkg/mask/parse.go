package mask

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/masklab/masklab/internal/textutil"
)

// SyntaxError is a spec that does not parse: it names the offending text, its 1-based
// column (counted in characters), and for unknown names the known names of the kind and
// the closest one.
type SyntaxError struct {
	Kind    Kind
	Spec    string
	Col     int    // 1-based column of the offending text
	Text    string // the offending text ("" at the end of the spec)
	Msg     string
	Suggest string   // closest known name, if any is near
	Known   []string // known names of the kind, for unknown-name errors
}

func (e *SyntaxError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s spec %q: column %d: %s", e.Kind, e.Spec, e.Col, e.Msg)
	if e.Suggest != "" {
		fmt.Fprintf(&b, " (did you mean %q?)", e.Suggest)
	}
	if e.Known != nil {
		fmt.Fprintf(&b, "; known %s names: %s", e.Kind, strings.Join(e.Known, ", "))
	}
	return b.String()
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNum
	tStr
	tPunct // one of ( ) , & | ! and, in score specs, +
)

type token struct {
	kind tokKind
	text string // for tStr: the unquoted value; otherwise as written
	num  float64
	col  int // 1-based rune column
}

func (t token) show() string {
	switch t.kind {
	case tEOF:
		return "end of spec"
	case tStr:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits a spec into tokens; whitespace is ignored.
func lex(kind Kind, spec string) ([]token, error) {
	rs := []rune(spec)
	var toks []token
	errAt := func(i int, text, msg string) error {
		return &SyntaxError{Kind: kind, Spec: spec, Col: i + 1, Text: text, Msg: msg}
	}
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case strings.ContainsRune("(),&|!", r) || (r == '+' && kind == KindScore && !atArgument(toks)):
			toks = append(toks, token{kind: tPunct, text: string(r), col: i + 1})
			i++
		case r == '_' || (r < 128 && unicode.IsLetter(r)):
			j := i
			for j < len(rs) && (rs[j] == '_' || (rs[j] < 128 && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])))) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: string(rs[i:j]), col: i + 1})
			i = j
		case r == '-' || r == '+' || r == '.' || (r >= '0' && r <= '9'):
			j := i + 1
			for j < len(rs) && (rs[j] == '.' || rs[j] == '_' || (rs[j] < 128 && (unicode.IsDigit(rs[j]) || unicode.IsLetter(rs[j]))) ||
				((rs[j] == '-' || rs[j] == '+') && (rs[j-1] == 'e' || rs[j-1] == 'E'))) {
				j++
			}
			text := string(rs[i:j])
			f, err := strconv.ParseFloat(text, 64)
			if err != nil || f != f {
				return nil, errAt(i, text, fmt.Sprintf("bad number %q", text))
			}
			toks = append(toks, token{kind: tNum, text: text, num: f, col: i + 1})
			i = j
		case r == '"' || r == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != r {
				if r == '"' && rs[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(rs) {
				return nil, errAt(i, string(rs[i:]), "unterminated string")
			}
			raw := string(rs[i : j+1])
			val := string(rs[i+1 : j])
			if r == '"' {
				v, err := strconv.Unquote(raw)
				if err != nil {
					return nil, errAt(i, raw, fmt.Sprintf("bad string %s", raw))
				}
				val = v
			}
			toks = append(toks, token{kind: tStr, text: val, col: i + 1})
			i = j + 1
		default:
			return nil, errAt(i, string(r), fmt.Sprintf("unexpected character %q", r))
		}
	}
	toks = append(toks, token{kind: tEOF, col: len(rs) + 1})
	return toks, nil
}

// atArgument reports whether the next token starts an argument (after '(' or ','),
// where '+' in a score spec is a number's sign rather than the chaining operator.
func atArgument(toks []token) bool {
	n := len(toks)
	return n > 0 && toks[n-1].kind == tPunct && (toks[n-1].text == "(" || toks[n-1].text == ",")
}

type parser struct {
	kind  Kind
	spec  string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) errAt(t token, format string, args ...any) *SyntaxError {
	return &SyntaxError{Kind: p.kind, Spec: p.spec, Col: t.col, Text: t.text, Msg: fmt.Sprintf(format, args...)}
}

// atom parses name or name(arg, ...).
func (p *parser) atom() (Args, token, error) {
	t := p.next()
	if t.kind != tIdent {
		what := "a name"
		if p.kind == KindSelf || p.kind == KindCross {
			what = "a mask name, '!' or '('"
		}
		e := p.errAt(t, "expected %s, got %s", what, t.show())
		e.Known = Names(p.kind)
		return Args{}, t, e
	}
	a := Args{Name: t.text}
	if !p.isPunct("(") {
		return a, t, nil
	}
	p.next()
	if p.isPunct(")") {
		p.next()
		return a, t, nil
	}
	for {
		at := p.next()
		switch at.kind {
		case tNum:
			a.List = append(a.List, Arg{Text: at.text, Num: at.num, IsNum: true, Pos: at.col})
		case tIdent:
			a.List = append(a.List, Arg{Text: at.text, Pos: at.col})
		case tStr:
			a.List = append(a.List, Arg{Text: at.text, Quoted: true, Pos: at.col})
		default:
			return a, t, p.errAt(at, "expected an argument of %s (a number, word or quoted string), got %s", a.Name, at.show())
		}
		sep := p.next()
		if sep.kind == tPunct && sep.text == ")" {
			return a, t, nil
		}
		if !(sep.kind == tPunct && sep.text == ",") {
			return a, t, p.errAt(sep, "expected ',' or ')' in the arguments of %s, got %s", a.Name, sep.show())
		}
	}
}

func (p *parser) unknown(t token, known []string) *SyntaxError {
	e := p.errAt(t, "unknown %s name %q", p.kind, t.text)
	e.Known = known
	e.Suggest = textutil.Closest(t.text, known)
	return e
}

// argError reports a constructor's error at the atom, or at the argument it names.
func (p *parser) argError(t token, a Args, err error) *SyntaxError {
	var ae *ArgError
	if errors.As(err, &ae) && ae.Index >= 0 && ae.Index < len(a.List) {
		t = token{kind: tIdent, text: a.List[ae.Index].String(), col: a.List[ae.Index].Pos}
	}
	return p.errAt(t, "%v", err)
}

const maxDepth = 100

// expr := and ('|' and)*
func (p *parser) orExpr() (Attention, error) {
	first, err := p.andExpr()
	if err != nil {
		return Attention{}, err
	}
	ms := []Attention{first}
	for p.isPunct("|") {
		p.next()
		m, err := p.andExpr()
		if err != nil {
			return Attention{}, err
		}
		ms = append(ms, m)
	}
	return Or(ms...), nil
}

// and := unary ('&' unary)*
func (p *parser) andExpr() (Attention, error) {
	first, err := p.unary()
	if err != nil {
		return Attention{}, err
	}
	ms := []Attention{first}
	for p.isPunct("&") {
		p.next()
		m, err := p.unary()
		if err != nil {
			return Attention{}, err
		}
		ms = append(ms, m)
	}
	return And(ms...), nil
}

// unary := '!' unary | '(' expr ')' | atom
func (p *parser) unary() (Attention, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return Attention{}, p.errAt(p.peek(), "nested more than %d levels deep", maxDepth)
	}
	if p.isPunct("!") {
		p.next()
		m, err := p.unary()
		if err != nil {
			return Attention{}, err
		}
		return Not(m), nil
	}
	if p.isPunct("(") {
		open := p.next()
		m, err := p.orExpr()
		if err != nil {
			return Attention{}, err
		}
		if !p.isPunct(")") {
			t := p.peek()
			return Attention{}, p.errAt(t, "expected ')' to close the '(' at column %d, got %s", open.col, t.show())
		}
		p.next()
		return m, nil
	}
	a, t, err := p.atom()
	if err != nil {
		return Attention{}, err
	}
	e, ok := lookup(attentionDB, a.Name)
	if !ok {
		return Attention{}, p.unknown(t, Names(KindSelf))
	}
	m, err := build(e.make, a)
	if err != nil {
		return Attention{}, p.argError(t, a, err)
	}
	if m.fn == nil {
		return Attention{}, p.errAt(t, "%s: constructor returned an empty mask", a.Name)
	}
	m.spec = a.String()
	return m, nil
}

// build calls a constructor, turning a panic into an error (user constructors must not
// crash the parser).
func build[T any](make func(Args) (T, error), a Args) (out T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %v", a.Name, r)
		}
	}()
	return make(a)
}

func (p *parser) end() error {
	t := p.peek()
	if t.kind == tEOF {
		return nil
	}
	if (p.kind == KindSelf || p.kind == KindCross) && t.kind == tPunct && t.text == ")" {
		return p.errAt(t, "unmatched ')'")
	}
	if p.kind == KindSelf || p.kind == KindCross {
		return p.errAt(t, "expected '&', '|' or end of spec, got %s", t.show())
	}
	if p.kind == KindScore {
		return p.errAt(t, "expected '+' or end of spec, got %s (score specs are names with arguments joined by +)", t.show())
	}
	return p.errAt(t, "expected end of spec after the %s strategy, got %s (input and loss specs are one name with arguments)", p.kind, t.show())
}

func newParser(kind Kind, spec string) (*parser, error) {
	toks, err := lex(kind, spec)
	if err != nil {
		return nil, err
	}
	p := &parser{kind: kind, spec: spec, toks: toks}
	if toks[0].kind == tEOF {
		e := p.errAt(toks[0], "empty spec")
		e.Known = Names(kind)
		return nil, e
	}
	return p, nil
}

// ParseAttention parses an attention-mask spec (the self and cross kinds): atoms such
// as causal or window(3), combined with & (and), | (or), ! (not) and parentheses, with
// precedence ! over & over |; whitespace is ignored. The result's String is the
// canonical form, which parses back to the same mask. Errors are *SyntaxError.
func ParseAttention(spec string) (Attention, error) {
	return parseAttention(KindSelf, spec)
}

// ParseCross is ParseAttention for the cross kind (same names; errors say "cross").
func ParseCross(spec string) (Attention, error) {
	return parseAttention(KindCross, spec)
}

func parseAttention(kind Kind, spec string) (Attention, error) {
	p, err := newParser(kind, spec)
	if err != nil {
		return Attention{}, err
	}
	m, err := p.orExpr()
	if err != nil {
		return Attention{}, err
	}
	if err := p.end(); err != nil {
		return Attention{}, err
	}
	return m, nil
}

// parseAtom parses a single-atom spec of the input or loss kind.
func parseAtom[T any](kind Kind, db map[string]entry[T], spec string) (T, Args, error) {
	var zero T
	p, err := newParser(kind, spec)
	if err != nil {
		return zero, Args{}, err
	}
	a, t, err := p.atom()
	if err != nil {
		return zero, a, err
	}
	e, ok := lookup(db, a.Name)
	if !ok {
		return zero, a, p.unknown(t, Names(kind))
	}
	if err := p.end(); err != nil {
		return zero, a, err
	}
	v, err := build(e.make, a)
	if err != nil {
		return zero, a, p.argError(t, a, err)
	}
	return v, a, nil
}

// ParseCorruption parses a decoder-input corruption spec (the input kind): one
// registered name with its arguments, e.g. "partial(2)", "span(0.15, 3)",
// `interactive(keep, "我 是")`, "schedule(random, 0, 0.3, 1000)". Errors are *SyntaxError.
func ParseCorruption(spec string) (Corruption, error) {
	c, a, err := parseAtom(KindInput, corruptDB, spec)
	if err != nil {
		return Corruption{}, err
	}
	if c.hide == nil {
		return Corruption{}, &SyntaxError{Kind: KindInput, Spec: spec, Col: 1, Text: a.Name, Msg: a.Name + ": constructor returned an empty strategy"}
	}
	c.spec = a.String()
	return c, nil
}

// ParseLoss parses a loss-mask spec (the loss kind): "all", "completion" or "plw(w)",
// or a registered name. Errors are *SyntaxError.
func ParseLoss(spec string) (Loss, error) {
	l, a, err := parseAtom(KindLoss, lossDB, spec)
	if err != nil {
		return Loss{}, err
	}
	if l.weight == nil {
		return Loss{}, &SyntaxError{Kind: KindLoss, Spec: spec, Col: 1, Text: a.Name, Msg: a.Name + ": constructor returned an empty strategy"}
	}
	l.spec = a.String()
	return l, nil
}

// ParseScore parses a score-modification spec (the score kind): registered names with
// their arguments joined by "+", applied left to right, e.g. "alibi", "t5(32, 128)",
// "softcap(50)", "alibi + softcap(30)"; "none" changes nothing. The result's String is
// the canonical form (none terms dropped). Errors are *SyntaxError.
func ParseScore(spec string) (Score, error) {
	p, err := newParser(KindScore, spec)
	if err != nil {
		return Score{}, err
	}
	var terms []Score
	for {
		a, t, err := p.atom()
		if err != nil {
			return Score{}, err
		}
		e, ok := lookup(scoreDB, a.Name)
		if !ok {
			return Score{}, p.unknown(t, Names(KindScore))
		}
		s, err := build(e.make, a)
		if err != nil {
			return Score{}, p.argError(t, a, err)
		}
		s.spec = a.String()
		terms = append(terms, s)
		if !p.isPunct("+") {
			break
		}
		p.next()
	}
	if err := p.end(); err != nil {
		return Score{}, err
	}
	return ChainScores(terms...), nil
}

// Validate parses spec as the given kind and reports the error, if any.
func Validate(kind Kind, spec string) error {
	var err error
	switch kind {
	case KindSelf, KindCross:
		_, err = parseAttention(kind, spec)
	case KindInput:
		_, err = ParseCorruption(spec)
	case KindLoss:
		_, err = ParseLoss(spec)
	case KindScore:
		_, err = ParseScore(spec)
	default:
		err = fmt.Errorf("unknown kind %q; known: self, cross, input, loss, score", kind)
	}
	return err
}
