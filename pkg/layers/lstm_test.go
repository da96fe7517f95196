package layers

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// Token ids of the tiny reverse task used by the LSTM tests.
const (
	lstmPad, lstmBOS, lstmEOS = 0, 1, 2
	lstmFirstSym, lstmVocab   = 3, 10
)

// reverseBatch makes a batch of the reverse task: sources of 2..maxLen random symbols
// (padded to maxLen), targets = reversed source + EOS (padded to maxLen+1), decoder
// inputs = BOS + target[:-1].
func reverseBatch(rng *rand.Rand, b, maxLen int) (src [][]int32, srcLen []int32, dec, tgt [][]int32) {
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
		src, srcLen, dec, tgt = append(src, s), append(srcLen, int32(n)), append(dec, d), append(tgt, t)
	}
	return
}

// lstmTestConfig is the tiny LSTM model of these tests.
func lstmTestConfig() Config {
	return Config{Kind: KindLSTM, Vocab: lstmVocab, DModel: 32, EncLayers: 1, DecLayers: 1}
}

// crossFor builds c.Cross for a [B,Q,K] batch with source lengths srcLen.
func crossFor(t testing.TB, c Config, g *Graph, b, q, k int, srcLen *Node) *Node {
	env := mask.NewEnv(g, b, 1, q, k, mask.Side{KeyLen: srcLen})
	m, err := env.Build(c.WithDefaults().Cross)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLSTMTrainsOnReverse(t *testing.T) {
	be := backend.Must()
	c := lstmTestConfig()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	opt := optimizer.Adam().LearningRate(0.01).Done()
	step := model.MustNewExec(be, store, func(s *model.Scope, src, srcLen, dec, tgt *Node) *Node {
		g := src.Graph()
		s.Store().SetTraining(g, true)
		b, k, q := src.Shape().Dim(0), src.Shape().Dim(1), dec.Shape().Dim(1)
		p, err := lstmForward(s, c, src, srcLen, dec, crossFor(t, c, g, b, q, k, srcLen))
		if err != nil {
			panic(err)
		}
		l := loss.SparseCategoricalCrossEntropyLogits(
			[]*Node{InsertAxes(tgt, -1), NotEqual(tgt, ScalarZero(g, tgt.DType()))}, []*Node{p.Logits})
		l = ReduceAllMean(l)
		opt.UpdateGraph(s, g, l)
		return l
	})
	rng := rand.New(rand.NewPCG(1, 2))
	var losses []float64
	for i := range 60 {
		src, srcLen, dec, tgt := reverseBatch(rng, 32, 5)
		out, err := step.Exec(src, srcLen, dec, tgt)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(tensors.ToScalar[float32](out[0])))
		if i%10 == 0 {
			t.Logf("step %d loss %.4f", i, losses[i])
		}
	}
	_ = dtypes.Float32
	first, last := losses[0], losses[len(losses)-1]
	t.Logf("loss %.4f -> %.4f", first, last)
	if !(last < 0.6*first) {
		t.Fatalf("LSTM did not train: loss %.4f -> %.4f", first, last)
	}
}
