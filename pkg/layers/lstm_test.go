package layers

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// Token ids of the tiny reverse task used by the LSTM tests.
const (
	lstmPad, lstmBOS, lstmEOS, lstmMask = 0, 1, 2, 3
	lstmFirstSym, lstmVocab             = 4, 12
)

// reverseBatch makes a batch of the reverse task: sources of 2..maxLen random symbols
// (padded to maxLen), targets = reversed source + EOS (padded to maxLen+1), decoder
// inputs = BOS + target[:-1], flattened row-major as mask.Batch wants them.
type reverseBatch struct {
	B, S, T      int
	src, dec     [][]int32
	srcLen       []int32
	tgt          [][]int32
	tgtLen       []int
	decFlat      []int32
	srcUnpadded  [][]int32
	wantReversed [][]int32
}

func newReverseBatch(rng *rand.Rand, b, maxLen int) *reverseBatch {
	r := &reverseBatch{B: b, S: maxLen, T: maxLen + 1}
	for range b {
		n := 2 + rng.IntN(maxLen-1)
		s := make([]int32, maxLen)
		t := make([]int32, maxLen+1)
		for i := range n {
			s[i] = int32(lstmFirstSym + rng.IntN(lstmVocab-lstmFirstSym))
		}
		for i := range n {
			t[i] = s[n-1-i]
		}
		t[n] = lstmEOS
		d := append([]int32{lstmBOS}, t[:maxLen]...)
		r.src, r.srcLen, r.dec, r.tgt = append(r.src, s), append(r.srcLen, int32(n)), append(r.dec, d), append(r.tgt, t)
		r.tgtLen = append(r.tgtLen, n+1)
		r.decFlat = append(r.decFlat, d...)
		r.srcUnpadded = append(r.srcUnpadded, s[:n])
		r.wantReversed = append(r.wantReversed, t[:n+1])
	}
	return r
}

// lstmTestConfig is the tiny LSTM model of these tests.
func lstmTestConfig() Config {
	return Config{Kind: KindLSTM, Vocab: lstmVocab, DModel: 32, EncLayers: 1, DecLayers: 1}
}

// TestLSTMTrainsOnReverse trains the LSTM with attention on the reverse task through
// the same API and strategies as the Transformer (Forward, a pkg/mask input corruption
// applied to the decoder inputs, a pkg/mask loss strategy, WeightedCrossEntropy), checks
// that the loss drops clearly, and that greedy decoding then reverses unseen sources.
func TestLSTMTrainsOnReverse(t *testing.T) {
	be := backend.Must()
	c := lstmTestConfig()
	corrupt, err := mask.ParseCorruption("partial(3)")
	if err != nil {
		t.Fatal(err)
	}
	lossMask, err := mask.ParseLoss("all")
	if err != nil {
		t.Fatal(err)
	}
	corpus := &mask.Corpus{MaskID: lstmMask, UnkID: lstmMask}

	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	opt := optimizer.Adam().LearningRate(0.01).Done()
	step := model.MustNewExec(be, store, func(s *model.Scope, src, srcLen, dec, tgt, w *Node) *Node {
		g := src.Graph()
		s.Store().SetTraining(g, true)
		logits, err := Forward(s, c, Inputs{Src: src, SrcLen: srcLen, Dec: dec, Training: true})
		if err != nil {
			panic(err)
		}
		l := WeightedCrossEntropy(logits, tgt, w)
		opt.UpdateGraph(s, g, l)
		return l
	})
	rng := rand.New(rand.NewPCG(1, 2))
	var losses []float64
	const steps = 60
	for i := range steps {
		b := newReverseBatch(rng, 32, 5)
		dec, _, err := corrupt.Apply(mask.Batch{IDs: b.decFlat, B: b.B, T: b.T, Lens: b.tgtLen, Step: i, Seed: 7}, corpus)
		if err != nil {
			t.Fatal(err)
		}
		w, err := lossMask.BatchWeights(b.B, b.T, b.tgtLen, nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := step.Exec(b.src, b.srcLen, tensors.FromFlatDataAndDimensions(dec, b.B, b.T), b.tgt,
			tensors.FromFlatDataAndDimensions(w, b.B, b.T))
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(tensors.ToScalar[float32](out[0])))
	}
	first, last := losses[0], (losses[steps-1]+losses[steps-2]+losses[steps-3])/3
	t.Logf("loss %.4f -> %.4f (mean of the last 3 steps)", first, last)
	if !(last < 0.4*first) {
		t.Fatalf("LSTM did not train: loss %.4f -> %.4f", first, last)
	}

	// Free-running: greedy decoding of unseen sources, compared token by token.
	test := newReverseBatch(rand.New(rand.NewPCG(3, 4)), 16, 5)
	got, err := GreedyDecode(be, store, c, GreedyOptions{BOS: lstmBOS, EOS: lstmEOS, PAD: lstmPad, MaxLen: 8}, test.srcUnpadded, nil)
	if err != nil {
		t.Fatal(err)
	}
	right, total := 0, 0
	for i, want := range test.wantReversed {
		for j, tok := range want {
			total++
			if j < len(got[i]) && got[i][j] == tok {
				right++
			}
		}
	}
	t.Logf("greedy decoding: %d/%d target tokens right", right, total)
	if float64(right) < 0.7*float64(total) {
		t.Fatalf("greedy decoding got %d/%d target tokens right, want >= 70%%; e.g. %v for %v", right, total, got[0], test.wantReversed[0])
	}
}

