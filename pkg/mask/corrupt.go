package mask

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/masklab/masklab/internal/textutil"
)

// Replace says what a hidden decoder-input token becomes.
type Replace int

const (
	// ReplaceMask replaces hidden tokens with Corpus.MaskID (the usual corruption).
	ReplaceMask Replace = iota
	// ReplaceUnk replaces hidden tokens with Corpus.UnkID (word dropout, Bowman et al. 2016).
	ReplaceUnk
)

func (r Replace) String() string {
	if r == ReplaceUnk {
		return "unk"
	}
	return "mask"
}

// Corpus is what the data pipeline knows and corruption strategies may need: the
// special ids that replace hidden tokens, token frequencies of the training data (for
// interactive(freq, f)) and the vocabulary (for interactive(keep, "...")). Fill it once
// per dataset; it is safe for concurrent use once filled.
type Corpus struct {
	MaskID int32 // replaces hidden tokens (ReplaceMask)
	UnkID  int32 // replaces dropped tokens (ReplaceUnk, word dropout)
	// Freq[id] counts the token id in the training targets (decoder side).
	Freq []int64
	// Lookup maps one token's text to its id (used for keep-lists when Tokenize is nil:
	// the keep string is split on whitespace and each piece looked up).
	Lookup func(token string) (int32, bool)
	// Tokenize, when set, maps a keep-list string to ids with the real tokenizer.
	Tokenize func(text string) []int32

	mu   sync.Mutex
	top  map[float64]map[int32]bool
	keep map[string]map[int32]bool
}

// mostFrequent returns the set of the round(f*V) most frequent ids (V = len(Freq);
// ties broken by the smaller id).
func (c *Corpus) mostFrequent(f float64) map[int32]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.top[f]; ok {
		return s
	}
	ids := make([]int32, len(c.Freq))
	for i := range ids {
		ids[i] = int32(i)
	}
	sort.SliceStable(ids, func(a, b int) bool { return c.Freq[ids[a]] > c.Freq[ids[b]] })
	n := int(math.Round(f * float64(len(ids))))
	s := make(map[int32]bool, n)
	for _, id := range ids[:n] {
		s[id] = true
	}
	if c.top == nil {
		c.top = map[float64]map[int32]bool{}
	}
	c.top[f] = s
	return s
}

// keepIDs maps a keep-list string to ids, or reports the pieces the vocabulary lacks.
func (c *Corpus) keepIDs(list string) (map[int32]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.keep[list]; ok {
		return s, nil
	}
	s := map[int32]bool{}
	switch {
	case c.Tokenize != nil:
		for _, id := range c.Tokenize(list) {
			s[id] = true
		}
	case c.Lookup != nil:
		var missing []string
		for _, w := range strings.Fields(list) {
			id, ok := c.Lookup(w)
			if !ok {
				missing = append(missing, w)
				continue
			}
			s[id] = true
		}
		if missing != nil {
			return nil, fmt.Errorf("keep-list tokens not in the vocabulary: %q", missing)
		}
	default:
		return nil, fmt.Errorf("a keep-list needs Corpus.Lookup or Corpus.Tokenize")
	}
	if c.keep == nil {
		c.keep = map[string]map[int32]bool{}
	}
	c.keep[list] = s
	return s, nil
}

// Input is one example as a corruption strategy sees it.
type Input struct {
	Tokens []int32 // the valid decoder input ids; Tokens[0] is BOS and is never hidden
	Source []int32 // the example's valid source ids (nil if the task has none)
	Step   int     // the training step (schedules ramp over it)
	Corpus *Corpus // may be nil for strategies that need no corpus data
}

// Corruption is a decoder-input corruption strategy (the input kind): it chooses which
// teacher-forcing input positions to hide, and hidden tokens are replaced with the MASK
// id (or UNK for word dropout). It runs on the host, per example, before the batch
// enters the graph. BOS (position 0) is never hidden.
type Corruption struct {
	spec    string
	hide    func(in Input, rng *rand.Rand) []bool
	check   func(c *Corpus) error
	replace Replace
	mlm     *MLM // a masked-LM corruption (mlm.go): not a decoder-input one
}

// NewCorruption defines a corruption strategy. hide returns, for in.Tokens, which
// positions to hide (a slice of len(in.Tokens); position 0 is forced visible); draw all
// randomness from rng. check, if not nil, reports what a Corpus lacks for this strategy
// (called by Check and Apply).
func NewCorruption(spec string, replace Replace, hide func(in Input, rng *rand.Rand) []bool, check func(c *Corpus) error) Corruption {
	return Corruption{spec: spec, hide: hide, check: check, replace: replace}
}

// String returns the strategy's canonical spec, e.g. "partial(2)".
func (c Corruption) String() string { return c.spec }

// Replace tells whether hidden tokens become MASK or UNK.
func (c Corruption) Replace() Replace { return c.replace }

