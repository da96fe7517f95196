package datasets

import (
	"fmt"
	"slices"
	"testing"
)

// refMakeBatch is ../shared/bench/train_transformer.py's make_batch, step for step,
// for one row given its length L and its max_len (=22) drawn tokens seq.
func refMakeBatch(L int, seq []int32, S, T int) (src, tgtIn, tgtOut []int32) {
	const PAD, EOS, BOS = 0, 2, 1
	seqFull := make([]int32, S)
	copy(seqFull, seq) // seq_full[:, :max_len] = seq
	src = make([]int32, S)
	for pos := range S {
		src[pos] = PAD
		if pos < L {
			src[pos] = seqFull[pos]
		}
		if pos == L {
			src[pos] = EOS
		}
	}
	rev := make([]int32, T)
	for pos := range T {
		idx := max(L-1-pos, 0)
		rev[pos] = seqFull[idx]
		if pos >= L {
			rev[pos] = PAD
		}
	}
	tgtOut = make([]int32, T)
	for pos := range T {
		tgtOut[pos] = rev[pos]
		if pos == L {
			tgtOut[pos] = EOS
		}
	}
	tgtIn = make([]int32, T)
	tgtIn[0] = BOS
	copy(tgtIn[1:], rev[:T-1])
	return src, tgtIn, tgtOut
}

// TestReverseMatchesReference checks that the default reverse task is the reference
// benchmark's data: vocab 64 with PAD 0 BOS 1 EOS 2, tokens 3..63, lengths 8..22,
// source and target padded to 24, and rows laid out exactly as make_batch does.
func TestReverseMatchesReference(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) { testReverseReference(t, stream) })
	}
}

