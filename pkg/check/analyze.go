package check

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// analysis gathers what the checks count over every batch.
type analysis struct {
	bs      *experiments.Batches
	ev      *evaluator
	opts    Options
	seed    int64
	eos     int32
	layers  int
	results []Result
	example *Example

	// supervision
	docSup          []int // supervised tokens of each document that starts in its row
	zeroDocs        int
	zeroFirst       string
	zeroAt          [2]int // batch, row of the first zero-supervision document (-1: none)
	cut             int    // SFT completions that start a row without their prompt (concat)
	cutFirst        string
	batchSup        []int
	zeroBatches     []int
	valid           int
	wZero, wOne     int
	promptW, compW  float64
	promptPositions int

	// leakage
	packedRows    int
	packedAt      [2]int
	crossQueries  int
	crossRows     int
	crossFirst    string
	crossAt       [2]int
	futureQueries int
	futureFirst   string
	positionErrs  int
	positionFirst string
	auditDetail   string
	auditLeaks    int
	policyDetail  string // the model's forward and backward pass over fully masked rows
	policyFailed  bool

	// rows, per attention ("self", "cross")
	fmValid      map[string]int
	fmValidFirst map[string]string
	fmPadding    map[string]int
	fmTrainOnly  map[string]int
	fmRows       map[[2]int]bool // batch, row with a fully masked attention row
	grids        map[gridKey]*grid
	allPadRows   []string
	padAttended  map[string]int
	padFirst     map[string]string
}

// analyze runs every check over the batches.
func analyze(bs *experiments.Batches, seed int64, opts Options) (*analysis, error) {
	a := &analysis{bs: bs, opts: opts, seed: seed, eos: int32(bs.Task.Vocab.EOS), layers: max(bs.Model.DecLayers, 1),
		zeroAt: [2]int{-1, -1}, packedAt: [2]int{-1, -1}, crossAt: [2]int{-1, -1},
		fmValid: map[string]int{}, fmValidFirst: map[string]string{}, fmPadding: map[string]int{},
		fmTrainOnly: map[string]int{}, fmRows: map[[2]int]bool{}, grids: map[gridKey]*grid{}, padAttended: map[string]int{}, padFirst: map[string]string{}}
	ev, err := newEvaluator()
	if err != nil {
		return nil, err
	}
	a.ev = ev
	m := bs.Model
	lstm := m.Kind == layers.KindLSTM
	for bi := range bs.List {
		b := &bs.List[bi]
		a.supervision(bi, b)
		a.positions(bi, b)
		T := b.T
		if !lstm {
			s := side{qlen: b.TgtLen, klen: b.TgtLen, prefix: b.PrefixLen, seg: b.Segments}
			g, err := ev.eval(m.Self, b.B, m.Heads, T, T, s, false, seed)
			if err != nil {
				return nil, fmt.Errorf("masks.self: %w", err)
			}
			a.selfLeakage(bi, b, g)
			a.rows("self", bi, b, g, b.TgtLen, b.TgtLen)
			if m.Self.Random() {
				if gt, err := ev.eval(m.Self, b.B, m.Heads, T, T, s, true, seed+int64(bi)); err == nil {
					a.trainingRows("self", b, g, gt, b.TgtLen)
				}
			}
		}
		if m.Kind != layers.KindDecoder && b.S > 0 {
			s := side{qlen: b.TgtLen, klen: b.SrcLen, prefix: b.PrefixLen, seg: b.Segments}
			g, err := ev.eval(m.Cross, b.B, m.Heads, T, b.S, s, false, seed)
			if err != nil {
				return nil, fmt.Errorf("masks.cross: %w", err)
			}
			a.rows("cross", bi, b, g, b.TgtLen, b.SrcLen)
			if m.Cross.Random() {
				if gt, err := ev.eval(m.Cross, b.B, m.Heads, T, b.S, s, true, seed+int64(bi)); err == nil {
					a.trainingRows("cross", b, g, gt, b.TgtLen)
				}
			}
		}
	}
	if opts.Model {
		if err := a.modelChecks(); err != nil {
			return nil, err
		}
	}
	a.results = []Result{a.zeroSupervision(), a.degenerateLoss(), a.crossDocument(), a.futureLeakage(),
		a.positionsResult(), a.fullyMaskedRows(), a.paddingAttended(), a.causalAlignment()}
	a.example = a.pickExample()
	return a, nil
}

