package mask

import "fmt"

// Loss is a loss-mask strategy (the loss kind): a weight for each target position. The
// training loss (layers.WeightedCrossEntropy) is the weighted mean over the batch,
//
//	loss = sum_i(w_i * l_i) / max(sum_i(w_i), 1)
//
// where l_i is the token cross-entropy at target position i. Padding positions
// (i >= the valid target length) always have weight 0. Prompt tokens are the target
// positions i < promptLen; the rest are the completion. A batch whose weights sum to
// less than 1 (prompt-only examples under plw(w) or completion) is divided by 1.
type Loss struct {
	spec   string
	weight func(pos, validLen, promptLen int) float32
}

// NewLoss defines a loss strategy from its weight function, called for the non-padding
// positions 0 <= pos < validLen only.
func NewLoss(spec string, weight func(pos, validLen, promptLen int) float32) Loss {
	return Loss{spec: spec, weight: weight}
}

// String returns the strategy's canonical spec, e.g. "plw(0.1)".
func (l Loss) String() string { return l.spec }

// IsZero reports whether l is the zero value.
func (l Loss) IsZero() bool { return l.weight == nil }

// Weights returns the per-position weights of one example with t target positions, of
// which the first validLen are real tokens and the first promptLen are the prompt.
func (l Loss) Weights(t, validLen, promptLen int) []float32 {
	w := make([]float32, t)
	if l.weight == nil {
		return w
	}
	for i := 0; i < min(validLen, t); i++ {
		w[i] = l.weight(i, validLen, promptLen)
	}
	return w
}

// BatchWeights returns the [B*T] row-major weights of a padded batch; promptLens may be
// nil (no prompts: every valid token is completion).
func (l Loss) BatchWeights(b, t int, lens, promptLens []int) ([]float32, error) {
	if len(lens) != b {
		return nil, fmt.Errorf("loss %q: %d valid lengths for a batch of %d", l.spec, len(lens), b)
	}
	if promptLens != nil && len(promptLens) != b {
		return nil, fmt.Errorf("loss %q: %d prompt lengths for a batch of %d", l.spec, len(promptLens), b)
	}
	out := make([]float32, 0, b*t)
	for i := 0; i < b; i++ {
		if lens[i] < 0 || lens[i] > t {
			return nil, fmt.Errorf("loss %q: row %d has valid length %d outside 0..%d", l.spec, i, lens[i], t)
		}
		p := 0
		if promptLens != nil {
			p = promptLens[i]
		}
		out = append(out, l.Weights(t, lens[i], p)...)
	}
	return out, nil
}

// PackedWeights returns the [B*T] row-major weights of a batch whose rows may each hold
// several documents (packing), as training uses them: row i has lens[i] valid positions;
// segments [B*T] gives each position's document id (nil: one document per row), and
// prompt [B*T] is 1 on prompt positions and 0 elsewhere (nil: no prompts). Each
// document, a run of equal segment ids within a row, is weighed on its own.
//
// A document's prompt positions need not lead: a multi-turn conversation alternates
// prompt runs (system and user turns) with completion runs (assistant turns). Each
// position is weighed as the example of its turn: a prompt position with promptLen the
// end of its prompt run, a completion position with promptLen the start of its
// completion run (positions counted from the document's start). For a document whose
// prompt leads, that is its number of prompt positions everywhere, as Weights has it; so
// completion and plw(w) weigh every prompt position 0 and w and every completion
// position 1, however the runs alternate.
func (l Loss) PackedWeights(b, t int, lens []int, segments, prompt []int32) ([]float32, error) {
	if len(lens) != b {
		return nil, fmt.Errorf("loss %q: %d valid lengths for a batch of %d", l.spec, len(lens), b)
	}
	if (segments != nil && len(segments) != b*t) || (prompt != nil && len(prompt) != b*t) {
		return nil, fmt.Errorf("loss %q: segments (%d) and prompt flags (%d) must have B*T = %d entries", l.spec, len(segments), len(prompt), b*t)
	}
	out := make([]float32, b*t)
	if l.weight == nil {
		return out, nil
	}
	isPrompt := func(i int) bool { return prompt != nil && prompt[i] == 1 }
	for i := 0; i < b; i++ {
		if lens[i] < 0 || lens[i] > t {
			return nil, fmt.Errorf("loss %q: row %d has valid length %d outside 0..%d", l.spec, i, lens[i], t)
		}
		row := i * t
		for p := 0; p < lens[i]; {
			q := p
			for q < lens[i] && (segments == nil || segments[row+q] == segments[row+p]) {
				q++
			}
			// The document is [p, q): walk its runs of equal prompt flags.
			for r := p; r < q; {
				s, pr := r, isPrompt(row+r)
				for s < q && isPrompt(row+s) == pr {
					s++
				}
				promptLen := r - p // a completion run: the prompt before it
				if pr {
					promptLen = s - p // a prompt run: its end
				}
				for k := r; k < s; k++ {
					out[row+k] = l.weight(k-p, q-p, promptLen)
				}
				r = s
			}
			p = q
		}
	}
	return out, nil
}

func init() {
	mustRegister(RegisterLoss("all", "", "every non-padding target token has weight 1",
		noArgs(NewLoss("all", func(int, int, int) float32 { return 1 }))))
	mustRegister(RegisterLoss("completion", "", "completion tokens (positions >= prompt length) weight 1, prompt tokens 0",
		noArgs(NewLoss("completion", func(pos, _, prompt int) float32 {
			if pos < prompt {
				return 0
			}
			return 1
		}))))
	mustRegister(RegisterLoss("plw", "(w)", "prompt-loss weight: prompt tokens weight w in [0, 1], completion tokens 1",
		probArg("w", func(w float64) Loss {
			return NewLoss("", func(pos, _, prompt int) float32 {
				if pos < prompt {
					return float32(w)
				}
				return 1
			})
		})))
}
