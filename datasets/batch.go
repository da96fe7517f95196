package datasets

import (
	"fmt"
	"iter"
	"slices"
)

// Batch is a padded batch: flat row-major int32 slices ready to become tensors.
//
// Seq2seq rows: Src = source + EOS, padded with PAD to S; Dec = BOS + target and
// Tgt = target + EOS, padded with PAD to T. Decoder-only rows (LM, SFT) have S = 0 and
// nil Src/SrcLen; a packed row holds several documents, each laid out as
// Dec = BOS + doc and Tgt = doc + EOS, one after the other.
//
// For an SFT document (target = prompt + SEP + completion, [Example].PromptLen =
// len(prompt)+1) the labels at its first PromptLen positions are prompt (Prompt = 1)
// and the decoder inputs at its first PromptLen+1 positions (BOS, prompt, SEP) are its
// prefix (Prefix = 1), the span a prefix-LM mask lets attend bidirectionally. A
// conversation ([Example].Spans set) has Prompt = 1 on every label outside its
// supervised spans (its later user turns too), and its prefix is what precedes its first
// span.
type Batch struct {
	// Split, Step and Epoch say where the batch came from (Epoch of its first row).
	Split       string
	Step, Epoch int
	// B is the number of rows, S and T the padded source and target lengths.
	B, S, T int
	// Rows is the number of rows holding data; rows Rows..B-1 (only in the last
	// batch of an in-order pass) are all PAD with zero lengths.
	Rows int
	// Tokens is the number of label positions (non-PAD Tgt entries) in the batch.
	Tokens int

	// Src [B*S] and SrcLen [B] (source length including its EOS); seq2seq only.
	Src, SrcLen []int32
	// SrcInTgt [B*S] is Src mapped into the decoder vocabulary (Task.SrcToTgt; -1
	// where the decoder vocabulary lacks the token, and on padding): compare it with
	// Dec/Tgt to find target tokens that occur in the source.
	SrcInTgt []int32
	// Dec [B*T] is the decoder input, Tgt [B*T] the labels (PAD where none).
	Dec, Tgt []int32
	// TgtLen [B] is the number of label positions of each row (target + EOS; for a
	// packed row, all its documents; no gaps: positions 0..TgtLen-1).
	TgtLen []int32
	// Segments [B*T]: 1, 2, ... the document of each position within its row, 0 on
	// padding (unpacked rows are one segment).
	Segments []int32
	// Positions [B*T]: the position inside its document, restarting at 0 for each
	// segment (0 on padding).
	Positions []int32
	// PromptLen [B]: the PromptLen of each row's first document (0 when not SFT).
	PromptLen []int32
	// Prompt [B*T]: 1 where the label is a prompt token (SFT), else 0.
	Prompt []int32
	// Prefix [B*T]: 1 where the decoder input is in its document's prefix (SFT).
	Prefix []int32
	// Examples [B]: the split index of each row's first document (-1 for empty rows),
	// e.g. to seed per-example randomness deterministically.
	Examples []int32
	// Docs[b] lists the split indices of row b's documents, one per segment.
	Docs [][]int32
}

// Packing names how decoder-only documents are placed into rows.
type Packing string

// Packing strategies.
const (
	// NoPacking puts one document per row (the unpacked baseline).
	NoPacking Packing = "none"
	// FirstFit puts each document, in shuffled order, into the first row with room.
	FirstFit Packing = "first-fit"
	// BestFitDecreasing sorts a window of documents by decreasing length and puts
	// each into the row whose free space is smallest but sufficient.
	BestFitDecreasing Packing = "best-fit-decreasing"
	// Concat concatenates documents in shuffled order and cuts the stream into rows
	// of T positions: the only strategy that splits documents across rows (a
	// continued document keeps counting its positions).
	Concat Packing = "concat"
)

// Packings lists the packing strategies.
func Packings() []Packing { return []Packing{NoPacking, FirstFit, BestFitDecreasing, Concat} }

// BatchOptions shape batches. The zero value gives one example per row, padded to the
// task's SrcLen/TgtLen, shuffled for "train" and in order for other splits.
type BatchOptions struct {
	// SrcLen and TgtLen are the padded lengths S and T (0 = the task's SrcLen/TgtLen).
	// A sequence that does not fit (with its EOS/BOS) is an error naming the example.
	SrcLen, TgtLen int
	// Pack selects a packing strategy (decoder-only tasks; "" = NoPacking).
	Pack Packing
	// PackWindow is how many documents (in shuffled order) are packed together
	// (0 = 4096).
	PackWindow int
	// Bucket > 0 groups rows of similar length: windows of Bucket*batchSize shuffled
	// examples are sorted by length and cut into batches, and the batches are
	// shuffled. The last len%batchSize examples of each epoch's shuffle then wait
	// for the next epoch (train only).
	Bucket int
	// InOrder reads the split in its stored order even for "train" (no shuffling).
	InOrder bool
}

