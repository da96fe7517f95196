package experiments

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/hf"
)

// poetryBert is a tiny BERT run on a poetry task.
func poetryBert(t *testing.T, task, kind string, overrides ...string) *Config {
	return tinyConfig(t, append([]string{"task.name=" + task, "model.kind=" + kind, "task.max_len=24", "task.max_examples=160",
		"task.max_eval=16", "task.vocab=0", "task.min_len=0", "train.steps=6", "train.batch_size=8", "eval.every=0",
		"eval.greedy_examples=4", "model.d_model=16", "model.heads=2"}, overrides...)...)
}

func trainOK(t *testing.T, c *Config, dir string) *Summary {
	t.Helper()
	s, err := TrainRun(context.Background(), c, dir, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusDone || math.IsNaN(s.Final["valid_loss"]) {
		t.Fatalf("status %s, final %v", s.Status, s.Final)
	}
	return s
}

// The BERT encoder-decoders train under the article's decoder-input strategies and
// cross-attention masks (band, key dropout), and free-running decoding runs on them.
func TestBertKindsTrain(t *testing.T) {
	for _, c := range []struct{ kind, input, cross string }{
		{"bert2rnd", "partial(2)", "pad & band(1)"},
		{"bert2bert", "drop(0.2)", "pad & keydrop(0.1)"},
		{"bert-lstm", "random(0.3)", "pad"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			cfg := tinyConfig(t, "model.kind="+c.kind, "masks.input="+c.input, "masks.cross="+c.cross)
			s := trainOK(t, cfg, t.TempDir())
			if _, ok := s.Final["valid_exact"]; !ok {
				t.Errorf("no free-running exact match: %v", s.Final)
			}
		})
	}
}

// Mis-wired BERT configs are refused before training, naming the keys.
func TestBertConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  []string
		want string
	}{
		{[]string{"task.name=poetry-lm", "model.kind=bert", "masks.self=pad"}, "go together"},
		{[]string{"task.name=poetry-lm", "model.kind=decoder", "masks.input=mlm(0.15)"}, "go together"},
		{[]string{"task.name=poetry-lm", "model.kind=bert", "masks.input=mlm(0.15)"}, "masks.self"},
		{[]string{"model.kind=bert2rnd", "model.d_model=18", "model.heads=4"}, "multiple"},
		{[]string{"model.freeze_encoder=true"}, "model.freeze_encoder"},
		{[]string{"task.name=poetry-couplet", "model.kind=bert", "masks.input=mlm(0.15)", "masks.self=pad"}, "seq2seq"},
	} {
		cfg := Default()
		err := cfg.SetAll(c.cfg)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil {
			_, err = newSetup(cfg)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.cfg, err, c.want)
		}
	}
}

// Masked-LM pretraining as a run (whole-word masking by CC-CEDICT words) exports as a
// BertForMaskedLM whose WordPiece tokenizer gives the run's own ids; the export
// warm-starts a bert2rnd run: with model.freeze_encoder its encoder after training is
// the export's, weight for weight, without it every encoder weight moved; a seq2seq run
// refuses the checkpoint.
func TestMLMPretrainExportWarmStart(t *testing.T) {
	mlm := poetryBert(t, "poetry-lm", "bert", "masks.input=mlm_word(0.15)", "masks.self=pad")
	mlmDir := t.TempDir()
	trainOK(t, mlm, mlmDir)
	l, err := LoadRun(mlmDir, "")
	if err != nil {
		t.Fatal(err)
	}
	exp := filepath.Join(t.TempDir(), "bert")
	if err := l.Export(exp, hf.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	b, bstore, err := hf.LoadBert(exp)
	if err != nil {
		t.Fatal(err)
	}
	if b.Config.Architecture != "BertForMaskedLM" || !b.MLM {
		t.Fatalf("exported %s (MLM head %v)", b.Config.Architecture, b.MLM)
	}
	w, err := b.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	v := l.sess.su.task.Vocab
	for _, e := range l.sess.su.task.Valid[:8] {
		want, _ := v.EncodeText(e.TargetText)
		if got := w.EncodePlain(e.TargetText); !slices.Equal(got, want) {
			t.Fatalf("%q: WordPiece %v, the run's vocabulary %v", e.TargetText, got, want)
		}
	}

	for _, freeze := range []bool{true, false} {
		ft := poetryBert(t, "poetry-couplet", "bert2rnd", "init_from="+exp, "model.layers=1", "optim.encoder_lr_scale=0.5")
		if err := ft.SetValue("model.freeze_encoder", freeze); err != nil {
			t.Fatal(err)
		}
		if err := ft.ResolveData("."); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		trainOK(t, ft, dir)
		run, err := LoadRun(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		// The run's outputs read as the task's text (no spaces between characters, as
		// BERT's own decoding puts them): what its CER compares.
		checked := 0
		for _, e := range run.sess.su.task.Valid {
			tv := run.sess.su.task.Vocab
			if ids, _ := tv.EncodeText(e.TargetText); !slices.Contains(ids, int32(tv.UNK)) {
				checked++
				if tv.DecodeText(ids) != e.TargetText {
					t.Errorf("decode(encode(%q)) = %q", e.TargetText, tv.DecodeText(ids))
				}
			}
		}
		if checked == 0 {
			t.Error("no validation text without an unknown character to check decoding on")
		}
		same := func(a, b *model.Variable) bool {
			return slices.Equal(tensors.MustCopyFlatData[float32](a.MustValue()), tensors.MustCopyFlatData[float32](b.MustValue()))
		}
		for _, tn := range b.Tensors() {
			p := tn.Vars[0]
			if strings.HasPrefix(p, "/mlm") {
				continue // the MLM head is not part of bert2rnd
			}
			got := run.sess.store.GetVariable("/model/bert" + p)
			if got == nil {
				t.Fatalf("freeze=%v: the run has no variable /model/bert%s", freeze, p)
			}
			if s := same(got, bstore.GetVariable(p)); s != freeze {
				t.Errorf("freeze=%v: encoder variable %s equal to the export's: %v", freeze, p, s)
			}
		}
	}
	bad := poetryBert(t, "poetry-couplet", "seq2seq", "init_from="+exp)
	if err := bad.ResolveData("."); err != nil {
		t.Fatal(err)
	}
	if _, _, err := newSetupInit(bad, bad.InitFrom, ""); err == nil || !strings.Contains(err.Error(), "bert2rnd") {
		t.Errorf("a seq2seq run from a BERT checkpoint: %v, want an error naming the BERT kinds", err)
	}
	// A broken export is refused before training, naming what is wrong.
	vocab, err := os.ReadFile(filepath.Join(exp, hf.VocabFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what  string
		vocab []byte // nil: no vocab.txt
		want  string
	}{
		{"no vocab.txt", nil, "neither tokenizer.json nor vocab.txt"},
		{"a vocabulary larger than the embeddings", append(append([]byte(nil), vocab...), "[extra1]\n[extra2]\n"...), "does not match the word embeddings"},
	} {
		dir := t.TempDir()
		for _, f := range []string{hf.ConfigFile, hf.WeightsFile, hf.TokenizerConfigFile} {
			data, err := os.ReadFile(filepath.Join(exp, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if c.vocab != nil {
			if err := os.WriteFile(filepath.Join(dir, hf.VocabFile), c.vocab, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cfg := poetryBert(t, "poetry-couplet", "bert2rnd", "init_from="+dir)
		err := cfg.ResolveData(".")
		if err == nil {
			_, err = newSetup(cfg)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.what, err, c.want)
		}
	}
}
