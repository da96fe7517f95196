package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/internal/ckpt"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// tinyCheckpoint writes a tiny random Qwen2 checkpoint to dir whose vocabulary covers a
// real tokenizer's ids: pkg/hf's qwen2 fixture's config.json with vocab_size 3008 and the
// cut GPT-2 tokenizer (ids < 3001, <|endoftext|> = 3000), its weights the model's random
// initialisation (matrices drawn as transformers draws them) written by hf.Export.
func tinyCheckpoint(t *testing.T, dir string) {
	t.Helper()
	src := filepath.Join("..", "..", "pkg", "hf", "testdata")
	raw, err := os.ReadFile(filepath.Join(src, "qwen2", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer(`"vocab_size": 96`, `"vocab_size": 3008`, `"bos_token_id": 90`, `"bos_token_id": 3000`, `"eos_token_id": 91`, `"eos_token_id": 3000`).Replace(string(raw))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"config.json": []byte(conf)}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if files[f], err = os.ReadFile(filepath.Join(src, "tokenizers", "gpt2", f)); err != nil {
			t.Fatal(err)
		}
	}
	for f, b := range files {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := hf.ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(7); err != nil {
		t.Fatal(err)
	}
	self, err := mask.ParseAttention("causal & pad")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forwardLogits(store, "/model", c.Model(self), [][]int32{{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	// As transformers initialises: matrices N(0, 0.02²), norms and biases as they are.
	rng := rand.New(rand.NewPCG(7, 7))
	for v := range store.IterVariables() {
		if sh := v.Shape(); sh.DType == dtypes.Float32 && sh.Rank() >= 2 {
			w := make([]float32, sh.Size())
			for i := range w {
				w[i] = float32(rng.NormFloat64() * 0.02)
			}
			v.MustSetValue(tensors.FromFlatDataAndDimensions(w, sh.Dimensions...))
		}
	}
	if err := hf.Export(dir, c, store, "/model", hf.ExportOptions{DType: hf.F32}); err != nil {
		t.Fatal(err)
	}
}

// forwardLogits runs the decoder in store (variables under scope, created if missing) on
// rows of equal length.
func forwardLogits(store *model.Store, scope string, cfg layers.Config, rows [][]int32) ([][][]float32, error) {
	ex, err := model.NewExec(backend.Must(), store, func(s *model.Scope, ids, lens *graph.Node) *graph.Node {
		if scope != "" {
			s = s.In("%s", strings.TrimPrefix(scope, "/"))
		}
		logits, err := layers.Forward(s, cfg, layers.Inputs{Dec: ids, DecLen: lens})
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		return nil, err
	}
	lens := make([]int32, len(rows))
	for i := range rows {
		lens[i] = int32(len(rows[i]))
	}
	out, err := ex.Exec(rows, lens)
	if err != nil {
		return nil, err
	}
	return out[0].Value().([][][]float32), nil
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("masklab %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// Fine-tuning a Hugging Face checkpoint from the CLI: poetry-title tokenized with the
// checkpoint's tokenizer, packed (first-fit, causal & doc) with plw(0.1); the loss falls;
// masklab export writes a checkpoint that reloads (pkg/hf) to the run's logits exactly;
// a changed checkpoint makes a new run id.
func TestFineTuneHFCheckpoint(t *testing.T) {
	tmp := t.TempDir()
	ckDir, runDir, expDir := filepath.Join(tmp, "ck"), filepath.Join(tmp, "run"), filepath.Join(tmp, "export")
	tinyCheckpoint(t, ckDir)
	args := []string{"--set", "init_from=" + ckDir, "--set", "task.name=poetry-title", "--set", "task.max_len=140",
		"--set", "task.max_examples=48", "--set", "task.max_eval=48", "--set", "task.packing=first-fit", "--set", "task.tgt_len=288",
		"--set", "masks.self=causal & doc", "--set", "masks.loss=plw(0.1)",
		"--set", "train.steps=32", "--set", "train.batch_size=4", "--set", "train.log_every=4",
		"--set", "optim.lr=0.005", "--set", "optim.warmup_steps=0", "--set", "eval.every=0", "--set", "eval.greedy_examples=0"}
	trained := runOK(t, append([]string{"train", "--quiet", "--out", runDir}, args...)...)
	id := regexp.MustCompile(`^([0-9a-f]{12}): done`).FindStringSubmatch(trained)
	if id == nil {
		t.Fatalf("train printed no id: %q", trained)
	}

	losses := trainLosses(t, runDir)
	t.Logf("train loss by 4 steps: %.3f", losses)
	if len(losses) < 2 || !(losses[len(losses)-1] < losses[0]-1) {
		t.Errorf("the loss did not fall: %v", losses)
	}
	cfg, err := experiments.LoadConfig(filepath.Join(runDir, experiments.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InitSHA256 == "" || cfg.Model.Kind != layers.KindDecoder {
		t.Errorf("config.yaml: init_sha256 %q, model.kind %q", cfg.InitSHA256, cfg.Model.Kind)
	}
	// The tokenizer's ids: <|endoftext|> (3000) is BOS, EOS and PAD; MASK the first unused row.
	var vocab struct {
		Tokens                   []string
		PAD, BOS, EOS, SEP, MASK int
	}
	if b, err := os.ReadFile(filepath.Join(runDir, "vocab.json")); err != nil || json.Unmarshal(b, &vocab) != nil {
		t.Fatalf("vocab.json: %v", err)
	}
	if len(vocab.Tokens) != 3008 || vocab.PAD != 3000 || vocab.BOS != 3000 || vocab.EOS != 3000 || vocab.SEP != -1 || vocab.MASK != 3001 || vocab.Tokens[3000] != "<|endoftext|>" {
		t.Errorf("vocab.json: %d ids, PAD %d BOS %d EOS %d SEP %d MASK %d", len(vocab.Tokens), vocab.PAD, vocab.BOS, vocab.EOS, vocab.SEP, vocab.MASK)
	}
	runOK(t, "generate", runDir, "--text", "读下面的作品，说出它的题目：床前明月光，疑是地上霜。")
	if ev := runOK(t, "eval", runDir); !strings.Contains(ev, "valid_completion_loss") {
		t.Errorf("masklab eval: %s", ev)
	}
	conf := filepath.Join(tmp, "ft.yaml") // init_from relative to it
	yml := "init_from: ck\ntask: {name: poetry-title, max_len: 140, max_examples: 48, max_eval: 48, packing: first-fit, tgt_len: 288}\n" +
		"masks: {self: causal & doc, loss: plw(0.1), input: \"span(0.15,3)\"}\ntrain: {batch_size: 4}\n"
	if err := os.WriteFile(conf, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	// masklab check sees packed rows of tokenizer ids, each document to itself, and span
	// corruption (masks.input) with the MASK id.
	if chk := runOK(t, "check", conf); !regexp.MustCompile(`pass +cross-document +\d+ packed rows`).MatchString(chk) {
		t.Errorf("masklab check: no packed rows kept apart:\n%s", chk)
	}

	// Export, reload with pkg/hf, compare logits with the run's checkpoint.
	runOK(t, "export", runDir, "--out", expDir)
	var adErr bytes.Buffer // a full fine-tune has no adapters to export
	if code := run([]string{"export", runDir, "--adapters", "--out", filepath.Join(tmp, "ad")}, &bytes.Buffer{}, &adErr); code == 0 || !strings.Contains(adErr.String(), "has no LoRA adapters (lora.rank=0") {
		t.Errorf("export --adapters of a full fine-tune: exit %d, %q", code, adErr.String())
	}
	for _, f := range []string{"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json"} {
		if _, err := os.Stat(filepath.Join(expDir, f)); err != nil {
			t.Errorf("export: %v", err)
		}
	}
	ck2, store2, err := hf.Load(expDir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ck2.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := mask.ParseAttention("causal & pad")
	rows := [][]int32{tok.EncodePlain("白日依山尽，黄河入海流。")}
	got, err := forwardLogits(store2, "", ck2.Config.Model(self), rows)
	if err != nil {
		t.Fatal(err)
	}
	runStore := model.NewStore()
	if _, err := ckpt.LoadAll(runStore, ckpt.Find(runDir)); err != nil {
		t.Fatal(err)
	}
	ck0, err := hf.Open(ckDir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := forwardLogits(runStore, "/model", ck0.Config.Model(self), rows)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows[0] {
		if !slices.Equal(got[0][i], want[0][i]) {
			t.Fatalf("position %d: the export's logits differ from the run's", i)
		}
	}
	_, orig, err := hf.Load(ckDir)
	if err != nil {
		t.Fatal(err)
	}
	before, err := forwardLogits(orig, "", ck0.Config.Model(self), rows)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(before[0][0], got[0][0]) {
		t.Errorf("the exported logits equal the original checkpoint's: nothing was fine-tuned")
	}

	// A changed checkpoint is a new run.
	w := filepath.Join(ckDir, "model.safetensors")
	b, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.WriteFile(w, b, 0o644); err != nil {
		t.Fatal(err)
	}
	id2 := regexp.MustCompile(`run ([0-9a-f]{12}) into`).FindStringSubmatch(runOK(t, append([]string{"train", "--dry-run"}, args...)...))
	if id2 == nil || id2[1] == id[1] {
		t.Errorf("a changed checkpoint keeps run id %s (now %v)", id[1], id2)
	}
	var errb bytes.Buffer
	if code := run([]string{"eval", runDir}, &bytes.Buffer{}, &errb); code == 0 || !strings.Contains(errb.String(), "checkpoint changed") {
		t.Errorf("eval of a run whose checkpoint changed: exit %d, %q", code, errb.String())
	}
	// A run fine-tuned from a checkpoint is not an init_from itself: its export is.
	errb.Reset()
	if code := run(append([]string{"train", "--quiet", "--out", filepath.Join(tmp, "run2"), "--set", "init_from=" + runDir}, args[2:]...), &bytes.Buffer{}, &errb); code == 0 || !strings.Contains(errb.String(), "masklab export") {
		t.Errorf("init_from a fine-tuned run: exit %d, %q", code, errb.String())
	}
}

// trainLosses reads the train_loss values a run logged, in order.
func trainLosses(t *testing.T, runDir string) []float64 {
	t.Helper()
	lines, err := experiments.ReadMetrics(filepath.Join(runDir, experiments.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for _, l := range lines {
		if v, ok := l["train_loss"]; ok {
			losses = append(losses, v)
		}
	}
	return losses
}
