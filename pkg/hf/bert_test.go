package hf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// expectedBert is one checkpoint of testdata/bert_expected.json (make_bert.py).
type expectedBert struct {
	Architecture string      `json:"architecture"`
	Hidden       int         `json:"hidden"`
	Vocab        int         `json:"vocab"`
	IDs          [][]int32   `json:"ids"`
	Types        [][]int32   `json:"types"`
	LastHidden   [][]float64 `json:"last_hidden"` // per sequence [T*D]
	Pooled       [][]float64 `json:"pooled"`      // per sequence [D] (BertModel)
	Logits       [][]float64 `json:"logits"`      // per sequence [T*V] (BertForMaskedLM)
}

func readBertExpected(t testing.TB) map[string]expectedBert {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bert_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]expectedBert
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// bertOut is one BERT forward pass's outputs, as Go slices.
type bertOut struct {
	hidden [][][]float32
	pooled [][]float32
	logits [][][]float32
}

// runBert runs cfg's BERT with store's variables on right-padded rows; a store that
// has variables must have all the model's.
func runBert(t testing.TB, store *model.Store, cfg layers.BertConfig, ids, types [][]int32, lens []int32) bertOut {
	t.Helper()
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, ids, types, lens *graph.Node) []*graph.Node {
		res, err := layers.Bert(scope, cfg, layers.BertInputs{IDs: ids, TypeIDs: types, Lengths: lens}, false)
		if err != nil {
			panic(err)
		}
		out := []*graph.Node{res.Hidden}
		if res.Pooled != nil {
			out = append(out, res.Pooled)
		}
		if res.Logits != nil {
			out = append(out, res.Logits)
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
	before := store.NumVariables()
	out, err := exec.Exec(ids, types, lens)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.NumVariables(); before > 0 && n != before {
		t.Fatalf("the model created %d variable(s) the checkpoint did not give", n-before)
	}
	r := bertOut{hidden: out[0].Value().([][][]float32)}
	i := 1
	if cfg.Pooler {
		r.pooled = out[i].Value().([][]float32)
		i++
	}
	if cfg.MLM {
		r.logits = out[i].Value().([][][]float32)
	}
	return r
}

// pad right-pads rows to the longest with 0.
func pad(rows [][]int32) ([][]int32, []int32) {
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	out := make([][]int32, len(rows))
	lens := make([]int32, len(rows))
	for i, r := range rows {
		out[i] = make([]int32, T)
		copy(out[i], r)
		lens[i] = int32(len(r))
	}
	return out, lens
}

// diffRows returns max |got[t][j] - want[t*W+j]| over the first n rows.
func diffRows(got [][]float32, want []float64, n, W int) float64 {
	m := 0.0
	for i := range n {
		for j := range W {
			d := math.Abs(float64(got[i][j]) - want[i*W+j])
			if math.IsNaN(d) {
				return math.Inf(1)
			}
			m = max(m, d)
		}
	}
	return m
}

// TestBertMatchesReference loads the tiny BertModel and BertForMaskedLM checkpoints and
// compares the last hidden states, the pooled output and the MLM logits with
// make_bert.py's float64 forward pass: each sequence alone, and all of them as one
// right-padded batch under BERT's padding mask ("pad"), at the valid positions.
func TestBertMatchesReference(t *testing.T) {
	exp := readBertExpected(t)
	for _, name := range []string{"bert", "bert-mlm"} {
		t.Run(name, func(t *testing.T) {
			e := exp[name]
			b, store, err := LoadBert(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if b.Config.Architecture != e.Architecture {
				t.Fatalf("architecture %q, want %q", b.Config.Architecture, e.Architecture)
			}
			if b.Pooler != (len(e.Pooled) > 0) || b.MLM != (len(e.Logits) > 0) {
				t.Fatalf("pooler %v, MLM head %v; the fixture has %d pooled and %d logits", b.Pooler, b.MLM, len(e.Pooled), len(e.Logits))
			}
			cfg := b.Model(mask.Attention{})
			if got, want := cfg.Params(), int64(store.NumParameters()); got != want {
				t.Errorf("Params() = %d, the checkpoint has %d", got, want)
			}
			D, V := e.Hidden, e.Vocab
			worst := map[string]float64{}
			check := func(what string, got [][]float32, want []float64, n, W int) {
				d := diffRows(got, want, n, W)
				worst[what] = max(worst[what], d)
				if d > logitTol {
					t.Errorf("%s: max |Δ| = %.3g > %g", what, d, logitTol)
				}
			}
			for i, ids := range e.IDs {
				out := runBert(t, store, cfg, [][]int32{ids}, [][]int32{e.Types[i]}, []int32{int32(len(ids))})
				check("hidden", out.hidden[0], e.LastHidden[i], len(ids), D)
				if b.Pooler {
					check("pooled", [][]float32{out.pooled[0]}, e.Pooled[i], 1, D)
				}
				if b.MLM {
					check("logits", out.logits[0], e.Logits[i], len(ids), V)
				}
			}
			ids, lens := pad(e.IDs)
			types, _ := pad(e.Types)
			out := runBert(t, store, cfg, ids, types, lens)
			for i := range e.IDs {
				check("padded hidden", out.hidden[i], e.LastHidden[i], int(lens[i]), D)
				if b.Pooler {
					check("padded pooled", [][]float32{out.pooled[i]}, e.Pooled[i], 1, D)
				}
				if b.MLM {
					check("padded logits", out.logits[i], e.Logits[i], int(lens[i]), V)
				}
			}
			t.Logf("%s: max |Δ| %v", name, worst)
		})
	}
}

// TestBertMaskApplies checks that the encoder's mask is masklab's: under "causal & pad"
// the first token's hidden state does not depend on the tokens after it.
func TestBertMaskApplies(t *testing.T) {
	b, store, err := LoadBert(filepath.Join("testdata", "bert"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := b.Model(mask.And(mask.Causal, mask.Pad))
	a := runBert(t, store, cfg, [][]int32{{2, 5, 9, 3}}, [][]int32{{0, 0, 0, 0}}, []int32{4})
	c := runBert(t, store, cfg, [][]int32{{2, 7, 30, 11}}, [][]int32{{0, 0, 0, 0}}, []int32{4})
	for j := range a.hidden[0][0] {
		if math.Abs(float64(a.hidden[0][0][j]-c.hidden[0][0][j])) > 1e-6 {
			t.Fatalf("under a causal mask the first position changed with later tokens: %v vs %v", a.hidden[0][0], c.hidden[0][0])
		}
	}
	full := runBert(t, store, b.Model(mask.Attention{}), [][]int32{{2, 5, 9, 3}}, [][]int32{{0, 0, 0, 0}}, []int32{4})
	if math.Abs(float64(full.hidden[0][0][0]-a.hidden[0][0][0])) < 1e-6 {
		t.Fatalf("the causal and the padding mask gave the same first position")
	}
}

// Bad BERT checkpoints are errors that name the file, the key or tensor, and the value.
func TestBertBadCheckpoints(t *testing.T) {
	for _, c := range []struct {
		name, fixture string
		edit          func(t *testing.T, dir string)
		want          []string
	}{
		{"not bert", "llama", nil, []string{"config.json", `"LlamaForCausalLM"`, "not a BERT model", "hf.Open"}},
		{"unknown class", "bert", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"BertModel"`, `"RobertaModel"`)
		}, []string{"config.json", `"RobertaModel"`, "BertForMaskedLM"}},
		{"model type", "bert", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"model_type": "bert"`, `"model_type": "roberta"`)
		}, []string{"config.json", `"roberta"`}},
		{"vocab mismatch", "bert", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"vocab_size": 48`, `"vocab_size": 50`)
		}, []string{"embeddings.word_embeddings.weight", "[48 16]", "vocab_size=50", "[50 16]"}},
		{"missing vocab size", "bert", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"vocab_size": 48`, `"vocab_sz": 48`)
		}, []string{"config.json", `"vocab_size" is missing`}},
		{"heads", "bert", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"num_attention_heads": 4`, `"num_attention_heads": 5`)
		}, []string{"config.json", "hidden_size 16", "num_attention_heads 5"}},
		{"relative positions", "bert", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"position_embedding_type": "absolute"`, `"position_embedding_type": "relative_key"`)
		}, []string{"config.json", "relative_key", "absolute"}},
		{"decoder", "bert", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"use_cache": true`, `"use_cache": true, "is_decoder": true`)
		}, []string{"config.json", "is_decoder", "encoder only"}},
		{"activation", "bert", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"hidden_act": "gelu"`, `"hidden_act": "mish"`)
		}, []string{"config.json", "hidden_act", "mish"}},
		{"no weights", "bert", func(t *testing.T, d string) {
			if err := os.Remove(filepath.Join(d, WeightsFile)); err != nil {
				t.Fatal(err)
			}
		}, []string{"model.safetensors"}},
		{"missing tensor", "bert-mlm", func(t *testing.T, d string) {
			editFile(t, d, WeightsFile, `"bert.encoder.layer.1.output.dense.bias"`, `"bert.encoder.layer.1.output.dense.bixs"`)
		}, []string{"missing", `"bert.encoder.layer.1.output.dense.bias"`}},
		{"half an MLM head", "bert-mlm", func(t *testing.T, d string) {
			editFile(t, d, WeightsFile, `"cls.predictions.transform.dense.weight"`, `"cls.predictions.transform.dense.weighx"`)
		}, []string{"does not have", `"cls.predictions.bias"`, `"cls.predictions.transform.dense.weighx"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := copyFixture(t, c.fixture)
			if c.edit != nil {
				c.edit(t, d)
			}
			_, err := OpenBert(d)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestBertTokenizerChecks: a checkpoint without vocab.txt or tokenizer.json, and one
// whose vocabulary is larger than its word embeddings, are errors; a matching one loads.
func TestBertTokenizerChecks(t *testing.T) {
	d := copyFixture(t, "bert")
	b, err := OpenBert(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Tokenizer(); err == nil || !strings.Contains(err.Error(), "neither tokenizer.json nor vocab.txt") {
		t.Errorf("no tokenizer files: %v", err)
	}
	vocab, err := os.ReadFile(filepath.Join("testdata", "wordpiece", "lower", VocabFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, VocabFile), vocab, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Tokenizer(); err == nil || !strings.Contains(err.Error(), "3605 ids") || !strings.Contains(err.Error(), "vocab_size is 48") {
		t.Errorf("a vocabulary larger than the embeddings: %v", err)
	}
	lines := strings.SplitAfterN(string(vocab), "\n", 49)
	if err := os.WriteFile(filepath.Join(d, VocabFile), []byte(strings.Join(lines[:48], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := b.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	if ids := w.Encode("!?"); len(ids) != 4 || ids[0] != w.CLS || ids[3] != w.SEP || slices.Contains(ids, w.UnkID) {
		t.Errorf("Encode(!?) = %v", ids)
	}
}

// TestBert2RndWarmStart loads a BERT checkpoint under "/bert" and builds BERT2RND on it:
// the encoder reads the checkpoint's weights (its hidden states are the reference's, no
// encoder variable is created) and the decoder's are new.
func TestBert2RndWarmStart(t *testing.T) {
	e := readBertExpected(t)["bert-mlm"]
	b, err := OpenBert(filepath.Join("testdata", "bert-mlm"))
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	if err := b.Load(store, "/"+layers.BertScope); err != nil {
		t.Fatal(err)
	}
	loaded := store.NumVariables()
	enc := b.Model(mask.Attention{})
	enc.MLM = false
	dec := layers.Config{Kind: layers.KindSeq2Seq, Vocab: 20, DModel: enc.DModel, Heads: 2, DecLayers: 2, Cross: mask.Pad}
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, src, types, srcLen, tgt *graph.Node) (*graph.Node, *graph.Node) {
		res, err := layers.Bert2Rnd(scope, enc, dec, layers.Inputs{Src: src, SrcLen: srcLen, Dec: tgt}, types, false)
		if err != nil {
			panic(err)
		}
		br, err := layers.Bert(scope.Shared(layers.BertScope), enc, layers.BertInputs{IDs: src, TypeIDs: types, Lengths: srcLen}, false)
		if err != nil {
			panic(err)
		}
		return res.Logits, br.Hidden
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, lens := pad(e.IDs)
	types, _ := pad(e.Types)
	out, err := exec.Exec(ids, types, lens, [][]int32{{1, 2, 3}, {1, 5, 3}, {1, 7, 3}})
	if err != nil {
		t.Fatal(err)
	}
	hidden := out[1].Value().([][][]float32)
	for i := range e.IDs {
		if d := diffRows(hidden[i], e.LastHidden[i], int(lens[i]), e.Hidden); d > logitTol {
			t.Errorf("sequence %d: the warm-started encoder's hidden states differ from the reference by %.3g", i, d)
		}
	}
	bertVars := 0
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), "/"+layers.BertScope+"/") {
			bertVars++
		}
	}
	if bertVars != loaded {
		t.Errorf("%d variables under /bert after building, %d loaded", bertVars, loaded)
	}
	if got := out[0].Shape().Dimensions; !slices.Equal(got, []int{3, 3, 20}) {
		t.Errorf("logits %v", got)
	}
}

// Open (the decoder-LM loader) on a BERT checkpoint, and LoadTokenizer on a WordPiece
// tokenizer.json, say which function loads them.
func TestBertPointsToItsLoader(t *testing.T) {
	if _, err := Open(filepath.Join("testdata", "bert")); err == nil || !strings.Contains(err.Error(), "hf.OpenBert") {
		t.Errorf("Open on a BERT checkpoint: %v", err)
	}
	if _, err := LoadTokenizer(filepath.Join("testdata", "wordpiece", "lower")); err == nil || !strings.Contains(err.Error(), "hf.LoadWordPiece") {
		t.Errorf("LoadTokenizer on a WordPiece tokenizer: %v", err)
	}
}

// TestBert2BertWarmStart loads one BERT checkpoint as both the encoder (/bert) and the
// decoder (/bert_decoder) of BERT2BERT: building the model creates only the decoder's
// cross-attention variables (10 a layer: query, key, value, output weights and biases;
// the LayerNorm's gain and offset; the RNG's state aside), and the logits are finite.
func TestBert2BertWarmStart(t *testing.T) {
	b, err := OpenBert(filepath.Join("testdata", "bert-mlm"))
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	for _, s := range []string{layers.BertScope, layers.BertDecoderScope} {
		if err := b.Load(store, "/"+s); err != nil {
			t.Fatal(err)
		}
	}
	loaded := store.NumVariables()
	enc := b.Model(mask.Attention{})
	dec := enc
	enc.MLM = false
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, src, srcLen, tgt *graph.Node) *graph.Node {
		res, err := layers.Bert2Bert(scope, enc, dec, mask.Attention{}, layers.Inputs{Src: src, SrcLen: srcLen, Dec: tgt}, nil, false)
		if err != nil {
			panic(err)
		}
		return res.Logits
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec([][]int32{{2, 5, 9, 3}, {2, 7, 3, 0}}, []int32{4, 3}, [][]int32{{2, 11, 12}, {2, 13, 14}})
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	for v := range store.IterVariables() {
		if p := v.Path(); strings.HasPrefix(p, "/bert") && strings.Contains(p, "/cross/") {
			created = append(created, p)
		}
	}
	n := 0 // variables created by building, the RNG's state aside
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), "/#") {
			n++
		}
	}
	if n -= loaded; n != len(created) || n != 10*b.Config.Layers {
		t.Errorf("building created %d variables, %d of them cross-attention ones; want %d, all cross-attention", n, len(created), 10*b.Config.Layers)
	}
	for _, row := range out[0].Value().([][][]float32) {
		for _, pos := range row {
			for _, v := range pos {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("non-finite logit %g", v)
				}
			}
		}
	}
}
