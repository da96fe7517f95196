package hf

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
)

// runBert2Bert runs m (a bert2bert) with store's variables on right-padded sources and
// decoder inputs and returns the logits [B][T][V].
func runBert2Bert(t *testing.T, store *model.Store, m layers.Config, src, dec [][]int32) [][][]float32 {
	t.Helper()
	s, sl := pad(src)
	d, dl := pad(dec)
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, s, sl, d, dl *graph.Node) *graph.Node {
		logits, err := layers.Forward(scope, m, layers.Inputs{Src: s, SrcLen: sl, Dec: d, DecLen: dl})
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		t.Fatal(err)
	}
	before := store.NumVariables()
	out, err := exec.Exec(s, sl, d, dl)
	if err != nil {
		t.Fatal(err)
	}
	if store.NumVariables() != before {
		t.Fatalf("the model created %d variable(s) the checkpoint did not give", store.NumVariables()-before)
	}
	return out[0].Value().([][][]float32)
}

// A BERT2BERT EncoderDecoderModel made by an independent PyTorch implementation
// (testdata/make_encdec.py) loads as masklab's bert2bert, whose decoder logits on padded
// batches equal PyTorch's on each pair alone; exported back (ExportEncoderDecoder) it
// has transformers' layout (encoder/decoder sub-configs, is_decoder,
// add_cross_attention, the same tensor names) and reloads to the same weights.
func TestBertEncoderDecoderExport(t *testing.T) {
	var want struct {
		Src, Dec [][]int32
		Vocab    int
		Logits   [][]float64
	}
	data, err := os.ReadFile(filepath.Join("testdata", "encdec_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	m, err := LoadEncoderDecoder(filepath.Join("testdata", "encdec"), store, "/")
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != layers.KindBert2Bert || !m.Bert.Pooler || m.Vocab != want.Vocab {
		t.Fatalf("loaded %s (pooler %v, vocab %d)", m.Kind, m.Bert.Pooler, m.Vocab)
	}
	got := runBert2Bert(t, store, m, want.Src, want.Dec)
	worst := 0.0
	for i := range want.Dec {
		for p := range want.Dec[i] {
			for v := range want.Vocab {
				w := want.Logits[i][p*want.Vocab+v]
				worst = max(worst, math.Abs(float64(got[i][p][v])-w)/(1+math.Abs(w)))
			}
		}
	}
	t.Logf("worst relative logit difference from PyTorch: %.2g", worst)
	if worst > 1e-4 {
		t.Fatalf("logits differ from PyTorch's by up to %.3g (relative)", worst)
	}

	toks := []string{datasets.PadToken, datasets.UnkToken, datasets.BosToken, datasets.EosToken, datasets.MaskToken}
	for len(toks) < want.Vocab {
		toks = append(toks, fmt.Sprintf("t%d", len(toks)))
	}
	v, err := datasets.NewVocab(toks)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ExportEncoderDecoder(dir, m, v, store, "/", ""); err != nil {
		t.Fatal(err)
	}
	raw, err := readJSON(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := raw["decoder"].(map[string]any)
	if raw["model_type"] != "encoder-decoder" || dec["is_decoder"] != true || dec["add_cross_attention"] != true || fmt.Sprint(raw["decoder_start_token_id"]) != fmt.Sprint(v.BOS) {
		t.Errorf("config.json: model_type %v, decoder is_decoder %v add_cross_attention %v, decoder_start_token_id %v", raw["model_type"], dec["is_decoder"], dec["add_cross_attention"], raw["decoder_start_token_id"])
	}
	names := func(d string) []string {
		ck := &Checkpoint{Dir: d, stored: map[string]*stored{}, headers: map[string]*stFile{}}
		where, err := ck.readWeightHeaders()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for n := range where {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}
	if a, b := names(dir), names(filepath.Join("testdata", "encdec")); !slices.Equal(a, b) {
		t.Errorf("exported tensors differ from transformers' layout:\n got %v\nwant %v", a, b)
	}
	again := model.NewStore()
	if _, err := LoadEncoderDecoder(dir, again, "/"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for x := range store.IterVariables() {
		y := again.GetVariable(x.Path())
		if y == nil || !slices.Equal(tensors.MustCopyFlatData[float32](x.MustValue()), tensors.MustCopyFlatData[float32](y.MustValue())) {
			t.Errorf("variable %s differs after export and reload", x.Path())
		}
		n++
	}
	if n == 0 || n != again.NumVariables() {
		t.Errorf("%d variables before, %d after", n, again.NumVariables())
	}
}

// An EncoderDecoderModel masklab does not load is refused naming the key and value.
func TestBertEncoderDecoderErrors(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "encdec", ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(m map[string]any)
		want string
	}{
		{func(m map[string]any) { m["model_type"] = "bert" }, "encoder-decoder"},
		{func(m map[string]any) { m["decoder"].(map[string]any)["model_type"] = "gpt2" }, "two BERTs"},
		{func(m map[string]any) { m["decoder"].(map[string]any)["add_cross_attention"] = false }, "add_cross_attention = false"},
		{func(m map[string]any) { m["decoder"].(map[string]any)["intermediate_size"] = 64 }, "encoder's sizes"},
		{func(m map[string]any) { m["encoder"].(map[string]any)["vocab_size"] = 50 }, "encoder.embeddings.word_embeddings.weight"},
	} {
		var m map[string]any
		if err := json.Unmarshal(src, &m); err != nil {
			t.Fatal(err)
		}
		c.edit(m)
		dir := t.TempDir()
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		w, _ := os.ReadFile(filepath.Join("testdata", "encdec", WeightsFile))
		if err := os.WriteFile(filepath.Join(dir, WeightsFile), w, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadEncoderDecoder(dir, model.NewStore(), "/"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error containing %q, got %v", c.want, err)
		}
	}
}
