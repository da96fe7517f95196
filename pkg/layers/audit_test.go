package layers

import (
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// The theory the audit must agree with, as boolean matrices.

func boolCompose(a, b [][]bool) [][]bool { // (a∘b)[q][k] = OR_j a[q][j] AND b[j][k]
	out := make([][]bool, len(a))
	for q := range a {
		out[q] = make([]bool, len(b[0]))
		for k := range b[0] {
			for j := range b {
				if a[q][j] && b[j][k] {
					out[q][k] = true
					break
				}
			}
		}
	}
	return out
}

func boolOr(a, b [][]bool) [][]bool {
	out := make([][]bool, len(a))
	for q := range a {
		out[q] = make([]bool, len(a[q]))
		for k := range a[q] {
			out[q][k] = a[q][k] || b[q][k]
		}
	}
	return out
}

func boolIdentity(n int) [][]bool {
	out := make([][]bool, n)
	for i := range out {
		out[i] = make([]bool, n)
		out[i][i] = true
	}
	return out
}

// boolPower is the L-fold composition m∘m∘...∘m.
func boolPower(m [][]bool, l int) [][]bool {
	out := m
	for range l - 1 {
		out = boolCompose(out, m)
	}
	return out
}

func boolConst(q, k int, v bool) [][]bool {
	out := make([][]bool, q)
	for i := range out {
		out[i] = make([]bool, k)
		for j := range out[i] {
			out[i][j] = v
		}
	}
	return out
}

// grid evaluates a mask spec on one example with the mask package's own evaluator.
func grid(t *testing.T, spec string, ex mask.Example) [][]bool {
	t.Helper()
	m := parseMask(t, spec)
	g, err := m.Grid(ex)
	if err != nil {
		t.Fatal(err)
	}
	return g[0]
}

func parseMask(t *testing.T, spec string) mask.Attention {
	t.Helper()
	m, err := mask.ParseAttention(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func runAudit(t *testing.T, a Audit) [][]bool {
	t.Helper()
	dep, err := a.Run(backend.Must())
	if err != nil {
		t.Fatalf("audit %+v: %v", a, err)
	}
	return dep
}

func checkGrid(t *testing.T, what string, got, want [][]bool) {
	t.Helper()
	if mask.ASCII(got) != mask.ASCII(want) {
		t.Errorf("%s: audit\n%swant\n%s", what, mask.ASCII(got), mask.ASCII(want))
	}
}

// TestAuditDecoderMatchesTheory: a decoder-only model with L layers of self mask M
// depends exactly on (I | M)^L (the residual path keeps each position's own input);
// for masks that allow the diagonal that is M^L, and one layer gives M itself.
func TestAuditDecoderMatchesTheory(t *testing.T) {
	segs := []int{0, 0, 0, 1, 1, 2, 2, 2}
	for _, tc := range []struct {
		spec   string
		layers int
		ex     mask.Example
	}{
		{"causal", 1, mask.Example{Q: 8}},
		{"causal", 3, mask.Example{Q: 8}},
		{"causal & window(1)", 1, mask.Example{Q: 8}},
		{"causal & window(1)", 3, mask.Example{Q: 8}}, // the receptive field grows by one per layer
		{"window(1)", 2, mask.Example{Q: 8}},
		{"causal & doc", 2, mask.Example{Q: 8, Segments: segs}}, // packed: block-diagonal causal
		{"prefix", 2, mask.Example{Q: 8, PrefixLen: 3}},
		{"dilated(2) & causal", 2, mask.Example{Q: 8}},
		{"causal & pad", 2, mask.Example{Q: 8, KeyLen: 5}},
		{"causal & !window(0)", 1, mask.Example{Q: 8}}, // no diagonal: the residual adds it
		{"causal & !window(0)", 2, mask.Example{Q: 8}},
	} {
		m := grid(t, tc.spec, tc.ex)
		a := Audit{Kind: KindDecoder, Layers: tc.layers, Self: parseMask(t, tc.spec), Q: tc.ex.Q,
			KeyLen: tc.ex.KeyLen, Segments: tc.ex.Segments, Prefix: tc.ex.PrefixLen, Seed: 3}
		got := runAudit(t, a)
		checkGrid(t, tc.spec, got, boolPower(boolOr(boolIdentity(tc.ex.Q), m), tc.layers))
		if tc.layers == 1 && !strings.Contains(tc.spec, "!window(0)") {
			checkGrid(t, tc.spec+" (one layer gives the mask itself)", got, m)
		}
	}
}

// TestAuditShowsLeakage: without a causal mask every output depends on every input,
// including future ones; that is how the audit catches a leaking mask.
func TestAuditShowsLeakage(t *testing.T) {
	for _, spec := range []string{"full", "doc"} {
		got := runAudit(t, Audit{Kind: KindDecoder, Layers: 2, Self: parseMask(t, spec), Q: 6, Seed: 1})
		checkGrid(t, spec, got, boolConst(6, 6, true))
	}
	got := runAudit(t, Audit{Kind: KindSeq2Seq, Layers: 1, Self: parseMask(t, "full"), Q: 5, Seed: 1})
	checkGrid(t, "seq2seq self full", got, boolConst(5, 5, true))
}

// TestAuditSeq2Seq: decoder-input columns follow the self mask as in a decoder;
// source columns follow OR_l (I|S)^(L-l) ∘ C ∘ E, with E = (I|Enc)^L the encoder's
// dependence and C the cross mask, and padded source columns are invisible under
// cross "pad".
func TestAuditSeq2Seq(t *testing.T) {
	const q, k, klen = 6, 5, 3
	for _, tc := range []struct {
		self, cross, enc string
		layers           int
	}{
		{"causal", "pad", "pad", 1},
		{"causal", "pad", "pad", 2},
		{"causal", "band(0)", "window(0)", 1}, // one layer, identity encoder: the cross mask itself
		{"causal & window(1)", "band(0) & pad", "window(0)", 2},
		{"causal", "full", "window(0)", 2},
	} {
		self, cross, enc := parseMask(t, tc.self), parseMask(t, tc.cross), parseMask(t, tc.enc)
		a := Audit{Kind: KindSeq2Seq, Layers: tc.layers, Self: self, Cross: cross, Enc: enc, Q: q, Seed: 2}

		selfDep := runAudit(t, a)
		s := boolOr(boolIdentity(q), grid(t, tc.self, mask.Example{Q: q}))
		checkGrid(t, "seq2seq self "+tc.self, selfDep, boolPower(s, tc.layers))

		a.What, a.K, a.KeyLen = AuditCross, k, klen
		crossDep := runAudit(t, a)
		c := grid(t, tc.cross, mask.Example{Q: q, K: k, KeyLen: klen})
		e := boolPower(boolOr(boolIdentity(k), grid(t, tc.enc, mask.Example{Q: k, KeyLen: klen})), tc.layers)
		want := boolConst(q, k, false)
		for l := 1; l <= tc.layers; l++ {
			term := boolCompose(c, e)
			if tc.layers-l > 0 {
				term = boolCompose(boolPower(s, tc.layers-l), term)
			}
			want = boolOr(want, term)
		}
		checkGrid(t, "seq2seq cross "+tc.cross+" (enc "+tc.enc+")", crossDep, want)
		if tc.cross == "pad" || strings.HasSuffix(tc.cross, "& pad") {
			for row := range crossDep {
				for col := klen; col < k; col++ {
					if crossDep[row][col] {
						t.Errorf("cross %q: output %d depends on padded source position %d", tc.cross, row, col)
					}
				}
			}
		}
	}
}

// TestAuditLSTM: the LSTM decoder is causal by construction (lower-triangular
// dependence on its inputs at any depth); every output depends on every valid source
// token through the encoder's final state, and on a padded one only if the cross mask
// lets the attention read an encoder state at or after it.
func TestAuditLSTM(t *testing.T) {
	const q, k, klen = 5, 6, 4
	for _, layers := range []int{1, 2} {
		got := runAudit(t, Audit{Kind: KindLSTM, Layers: layers, Q: q, Seed: 4})
		checkGrid(t, "lstm self", got, grid(t, "causal", mask.Example{Q: q}))
	}
	for _, cross := range []string{"pad", "full", "band(0)"} {
		got := runAudit(t, Audit{Kind: KindLSTM, Layers: 1, Cross: parseMask(t, cross), What: AuditCross, Q: q, K: k, KeyLen: klen, Seed: 4})
		c := grid(t, cross, mask.Example{Q: q, K: k, KeyLen: klen})
		want := boolConst(q, k, false)
		for row := range want {
			for col := range want[row] {
				want[row][col] = col < klen
				for j := col; j < k; j++ {
					want[row][col] = want[row][col] || c[row][j]
				}
			}
		}
		checkGrid(t, "lstm cross "+cross, got, want)
	}
}

// TestAuditErrors: bad audits are errors that name what is wrong.
func TestAuditErrors(t *testing.T) {
	for _, tc := range []struct {
		a    Audit
		want string
	}{
		{Audit{Kind: "rnn", Q: 4}, "model must be"},
		{Audit{Kind: KindDecoder, Q: 4, What: AuditCross}, "no source"},
		{Audit{Kind: KindDecoder, Q: 4, K: 5}, "k must equal q"},
		{Audit{Kind: KindDecoder, Q: 0}, "q and k must be"},
		{Audit{Kind: KindDecoder, Q: 4, KeyLen: 9}, "klen"},
		{Audit{Kind: KindDecoder, Q: 4, Segments: []int{0, 1}}, "segment"},
		{Audit{Kind: KindDecoder, Q: 4, Layers: 20}, "layers"},
		{Audit{Kind: KindLSTM, Q: 4, Self: mask.Full}, "causal by construction"},
	} {
		_, err := tc.a.Run(backend.Must())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("audit %+v: error %v, want one containing %q", tc.a, err, tc.want)
		}
	}
}
