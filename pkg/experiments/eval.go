package experiments

import (
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/internal/textutil"
	"github.com/masklab/masklab/pkg/layers"
)

// evalSeed seeds evaluation-time corruption, the same for every evaluation of a run.
const evalSeed = 0x6576616c // "eval"

// evaluate computes the metrics of a split with the current weights:
//
//	<split>_loss, <split>_acc         teacher-forced, over every label position
//	<split>_completion_loss/_acc      SFT: over completion labels only
//	<split>_exact                     free-running greedy decoding: whole target right
//	<split>_cer                       CC-CEDICT seq2seq tasks: character error rate of greedy outputs
//
// Decoder inputs are corrupted as in training (the run's input strategy is part of
// the model's task), with a fixed seed. It also records the loss by target position
// (and, for packed runs, by position within the document) for the summary.
func (s *session) evaluate(split string, step int) (map[string]float64, error) {
	su := s.su
	B := su.cfg.Train.BatchSize
	nb, err := su.task.NumBatches(split, B, su.bopts)
	if err != nil {
		return nil, err
	}
	if su.cfg.Eval.Batches > 0 && su.cfg.Eval.Batches < nb {
		nb = su.cfg.Eval.Batches
	}
	var lossSum, correct, n, cLoss, cCorrect, cN float64
	posLoss := make([]float64, su.T)
	posN := make([]float64, su.T)
	packed := su.cfg.Task.Packing != "none"
	docLoss := make([]float64, su.T)
	docN := make([]float64, su.T)
	for i := 0; i < nb; i++ {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		b, err := su.task.Batch(split, B, evalSeed, i, su.bopts)
		if err != nil {
			return nil, err
		}
		hb, err := su.prepare(b, evalSeed, step)
		if err != nil {
			return nil, err
		}
		out, err := call(s.evalEx, hb.inputs(nil)...)
		if err != nil {
			return nil, err
		}
		nl := tensors.MustCopyFlatData[float32](out[0])
		am := tensors.MustCopyFlatData[int32](out[1])
		for r := 0; r < b.B; r++ {
			for p := 0; p < int(b.TgtLen[r]); p++ {
				k := r*b.T + p
				if su.model.Kind == layers.KindBert && hb.weights[k] == 0 {
					continue // masked-LM: the chosen positions only
				}
				l := float64(nl[k])
				ok := 0.0
				if am[k] == b.Tgt[k] {
					ok = 1
				}
				lossSum += l
				correct += ok
				n++
				posLoss[p] += l
				posN[p]++
				if packed {
					dp := int(b.Positions[k]) // concat: a continued document counts past T
					if grow := dp + 1 - len(docLoss); grow > 0 {
						docLoss, docN = append(docLoss, make([]float64, grow)...), append(docN, make([]float64, grow)...)
					}
					docLoss[dp] += l
					docN[dp]++
				}
				if b.Prompt != nil && su.task.Kind == datasets.SFT && b.Prompt[k] == 0 {
					cLoss += l
					cCorrect += ok
					cN++
				}
			}
		}
	}
	m := map[string]float64{}
	if n > 0 {
		m[split+"_loss"] = lossSum / n
		m[split+"_acc"] = correct / n
	}
	if cN > 0 {
		m[split+"_completion_loss"] = cLoss / cN
		m[split+"_completion_acc"] = cCorrect / cN
	}
	s.byPos = map[string][]float64{split + "_loss": ratio(posLoss, posN)}
	if packed {
		s.byPos[split+"_loss_doc"] = ratio(docLoss, docN)
	}
	if su.cfg.Eval.GreedyExamples > 0 && su.task.Kind != datasets.LM {
		exact, cer, err := s.greedyMetrics(split, step)
		if err != nil {
			return nil, err
		}
		m[split+"_exact"] = exact
		if strings.HasPrefix(su.cfg.Task.Name, "cedict-") || strings.HasPrefix(su.cfg.Task.Name, "poetry-") {
			m[split+"_cer"] = cer
		}
	}
	return m, nil
}

func ratio(sum, n []float64) []float64 {
	out := make([]float64, 0, len(sum))
	for i := range sum {
		if n[i] == 0 {
			break
		}
		out = append(out, sum[i]/n[i])
	}
	return out
}

// positionMetrics returns the by-position metrics of the last evaluation.
func (s *session) positionMetrics(int) (map[string][]float64, error) { return s.byPos, nil }

