package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/hf"
)

// writeChatData writes n two-turn conversations (arithmetic questions, some with a system
// message) as chat JSONL.
func writeChatData(t *testing.T, path string, n int) {
	t.Helper()
	var sb strings.Builder
	for i := range n {
		a, b := i%7+1, i%5+2
		var msgs []map[string]string
		if i%3 == 0 {
			msgs = append(msgs, map[string]string{"role": "system", "content": "Answer with a number."})
		}
		answer := fmt.Sprintf("%d, 答案。", a*b)
		if i%4 == 0 {
			answer += strings.Repeat("因为乘法表这样说。", 3)
		}
		msgs = append(msgs,
			map[string]string{"role": "user", "content": fmt.Sprintf("%d+%d=?", a, b)},
			map[string]string{"role": "assistant", "content": fmt.Sprint(a + b)},
			map[string]string{"role": "user", "content": fmt.Sprintf("And %d*%d?", a, b)},
			map[string]string{"role": "assistant", "content": answer})
		line, err := json.Marshal(map[string]any{"messages": msgs})
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(line)
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Fine-tuning a Hugging Face checkpoint on chat data from the CLI, with the checkpoint's
// own chat template (Qwen2.5's, in chat_template.jinja) and masks.loss=completion: the
// batches' loss weights are 1 exactly on the assistant turns (each content and its
// <|im_end|>, decoded back through the tokenizer) and 0 on everything else (the default
// system prompt the template adds, the user turns, the role headers); masklab check
// passes and masklab train trains it. A small task.max_len cuts prompts from the left and
// drops the conversations whose assistant turns alone would not fit, which masklab check
// and summary.json report.
func TestFineTuneChatCompletionOnly(t *testing.T) {
	tmp := t.TempDir()
	ckDir, runDir := filepath.Join(tmp, "ck"), filepath.Join(tmp, "run")
	tinyCheckpoint(t, ckDir)
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "pkg", "hf", "testdata", "chat", "qwen2.5.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ckDir, hf.ChatTemplateFile), tmpl, 0o644); err != nil {
		t.Fatal(err)
	}
	writeChatData(t, filepath.Join(tmp, "chat.jsonl"), 40)
	conf := filepath.Join(tmp, "chat.yaml")
	yml := "init_from: ck\ntask: {name: chat.jsonl, max_eval: 8}\n" +
		"model: {kind: decoder}\nmasks: {self: causal & pad, loss: completion}\n" +
		"train: {steps: 24, batch_size: 4, log_every: 4}\noptim: {lr: 0.005, warmup_steps: 0}\neval: {every: 0, greedy_examples: 0}\n"
	if err := os.WriteFile(conf, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, err := experiments.LoadConfig(conf)
	if err == nil {
		err = cfg.ResolveData(tmp) // init_from and the data file, as the CLI resolves them
	}
	if err != nil {
		t.Fatal(err)
	}
	ck, err := hf.Open(ckDir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ck.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	bs, err := cfg.Batches("train", 3)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	lens := map[int]int{}
	for _, e := range bs.Task.Train {
		lens[len(e.Target)]++
		lens[-e.Spans[0].Start]++
	}
	t.Logf("lengths (negative: first span start): %v", lens)
	for _, b := range bs.List {
		for r := range b.Rows {
			e := bs.Task.Train[b.Examples[r]]
			var want []string
			for _, m := range e.Chat.Messages {
				if m.Role == "assistant" {
					want = append(want, m.Content+"<|im_end|>")
				}
			}
			var sup, prompt []int32
			for p := range int(b.TgtLen[r]) {
				i := r*b.T + p
				switch b.Weights[i] {
				case 1:
					sup = append(sup, b.Tgt[i])
				case 0:
					prompt = append(prompt, b.Tgt[i])
				default:
					t.Fatalf("weight %g", b.Weights[i])
				}
			}
			if got := tok.Decode(sup); got != strings.Join(want, "") {
				t.Errorf("%s: supervised labels %q, want the assistant turns %q", e.Origin, got, strings.Join(want, ""))
			}
			p := tok.Decode(prompt)
			if !strings.HasPrefix(p, "<|im_start|>system\nYou are Qwen") && !strings.HasPrefix(p, "<|im_start|>system\nAnswer") || !strings.Contains(p, "<|im_start|>assistant\n\n<|im_start|>user\nAnd ") {
				t.Errorf("%s: prompt labels %q", e.Origin, p)
			}
			rows++
		}
	}
	if rows != 12 {
		t.Errorf("%d rows checked, want 12", rows)
	}
	if chk := runOK(t, "check", conf); !regexp.MustCompile(`pass +zero-supervision`).MatchString(chk) {
		t.Errorf("masklab check:\n%s", chk)
	}

	trained := runOK(t, "train", conf, "--quiet", "--out", runDir)
	if !regexp.MustCompile(`^[0-9a-f]{12}: done`).MatchString(trained) {
		t.Fatalf("train: %q", trained)
	}
	losses := trainLosses(t, runDir)
	t.Logf("completion-only train loss by 4 steps: %.3f", losses)
	if len(losses) < 2 || !(losses[len(losses)-1] < losses[0]) {
		t.Errorf("the loss did not fall: %v", losses)
	}

	if ev := runOK(t, "eval", runDir); !strings.Contains(ev, "valid_completion_loss") {
		t.Errorf("masklab eval: %s", ev)
	}

	// task.max_len: no conversation fits in 100 ids; the prompt is cut from the left where
	// the assistant turns (and the prompt between them) still fit, and the conversations
	// with a long second answer are dropped and counted.
	cfg.Task.MaxLen = 100
	bs, err = cfg.Batches("train", 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, tl := bs.Task.Truncated, bs.Task.TooLong
	t.Logf("max_len 100: %d prompts cut, %d conversations dropped", tr, tl)
	if tr == 0 || tl == 0 {
		t.Errorf("max_len 100: %d truncated, %d too long; want both > 0", tr, tl)
	}
	for _, e := range bs.Task.Train {
		if len(e.Target) > 100 || e.Spans[0].Start < 0 {
			t.Errorf("%s: %d ids, spans %v", e.Origin, len(e.Target), e.Spans)
		}
	}
	if chk := runOK(t, "check", conf, "--set", "task.max_len=100"); !strings.Contains(chk, fmt.Sprintf("task.max_len cut %d prompts from the left and dropped %d examples", tr, tl)) {
		t.Errorf("masklab check does not report the cut:\n%s", chk)
	}
	run2 := filepath.Join(tmp, "run2")
	runOK(t, "train", conf, "--quiet", "--out", run2, "--set", "task.max_len=100", "--set", "train.steps=2")
	sum, err := experiments.ReadSummary(run2)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Data == nil || sum.Data.Truncated != tr || sum.Data.TooLong != tl {
		t.Errorf("summary.json data: %+v, want truncated %d, too long %d", sum.Data, tr, tl)
	}
}

// A base checkpoint has no chat template: chat data is then a clear error naming the
// fix, task.chat_template=chatml renders it as ChatML, and a .jinja file (relative to
// the config) does too, its content joining the run's identity: an edited template (even
// one that renders the same) is a new run.
func TestChatTemplateOverride(t *testing.T) {
	tmp := t.TempDir()
	tinyCheckpoint(t, filepath.Join(tmp, "ck"))
	writeChatData(t, filepath.Join(tmp, "chat.jsonl"), 40)
	conf := filepath.Join(tmp, "chat.yaml")
	yml := "init_from: ck\ntask: {name: chat.jsonl}\nmodel: {kind: decoder}\nmasks: {loss: completion}\n" +
		"train: {steps: 1, batch_size: 2}\neval: {every: 0, greedy_examples: 0}\n"
	if err := os.WriteFile(conf, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := run([]string{"check", conf}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "needs a chat template") || !strings.Contains(errb.String(), "set task.chat_template to chatml") {
		t.Errorf("no template: exit %d, %s", code, errb.String())
	}
	if chk := runOK(t, "check", conf, "--set", "task.chat_template=chatml"); !regexp.MustCompile(`pass +zero-supervision`).MatchString(chk) {
		t.Errorf("chatml:\n%s", chk)
	}
	tmpl := filepath.Join(tmp, "my.jinja")
	id := func() string {
		t.Helper()
		c := filepath.Join(tmp, "file.yaml")
		y := strings.Replace(yml, "task: {name: chat.jsonl}", "task: {name: chat.jsonl, chat_template: my.jinja}", 1)
		if err := os.WriteFile(c, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		got := regexp.MustCompile(`^([0-9a-f]{12}): done`).FindStringSubmatch(runOK(t, "train", c, "--quiet", "--out", filepath.Join(tmp, "runs", "r")))
		if got == nil {
			t.Fatal("train printed no id")
		}
		if err := os.RemoveAll(filepath.Join(tmp, "runs")); err != nil {
			t.Fatal(err)
		}
		return got[1]
	}
	if err := os.WriteFile(tmpl, []byte(hf.ChatML), 0o644); err != nil {
		t.Fatal(err)
	}
	first := id()
	if err := os.WriteFile(tmpl, []byte(hf.ChatML+"{# edited #}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if second := id(); second == first {
		t.Errorf("an edited chat template kept the run id %s", first)
	}
}