// docs calls f for each document of row r: its segment id and positions [lo, hi).
func docs(b *experiments.Batch, r int, f func(seg int32, lo, hi int)) {
	T, n := b.T, int(b.TgtLen[r])
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && b.Segments[r*T+hi] == b.Segments[r*T+lo] {
			hi++
		}
		f(b.Segments[r*T+lo], lo, hi)
		lo = hi
	}
}

// origin names the k-th document of row r by where it comes from.
func (a *analysis) origin(b *experiments.Batch, r, k int) string {
	if r >= len(b.Docs) || k >= len(b.Docs[r]) {
		return ""
	}
	exs, err := a.bs.Task.Split(b.Split)
	if i := int(b.Docs[r][k]); err == nil && i >= 0 && i < len(exs) && exs[i].Origin != "" {
		return exs[i].Origin
	}
	return fmt.Sprintf("%s example %d", b.Split, b.Docs[r][k])
}

func (a *analysis) token(id int32) string { return a.bs.Task.Vocab.Token(int(id)) }

// supervision counts the trained tokens of each document (as it sits in its row) and
// batch: positions with a weight > 0 whose label is not the EOS (predicting the end of
// a document alone teaches no content).
func (a *analysis) supervision(bi int, b *experiments.Batch) {
	T := b.T
	sft := a.bs.Task.Kind == datasets.SFT
	total := 0
	for r := range b.B {
		if b.TgtLen[r] == 0 {
			a.allPadRows = append(a.allPadRows, fmt.Sprintf("batch %d row %d", bi, r))
		}
		k := 0
		docs(b, r, func(_ int32, lo, hi int) {
			sup, prompt := 0, 0
			for p := lo; p < hi; p++ {
				i := r*T + p
				w := b.Weights[i]
				a.valid++
				switch {
				case w == 0:
					a.wZero++
				case w == 1:
					a.wOne++
				}
				if b.Prompt[i] == 1 {
					a.promptW += float64(w)
					a.promptPositions++
					prompt++
				} else {
					a.compW += float64(w)
				}
				if w > 0 && b.Tgt[i] != a.eos {
					sup++
				}
			}
			total += sup
			start := b.Positions[r*T+lo] == 0
			switch {
			case start:
				a.docSup = append(a.docSup, sup)
				if sup == 0 {
					a.zeroDocs++
					if a.zeroFirst == "" {
						a.zeroAt = [2]int{bi, r}
						why := "every loss weight is 0"
						switch {
						case hi == T && b.Tgt[r*T+hi-1] != a.eos && prompt == hi-lo:
							why = "the row ends inside its prompt: concat packing cut its completion into the next row"
						case prompt >= hi-lo-1 && prompt > 0:
							why = fmt.Sprintf("its prompt covers the whole document, so masks.loss=%s trains at most its EOS: a completion marker that does not match, or an empty completion", a.bs.Loss)
						}
						a.zeroFirst = fmt.Sprintf("%s (batch %d row %d, %d positions, %d of them prompt): %s", a.origin(b, r, k), bi, r, hi-lo, prompt, why)
					}
				}
			case sft && prompt == 0 && hi > lo:
				// A continued SFT document that starts its row after its prompt.
				a.cut++
				if a.cutFirst == "" {
					a.cutFirst = fmt.Sprintf("%s (batch %d row %d)", a.origin(b, r, k), bi, r)
				}
			}
			k++
		})
	}
	a.batchSup = append(a.batchSup, total)
	if total == 0 {
		a.zeroBatches = append(a.zeroBatches, bi)
	}
}

