package hf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// logitTol is the largest |Δlogit| allowed between the float32 model here and the
// float64 reference of testdata/make_checkpoints.py (float32 rounding is ~1e-6 here).
const logitTol = 1e-4

// archNames are the committed tiny checkpoints under testdata/.
var archNames = []string{"llama", "qwen2", "qwen3", "mistral", "gpt2"}

type expectedArch struct {
	Architecture string      `json:"architecture"`
	Vocab        int         `json:"vocab"`
	Sequences    [][]int32   `json:"sequences"`
	Logits       [][]float64 `json:"logits"` // per sequence, [T*V] row-major
}

func readExpected(t testing.TB) map[string]expectedArch {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]expectedArch
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// batch is one forward pass's inputs: rows of ids padded to the same length, their valid
// lengths, and optionally segment ids and positions (packing).
type batch struct {
	ids       [][]int32
	lens      []int32
	segments  [][]int32
	positions [][]int32
}

// forward runs cfg's model with the variables of store on b and returns the logits
// [B][T][V].
func forward(t testing.TB, store *model.Store, cfg layers.Config, b batch) [][][]float32 {
	t.Helper()
	packed := b.segments != nil
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, ids, lens, seg, pos *graph.Node) *graph.Node {
		in := layers.Inputs{Dec: ids, DecLen: lens}
		if packed {
			in.Segments, in.Positions = seg, pos
		}
		logits, err := layers.Forward(scope, cfg, in)
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		t.Fatal(err)
	}
	seg, pos := b.segments, b.positions
	if !packed {
		seg, pos = b.ids, b.ids // unused
	}
	out, err := exec.Exec(b.ids, b.lens, seg, pos)
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Value().([][][]float32)
}

// maxDiff returns max |got[t][v] - want[t*V+v]| over the first n positions.
func maxDiff(got [][]float32, want []float64, n, V int) float64 {
	m := 0.0
	for i := range n {
		for v := range V {
			d := math.Abs(float64(got[i][v]) - want[i*V+v])
			if math.IsNaN(d) {
				return math.Inf(1)
			}
			m = max(m, d)
		}
	}
	return m
}

func mustMask(t testing.TB, spec string) mask.Attention {
	t.Helper()
	m, err := mask.ParseAttention(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLogitsMatchReference loads each committed checkpoint and compares the logits with
// the reference's: each sequence alone, the sequences as one right-padded batch
// ("causal & pad"), and two of them packed into one row with positions restarting per
// document ("causal & doc & pad"), each document's logits equal to the document alone.
func TestLogitsMatchReference(t *testing.T) {
	exp := readExpected(t)
	for _, name := range archNames {
		t.Run(name, func(t *testing.T) {
			e, ok := exp[name]
			if !ok {
				t.Fatalf("expected.json has no %s", name)
			}
			ck, store, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if ck.Config.Architecture != e.Architecture {
				t.Fatalf("architecture %q, want %q", ck.Config.Architecture, e.Architecture)
			}
			V := e.Vocab
			mapped := map[string]bool{}
			for _, tn := range ck.Tensors() {
				for _, v := range tn.Vars {
					mapped[v] = true
				}
			}
			if n := store.NumVariables(); n != len(mapped) {
				t.Fatalf("loading made %d variables, the mapping has %d", n, len(mapped))
			}
			worst := 0.0
			check := func(what string, got [][]float32, seq, n int) {
				t.Helper()
				d := maxDiff(got, e.Logits[seq], n, V)
				worst = max(worst, d)
				if d > logitTol {
					t.Errorf("%s: sequence %d: max |Δlogit| = %.3g > %g", what, seq, d, logitTol)
				}
			}

			// Each sequence alone.
			cfg := ck.Config.Model(mustMask(t, "causal & pad"))
			for s, ids := range e.Sequences {
				got := forward(t, store, cfg, batch{ids: [][]int32{ids}, lens: []int32{int32(len(ids))}})
				check("alone", got[0], s, len(ids))
			}

			// A right-padded batch.
			T := 0
			for _, ids := range e.Sequences {
				T = max(T, len(ids))
			}
			var b batch
			for _, ids := range e.Sequences {
				row := make([]int32, T)
				copy(row, ids)
				b.ids = append(b.ids, row)
				b.lens = append(b.lens, int32(len(ids)))
			}
			got := forward(t, store, cfg, b)
			for s, ids := range e.Sequences {
				check("padded", got[s], s, len(ids))
			}

			// Sequences 1 and 2 packed in one row, then 2 padding positions.
			s1, s2 := e.Sequences[1], e.Sequences[2]
			n := len(s1) + len(s2)
			row, seg, pos := make([]int32, n+2), make([]int32, n+2), make([]int32, n+2)
			copy(row, s1)
			copy(row[len(s1):], s2)
			for i := range n {
				seg[i], pos[i] = 1, int32(i)
				if i >= len(s1) {
					seg[i], pos[i] = 2, int32(i-len(s1))
				}
			}
			packed := ck.Config.Model(mustMask(t, "causal & doc & pad"))
			got = forward(t, store, packed, batch{ids: [][]int32{row}, lens: []int32{int32(n)}, segments: [][]int32{seg}, positions: [][]int32{pos}})
			check("packed, first document", got[0], 1, len(s1))
			check("packed, second document", got[0][len(s1):], 2, len(s2))

			for v := range store.IterVariables() {
				if v.Name() != "#rngState" && !mapped[v.Path()] {
					t.Errorf("the model created variable %s, which no checkpoint tensor maps to (a naming mismatch)", v.Path())
				}
			}
			t.Logf("%s (%s): max |Δlogit| = %.2e over %d sequences alone, padded and packed", name, e.Architecture, worst, len(e.Sequences))
		})
	}
}

// The packed check is not vacuous: without "doc" the second document sees the first.
func TestPackingWithoutDocDiffers(t *testing.T) {
	exp := readExpected(t)
	e := exp["llama"]
	ck, store, err := Load(filepath.Join("testdata", "llama"))
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := e.Sequences[1], e.Sequences[2]
	row := append(append([]int32{}, s1...), s2...)
	seg, pos := make([]int32, len(row)), make([]int32, len(row))
	for i := range row {
		seg[i], pos[i] = 1, int32(i)
		if i >= len(s1) {
			seg[i], pos[i] = 2, int32(i-len(s1))
		}
	}
	got := forward(t, store, ck.Config.Model(mustMask(t, "causal")), batch{ids: [][]int32{row}, lens: []int32{int32(len(row))}, segments: [][]int32{seg}, positions: [][]int32{pos}})
	if d := maxDiff(got[0][len(s1):], e.Logits[2], len(s2), e.Vocab); d < 1e-2 {
		t.Errorf("causal without doc: the second document's logits equal the document alone (max |Δ| %.2g)", d)
	}
}

func TestTensorsRoundTripThroughVariables(t *testing.T) {
	ck, store, err := Load(filepath.Join("testdata", "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	// c_attn.bias is split into three variables in order q, k, v.
	bq := tensors.MustCopyFlatData[float32](store.GetVariable("/decoder/layer_0/self/MultiHeadAttention/qkv/biases_k").MustValue())
	if len(bq) != ck.Config.Hidden {
		t.Fatalf("biases_k has %d values, want %d", len(bq), ck.Config.Hidden)
	}
}
