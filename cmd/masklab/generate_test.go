package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/experiments"
)

// masklab generate on a Hugging Face checkpoint directory and on its model id (from a
// hub cache laid out as huggingface_hub does): the key/value cache decodes what
// recomputing the prefix decodes; top-k 1 is greedy; a seed repeats a sample;
// generation_config.json's sampling is the default; offline,
// a model id that is not cached is an error naming where it looked; init_from takes
// the model id too.
func TestGenerateCheckpointAndModelID(t *testing.T) {
	tmp := t.TempDir()
	ck := filepath.Join(tmp, "ck")
	tinyCheckpoint(t, ck)
	prompt := []string{"--text", "床前明月光，疑是地上霜。", "--max-new-tokens", "12"}
	greedy := runOK(t, append([]string{"generate", ck}, prompt...)...)
	if strings.TrimSpace(greedy) == "" {
		t.Fatalf("empty output")
	}
	if got := runOK(t, append([]string{"generate", ck, "--no-cache"}, prompt...)...); got != greedy {
		t.Fatalf("cached %q, recomputed %q", greedy, got)
	}
	if got := runOK(t, append([]string{"generate", ck, "--temperature", "1.3", "--top-k", "1", "--seed", "9"}, prompt...)...); got != greedy {
		t.Fatalf("top-k 1 %q, greedy %q", got, greedy)
	}
	hot := append([]string{"generate", ck, "--temperature", "1", "--top-p", "0.95", "--seed", "4"}, prompt...)
	a, b := runOK(t, hot...), runOK(t, hot...)
	if a != b || a == greedy {
		t.Fatalf("sampled twice with seed 4: %q, %q (greedy %q)", a, b, greedy)
	}

	// generation_config.json's sampling applies when no flag says otherwise (with a note,
	// and one for what masklab does not apply); --temperature 0 is greedy again.
	ck2 := filepath.Join(tmp, "ck2")
	if err := os.MkdirAll(ck2, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(ck)
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(ck, e.Name()), filepath.Join(ck2, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	gc := `{"do_sample": true, "temperature": 1.0, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.1, "eos_token_id": 3000}`
	if err := os.WriteFile(filepath.Join(ck2, "generation_config.json"), []byte(gc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, sampled, errs := runCLI(append([]string{"generate", ck2, "--seed", "4"}, prompt...)...)
	if code != 0 || !strings.Contains(errs, "sampling as generation_config.json says (temperature 1, top-k 50, top-p 0.95, seed 4)") ||
		!strings.Contains(errs, "repetition_penalty=1.1, which masklab does not apply") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	if again := runOK(t, append([]string{"generate", ck2, "--seed", "4"}, prompt...)...); again != sampled || sampled == greedy {
		t.Fatalf("generation_config sampling: %q then %q (greedy %q)", sampled, again, greedy)
	}
	if got := runOK(t, append([]string{"generate", ck2, "--temperature", "0"}, prompt...)...); got != greedy {
		t.Fatalf("--temperature 0 %q, greedy %q", got, greedy)
	}

	// The same checkpoint as a model id in a hub cache: refs/main -> snapshots/<commit>.
	cache := filepath.Join(tmp, "hub")
	commit := "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
	snap := filepath.Join(cache, "models--tiny-org--Tiny-Qwen2", "snapshots", commit)
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(ck, e.Name()), filepath.Join(snap, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	refs := filepath.Join(cache, "models--tiny-org--Tiny-Qwen2", "refs")
	if err := os.MkdirAll(refs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(refs, "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Chdir(tmp) // no tiny-org directory here: the id is a model id
	if got := runOK(t, append([]string{"generate", "tiny-org/Tiny-Qwen2"}, prompt...)...); got != greedy {
		t.Fatalf("by model id %q, by directory %q", got, greedy)
	}
	code, _, errs = runCLI(append([]string{"generate", "tiny-org/Missing"}, prompt...)...)
	if code == 0 || !strings.Contains(errs, filepath.Join(cache, "models--tiny-org--Missing", "refs", "main")) || !strings.Contains(errs, "HF_HUB_OFFLINE") {
		t.Fatalf("missing model id: exit %d, %s", code, errs)
	}

	// init_from: a model id resolves to its snapshot (recorded in config.yaml).
	run := filepath.Join(tmp, "run")
	runOK(t, "train", "--quiet", "--out", run, "--set", "init_from=tiny-org/Tiny-Qwen2", "--set", "task.name=poetry-title",
		"--set", "task.max_len=140", "--set", "task.max_examples=8", "--set", "task.max_eval=8", "--set", "task.tgt_len=160",
		"--set", "train.steps=1", "--set", "train.batch_size=2", "--set", "eval.every=0", "--set", "eval.greedy_examples=0")
	cfg, err := experiments.LoadConfig(filepath.Join(run, experiments.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InitFrom != snap || cfg.InitSHA256 == "" {
		t.Fatalf("init_from %q (sha %q), want the snapshot %q", cfg.InitFrom, cfg.InitSHA256, snap)
	}
	ev := runOK(t, "eval", run)
	for _, m := range []string{"valid_completion_loss", "valid_completion_acc"} {
		if !strings.Contains(ev, m) {
			t.Errorf("masklab eval reports no %s:\n%s", m, ev)
		}
	}
	if out := runOK(t, "generate", run, "--text", "床前明月光", "--max-new-tokens", "4"); out == "" {
		t.Errorf("generate on the fine-tuned run printed nothing")
	}
}
