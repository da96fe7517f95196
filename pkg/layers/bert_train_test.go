package layers

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// BERT2RND (a random BERT encoder, a Transformer decoder) learns to reverse short

// A BERT with its MLM head learns a masked-LM objective on structured rows (each row
// counts up from a random start): 15% of the positions replaced by [MASK], the loss on
// them only; chance is ln 22 ≈ 3.1 nats.
func TestBertMLMLearns(t *testing.T) {
	const V, T, B, maskID = 24, 10, 32, 1
	cfg := BertConfig{Vocab: V, DModel: 32, Heads: 2, FF: 64, Layers: 2, MaxLen: T, TypeVocab: 1, LayerNormEps: 1e-12, MLM: true}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(2); err != nil {
		t.Fatal(err)
	}
	modelFn := func(scope *model.Scope, _ any, ins []*graph.Node) []*graph.Node {
		res, err := Bert(scope, cfg, BertInputs{IDs: ins[0], Training: true}, false)
		if err != nil {
			panic(err)
		}
		return []*graph.Node{res.Logits}
	}
	lossFn := func(labels, predictions []*graph.Node) *graph.Node {
		return WeightedCrossEntropy(predictions[0], labels[0], labels[1])
	}
	opt := optimizer.Adam().LearningRate(3e-3).Betas(0.9, 0.999).Epsilon(1e-8).WeightDecay(0.01).Done()
	tr := train.NewTrainer(backend.Must(), store, modelFn, lossFn, opt, nil, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	var first, last float32
	const steps = 300
	for step := range steps {
		ids, tgt, w := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
		for r := range B {
			start := rng.IntN(V - 2)
			for p := range T {
				tok := int32(2 + (start+p)%(V-2))
				tgt[r*T+p], ids[r*T+p] = tok, tok
				if rng.Float64() < 0.15 {
					ids[r*T+p], w[r*T+p] = maskID, 1
				}
			}
		}
		m, err := tr.TrainStep(train.Batch{
			Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(ids, B, T)},
			Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(tgt, B, T), tensors.FromFlatDataAndDimensions(w, B, T)},
		})
		if err != nil {
			t.Fatal(err)
		}
		loss := m[0].Value().(float32)
		if step == 0 {
			first = loss
		}
		last = loss
	}
	t.Logf("BERT MLM: loss %.3f -> %.3f after %d steps", first, last, steps)
	if !(last < 0.3*first) {
		t.Errorf("MLM loss went from %.3f to %.3f in %d steps; want below 30%%", first, last, steps)
	}
}

// BERT2BERT (a random BERT encoder and BERT decoder with cross-attention) learns to

// sequences: gradients reach both through the fast path.
func TestBert2RndLearnsToReverse(t *testing.T) {
	enc := reverseBert()
	dec := Config{Kind: KindSeq2Seq, Vocab: 10, DModel: 32, Heads: 2, FF: 64, DecLayers: 1}
	learnsToReverse(t, "BERT2RND", func(scope *model.Scope, in Inputs) (*Result, error) {
		return Bert2Rnd(scope, enc, dec, in, nil, false)
	})
}

// reverse short sequences.
func TestBert2BertLearnsToReverse(t *testing.T) {
	enc := reverseBert()
	dec := enc
	dec.MLM = true
	learnsToReverse(t, "BERT2BERT", func(scope *model.Scope, in Inputs) (*Result, error) {
		return Bert2Bert(scope, enc, dec, mask.Attention{}, in, nil, false)
	})
}

// A BERT encoder with the article's LSTM decoder learns to reverse short sequences.
func TestBertLSTMLearnsToReverse(t *testing.T) {
	enc := reverseBert()
	dec := Config{Kind: KindLSTM, Vocab: 10, DModel: 32, DecLayers: 1}
	learnsToReverse(t, "BERT + LSTM", func(scope *model.Scope, in Inputs) (*Result, error) {
		return BertLSTM(scope, enc, dec, in, nil, false)
	})
}

// reverseBert is the one-layer BERT encoder of the reverse tests.
func reverseBert() BertConfig {
	return BertConfig{Vocab: 10, DModel: 32, Heads: 2, FF: 64, Layers: 1, MaxLen: 16, TypeVocab: 2, LayerNormEps: 1e-12}
}