func (a *analysis) zeroSupervision() Result {
	res := Result{Name: ZeroSupervision, Status: Pass}
	if len(a.docSup) == 0 && len(a.batchSup) == 0 {
		res.Detail = "no documents"
		return res
	}
	stats := fmt.Sprintf("trained tokens per document: min %d, median %d (%d documents); per batch: min %d, median %d (%d batches)",
		minOf(a.docSup), median(a.docSup), len(a.docSup), minOf(a.batchSup), median(a.batchSup), len(a.batchSup))
	if w := a.promptW + a.compW; w > 0 && a.promptPositions > 0 {
		stats += fmt.Sprintf("; loss weight on prompt tokens %.0f%%, on completion tokens %.0f%%", 100*a.promptW/w, 100*a.compW/w)
	}
	var problems []string
	if a.zeroDocs > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d documents have no trained token, e.g. %s", a.zeroDocs, len(a.docSup), a.zeroFirst))
	}
	if a.cut > 0 {
		problems = append(problems, fmt.Sprintf("%d completions start a row without their prompt, e.g. %s: concat packing cut them from it (use first-fit or best-fit-decreasing for SFT data)", a.cut, a.cutFirst))
	}
	if len(a.zeroBatches) > 0 {
		problems = append(problems, fmt.Sprintf("batches %v have no trained token: their loss is 0 and the step trains nothing", a.zeroBatches))
	}
	if len(problems) > 0 {
		res.Status = Fail
		res.Detail = strings.Join(problems, "; ") + "; " + stats
		return res
	}
	res.Detail = stats
	return res
}

// distinguishes reports whether a loss strategy weighs prompt and completion tokens
// differently.
func distinguishes(l mask.Loss) bool {
	w := l.Weights(2, 2, 1)
	return w[0] != w[1]
}

func (a *analysis) degenerateLoss() Result {
	res := Result{Name: DegenerateLossMask, Status: Pass}
	if a.valid == 0 {
		res.Detail = "no valid positions"
		return res
	}
	loss := a.bs.Loss.String()
	switch {
	case a.wZero == a.valid:
		res.Status = Fail
		res.Detail = fmt.Sprintf("every loss weight of %d valid positions is 0 (masks.loss=%s): nothing is trained", a.valid, loss)
	case distinguishes(a.bs.Loss) && a.promptPositions == 0:
		res.Status = Fail
		res.Detail = fmt.Sprintf("masks.loss=%s weighs prompt and completion tokens differently, but no position of these batches is a prompt token (task %s is %s): every token is trained as completion, as with masks.loss=all",
			loss, a.bs.Task.Name, a.bs.Task.Kind)
	default:
		res.Detail = fmt.Sprintf("masks.loss=%s: weight 0 on %.0f%% of %d valid positions, 1 on %.0f%%, in between on %.0f%%", loss,
			pct(a.wZero, a.valid), a.valid, pct(a.wOne, a.valid), pct(a.valid-a.wZero-a.wOne, a.valid))
	}
	return res
}

// positions checks that position ids restart at 0 at each document and count up by
// one; a row may start inside a document (concat packing continues its count).
func (a *analysis) positions(bi int, b *experiments.Batch) {
	T := b.T
	for r := range b.B {
		docs(b, r, func(seg int32, lo, hi int) {
			for p := lo; p < hi; p++ {
				got := b.Positions[r*T+p]
				want := int32(0)
				switch {
				case p > lo:
					want = b.Positions[r*T+p-1] + 1
				case lo == 0:
					want = got // a row may continue a document
				}
				if got != want {
					a.positionErrs++
					if a.positionFirst == "" {
						a.positionFirst = fmt.Sprintf("batch %d row %d position %d (document %d) has position id %d, not %d", bi, r, p, seg, got, want)
					}
				}
			}
		})
	}
}

func (a *analysis) positionsResult() Result {
	res := Result{Name: Positions, Status: Pass}
	switch {
	case a.bs.Model.Kind == layers.KindLSTM:
		res.Detail = "the LSTM decoder reads no position ids"
		return res
	case a.bs.Model.Positions == layers.PosNone:
		res.Detail = "the model reads no position ids (model.positions=none)"
		return res
	}
	if a.positionErrs > 0 {
		res.Status = Fail
		res.Detail = fmt.Sprintf("%d positions have position ids that do not restart at 0 with each document and count up by one, e.g. %s: the model (%s positions) sees packed documents at the wrong offsets",
			a.positionErrs, a.positionFirst, positionsKind(a.bs.Model))
		return res
	}
	res.Detail = fmt.Sprintf("position ids restart at 0 with every document and count up by one; the model (%s positions) reads them", positionsKind(a.bs.Model))
	return res
}

func positionsKind(m layers.Config) string {
	if m.Positions == "" {
		return layers.PosSinusoidal
	}
	return m.Positions
}

