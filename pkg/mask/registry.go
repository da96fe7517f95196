package mask

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/masklab/masklab/internal/textutil"
)

// Kind names one namespace of strategies. Attention masks (self and cross) share one
// namespace and the operators & | ! ( ); input (corruption) and loss strategies are single
// named atoms with arguments.
type Kind string

// The kinds of strategy.
const (
	KindSelf  Kind = "self"  // decoder self-attention masks (Attention)
	KindCross Kind = "cross" // cross-attention masks (Attention; same names as self)
	KindInput Kind = "input" // decoder-input corruption (Corruption)
	KindLoss  Kind = "loss"  // loss masks (Loss)
	KindScore Kind = "score" // score modifications (Score): terms joined by +
)

// Kinds lists every kind, in the order the docs use.
var Kinds = []Kind{KindSelf, KindCross, KindInput, KindLoss, KindScore}

// ParseKind maps a kind's name ("self", "cross", "input", "loss", "score"; "attention"
// means self, "corrupt" and "corruption" mean input) to its Kind.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "self", "attention":
		return KindSelf, nil
	case "cross":
		return KindCross, nil
	case "input", "corrupt", "corruption":
		return KindInput, nil
	case "loss":
		return KindLoss, nil
	case "score":
		return KindScore, nil
	}
	return "", fmt.Errorf("unknown kind %q; known: self, cross, input, loss, score", s)
}

// Arg is one argument of a strategy atom as written in a spec: a number, a bare word
// (e.g. the rule "freq" of interactive(freq, 0.1)) or a quoted string.
type Arg struct {
	Text   string  // the word or the unquoted string; the number as written
	Num    float64 // the value when IsNum
	IsNum  bool
	Quoted bool // written as "..."
	Pos    int  // 1-based column of the argument in the spec
}

// String formats the argument canonically (numbers in shortest form, strings quoted
// when needed).
func (a Arg) String() string {
	switch {
	case a.IsNum:
		return strconv.FormatFloat(a.Num, 'g', -1, 64)
	case a.Quoted || !isIdent(a.Text):
		return strconv.Quote(a.Text)
	}
	return a.Text
}

// Args are the arguments of one atom, with accessors that check them and return errors
// that name the atom, the argument and the offending value, e.g.
// "window must be >= 0, got -1".
type Args struct {
	Name string // the atom's name
	List []Arg
}

// Len is the number of arguments.
func (a Args) Len() int { return len(a.List) }

// String formats the atom canonically: name, or name(arg, arg).
func (a Args) String() string {
	if len(a.List) == 0 {
		return a.Name
	}
	parts := make([]string, len(a.List))
	for i, x := range a.List {
		parts[i] = x.String()
	}
	return a.Name + "(" + strings.Join(parts, ", ") + ")"
}

// Count checks that there are between min and max arguments.
func (a Args) Count(min, max int) error {
	n := len(a.List)
	if n >= min && n <= max {
		return nil
	}
	switch {
	case min == max && min == 0:
		return fmt.Errorf("%s takes no arguments, got %d", a.Name, n)
	case min == max:
		return fmt.Errorf("%s takes %d argument%s, got %d", a.Name, min, textutil.Plural(min), n)
	default:
		return fmt.Errorf("%s takes %d to %d arguments, got %d", a.Name, min, max, n)
	}
}

// ArgError is an invalid argument; Index is its 0-based position in the atom, so the
// parser can point at its column.
type ArgError struct {
	Index int
	Msg   string
}

func (e *ArgError) Error() string { return e.Msg }

func argErr(i int, format string, args ...any) error {
	return &ArgError{Index: i, Msg: fmt.Sprintf(format, args...)}
}

// Float returns argument i as a number; what names it in errors (e.g. "p").
func (a Args) Float(i int, what string) (float64, error) {
	if i >= len(a.List) {
		return 0, fmt.Errorf("%s needs argument %s (argument %d)", a.Name, what, i+1)
	}
	x := a.List[i]
	if !x.IsNum {
		return 0, argErr(i, "%s: %s must be a number, got %s", a.Name, what, x.String())
	}
	return x.Num, nil
}

// maxIntArg is the largest integer argument (2^30): no mask size or count comes near it,
// and it keeps arithmetic on positions within int32.
const maxIntArg = 1 << 30

// Int returns argument i as an integer in min..maxIntArg.
func (a Args) Int(i int, what string, min int) (int, error) {
	f, err := a.Float(i, what)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, argErr(i, "%s: %s must be an integer, got %s", a.Name, what, a.List[i].String())
	}
	if math.Abs(f) > maxIntArg {
		// Beyond what any size can be: out of range, with the number as written (not in
		// exponent form).
		got := a.List[i].Text
		if got == "" {
			got = a.List[i].String()
		}
		return 0, argErr(i, "%s: %s is out of range: must be in %d..%d, got %s", a.Name, what, min, maxIntArg, got)
	}
	if int(f) < min {
		return 0, argErr(i, "%s: %s must be >= %d, got %d", a.Name, what, min, int(f))
	}
	return int(f), nil
}

// Prob returns argument i as a probability or fraction in [0, 1].
func (a Args) Prob(i int, what string) (float64, error) {
	f, err := a.Float(i, what)
	if err != nil {
		return 0, err
	}
	if !(f >= 0 && f <= 1) {
		return 0, argErr(i, "%s: %s must be in [0, 1], got %s", a.Name, what, a.List[i].String())
	}
	return f, nil
}

