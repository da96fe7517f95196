package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/internal/ckpt"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func maxDiffLogits(a, b [][][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			for k := range a[i][j] {
				d = max(d, math.Abs(float64(a[i][j][k]-b[i][j][k])))
			}
		}
	}
	return d
}

// LoRA from the CLI on a tiny random Qwen2 checkpoint, with gradient accumulation
// (lora.rank=4 on all linear layers, train.grad_accum=2): the loss falls; the checkpoint
// holds the adapters and their AdamW moments only; a resumed run equals an uninterrupted
// one; "masklab export" merges the adapters, and the export's logits (reloaded by pkg/hf,
// no LoRA) equal the LoRA model's; "masklab export --adapters" writes PEFT's files, which
// merged onto the base checkpoint give the same weights; a bad target is named.
func TestLoRAAccumFineTuneAndExport(t *testing.T) {
	tmp := t.TempDir()
	ckDir, runDir := filepath.Join(tmp, "ck"), filepath.Join(tmp, "run")
	tinyCheckpoint(t, ckDir)
	args := []string{"--set", "init_from=" + ckDir, "--set", "task.name=poetry-title", "--set", "task.max_len=100",
		"--set", "task.max_examples=32", "--set", "task.max_eval=16", "--set", "masks.loss=completion",
		"--set", "lora.rank=4", "--set", "lora.alpha=8", "--set", "lora.targets=all-linear", "--set", "lora.dropout=0.05",
		"--set", "train.grad_accum=2", "--set", "train.steps=12", "--set", "train.batch_size=4", "--set", "train.log_every=4",
		"--set", "train.checkpoint_every=4", "--set", "optim.lr=0.03", "--set", "optim.warmup_steps=0",
		"--set", "eval.every=0", "--set", "eval.batches=2", "--set", "eval.greedy_examples=0"}
	// The estimate counts the adapters as the parameters: r·(in+out) for each of the 7
	// modules of the 2 layers (q 32→32, k and v 32→16, o 32→32, gate and up 32→64, down 64→32): 4,096.
	if out := runOK(t, append([]string{"train", "--dry-run"}, args...)...); !strings.Contains(out, "4.1k parameters") {
		t.Errorf("dry run: %s", out)
	}
	runOK(t, append([]string{"train", "--quiet", "--out", runDir}, args...)...)
	losses := trainLosses(t, runDir)
	t.Logf("train loss by 4 steps: %.3f", losses)
	// (It cannot fall far: the random base's embeddings, N(0, 0.02²) and frozen, are also
	// its output projection, which bounds the logits' range.)
	if len(losses) != 3 || !(losses[2] < losses[0]-0.03) {
		t.Errorf("the loss did not fall: %v", losses)
	}

	// The checkpoint: adapters (2 per linear module: 7 per layer, 2 layers) and their
	// moments, the step and RNG state; no base weight, no accumulator.
	runStore := model.NewStore()
	if _, err := ckpt.LoadAll(runStore, ckpt.Find(runDir)); err != nil {
		t.Fatal(err)
	}
	adapters, moments := 0, 0
	for v := range runStore.IterVariables() {
		p := v.Path()
		switch {
		case strings.HasPrefix(p, ckpt.ModelPrefix) && layers.IsLoRAVariable(p):
			adapters++
		case strings.HasPrefix(p, ckpt.ModelPrefix):
			t.Errorf("the checkpoint holds base weight %s", p)
		case strings.HasPrefix(p, ckpt.TransientPrefix):
			t.Errorf("the checkpoint holds accumulator %s", p)
		case layers.IsLoRAVariable(p):
			moments++
		}
	}
	if adapters != 28 || moments != 2*28 {
		t.Errorf("checkpoint: %d adapter variables and %d moments, want 28 and 56", adapters, moments)
	}

	// Resume: stopped after 6 steps (checkpoint at 4), the run ends as the uninterrupted one.
	cfg, err := experiments.LoadConfig(filepath.Join(runDir, experiments.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	resumed := filepath.Join(tmp, "resumed")
	if _, err := experiments.TrainRun(context.Background(), cfg, resumed, experiments.TrainOptions{StopAfter: 6}); !errors.Is(err, experiments.ErrStopped) {
		t.Fatalf("want ErrStopped, got %v", err)
	}
	if _, err := experiments.TrainRun(context.Background(), cfg, resumed, experiments.TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(runDir, experiments.MetricsFile))
	b, _ := os.ReadFile(filepath.Join(resumed, experiments.MetricsFile))
	if !bytes.Equal(a, b) {
		t.Errorf("resumed metrics differ:\n%s\nuninterrupted:\n%s", b, a)
	}

	// The LoRA model's logits: the base from the checkpoint directory, the adapters from the run.
	ck0, base, err := hf.Load(ckDir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ck0.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]int32{tok.EncodePlain("白日依山尽，黄河入海流。")}
	self, _ := mask.ParseAttention("causal & pad")
	loraCfg := ck0.Config.Model(self)
	loraCfg.LoRA = &layers.LoRA{Rank: 4, Alpha: 8, Dropout: 0.05, Targets: []string{"all-linear"}}
	for v := range runStore.IterVariables() {
		if strings.HasPrefix(v.Path(), ckpt.ModelPrefix) {
			if _, err := base.CreateVariable(strings.TrimPrefix(v.Path(), "/model"), v.MustValue()); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, err := forwardLogits(base, "", loraCfg, rows)
	if err != nil {
		t.Fatal(err)
	}
	_, orig, _ := hf.Load(ckDir)
	before, err := forwardLogits(orig, "", ck0.Config.Model(self), rows)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiffLogits(before, want); d < 1e-3 {
		t.Errorf("the adapters changed the logits by %g only", d)
	}

	// Merged export.
	merged := filepath.Join(tmp, "merged")
	runOK(t, "export", runDir, "--out", merged)
	ck2, store2, err := hf.Load(merged)
	if err != nil {
		t.Fatal(err)
	}
	got, err := forwardLogits(store2, "", ck2.Config.Model(self), rows)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiffLogits(got, want); d > 1e-4 {
		t.Errorf("the merged export's logits differ from the LoRA model's by %g", d)
	}

	// --dtype auto: the base's dtypes and files (F32 here), so the same bytes.
	auto := filepath.Join(tmp, "auto")
	runOK(t, "export", runDir, "--dtype", "auto", "--out", auto)
	if a, b := readBytes(t, filepath.Join(merged, "model.safetensors")), readBytes(t, filepath.Join(auto, "model.safetensors")); !bytes.Equal(a, b) {
		t.Errorf("--dtype auto of an F32 base differs from --dtype F32")
	}

	// PEFT adapters, merged onto the base checkpoint as PEFT would.
	adDir := filepath.Join(tmp, "adapters")
	if out := runOK(t, "export", runDir, "--adapters", "--out", adDir); !strings.Contains(out, "LoRA adapters") {
		t.Errorf("export --adapters printed %q", out)
	}
	_, fresh, _ := hf.Load(ckDir)
	m := ck0.Config.Model(self)
	if m.LoRA, err = hf.LoadAdapters(adDir, fresh, "", m); err != nil {
		t.Fatal(err)
	}
	if m.LoRA.Rank != 4 || m.LoRA.Alpha != 8 || m.LoRA.Dropout != 0.05 || len(m.LoRA.Targets) != 7 {
		t.Errorf("adapter_config.json read back as %+v", *m.LoRA)
	}
	fromPEFT, err := layers.MergeLoRA(fresh, "", m)
	if err != nil {
		t.Fatal(err)
	}
	again, err := forwardLogits(fromPEFT, "", ck0.Config.Model(self), rows)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiffLogits(again, got); d != 0 {
		t.Errorf("base + PEFT adapters merged differ from the merged export by %g", d)
	}

	// Where PyTorch is installed, it merges the adapter files onto the base checkpoint as
	// PEFT does and compares with the merged export (testdata/make_lora.py check).
	if py, err := exec.LookPath("/usr/bin/python3"); err == nil && exec.Command(py, "-c", "import torch").Run() == nil {
		script := filepath.Join("..", "..", "pkg", "hf", "testdata", "make_lora.py")
		out, err := exec.Command(py, script, "check", ckDir, adDir, merged).CombinedOutput()
		if err != nil {
			t.Errorf("PyTorch's merge differs: %v\n%s", err, out)
		}
		t.Logf("%s", bytes.TrimSpace(out))
	} else {
		t.Log("no PyTorch here: pkg/hf's committed fixtures (TestLoRAAdaptersMergeAsPEFT) stand in")
	}

	// Errors: a bad target, an uneven micro-batch split, --adapters on a full fine-tune.
	var errb bytes.Buffer
	bad := append(append([]string{"train", "--quiet", "--out", filepath.Join(tmp, "bad")}, args...), "--set", "lora.targets=q_proj,qkv_proj")
	if code := run(bad, &bytes.Buffer{}, &errb); code == 0 || !strings.Contains(errb.String(), `LoRA target "qkv_proj" matches no module`) ||
		!strings.Contains(errb.String(), "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj") {
		t.Errorf("bad target: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	uneven := append(append([]string{"train", "--quiet", "--out", filepath.Join(tmp, "bad")}, args...), "--set", "train.grad_accum=3")
	if code := run(uneven, &bytes.Buffer{}, &errb); code == 0 || !regexp.MustCompile(`train.grad_accum=3: must be >= 0 and divide train.batch_size=4`).MatchString(errb.String()) {
		t.Errorf("grad_accum 3 of batch 4: exit %d, %q", code, errb.String())
	}
}