// IsZero reports whether c is the zero value.
func (c Corruption) IsZero() bool { return c.hide == nil }

// Check reports what corpus lacks for this strategy (nil when it has all it needs).
// Call it once when setting up training.
func (c Corruption) Check(corpus *Corpus) error {
	if c.check == nil {
		return nil
	}
	if err := c.check(corpus); err != nil {
		return fmt.Errorf("input %q: %w", c.spec, err)
	}
	return nil
}

// Hide returns which positions of in.Tokens to hide: len(in.Tokens) booleans, with
// position 0 (BOS) always false. The result depends only on in and rng's state.
func (c Corruption) Hide(in Input, rng *rand.Rand) []bool {
	n := len(in.Tokens)
	out := make([]bool, n)
	if n <= 1 || c.hide == nil {
		return out
	}
	h := c.hide(in, rng)
	copy(out, h)
	out[0] = false
	return out
}

// ExampleRNG returns the random source for one example at one training step: a PCG
// generator seeded from (seed, step, index), so the corruption of an example is
// reproducible and differs between steps and examples.
func ExampleRNG(seed uint64, step, index int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^splitmix(uint64(step)+0x9e3779b97f4a7c15), splitmix(uint64(index)^0xd1b54a32d192ed03)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Batch is a padded batch of decoder inputs, as Corruption.Apply takes it.
type Batch struct {
	IDs     []int32   // [B*T] row-major decoder input ids; position 0 of each row is BOS
	B, T    int       // batch size and padded length
	Lens    []int     // valid length of each row (<= T); nil means every row is T long
	Sources [][]int32 // each example's valid source ids (optional)
	Step    int       // training step
	Seed    uint64    // run seed; example i uses ExampleRNG(Seed, Step, i)
}

// Apply corrupts a padded batch: it returns a copy of b.IDs with the hidden positions
// replaced by corpus.MaskID (or corpus.UnkID for ReplaceUnk), and the [B*T] hidden flags.
// Padding positions are never hidden. The result is deterministic given (Seed, Step).
func (c Corruption) Apply(b Batch, corpus *Corpus) (out []int32, hidden []bool, err error) {
	if c.hide == nil {
		return nil, nil, fmt.Errorf("mask: empty corruption strategy")
	}
	if c.mlm != nil {
		return nil, nil, fmt.Errorf("input %q: a masked-LM corruption of a BERT's inputs (model kind bert), not of decoder inputs: use MLM.ApplyBatch", c.spec)
	}
	if b.B < 0 || b.T < 0 || len(b.IDs) != b.B*b.T {
		return nil, nil, fmt.Errorf("input %q: batch has %d ids, want B*T = %d*%d", c.spec, len(b.IDs), b.B, b.T)
	}
	if b.Lens != nil && len(b.Lens) != b.B {
		return nil, nil, fmt.Errorf("input %q: %d valid lengths for a batch of %d", c.spec, len(b.Lens), b.B)
	}
	if b.Sources != nil && len(b.Sources) != b.B {
		return nil, nil, fmt.Errorf("input %q: %d sources for a batch of %d", c.spec, len(b.Sources), b.B)
	}
	if corpus == nil {
		return nil, nil, fmt.Errorf("input %q: Apply needs a Corpus (for the MASK/UNK ids)", c.spec)
	}
	if err := c.Check(corpus); err != nil {
		return nil, nil, err
	}
	repl := corpus.MaskID
	if c.replace == ReplaceUnk {
		repl = corpus.UnkID
	}
	out = append([]int32(nil), b.IDs...)
	hidden = make([]bool, len(out))
	for i := 0; i < b.B; i++ {
		n := b.T
		if b.Lens != nil {
			n = b.Lens[i]
			if n < 0 || n > b.T {
				return nil, nil, fmt.Errorf("input %q: row %d has valid length %d outside 0..%d", c.spec, i, n, b.T)
			}
		}
		in := Input{Tokens: b.IDs[i*b.T : i*b.T+n], Step: b.Step, Corpus: corpus}
		if b.Sources != nil {
			in.Source = b.Sources[i]
		}
		h := c.Hide(in, ExampleRNG(b.Seed, b.Step, i))
		for p, v := range h {
			if v {
				hidden[i*b.T+p] = true
				out[i*b.T+p] = repl
			}
		}
	}
	return out, hidden, nil
}

// The built-in corruption strategies.

func positions(in Input, pick func(p int) bool) []bool {
	out := make([]bool, len(in.Tokens))
	for p := 1; p < len(out); p++ {
		out[p] = pick(p)
	}
	return out
}

func noArgs[T any](v T) func(Args) (T, error) {
	return func(a Args) (T, error) {
		var zero T
		if err := a.Count(0, 0); err != nil {
			return zero, err
		}
		return v, nil
	}
}

// randomCorruption hides each position after BOS with probability p.
func randomCorruption(p float64, replace Replace) Corruption {
	return NewCorruption("", replace, func(in Input, rng *rand.Rand) []bool {
		return positions(in, func(int) bool { return rng.Float64() < p })
	}, nil)
}

// spanCorruption hides about a fraction p of the positions after BOS in spans whose
// lengths are geometric with mean meanLen: unmasked gaps are geometric with mean
// meanLen*(1-p)/p, so the masked fraction is meanLen/(meanLen+gap) = p.
func spanCorruption(p, meanLen float64) Corruption {
	return NewCorruption("", ReplaceMask, func(in Input, rng *rand.Rand) []bool {
		out := make([]bool, len(in.Tokens))
		if p <= 0 {
			return out
		}
		if p >= 1 {
			return positions(in, func(int) bool { return true })
		}
		gapMean := meanLen * (1 - p) / p
		// Start in the stationary state: inside a span with probability p.
		pos := 1
		inSpan := rng.Float64() < p
		for pos < len(out) {
			if inSpan {
				n := 1 + geometric(rng, 1/meanLen) // lengths 1, 2, ...: mean meanLen
				for j := 0; j < n && pos < len(out); j++ {
					out[pos] = true
					pos++
				}
			} else {
				pos += geometric(rng, 1/(gapMean+1)) // gaps 0, 1, ...: mean gapMean
			}
			inSpan = !inSpan
		}
		return out
	}, nil)
}

// geometric draws the number of failures before the first success, success
// probability s in (0, 1].
func geometric(rng *rand.Rand, s float64) int {
	if s >= 1 {
		return 0
	}
	u := 1 - rng.Float64() // (0, 1]
	g := math.Floor(math.Log(u) / math.Log1p(-s))
	if g > 1<<30 {
		return 1 << 30
	}
	return int(g)
}

func init() {
	mustRegister(RegisterCorruption("none", "", "hide nothing (plain teacher forcing)",
		noArgs(NewCorruption("none", ReplaceMask, func(in Input, _ *rand.Rand) []bool { return nil }, nil))))
	mustRegister(RegisterCorruption("full", "", "hide every input position after BOS (the decoder sees only BOS and MASKs)",
		noArgs(NewCorruption("full", ReplaceMask, func(in Input, _ *rand.Rand) []bool {
			return positions(in, func(int) bool { return true })
		}, nil))))
	mustRegister(RegisterCorruption("partial", "(k)", "hide positions p >= 1 with (p-1) mod k == 0: every k-th token after BOS, starting with the first",
		intArg("k", 1, func(k int) Corruption {
			return NewCorruption("", ReplaceMask, func(in Input, _ *rand.Rand) []bool {
				return positions(in, func(p int) bool { return (p-1)%k == 0 })
			}, nil)
		})))
	mustRegister(RegisterCorruption("random", "(p)", "hide each position after BOS independently with probability p",
		probArg("p", func(p float64) Corruption { return randomCorruption(p, ReplaceMask) })))
	mustRegister(RegisterCorruption("span", "(p, mean_len)", "hide about a fraction p of the positions in contiguous spans of geometric length with mean mean_len",
		func(a Args) (Corruption, error) {
			if err := a.Count(2, 2); err != nil {
				return Corruption{}, err
			}
			p, err := a.Prob(0, "p")
			if err != nil {
				return Corruption{}, err
			}
			l, err := a.Float(1, "mean_len")
			if err != nil {
				return Corruption{}, err
			}
			if !(l >= 1 && l <= 1e6) {
				return Corruption{}, argErr(1, "span: mean_len must be in [1, 1e6], got %s", a.List[1].String())
			}
			return spanCorruption(p, l), nil
		}))
	mustRegister(RegisterCorruption("drop", "(p)", "word dropout: replace each position after BOS with UNK (not MASK) with probability p",
		probArg("p", func(p float64) Corruption { return randomCorruption(p, ReplaceUnk) })))
	mustRegister(RegisterCorruption("interactive", "(rule, x)",
		`content-dependent: (freq, f) hides the tokens among the fraction f most frequent ids of the training data; `+
			`(copy, p) hides with probability p the tokens that also occur in the source; (keep, "w1 w2") hides every token except the keep-list`,
		newInteractive))
	mustRegister(RegisterCorruption("schedule", "(name, from, to, steps, ...)",
		"ramp the first argument (the rate) of strategy name linearly from `from` at step 0 to `to` at step `steps`, then hold it; further arguments go to name after the rate, e.g. schedule(span, 0, 0.15, 1000, 3)",
		newSchedule))
}

func newInteractive(a Args) (Corruption, error) {
	if err := a.Count(2, 2); err != nil {
		return Corruption{}, err
	}
	rule, err := a.Word(0, "rule")
	if err != nil {
		return Corruption{}, err
	}
	switch rule {
	case "freq":
		f, err := a.Prob(1, "f")
		if err != nil {
			return Corruption{}, err
		}
		return NewCorruption("", ReplaceMask, func(in Input, _ *rand.Rand) []bool {
			if in.Corpus == nil {
				return nil
			}
			top := in.Corpus.mostFrequent(f)
			return positions(in, func(p int) bool { return top[in.Tokens[p]] })
		}, func(c *Corpus) error {
			if c == nil || len(c.Freq) == 0 {
				return fmt.Errorf("interactive(freq, f) needs the training data's token frequencies (Corpus.Freq)")
			}
			return nil
		}), nil
	case "copy":
		p, err := a.Prob(1, "p")
		if err != nil {
			return Corruption{}, err
		}
		return NewCorruption("", ReplaceMask, func(in Input, rng *rand.Rand) []bool {
			src := make(map[int32]bool, len(in.Source))
			for _, id := range in.Source {
				src[id] = true
			}
			return positions(in, func(q int) bool {
				// Draw for every position so the random stream does not depend on the source.
				u := rng.Float64()
				return src[in.Tokens[q]] && u < p
			})
		}, nil), nil
	case "keep":
		list, err := a.Word(1, "keep-list")
		if err != nil {
			return Corruption{}, err
		}
		return NewCorruption("", ReplaceMask, func(in Input, _ *rand.Rand) []bool {
			if in.Corpus == nil {
				return positions(in, func(int) bool { return true })
			}
			keep, err := in.Corpus.keepIDs(list)
			if err != nil {
				keep = nil
			}
			return positions(in, func(p int) bool { return !keep[in.Tokens[p]] })
		}, func(c *Corpus) error {
			if c == nil {
				return fmt.Errorf("interactive(keep, ...) needs the vocabulary (Corpus.Lookup or Corpus.Tokenize)")
			}
			_, err := c.keepIDs(list)
			return err
		}), nil
	}
	rules := []string{"freq", "copy", "keep"}
	msg := fmt.Sprintf("interactive: unknown rule %q", rule)
	if s := textutil.Closest(rule, rules); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return Corruption{}, argErr(0, "%s; known rules: %s", msg, strings.Join(rules, ", "))
}

func newSchedule(a Args) (Corruption, error) {
	if a.Len() < 4 {
		return Corruption{}, fmt.Errorf("schedule takes at least 4 arguments (name, from, to, steps), got %d", a.Len())
	}
	name, err := a.Word(0, "name")
	if err != nil {
		return Corruption{}, err
	}
	e, ok := lookup(corruptDB, name)
	if !ok || name == "schedule" {
		known := Names(KindInput)
		msg := fmt.Sprintf("schedule: unknown strategy %q; known: %s", name, strings.Join(known, ", "))
		if s := textutil.Closest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return Corruption{}, argErr(0, "%s", msg)
	}
	from, err := a.Float(1, "from")
	if err != nil {
		return Corruption{}, err
	}
	to, err := a.Float(2, "to")
	if err != nil {
		return Corruption{}, err
	}
	steps, err := a.Int(3, "steps", 0)
	if err != nil {
		return Corruption{}, err
	}
	extra := a.List[4:]
	inner := func(rate float64) (Corruption, error) {
		args := Args{Name: name, List: append([]Arg{{Text: fmt.Sprint(rate), Num: rate, IsNum: true}}, extra...)}
		return build(e.make, args)
	}
	// Check both ends now, so a bad schedule fails at parse time, and rates in between:
	// a strategy whose first argument is not a rate (partial's k must be an integer)
	// would otherwise fail at every intermediate step and silently hide nothing.
	var first Corruption
	for i, r := range []float64{from, to} {
		c, err := inner(r)
		if err != nil {
			return Corruption{}, argErr(1+i, "schedule: %v", err)
		}
		first = c
	}
	if steps > 0 && from != to {
		for _, f := range []float64{1.0 / 3, 0.5, 2.0 / 3} {
			r := from + (to-from)*f
			if _, err := inner(r); err != nil {
				return Corruption{}, argErr(0, "schedule: cannot ramp %s from %s to %s: at rate %s, %v",
					name, a.List[1].String(), a.List[2].String(), strconv.FormatFloat(r, 'g', 4, 64), err)
			}
		}
	}
	rate := func(step int) float64 {
		if steps == 0 || step >= steps {
			return to
		}
		if step < 0 {
			step = 0
		}
		return from + (to-from)*float64(step)/float64(steps)
	}
	return NewCorruption("", first.replace, func(in Input, rng *rand.Rand) []bool {
		c, err := inner(rate(in.Step))
		if err != nil || c.hide == nil {
			return nil
		}
		return c.Hide(in, rng)
	}, first.check), nil
}