func testReverseReference(t *testing.T, stream bool) {
	task, err := Load("reverse", Options{Seed: 7, TrainSize: 20000, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	v := task.Vocab
	if v.Size() != 64 || v.PAD != 0 || v.BOS != 1 || v.EOS != 2 || v.MASK != -1 || v.UNK != -1 || v.SEP != -1 {
		t.Fatalf("vocab: size %d PAD %d BOS %d EOS %d MASK %d UNK %d SEP %d, want 64 0 1 2 -1 -1 -1", v.Size(), v.PAD, v.BOS, v.EOS, v.MASK, v.UNK, v.SEP)
	}
	if task.SrcLen != 24 || task.TgtLen != 24 || task.Kind != Seq2Seq {
		t.Fatalf("padded lengths %d/%d kind %s, want 24/24 seq2seq", task.SrcLen, task.TgtLen, task.Kind)
	}
	lenCount := map[int]int{}
	tokCount := map[int32]int{}
	const B = 64
	for step := range 200 {
		b, err := task.Batch("train", B, 3, step, BatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if b.B != B || b.S != 24 || b.T != 24 || len(b.Src) != B*24 || len(b.Dec) != B*24 || len(b.Tgt) != B*24 || len(b.SrcLen) != B || len(b.TgtLen) != B {
			t.Fatalf("step %d: shapes B %d S %d T %d len(Src) %d len(Dec) %d len(Tgt) %d", step, b.B, b.S, b.T, len(b.Src), len(b.Dec), len(b.Tgt))
		}
		for r := range B {
			L := int(b.SrcLen[r]) - 1
			if L < 8 || L > 22 || int(b.TgtLen[r]) != L+1 {
				t.Fatalf("step %d row %d: L %d (SrcLen %d TgtLen %d), want 8..22 and TgtLen = L+1", step, r, L, b.SrcLen[r], b.TgtLen[r])
			}
			lenCount[L]++
			src := b.Src[r*24 : (r+1)*24]
			seq := make([]int32, 22)
			copy(seq, src[:L])
			for _, tok := range seq[:L] {
				if tok < 3 || tok > 63 {
					t.Fatalf("token %d outside 3..63", tok)
				}
				tokCount[tok]++
			}
			wantSrc, wantIn, wantOut := refMakeBatch(L, seq, 24, 24)
			if !slices.Equal(src, wantSrc) || !slices.Equal(b.Dec[r*24:(r+1)*24], wantIn) || !slices.Equal(b.Tgt[r*24:(r+1)*24], wantOut) {
				t.Fatalf("step %d row %d differs from make_batch:\nsrc %v\nwant %v\ndec %v\nwant %v\ntgt %v\nwant %v", step, r,
					src, wantSrc, b.Dec[r*24:(r+1)*24], wantIn, b.Tgt[r*24:(r+1)*24], wantOut)
			}
		}
	}
	// Uniform lengths and tokens: 12800 rows, 15 lengths (~853 each), 61 tokens.
	n := 200 * B
	for L := 8; L <= 22; L++ {
		if c := lenCount[L]; c < n/15*8/10 || c > n/15*12/10 {
			t.Errorf("length %d drawn %d times of %d, want about %d", L, c, n, n/15)
		}
	}
	total := 0
	for _, c := range tokCount {
		total += c
	}
	for tok := int32(3); tok < 64; tok++ {
		if c := tokCount[tok]; c < total/61*8/10 || c > total/61*12/10 {
			t.Errorf("token %d drawn %d times of %d, want about %d", tok, c, total, total/61)
		}
	}
}

func TestSyntheticTasks(t *testing.T) {
	for _, name := range []string{"copy", "reverse", "sort"} {
		task, err := Load(name, Options{VocabSize: 20, MinLen: 2, MaxLen: 5, TrainSize: 500, ValidSize: 50, TestSize: 50, WithMask: true})
		if err != nil {
			t.Fatal(err)
		}
		if task.Vocab.MASK != 20 || task.Vocab.Size() != 21 {
			t.Fatalf("%s: MASK %d size %d, want 20 and 21", name, task.Vocab.MASK, task.Vocab.Size())
		}
		for _, e := range task.Train {
			if len(e.Source) < 2 || len(e.Source) > 5 {
				t.Fatalf("%s: source length %d outside 2..5", name, len(e.Source))
			}
			want := slices.Clone(e.Source)
			switch name {
			case "reverse":
				slices.Reverse(want)
			case "sort":
				slices.Sort(want)
			}
			if !slices.Equal(e.Target, want) {
				t.Fatalf("%s: %v -> %v", name, e.Source, e.Target)
			}
			for _, id := range e.Source {
				if id < 3 || id >= 20 {
					t.Fatalf("%s: token %d outside 3..19 (MASK must not appear in data)", name, id)
				}
			}
		}
		if got := task.SrcLen; got != 8 {
			t.Errorf("%s: SrcLen %d, want 8 (5+EOS rounded up to 8)", name, got)
		}
	}
	// Same seed, same data; another seed, other data.
	a, _ := Load("reverse", Options{Seed: 1, TrainSize: 100})
	b, _ := Load("reverse", Options{Seed: 1, TrainSize: 100})
	c, _ := Load("reverse", Options{Seed: 2, TrainSize: 100})
	if !slices.Equal(a.Train[5].Source, b.Train[5].Source) || slices.Equal(a.Train[5].Source, c.Train[5].Source) {
		t.Error("synthetic data is not a function of the seed")
	}
	if _, err := Load("reverse", Options{VocabSize: 4, MinLen: 1, MaxLen: 1, TrainSize: 10}); err == nil {
		t.Error("a vocabulary too small for the split sizes loaded without error")
	}
}

func TestStreamIsPureFunction(t *testing.T) {
	task, err := Load("reverse", Options{Stream: true, TrainSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := task.Batch("train", 16, 3, 1000, BatchOptions{})
	b, _ := task.clone().Batch("train", 16, 3, 1000, BatchOptions{})
	c, _ := task.Batch("train", 16, 3, 1001, BatchOptions{})
	if !slices.Equal(a.Src, b.Src) || slices.Equal(a.Src, c.Src) || a.Examples[0] != 16000 {
		t.Fatal("stream batches are not a function of (seed, step)")
	}
}