// bitset rows: adjacency of one batch row, adj[q*W : (q+1)*W] the keys q may attend to
// in some head, q itself included (the residual path).
func adjacency(g *grid, b int) (adj []uint64, W int) {
	W = (g.K + 63) / 64
	adj = make([]uint64, g.Q*W)
	for q := range g.Q {
		row := adj[q*W : (q+1)*W]
		if q < g.K {
			row[q/64] |= 1 << (q % 64)
		}
		for h := range g.H {
			base := ((b*g.H+h)*g.Q + q) * g.K
			for k, ok := range g.allowed[base : base+g.K] {
				if ok {
					row[k/64] |= 1 << (k % 64)
				}
			}
		}
	}
	return adj, W
}

// reach returns the keys query q depends on after L layers: (I | M)^L.
func reach(adj []uint64, W, q, L int) []uint64 {
	cur := slices.Clone(adj[q*W : (q+1)*W])
	for range L - 1 {
		next := slices.Clone(cur)
		for w, word := range cur {
			for word != 0 {
				j := w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				for x, v := range adj[j*W : (j+1)*W] {
					next[x] |= v
				}
			}
		}
		cur = next
	}
	return cur
}

// selfLeakage finds, over the model's decoder layers, queries that depend on another
// document's tokens (packed rows) and trained queries that depend on a later token of
// their own document.
func (a *analysis) selfLeakage(bi int, b *experiments.Batch, g *grid) {
	T := b.T
	for r := range b.B {
		n := int(b.TgtLen[r])
		seg := b.Segments[r*T : (r+1)*T]
		if n > 0 && seg[n-1] != seg[0] {
			a.packedRows++
			if a.packedAt[0] < 0 {
				a.packedAt = [2]int{bi, r}
			}
		}
		adj, W := adjacency(g, r)
		rowCross := false
		for q := range n {
			dep := reach(adj, W, q, a.layers)
			cross, future := -1, -1
			for k := range n {
				if dep[k/64]&(1<<(k%64)) == 0 {
					continue
				}
				if seg[k] != seg[q] && cross < 0 {
					cross = k
				}
				if seg[k] == seg[q] && k > q && future < 0 {
					future = k
				}
			}
			if cross >= 0 {
				a.crossQueries++
				rowCross = true
				if a.crossFirst == "" {
					a.crossAt = [2]int{bi, r}
					a.crossFirst = fmt.Sprintf("batch %d row %d: position %d (document %d) depends on position %d (document %d)", bi, r, q, seg[q], cross, seg[cross])
				}
			}
			if future >= 0 && b.Weights[r*T+q] > 0 {
				a.futureQueries++
				if a.futureFirst == "" {
					a.futureFirst = fmt.Sprintf("batch %d row %d: position %d, trained to predict %q, depends on input %d (%q)", bi, r, q,
						a.token(b.Tgt[r*T+q]), future, a.token(b.Inputs[r*T+future]))
				}
			}
		}
		if rowCross {
			a.crossRows++
		}
	}
}

func (a *analysis) crossDocument() Result {
	res := Result{Name: CrossDocument, Status: Pass}
	m := a.bs.Model
	switch {
	case m.Kind == layers.KindLSTM:
		res.Detail = "seq2seq rows hold one document each"
		return res
	case a.packedRows == 0:
		res.Detail = fmt.Sprintf("no packed rows (one document per row): masks.self=%s cannot see another document", m.Self)
		return res
	}
	if a.crossQueries > 0 || a.auditLeaks > 0 {
		res.Status = Fail
		res.Detail = fmt.Sprintf("%d positions in %d of %d packed rows depend on another document through masks.self=%s over %d layer%s, e.g. %s: add & doc to the mask",
			a.crossQueries, a.crossRows, a.packedRows, m.Self, a.layers, plural(a.layers), a.crossFirst)
		if a.crossQueries == 0 {
			res.Detail = fmt.Sprintf("the mask keeps documents apart, but the model does not: %s", a.auditDetail)
		} else if a.auditDetail != "" {
			res.Detail += "; " + a.auditDetail
		}
		return res
	}
	res.Detail = fmt.Sprintf("%d packed rows: masks.self=%s keeps every document to itself over %d layer%s", a.packedRows, m.Self, a.layers, plural(a.layers))
	if a.auditDetail != "" {
		res.Detail += "; " + a.auditDetail
	} else if !a.opts.Model {
		res.Detail += " (from the mask; Options.Model / --model measures it on the model)"
	}
	return res
}