// piece is a part of one example placed in a row: positions [start, end) of its
// BOS+target (decoder) layout.
type piece struct{ ex, start, end int }

type row []piece

// Batch returns batch number step of a split: a pure function of (split, batchSize,
// seed, step, opts) so a resumed run sees exactly the batches it would have seen.
//
// "train" (unless opts.InOrder) is an endless stream: each epoch is a permutation
// seeded by (seed, epoch), and batch step holds rows step*B .. step*B+B-1 of that
// stream (a batch may span two epochs). Other splits are read in order, once per
// NumBatches steps; their last batch may have Rows < B.
func (t *Task) Batch(split string, batchSize int, seed uint64, step int, opts BatchOptions) (Batch, error) {
	exs, s, tl, err := t.checkBatch(split, batchSize, step, opts)
	if err != nil {
		return Batch{}, err
	}
	ordered := opts.InOrder || split != "train"
	if t.stream != nil && !ordered {
		return t.streamBatch(batchSize, seed, step, s, tl, opts)
	}
	var rows []row
	epoch := 0
	if ordered {
		n, err := t.numRows(split, exs, batchSize, 0, 0, tl, opts, true)
		if err != nil {
			return Batch{}, err
		}
		perEpoch := (n + batchSize - 1) / batchSize
		epoch = step / perEpoch
		p, err := t.plan(split, exs, batchSize, 0, 0, tl, opts, true)
		if err != nil {
			return Batch{}, err
		}
		first := (step % perEpoch) * batchSize
		rows = p[first:min(first+batchSize, len(p))]
	} else {
		// Walk the endless stream of rows.
		start := step * batchSize
		offset := 0
		for e := 0; len(rows) < batchSize; e++ {
			n, err := t.numRows(split, exs, batchSize, seed, e, tl, opts, false)
			if err != nil {
				return Batch{}, err
			}
			if offset+n <= start {
				offset += n
				continue
			}
			if len(rows) == 0 {
				epoch = e
			}
			p, err := t.plan(split, exs, batchSize, seed, e, tl, opts, false)
			if err != nil {
				return Batch{}, err
			}
			from := max(start-offset, 0)
			need := batchSize - len(rows)
			rows = append(rows, p[from:min(from+need, len(p))]...)
			offset += n
		}
	}
	b := t.fill(exs, rows, batchSize, s, tl)
	b.Split, b.Step, b.Epoch = split, step, epoch
	return b, nil
}

// streamBatch draws batchSize fresh examples from (seed, step); Examples holds their
// stream indices step*batchSize + row.
func (t *Task) streamBatch(batchSize int, seed uint64, step, s, tl int, opts BatchOptions) (Batch, error) {
	if opts.Bucket > 0 {
		return Batch{}, fmt.Errorf("task %q: Options.Stream draws every batch fresh; bucketing does not apply (Bucket %d)", t.Name, opts.Bucket)
	}
	r := newRNG(seed, uint64(step), hashString(t.Name+"/stream"))
	exs := make([]Example, batchSize)
	rows := make([]row, batchSize)
	for i := range exs {
		exs[i] = t.stream(r)
		e := &exs[i]
		if len(e.Source)+1 > s || len(e.Target)+1 > tl {
			return Batch{}, fmt.Errorf("task %q stream step %d: a sequence of %d/%d tokens + EOS is longer than the model allows (SrcLen %d, TgtLen %d)", t.Name, step, len(e.Source), len(e.Target), s, tl)
		}
		rows[i] = row{{i, 0, docLen(e)}}
	}
	b := t.fill(exs, rows, batchSize, s, tl)
	for i := range b.Examples {
		b.Examples[i] = int32(step*batchSize + i)
		b.Docs[i][0] = b.Examples[i]
	}
	b.Split, b.Step = "train", step
	return b, nil
}

// NumBatches is the number of batches in one in-order pass over a split (the last
// one may be partial).
func (t *Task) NumBatches(split string, batchSize int, opts BatchOptions) (int, error) {
	exs, _, tl, err := t.checkBatch(split, batchSize, 0, opts)
	if err != nil {
		return 0, err
	}
	n, err := t.numRows(split, exs, batchSize, 0, 0, tl, opts, true)
	if err != nil {
		return 0, err
	}
	return (n + batchSize - 1) / batchSize, nil
}

