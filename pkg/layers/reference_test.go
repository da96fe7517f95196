package layers

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// Fixtures from testdata/make_fixtures.py (PyTorch 1.13, float64); see its docstring.
const refTol = 2e-5

type attentionCase struct {
	Name    string           `json:"name"`
	Spec    string           `json:"spec"`
	B, Q, K int              `json:"-"`
	BB      int              `json:"B"`
	QQ      int              `json:"Q"`
	KK      int              `json:"K"`
	D       int              `json:"D"`
	H       int              `json:"H"`
	Self    bool             `json:"self"`
	Side    map[string]any   `json:"side"`
	XQ      []float64        `json:"xq"`
	XKV     []float64        `json:"xkv"`
	Allowed []int            `json:"allowed"`
	Params  map[string]param `json:"params"`
	Out     []float64        `json:"out"`
	Weights []float64        `json:"weights"`
}

// side gives the case's mask side data (key lengths, prefix lengths, segments) as
// constants of g.
func (c attentionCase) side(g *graph.Graph) mask.Side {
	side := mask.Side{}
	if v, ok := c.Side["klen"]; ok {
		side.KeyLen = graph.Const(g, intsOf(v))
	}
	if v, ok := c.Side["prefix"]; ok {
		side.PrefixLen = graph.Const(g, intsOf(v))
	}
	if v, ok := c.Side["segments"]; ok {
		var segs [][]int32
		for _, row := range v.([]any) {
			segs = append(segs, intsOf(row))
		}
		side.QuerySeg = graph.Const(g, segs)
	}
	return side
}

func intsOf(v any) []int32 {
	var out []int32
	for _, x := range v.([]any) {
		out = append(out, int32(x.(float64)))
	}
	return out
}

func TestAttentionMatchesReference(t *testing.T) {
	var fx struct {
		Cases []attentionCase `json:"cases"`
	}
	readJSON(t, "attention.json", &fx)
	if len(fx.Cases) < 6 {
		t.Fatalf("fixture has %d cases, want 6", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			B, Q, K, D, H := c.BB, c.QQ, c.KK, c.D, c.H
			m, err := mask.ParseAttention(c.Spec)
			if err != nil {
				t.Fatal(err)
			}
			store := model.NewStore()
			loadParams(t, store, "", c.Params)
			exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, xq, xkv *graph.Node) (out, w, allowed *graph.Node) {
				g := xq.Graph()
				allowedB, err := mask.NewEnv(g, B, H, Q, K, c.side(g)).Build(m)
				if err != nil {
					panic(err)
				}
				pm, err := PrepareMask(allowedB)
				if err != nil {
					panic(err)
				}
				kv := xkv
				if c.Self {
					kv = xq
				}
				out, w, err = MultiHeadAttention(scope, xq, kv, kv, H, D/H).WithMask(pm).DoneWithWeights()
				if err != nil {
					panic(err)
				}
				return out, w, graph.ConvertDType(allowedB, dtypes.Int32)
			})
			if err != nil {
				t.Fatal(err)
			}
			xkvDims := []int{B, K, D}
			res, err := exec.Exec(tensorOf(c.XQ, B, Q, D), tensorOf(c.XKV, xkvDims...))
			if err != nil {
				t.Fatal(err)
			}
			checkOnlyParams(t, store, "", c.Params)
			gotMask := res[2].Value().([][][][]int32)
			for b := range B {
				for q := range Q {
					for k := range K {
						if int(gotMask[b][0][q][k]) != c.Allowed[(b*Q+q)*K+k] {
							t.Fatalf("mask %q differs from the reference at b=%d q=%d k=%d", c.Spec, b, q, k)
						}
					}
				}
			}
			if d := maxAbsDiff(flat32(t, res[0]), c.Out); d > refTol {
				t.Errorf("output differs from PyTorch by %g (> %g)", d, refTol)
			}
			if d := maxAbsDiff(flat32(t, res[1]), c.Weights); d > refTol {
				t.Errorf("weights differ from PyTorch by %g (> %g)", d, refTol)
			}
		})
	}
}

type modelFixture struct {
	Config struct {
		Vocab     int    `json:"vocab"`
		DModel    int    `json:"d_model"`
		Heads     int    `json:"heads"`
		FF        int    `json:"ff"`
		EncLayers int    `json:"enc_layers"`
		DecLayers int    `json:"dec_layers"`
		Self      string `json:"self"`
		Cross     string `json:"cross"`
	} `json:"config"`
	B, S, T   int              `json:"-"`
	BB        int              `json:"B"`
	SS        int              `json:"S"`
	TT        int              `json:"T"`
	Src       [][]int32        `json:"src"`
	SrcLen    []int32          `json:"src_len"`
	Dec       [][]int32        `json:"dec"`
	DecLen    []int32          `json:"dec_len"`
	Segments  [][]int32        `json:"segments"`
	Positions [][]int32        `json:"positions"`
	Params    map[string]param `json:"params"`
	Logits    []float64        `json:"logits"`
}

func (f *modelFixture) config(t testing.TB, kind string) Config {
	cfg := Config{Kind: kind, Vocab: f.Config.Vocab, DModel: f.Config.DModel, Heads: f.Config.Heads, FF: f.Config.FF,
		EncLayers: f.Config.EncLayers, DecLayers: f.Config.DecLayers}
	var err error
	if cfg.Self, err = mask.ParseAttention(f.Config.Self); err != nil {
		t.Fatal(err)
	}
	if f.Config.Cross != "" {
		if cfg.Cross, err = mask.ParseCross(f.Config.Cross); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// The reference encoder-decoder of shared/bench/train_transformer.py, loaded with the
// same weights, gives the same logits.
func TestSeq2SeqMatchesReference(t *testing.T) {
	var f modelFixture
	readJSON(t, "seq2seq.json", &f)
	cfg := f.config(t, KindSeq2Seq)
	store := model.NewStore()
	loadParams(t, store, "/model", f.Params)
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, src, srcLen, dec, decLen *graph.Node) *graph.Node {
		logits, err := Forward(scope.In("model"), cfg, Inputs{Src: src, SrcLen: srcLen, Dec: dec, DecLen: decLen})
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec(f.Src, f.SrcLen, f.Dec, f.DecLen)
	if err != nil {
		t.Fatal(err)
	}
	checkOnlyParams(t, store, "/model", f.Params)
	if d := maxAbsDiff(flat32(t, res[0]), f.Logits); d > refTol*5 {
		t.Errorf("logits differ from the PyTorch reference by %g", d)
	} else {
		t.Logf("max |logits - reference| = %.2g", d)
	}
}

// A decoder-only LM on packed rows (causal & doc, positions restarting per document)
// gives the reference logits.
func TestDecoderMatchesReference(t *testing.T) {
	var f modelFixture
	readJSON(t, "decoder.json", &f)
	cfg := f.config(t, KindDecoder)
	store := model.NewStore()
	loadParams(t, store, "", f.Params)
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, dec, seg, pos *graph.Node) *graph.Node {
		logits, err := Forward(scope, cfg, Inputs{Dec: dec, Segments: seg, Positions: pos})
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec(f.Dec, f.Segments, f.Positions)
	if err != nil {
		t.Fatal(err)
	}
	checkOnlyParams(t, store, "", f.Params)
	if d := maxAbsDiff(flat32(t, res[0]), f.Logits); d > refTol*5 {
		t.Errorf("logits differ from the PyTorch reference by %g", d)
	} else {
		t.Logf("max |logits - reference| = %.2g", d)
	}
}
