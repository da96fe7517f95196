package datasets

import (
	"strings"
	"testing"
)

// WithVocab re-encodes a task's texts with another vocabulary: every id means the same
// token string as before (or UNK when the vocabulary lacks it), and the corpus counts
// follow the new ids.
func TestWithVocabKeepsTheTokens(t *testing.T) {
	task, err := Load("cedict-sft", Options{MaxExamples: 300, MaxEval: 50})
	if err != nil {
		t.Fatal(err)
	}
	// A vocabulary with the same specials but the data tokens in another order, and only
	// half of them.
	toks := append([]string(nil), task.Vocab.Tokens[:6]...)
	for i := len(task.Vocab.Tokens) - 1; i >= 6; i -= 2 {
		toks = append(toks, task.Vocab.Tokens[i])
	}
	v, err := NewVocab(toks)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := task.WithVocab(v)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range task.Train {
		for j, id := range e.Target {
			want := task.Vocab.Token(int(id))
			if !v.Has(want) {
				want = UnkToken
			}
			if got := v.Token(int(nt.Train[i].Target[j])); got != want {
				t.Fatalf("train %d position %d: %q, want %q", i, j, got, want)
			}
		}
	}
	counts := nt.TokenCounts()
	if len(counts) != v.Size() || counts[v.UNK] == 0 {
		t.Errorf("counts over the new vocabulary: %d entries, UNK %d", len(counts), counts[v.UNK])
	}
	if task.Vocab == v || task.Train[0].Target[0] != task.Train[0].Target[0] {
		t.Error("the original task changed")
	}
	bad, _ := NewVocab([]string{"x", "y", "z"})
	if _, err := task.WithVocab(bad); err == nil || !strings.Contains(err.Error(), "special ids") {
		t.Errorf("mismatched specials: %v", err)
	}
}