// lstmLogits runs a freshly initialised (seed 5) LSTM model on the given batch and
// returns the logits [B][T][V].
func lstmLogits(t *testing.T, c Config, src [][]int32, srcLen []int32, dec [][]int32) [][][]float32 {
	t.Helper()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(5); err != nil {
		t.Fatal(err)
	}
	exec := model.MustNewExec(backend.Must(), store, func(s *model.Scope, src, srcLen, dec *Node) *Node {
		logits, err := Forward(s, c, Inputs{Src: src, SrcLen: srcLen, Dec: dec})
		if err != nil {
			panic(err)
		}
		return logits
	})
	out, err := exec.Exec(src, srcLen, dec)
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Value().([][][]float32)
}

// TestLSTMFutureInputsCannotChangeEarlierOutputs: changing decoder inputs at positions
// >= p leaves the outputs at positions < p bit-identical, and changes the one at p.
func TestLSTMFutureInputsCannotChangeEarlierOutputs(t *testing.T) {
	c := lstmTestConfig()
	src := [][]int32{{4, 5, 6, 7, 8}, {9, 10, 11, 0, 0}}
	srcLen := []int32{5, 3}
	dec := [][]int32{{1, 4, 5, 6, 7, 8}, {1, 9, 10, 11, 2, 0}}
	base := lstmLogits(t, c, src, srcLen, dec)
	for p := 1; p < 6; p++ {
		changed := [][]int32{slices.Clone(dec[0]), slices.Clone(dec[1])}
		for b := range changed {
			for i := p; i < 6; i++ {
				changed[b][i] = 4 + (changed[b][i]+1)%8 // never equal to the old id
			}
		}
		out := lstmLogits(t, c, src, srcLen, changed)
		for b := range out {
			for q := range p {
				if !slices.Equal(out[b][q], base[b][q]) {
					t.Fatalf("changing decoder inputs from position %d changed the output at position %d (row %d)", p, q, b)
				}
			}
			if slices.Equal(out[b][p], base[b][p]) {
				t.Fatalf("changing decoder input %d did not change the output at %d (row %d): the test cannot see a change", p, p, b)
			}
		}
	}
}