// Word returns argument i as a bare word or string.
func (a Args) Word(i int, what string) (string, error) {
	if i >= len(a.List) {
		return "", fmt.Errorf("%s needs argument %s (argument %d)", a.Name, what, i+1)
	}
	x := a.List[i]
	if x.IsNum {
		return "", argErr(i, "%s: %s must be a word or a quoted string, got %s", a.Name, what, x.String())
	}
	return x.Text, nil
}

// intArg is the constructor of a strategy with one integer argument >= min, named
// what in errors.
func intArg[T any](what string, min int, f func(int) T) func(Args) (T, error) {
	return func(a Args) (T, error) {
		var zero T
		if err := a.Count(1, 1); err != nil {
			return zero, err
		}
		n, err := a.Int(0, what, min)
		if err != nil {
			return zero, err
		}
		return f(n), nil
	}
}

// probArg is the constructor of a strategy with one argument in [0, 1], named what in
// errors.
func probArg[T any](what string, f func(float64) T) func(Args) (T, error) {
	return func(a Args) (T, error) {
		var zero T
		if err := a.Count(1, 1); err != nil {
			return zero, err
		}
		p, err := a.Prob(0, what)
		if err != nil {
			return zero, err
		}
		return f(p), nil
	}
}

// Info describes one registered name: how it is called and what it means. It is what
// the help, the error messages and the package doc table show.
type Info struct {
	Kind Kind
	Name string
	Args string // the argument list as written in a spec, e.g. "(w)" or "(p, mean_len)"; "" for none
	Doc  string // one line: what the strategy does
}

// Usage is the name with its arguments, e.g. "window(w)".
func (i Info) Usage() string { return i.Name + i.Args }

type entry[T any] struct {
	info Info
	make func(Args) (T, error)
}

var (
	regMu       sync.RWMutex
	attentionDB = map[string]entry[Attention]{}
	corruptDB   = map[string]entry[Corruption]{}
	lossDB      = map[string]entry[Loss]{}
	scoreDB     = map[string]entry[Score]{}
)

// RegisterAttention adds an attention mask (self and cross kinds) under name, so that
// specs, the CLI, pictures and sweeps can use it like a built-in. args is the argument
// list as shown in help (e.g. "(w)", or "" for none), doc one line of meaning. make
// builds the mask from the parsed arguments (check them with Args.Count, Args.Int, ...);
// the parser sets the mask's String to the canonical form of the atom. It is an error to
// register a name twice or a name that is not an identifier ([A-Za-z_][A-Za-z0-9_]*).
func RegisterAttention(name, args, doc string, make func(Args) (Attention, error)) error {
	return register(attentionDB, Info{KindSelf, name, args, doc}, make)
}

// RegisterCorruption adds a decoder-input corruption strategy (the input kind) under
// name; see RegisterAttention for the arguments.
func RegisterCorruption(name, args, doc string, make func(Args) (Corruption, error)) error {
	return register(corruptDB, Info{KindInput, name, args, doc}, make)
}

// RegisterLoss adds a loss-mask strategy (the loss kind) under name; see
// RegisterAttention for the arguments.
func RegisterLoss(name, args, doc string, make func(Args) (Loss, error)) error {
	return register(lossDB, Info{KindLoss, name, args, doc}, make)
}

// RegisterScore adds a score modification (the score kind) under name; see
// RegisterAttention for the arguments. Build it with NewScoreBias (an additive bias) or
// NewScoreMod (a transform of the scores).
func RegisterScore(name, args, doc string, make func(Args) (Score, error)) error {
	return register(scoreDB, Info{KindScore, name, args, doc}, make)
}

func register[T any](db map[string]entry[T], info Info, make func(Args) (T, error)) error {
	if !isIdent(info.Name) {
		return fmt.Errorf("mask: cannot register %s strategy %q: a name must match [A-Za-z_][A-Za-z0-9_]*", info.Kind, info.Name)
	}
	if make == nil {
		return fmt.Errorf("mask: cannot register %s strategy %q: nil constructor", info.Kind, info.Name)
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := db[info.Name]; dup {
		return fmt.Errorf("mask: %s strategy %q is already registered", info.Kind, info.Name)
	}
	db[info.Name] = entry[T]{info, make}
	return nil
}

func mustRegister(err error) {
	if err != nil {
		panic(err)
	}
}

func lookup[T any](db map[string]entry[T], name string) (entry[T], bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	e, ok := db[name]
	return e, ok
}

func infos[T any](db map[string]entry[T], k Kind) []Info {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]Info, 0, len(db))
	for _, e := range db {
		i := e.info
		i.Kind = k
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Infos lists the registered names of a kind (built-ins and user registrations), sorted.
func Infos(k Kind) []Info {
	switch k {
	case KindSelf, KindCross:
		return infos(attentionDB, k)
	case KindInput:
		return infos(corruptDB, k)
	case KindLoss:
		return infos(lossDB, k)
	case KindScore:
		return infos(scoreDB, k)
	}
	return nil
}

// Names lists the registered names of a kind, sorted, for error messages and help.
func Names(k Kind) []string {
	var out []string
	for _, i := range Infos(k) {
		out = append(out, i.Name)
	}
	return out
}

// isIdent reports whether s is a name: a letter or '_' followed by letters, digits, '_'.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