func (a *analysis) futureLeakage() Result {
	res := Result{Name: FutureLeakage, Status: Pass}
	m := a.bs.Model
	if m.Kind == layers.KindLSTM {
		res.Detail = "the LSTM decoder is causal by construction"
		return res
	}
	if m.Kind == layers.KindBert {
		res.Detail = fmt.Sprintf("a masked LM (model.kind=bert) reads both directions by design (masks.self=%s): its labels are the originals of the inputs masks.input corrupts, which the loss alone is taken on", m.Self)
		return res
	}
	if a.futureQueries > 0 {
		res.Status = Fail
		res.Detail = fmt.Sprintf("%d trained positions depend on later inputs of their own document through masks.self=%s over %d layer%s (the labels leak into teacher forcing), e.g. %s",
			a.futureQueries, m.Self, a.layers, plural(a.layers), a.futureFirst)
		return res
	}
	res.Detail = fmt.Sprintf("no trained position depends on a later token of its document (masks.self=%s, %d layer%s)", m.Self, a.layers, plural(a.layers))
	return res
}

// gridKey names the grid of one attention block for one batch.
type gridKey struct {
	block string
	batch int
}

// rows finds fully masked query rows and valid queries attending to padding keys.
func (a *analysis) rows(name string, bi int, b *experiments.Batch, g *grid, qlen, klen []int32) {
	defer func() {
		for k := range a.fmRows {
			if k[0] == bi {
				a.grids[gridKey{name, bi}] = g
			}
		}
	}()
	for r := range b.B {
		nq, nk := int(qlen[r]), int(klen[r])
		for q := range g.Q {
			for h := range g.H {
				base := ((r*g.H+h)*g.Q + q) * g.K
				row := g.allowed[base : base+g.K]
				if !slices.Contains(row, true) {
					a.fmRows[[2]int{bi, r}] = true
					if q < nq {
						a.fmValid[name]++
						if a.fmValidFirst[name] == "" {
							a.fmValidFirst[name] = fmt.Sprintf("batch %d row %d query %d", bi, r, q)
							if g.H > 1 {
								a.fmValidFirst[name] += fmt.Sprintf(" head %d", h)
							}
						}
					} else if nq > 0 {
						a.fmPadding[name]++
					}
					continue
				}
				if q < nq && slices.Contains(row[min(nk, g.K):], true) {
					a.padAttended[name]++
					if a.padFirst[name] == "" {
						a.padFirst[name] = fmt.Sprintf("batch %d row %d query %d attends to key %d of %d valid", bi, r, q, nk+slices.Index(row[nk:], true), nk)
					}
				}
			}
		}
	}
}

// trainingRows counts valid query rows that a training sample of a random mask empties
// although the mask without its random atoms does not.
func (a *analysis) trainingRows(name string, b *experiments.Batch, g, gt *grid, qlen []int32) {
	for r := range b.B {
		for q := range min(int(qlen[r]), gt.Q) {
			for h := range gt.H {
				base := ((r*gt.H+h)*gt.Q + q) * gt.K
				eh := min(h, g.H-1)
				ebase := ((r*g.H+eh)*g.Q + q) * g.K
				if !slices.Contains(gt.allowed[base:base+gt.K], true) && slices.Contains(g.allowed[ebase:ebase+g.K], true) {
					a.fmTrainOnly[name]++
				}
			}
		}
	}
}