// TestLSTMCrossPadHidesPaddedSource: under cross "pad", changing the padded source
// tokens changes no decoder output (bit for bit); under cross "full" it does, which
// shows the mask is what hides them.
func TestLSTMCrossPadHidesPaddedSource(t *testing.T) {
	src := [][]int32{{4, 5, 6, 0, 0}, {9, 10, 0, 0, 0}}
	other := [][]int32{{4, 5, 6, 11, 7}, {9, 10, 8, 5, 4}}
	srcLen := []int32{3, 2}
	dec := [][]int32{{1, 6, 5, 4}, {1, 10, 9, 2}}
	for _, tc := range []struct {
		cross     string
		wantEqual bool
	}{{"pad", true}, {"full", false}} {
		c := lstmTestConfig()
		m, err := mask.ParseCross(tc.cross)
		if err != nil {
			t.Fatal(err)
		}
		c.Cross = m
		a := lstmLogits(t, c, src, srcLen, dec)
		b := lstmLogits(t, c, other, srcLen, dec)
		equal := true
		for i := range a {
			for q := range a[i] {
				equal = equal && slices.Equal(a[i][q], b[i][q])
			}
		}
		if equal != tc.wantEqual {
			t.Errorf("cross %q: outputs unchanged by padded source tokens = %v, want %v", tc.cross, equal, tc.wantEqual)
		}
	}
}

// TestLSTMRefusesNonCausalSelfMask: an LSTM applies no self mask; asking for one that
// is not causal is an error that says why, from Validate and from Forward.
func TestLSTMRefusesNonCausalSelfMask(t *testing.T) {
	for _, tc := range []struct {
		self string
		ok   bool
	}{{"causal", true}, {"causal & pad", true}, {"full", false}, {"prefix", false}, {"causal & window(2)", false}} {
		c := lstmTestConfig()
		m, err := mask.ParseAttention(tc.self)
		if err != nil {
			t.Fatal(err)
		}
		c.Self = m
		err = c.validateLSTM()
		if (err == nil) != tc.ok {
			t.Errorf("self %q: validate error %v, want ok=%v", tc.self, err, tc.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "causal by construction") {
			t.Errorf("self %q: error %q does not say why", tc.self, err)
		}
		if tc.ok {
			continue
		}
		g := NewGraph(backend.Must(), "lstm")
		_, err = Forward(model.NewStore().RootScope(), c, Inputs{
			Src: Const(g, [][]int32{{4, 5}}), Dec: Const(g, [][]int32{{1, 4}})})
		if err == nil || !strings.Contains(err.Error(), "causal by construction") {
			t.Errorf("self %q: Forward error %v, want one that says the LSTM is causal by construction", tc.self, err)
		}
	}
}

// TestLSTMStacked: a deeper LSTM (2 encoder and 3 decoder layers, 2 attention heads,
// dropout, tied output) builds in training mode, gives finite logits, and stays causal
// at evaluation.
func TestLSTMStacked(t *testing.T) {
	c := Config{Kind: KindLSTM, Vocab: lstmVocab, DModel: 16, Heads: 2, EncLayers: 2, DecLayers: 3, Dropout: 0.1, Tied: true}
	store := model.NewStore()
	exec := model.MustNewExec(backend.Must(), store, func(s *model.Scope, src, dec *Node) *Node {
		s.Store().SetTraining(src.Graph(), true)
		logits, err := Forward(s, c, Inputs{Src: src, Dec: dec, Training: true})
		if err != nil {
			panic(err)
		}
		return ReduceAllSum(logits)
	})
	out, err := exec.Exec([][]int32{{4, 5, 6}}, [][]int32{{1, 6, 5, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if v := tensors.ToScalar[float32](out[0]); v != v || v-v != 0 {
		t.Fatalf("training-mode logits sum is not finite: %v", v)
	}
	c.Dropout = 0
	a := lstmLogits(t, c, [][]int32{{4, 5, 6}}, []int32{3}, [][]int32{{1, 6, 5, 4}})
	b := lstmLogits(t, c, [][]int32{{4, 5, 6}}, []int32{3}, [][]int32{{1, 6, 9, 9}})
	if !slices.Equal(a[0][0], b[0][0]) || !slices.Equal(a[0][1], b[0][1]) || slices.Equal(a[0][2], b[0][2]) {
		t.Fatalf("stacked LSTM: changing inputs 2..3 must change output 2 and leave outputs 0..1 unchanged")
	}
}