// greedyMetrics decodes the first eval.greedy_examples examples of a split greedily
// (each step feeds the model's own argmax back, corrupted like training inputs) and
// returns the exact-match rate and the character error rate of the decoded texts.
func (s *session) greedyMetrics(split string, step int) (exact, cer float64, err error) {
	su := s.su
	B := su.cfg.Train.BatchSize
	opts := su.bopts
	opts.Pack = datasets.NoPacking
	limit := su.cfg.Eval.GreedyExamples
	var nEx, nExact, errChars, refChars float64
	for i := 0; nEx < float64(limit); i++ {
		if err := s.ctx.Err(); err != nil {
			return 0, 0, err
		}
		b, err := su.task.Batch(split, B, evalSeed, i, opts)
		if err != nil {
			return 0, 0, err
		}
		if b.Rows == 0 {
			break
		}
		preds, err := s.greedy(b, step)
		if err != nil {
			return 0, 0, err
		}
		for r := 0; r < b.Rows && nEx < float64(limit); r++ {
			start := 0
			if b.PromptLen != nil {
				start = int(b.PromptLen[r])
			}
			ref := b.Tgt[r*b.T+start : r*b.T+int(b.TgtLen[r])]
			got := preds[r]
			if slices.Equal(got, ref) {
				nExact++
			}
			rt := []rune(su.task.Vocab.DecodeText(trimEOS(ref, su.task.Vocab.EOS)))
			gt := []rune(su.task.Vocab.DecodeText(trimEOS(got, su.task.Vocab.EOS)))
			errChars += float64(textutil.Levenshtein(gt, rt))
			refChars += float64(len(rt))
			nEx++
		}
		if b.Rows < b.B || i+1 >= 1<<20 {
			break
		}
	}
	if nEx == 0 {
		return 0, 0, nil
	}
	if refChars == 0 {
		refChars = 1
	}
	return nExact / nEx, errChars / refChars, nil
}

// greedy decodes the rows of b greedily: row r's known prefix is its first k_r decoder
// inputs (BOS, and for SFT the prompt and SEP), and each step's decoder inputs are
// corrupted as in training (seed evalSeed). It returns, per row, the predicted labels
// from k_r-1 up to and including the first EOS (or the row's end). Without corruption,
// where the model takes a key/value cache, layers.Generator decodes one token per row and
// step against the cache (the same tokens, TestGreedyEvalCacheMatchesRecomputing; 3-7x
// faster for prompts of 64-256, docs/performance.md); else layers.Greedy recomputes.
func (s *session) greedy(b datasets.Batch, step int) ([][]int32, error) {
	su := s.su
	if su.cfg.Masks.Input == "none" {
		if out, ok, err := s.generate(b); ok || err != nil {
			return out, err
		}
	}
	if s.decoder == nil {
		v := su.task.Vocab
		d, err := layers.NewGreedy(s.be, s.store, su.model, layers.GreedyOptions{
			BOS: int32(v.BOS), EOS: int32(v.EOS), PAD: int32(v.PAD), MaxLen: b.T, SrcLen: b.S, Scope: "model"})
		if err != nil {
			return nil, err
		}
		s.decoder = d
	}
	src, prompts := greedyInputs(su, b)
	corrupt := func(dec [][]int32, filled []int32) ([][]int32, error) {
		cur := b
		cur.B, cur.Rows = len(dec), len(dec)
		cur.Dec, cur.TgtLen = make([]int32, 0, len(dec)*b.T), filled
		for _, row := range dec {
			cur.Dec = append(cur.Dec, row...)
		}
		hb, err := su.prepare(cur, evalSeed, step)
		if err != nil {
			return nil, err
		}
		out := make([][]int32, len(dec))
		for r := range out {
			out[r] = hb.dec[r*b.T : (r+1)*b.T]
		}
		return out, nil
	}
	if su.cfg.Masks.Input == "none" {
		corrupt = nil // a model without a key/value cache, its inputs as they are
	}
	return s.decoder.DecodeCorrupted(src, prompts, corrupt)
}

// generate is greedy with layers.Generator's key/value cache, in a buffer of the batch's
// length (every row runs to its first EOS or the row's end, as layers.Greedy does); ok is
// false, and nothing is decoded, when the model takes no cache.
func (s *session) generate(b datasets.Batch) (out [][]int32, ok bool, err error) {
	su := s.su
	if s.generator == nil {
		v := su.task.Vocab
		s.generator, err = layers.NewGenerator(s.be, s.store, su.model, layers.GenerateOptions{
			BOS: int32(v.BOS), EOS: int32(v.EOS), PAD: int32(v.PAD),
			MaxNewTokens: b.T, MaxLen: b.T, SrcLen: b.S, Scope: "model"})
		if err != nil {
			return nil, false, err
		}
	}
	if cached, _ := s.generator.Cached(); !cached {
		return nil, false, nil
	}
	src, prompts := greedyInputs(su, b)
	gen, err := s.generator.Generate(src, prompts)
	if err != nil {
		return nil, false, err
	}
	return gen.Tokens, true, nil
}

// greedyInputs returns the rows' sources (nil for a decoder LM) and known prefixes.
func greedyInputs(su *setup, b datasets.Batch) (src, prompts [][]int32) {
	for r := 0; r < b.Rows; r++ {
		known := 1
		if b.PromptLen != nil && b.PromptLen[r] > 0 {
			known = int(b.PromptLen[r]) + 1
		}
		prompts = append(prompts, b.Dec[r*b.T:r*b.T+known])
		if b.S > 0 && su.model.Kind != layers.KindDecoder {
			src = append(src, b.Src[r*b.S:r*b.S+int(b.SrcLen[r])])
		}
	}
	return src, prompts
}

func trimEOS(ids []int32, eos int) []int32 {
	for i, id := range ids {
		if int(id) == eos {
			return ids[:i]
		}
	}
	return ids
}