// Batches iterates once over a split in order (for evaluation), yielding the step
// and the batch; it stops at the first error, yielding it.
func (t *Task) Batches(split string, batchSize int, opts BatchOptions) iter.Seq2[Batch, error] {
	opts.InOrder = true
	return func(yield func(Batch, error) bool) {
		n, err := t.NumBatches(split, batchSize, opts)
		if err != nil {
			yield(Batch{}, err)
			return
		}
		for step := range n {
			b, err := t.Batch(split, batchSize, 0, step, opts)
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}

func (t *Task) checkBatch(split string, batchSize, step int, opts BatchOptions) (exs []Example, s, tl int, err error) {
	exs, err = t.Split(split)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(exs) == 0 {
		return nil, 0, 0, fmt.Errorf("task %q: split %q is empty", t.Name, split)
	}
	if batchSize <= 0 {
		return nil, 0, 0, fmt.Errorf("task %q: batch size must be > 0, got %d", t.Name, batchSize)
	}
	if step < 0 {
		return nil, 0, 0, fmt.Errorf("task %q: step must be >= 0, got %d", t.Name, step)
	}
	if opts.Bucket < 0 || opts.PackWindow < 0 || opts.SrcLen < 0 || opts.TgtLen < 0 {
		return nil, 0, 0, fmt.Errorf("task %q: negative batch option in %+v", t.Name, opts)
	}
	switch opts.Pack {
	case "", NoPacking:
	case FirstFit, BestFitDecreasing, Concat:
		if t.Kind == Seq2Seq {
			return nil, 0, 0, fmt.Errorf("task %q: packing %q needs a decoder-only task (lm or sft), this one is %s", t.Name, opts.Pack, t.Kind)
		}
		if opts.Bucket > 0 {
			return nil, 0, 0, fmt.Errorf("task %q: bucketing and packing %q exclude each other", t.Name, opts.Pack)
		}
	default:
		return nil, 0, 0, fmt.Errorf("task %q: unknown packing %q (known: %v)", t.Name, opts.Pack, Packings())
	}
	if opts.Bucket > 0 && split == "train" && !opts.InOrder && len(exs) < batchSize {
		return nil, 0, 0, fmt.Errorf("task %q: bucketing needs at least one full batch per epoch: the training split has %d examples, batch size %d", t.Name, len(exs), batchSize)
	}
	s, tl = opts.SrcLen, opts.TgtLen
	if s == 0 {
		s = t.SrcLen
	}
	if tl == 0 {
		tl = t.TgtLen
	}
	if t.Kind != Seq2Seq {
		s = 0
	}
	// Every example must fit (Concat may split targets, not sources); checked once
	// per (split, S, T, concat).
	ck := checkKey{split, s, tl, opts.Pack == Concat}
	done, err := t.planCache.checked(ck)
	if !done {
		err = t.checkLengths(split, exs, s, tl, opts.Pack == Concat)
		t.planCache.setChecked(ck, err)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	return exs, s, tl, nil
}

func (t *Task) checkLengths(split string, exs []Example, s, tl int, concat bool) error {
	for i := range exs {
		e := &exs[i]
		if t.Kind == Seq2Seq && len(e.Source)+1 > s {
			return fmt.Errorf("task %q split %q example %d (%s): source has %d tokens + EOS, longer than the model allows (SrcLen %d)", t.Name, split, i, e.Origin, len(e.Source), s)
		}
		if !concat && len(e.Target)+1 > tl {
			return fmt.Errorf("task %q split %q example %d (%s): target has %d tokens + EOS, longer than the model allows (TgtLen %d)", t.Name, split, i, e.Origin, len(e.Target), tl)
		}
	}
	return nil
}

// fill lays rows out into a Batch.
func (t *Task) fill(exs []Example, rows []row, B, S, T int) Batch {
	b := Batch{B: B, S: S, T: T, Rows: len(rows),
		Dec: make([]int32, B*T), Tgt: make([]int32, B*T), TgtLen: make([]int32, B),
		Segments: make([]int32, B*T), Positions: make([]int32, B*T),
		PromptLen: make([]int32, B), Prompt: make([]int32, B*T), Prefix: make([]int32, B*T),
		Examples: make([]int32, B), Docs: make([][]int32, B)}
	pad := int32(t.Vocab.PAD)
	if pad != 0 {
		for i := range b.Dec {
			b.Dec[i], b.Tgt[i] = pad, pad
		}
	}
	if S > 0 {
		b.Src, b.SrcLen, b.SrcInTgt = make([]int32, B*S), make([]int32, B), make([]int32, B*S)
		if pad != 0 {
			for i := range b.Src {
				b.Src[i] = pad
			}
		}
	}
	bos, eos := int32(t.Vocab.BOS), int32(t.Vocab.EOS)
	for r := range B {
		b.Examples[r] = -1
		if r >= len(rows) {
			continue
		}
		pos := 0
		for k, pc := range rows[r] {
			e := &exs[pc.ex]
			if k == 0 {
				b.Examples[r] = int32(pc.ex)
				b.PromptLen[r] = int32(e.PromptLen)
				if S > 0 {
					src := b.Src[r*S : (r+1)*S]
					copy(src, e.Source)
					src[len(e.Source)] = int32(t.SrcVocab.EOS)
					b.SrcLen[r] = int32(len(e.Source) + 1)
				}
			}
			b.Docs[r] = append(b.Docs[r], int32(pc.ex))
			seg := int32(k + 1)
			for p := pc.start; p < pc.end; p++ {
				i := r*T + pos
				if p == 0 {
					b.Dec[i] = bos
				} else {
					b.Dec[i] = e.Target[p-1]
				}
				if p < len(e.Target) {
					b.Tgt[i] = e.Target[p]
				} else {
					b.Tgt[i] = eos
				}
				b.Segments[i] = seg
				b.Positions[i] = int32(p)
				if !e.Supervised(p) {
					b.Prompt[i] = 1
				}
				if e.PromptLen > 0 && p <= e.PromptLen {
					b.Prefix[i] = 1
				}
				pos++
			}
		}
		b.TgtLen[r] = int32(pos)
		b.Tokens += pos
	}
	if S > 0 {
		m := t.SrcToTgt()
		for r := range B {
			for p := range S {
				i := r*S + p
				b.SrcInTgt[i] = -1
				if p < int(b.SrcLen[r]) {
					b.SrcInTgt[i] = m[b.Src[i]]
				}
			}
		}
	}
	return b
}

// docLen is the number of decoder positions of an example: BOS + target.
func docLen(e *Example) int { return len(e.Target) + 1 }

// rowLen is the sorting key for bucketing.
func rowLen(e *Example) int { return max(len(e.Source), len(e.Target)) }

// plan returns the rows of one epoch of a split.
func (t *Task) plan(split string, exs []Example, batchSize int, seed uint64, epoch, T int, opts BatchOptions, ordered bool) ([]row, error) {
	return t.planCache.get(t.key(split, batchSize, seed, epoch, T, opts, ordered), func() ([]row, error) {
		return t.makePlan(split, exs, batchSize, seed, epoch, T, opts, ordered)
	})
}

func (t *Task) key(split string, batchSize int, seed uint64, epoch, T int, opts BatchOptions, ordered bool) planKey {
	k := planKey{split: split, seed: seed, epoch: epoch, T: T, pack: opts.Pack, window: opts.PackWindow, ordered: ordered}
	if opts.Bucket > 0 && !ordered {
		k.bucket, k.batchSize = opts.Bucket, batchSize
	}
	if ordered {
		k.seed, k.epoch = 0, 0
	}
	return k
}

func (t *Task) numRows(split string, exs []Example, batchSize int, seed uint64, epoch, T int, opts BatchOptions, ordered bool) (int, error) {
	if opts.Pack == "" || opts.Pack == NoPacking {
		n := len(exs)
		if opts.Bucket > 0 && !ordered {
			n = len(exs) - len(exs)%batchSize
		}
		return n, nil
	}
	if n, ok := t.planCache.count(t.key(split, batchSize, seed, epoch, T, opts, ordered)); ok {
		return n, nil
	}
	p, err := t.plan(split, exs, batchSize, seed, epoch, T, opts, ordered)
	return len(p), err
}

func (t *Task) makePlan(split string, exs []Example, batchSize int, seed uint64, epoch, T int, opts BatchOptions, ordered bool) ([]row, error) {
	order := make([]int, len(exs))
	for i := range order {
		order[i] = i
	}
	splitSeed := hashString(t.Name + "/" + split)
	if !ordered {
		order = newRNG(seed, uint64(epoch), splitSeed).perm(len(exs))
	}
	switch opts.Pack {
	case "", NoPacking:
		return t.unpackedRows(exs, order, batchSize, seed, epoch, splitSeed, opts, ordered), nil
	}
	window := opts.PackWindow
	if window == 0 {
		window = 4096
	}
	var rows []row
	for lo := 0; lo < len(order); lo += window {
		w := order[lo:min(lo+window, len(order))]
		switch opts.Pack {
		case FirstFit:
			rows = append(rows, firstFit(exs, w, T)...)
		case BestFitDecreasing:
			rows = append(rows, bestFitDecreasing(exs, w, T)...)
		case Concat:
			rows = append(rows, concatRows(exs, w, T)...)
		}
	}
	if !ordered && opts.Pack != Concat {
		// Rows come out of a window roughly by creation order (BFD: longest first);
		// shuffle them so batches mix lengths.
		p := newRNG(seed, uint64(epoch), splitSeed, 1).perm(len(rows))
		shuffled := make([]row, len(rows))
		for i, j := range p {
			shuffled[i] = rows[j]
		}
		rows = shuffled
	}
	return rows, nil
}

func (t *Task) unpackedRows(exs []Example, order []int, batchSize int, seed uint64, epoch int, splitSeed uint64, opts BatchOptions, ordered bool) []row {
	one := func(ex int) row { return row{{ex, 0, docLen(&exs[ex])}} }
	if opts.Bucket == 0 || ordered {
		rows := make([]row, len(order))
		for i, ex := range order {
			rows[i] = one(ex)
		}
		return rows
	}
	// Bucketing: sort windows of Bucket*batchSize by length, cut into batches,
	// shuffle the batches; the last len%batchSize examples wait for another epoch.
	var groups [][]int
	w := opts.Bucket * batchSize
	for lo := 0; lo < len(order); lo += w {
		win := slices.Clone(order[lo:min(lo+w, len(order))])
		slices.SortStableFunc(win, func(a, b int) int { return rowLen(&exs[a]) - rowLen(&exs[b]) })
		for g := 0; g+batchSize <= len(win); g += batchSize {
			groups = append(groups, win[g:g+batchSize])
		}
	}
	rows := make([]row, 0, len(groups)*batchSize)
	for _, gi := range newRNG(seed, uint64(epoch), splitSeed, 2).perm(len(groups)) {
		for _, ex := range groups[gi] {
			rows = append(rows, one(ex))
		}
	}
	return rows
}

// firstFit packs documents in the given order: each goes into the first row with
// enough free positions (a max segment tree over the rows' free space).
func firstFit(exs []Example, order []int, T int) []row {
	n := len(order)
	size := 1
	for size < n {
		size *= 2
	}
	tree := make([]int, 2*size) // max free space; leaves = rows (0 = not opened yet is handled by opened count)
	var rows []row
	for _, ex := range order {
		l := docLen(&exs[ex])
		var r int
		if tree[1] >= l {
			i := 1
			for i < size {
				if tree[2*i] >= l {
					i = 2 * i
				} else {
					i = 2*i + 1
				}
			}
			r = i - size
		} else {
			r = len(rows)
			rows = append(rows, nil)
			tree[size+r] = T
		}
		rows[r] = append(rows[r], piece{ex, 0, l})
		i := size + r
		tree[i] -= l
		for i /= 2; i >= 1; i /= 2 {
			tree[i] = max(tree[2*i], tree[2*i+1])
		}
	}
	return rows
}

// bestFitDecreasing packs documents longest first (ties keep the given order), each
// into the row with the least free space that still fits it.
func bestFitDecreasing(exs []Example, order []int, T int) []row {
	sorted := slices.Clone(order)
	slices.SortStableFunc(sorted, func(a, b int) int { return docLen(&exs[b]) - docLen(&exs[a]) })
	byFree := make([][]int, T+1) // free space -> rows with that much free space (stack)
	var rows []row
	for _, ex := range sorted {
		l := docLen(&exs[ex])
		r := -1
		for f := l; f <= T; f++ {
			if k := len(byFree[f]); k > 0 {
				r = byFree[f][k-1]
				byFree[f] = byFree[f][:k-1]
				break
			}
		}
		if r < 0 {
			r = len(rows)
			rows = append(rows, nil)
		}
		rows[r] = append(rows[r], piece{ex, 0, l})
		free := T
		for _, pc := range rows[r] {
			free -= pc.end - pc.start
		}
		byFree[free] = append(byFree[free], r)
	}
	return rows
}

// concatRows cuts the concatenation of the documents into rows of T positions.
func concatRows(exs []Example, order []int, T int) []row {
	var rows []row
	var cur row
	used := 0
	for _, ex := range order {
		l := docLen(&exs[ex])
		for start := 0; start < l; {
			n := min(l-start, T-used)
			cur = append(cur, piece{ex, start, start + n})
			start += n
			used += n
			if used == T {
				rows = append(rows, cur)
				cur, used = nil, 0
			}
		}
	}
	if len(cur) > 0 {
		rows = append(rows, cur)
	}
	return rows
}
