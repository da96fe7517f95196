package mask

import (
	"os"
	"strings"
	"testing"
)

var attentionSeeds = []string{
	"causal & doc", "!(causal | doc) & pad", "window(3) | chunk(4) & !qpad", "band(2)", "random(0.1) & keydrop(0.2)",
	"((((causal))))", "causal &", "& causal", "!", "()", "causal)", "(causal", "window(", "window(1,", "window(-1)",
	"window(1e309)", "window(\"3\")", "window('x')", "random(NaN)", "random(-0)", "dilated(2) & causal_br",
	"causl", "程序员", "\"", "'", "window(\"\\x\")", " \t\n", "a(b(c))", "causal & & pad", "!!!causal",
	strings.Repeat("(", 200) + "causal" + strings.Repeat(")", 200), strings.Repeat("!", 300) + "causal",
}

// FuzzParseAttention: no input panics, and a parsed spec's canonical String parses to
// the same String.
func FuzzParseAttention(f *testing.F) {
	for _, s := range attentionSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseAttention(spec)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(spec, "\n") {
				t.Fatalf("multi-line error for %q: %v", spec, err)
			}
			return
		}
		m2, err := ParseAttention(m.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", m.String(), spec, err)
		}
		if m2.String() != m.String() {
			t.Fatalf("canonical form not stable: %q -> %q -> %q", spec, m.String(), m2.String())
		}
	})
}

// FuzzParseCorruption: no input panics; canonical forms are stable; hiding never
// touches BOS.
func FuzzParseCorruption(f *testing.F) {
	for _, s := range []string{"none", "full", "partial(2)", "random(0.15)", "span(0.15, 3)", "drop(0.1)",
		"interactive(freq, 0.1)", "interactive(copy, 0.5)", `interactive(keep, "我 是")`, "interactive(keep, '我')",
		"schedule(random, 0, 0.3, 1000)", "schedule(span, 0, 0.15, 10, 3)", "schedule(schedule, 0, 1, 2)",
		"partial(1e9)", "span(1, 1e300)", "span(0.5, NaN)", "random(Inf)", "schedule(random,0,1,1e12)", "full & none"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := ParseCorruption(spec)
		if err != nil {
			return
		}
		c2, err := ParseCorruption(c.String())
		if err != nil || c2.String() != c.String() {
			t.Fatalf("canonical %q of %q: %v", c.String(), spec, err)
		}
		corpus := &Corpus{MaskID: 4, UnkID: 3, Freq: []int64{1, 2, 3, 4, 5}, Lookup: func(string) (int32, bool) { return 2, true }}
		h := c.Hide(Input{Tokens: []int32{1, 2, 3, 4}, Source: []int32{2}, Step: 7, Corpus: corpus}, ExampleRNG(1, 7, 0))
		if len(h) != 4 || h[0] {
			t.Fatalf("%q: Hide = %v", spec, h)
		}
	})
}

// FuzzParseLoss: no input panics; canonical forms are stable; weights are in [0, 1].
func FuzzParseLoss(f *testing.F) {
	for _, s := range []string{"all", "completion", "plw(0.1)", "plw(1)", "plw(2)", "plw()", "plw(0.1, 2)", "pl w", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		l, err := ParseLoss(spec)
		if err != nil {
			return
		}
		l2, err := ParseLoss(l.String())
		if err != nil || l2.String() != l.String() {
			t.Fatalf("canonical %q of %q: %v", l.String(), spec, err)
		}
		for _, w := range l.Weights(5, 4, 2) {
			if !(w >= 0 && w <= 1) {
				t.Fatalf("%q: weight %v", spec, w)
			}
		}
	})
}

// FuzzParseScore: no input panics; canonical forms are stable.
func FuzzParseScore(f *testing.F) {
	for _, s := range []string{"none", "alibi", "t5", "t5(32, 128)", "t5(8, 16, bidirectional)", "softcap(50)",
		"alibi + softcap(30)", "none + none", "alibi +", "+ alibi", "softcap(+3)", "softcap(-3)", "softcap(1e400)",
		"t5(32)", "t5(3, 1e9)", "alibi & t5", "t5(32, 128, 'causal')", "softcap(NaN)", "++", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseScore(spec)
		if err != nil {
			return
		}
		s2, err := ParseScore(s.String())
		if err != nil || s2.String() != s.String() {
			t.Fatalf("canonical %q of %q: %v", s.String(), spec, err)
		}
	})
}

// TestDocTable checks that the package doc's table names every built-in of every kind.
func TestDocTable(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{KindSelf, KindInput, KindLoss, KindScore} {
		for _, i := range Infos(k) {
			if strings.HasPrefix(i.Name, "test_") {
				continue
			}
			if !strings.Contains(string(doc), "\t"+i.Name+" ") && !strings.Contains(string(doc), " "+i.Name+" ") {
				t.Errorf("doc.go's table lacks %s %q", k, i.Name)
			}
		}
	}
}