func (a *analysis) fullyMaskedRows() Result {
	res := Result{Name: FullyMaskedRows, Status: Pass}
	m := a.bs.Model
	specs := map[string]string{"self": m.Self.String(), "cross": m.Cross.String()}
	var fails, notes []string
	for _, name := range []string{"self", "cross"} {
		if n := a.fmValid[name]; n > 0 {
			fails = append(fails, fmt.Sprintf("%d valid query rows of %s attention (masks.%s=%s) allow no key, e.g. %s: those tokens attend to nothing", n, name, name, specs[name], a.fmValidFirst[name]))
		}
		if n := a.fmPadding[name]; n > 0 {
			notes = append(notes, fmt.Sprintf("%d padding query rows of %s attention allow no key (masks.%s=%s)", n, name, name, specs[name]))
		}
		if n := a.fmTrainOnly[name]; n > 0 {
			notes = append(notes, fmt.Sprintf("while training, the random atoms of masks.%s=%s emptied %d valid query rows of this sample", name, specs[name], n))
		}
	}
	if len(a.allPadRows) > 0 {
		ex := a.allPadRows
		if len(ex) > 3 {
			ex = append(ex[:3:3], "...")
		}
		notes = append(notes, fmt.Sprintf("%d rows are all padding (%s): they train nothing and cost a row of compute", len(a.allPadRows), strings.Join(ex, ", ")))
	}
	policy := "masklab's attention gives such rows zero weights and output, and finite gradients (pkg/layers)"
	if a.policyDetail != "" {
		policy = a.policyDetail
	} else if len(a.fmRows) > 0 && !a.opts.Model {
		policy += "; Options.Model / --model verifies it on this model"
	}
	switch {
	case len(fails) > 0:
		res.Status = Fail
		res.Detail = strings.Join(append(fails, notes...), "; ") + "; " + policy
	case len(notes) > 0:
		res.Status = Warn
		res.Detail = strings.Join(notes, "; ") + "; " + policy
		if len(a.allPadRows) == 0 && a.fmTrainOnly["self"]+a.fmTrainOnly["cross"] == 0 {
			res.Status = Pass // padding queries masked on purpose (qpad)
		}
	default:
		res.Detail = "every query row allows some key"
	}
	if a.policyFailed {
		res.Status = Fail
	}
	return res
}

func (a *analysis) paddingAttended() Result {
	res := Result{Name: PaddingAttended, Status: Pass}
	m := a.bs.Model
	specs := map[string]string{"self": m.Self.String(), "cross": m.Cross.String()}
	var notes []string
	for _, name := range []string{"self", "cross"} {
		if n := a.padAttended[name]; n > 0 {
			notes = append(notes, fmt.Sprintf("%d valid query rows of %s attention attend to padding (masks.%s=%s; add pad), e.g. %s", n, name, name, specs[name], a.padFirst[name]))
		}
	}
	if len(notes) > 0 {
		res.Status = Warn
		res.Detail = strings.Join(notes, "; ") + ": outputs then depend on how much padding a batch has"
		return res
	}
	res.Detail = "no valid query attends to a padding key"
	return res
}

func (a *analysis) causalAlignment() Result {
	res := Result{Name: CausalAlignment, Status: Pass}
	m := a.bs.Model
	b := a.bs.List[0]
	var parts []string
	if m.Kind != layers.KindLSTM {
		al := a.ev.alignment(m.Self)
		what := "has no causal part"
		switch al {
		case "top-left", "bottom-right", "both":
			what = "is causal, aligned " + al
		case "":
			what = "reads side data a probe cannot give"
		}
		parts = append(parts, fmt.Sprintf("masks.self=%s %s; it is applied with Q = K = %d (training, and greedy decoding, which recomputes every position without a KV cache), where top-left (causal) and bottom-right (causal_br) agree", m.Self, what, b.T))
	} else {
		parts = append(parts, "the LSTM decoder is causal by construction")
	}
	if m.Kind != layers.KindDecoder {
		al := a.ev.alignment(m.Cross)
		switch al {
		case "top-left", "bottom-right", "both":
			res.Status = Warn
			other := map[string]string{"top-left": "bottom-right (causal_br: the last query sees every key)", "bottom-right": "top-left (causal: query q sees keys 0..q)", "both": "either alignment"}[al]
			if b.T == b.S {
				parts = append(parts, fmt.Sprintf("masks.cross=%s is causal, aligned %s, and compares target positions with source positions: the padded lengths are equal (Q = K = %d), so both alignments agree here, but each row's valid lengths differ and neither alignment follows them", m.Cross, al, b.T))
			} else {
				parts = append(parts, fmt.Sprintf("masks.cross=%s is causal, aligned %s, over Q = %d target and K = %d source positions, whose lengths differ: check that you did not mean %s", m.Cross, al, b.T, b.S, other))
			}
		default:
			parts = append(parts, fmt.Sprintf("masks.cross=%s has no causal part (Q = %d, K = %d)", m.Cross, b.T, b.S))
		}
	}
	res.Detail = strings.Join(parts, "; ")
	return res
}

func minOf(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	return slices.Min(xs)
}

func median(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func pct(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return 100 * float64(n) / float64(d)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
