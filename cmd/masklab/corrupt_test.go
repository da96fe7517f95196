package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCorruptCLI(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"corrupt", "partial(2)", "--text", "我是一个程序员"}, []string{
			"input partial(2) (seed 0, step 0): 4 of 7 positions after <bos> hidden (positions 1, 3, 5, 7)",
			"tokens:    <bos> [我] 是 [一] 个 [程] 序 [员]",
			"corrupted: <bos> <mask> 是 <mask> 个 <mask> 序 <mask>"}},
		{[]string{"corrupt", "full", "--text", "我是一个程序员"}, []string{
			"7 of 7 positions", "corrupted: <bos> <mask> <mask> <mask> <mask> <mask> <mask> <mask>"}},
		{[]string{"corrupt", "none", "--text", "to be or not"}, []string{
			"0 of 4 positions after <bos> hidden\n", "tokens:    <bos> to be or not"}},
		{[]string{"corrupt", `interactive(keep, "我 是")`, "--text", "我是一个程序员"}, []string{
			"tokens:    <bos> 我 是 [一] [个] [程] [序] [员]"}},
		{[]string{"corrupt", "interactive(copy, 1)", "--text", "我是一个程序员", "--source", "I am a programmer 员"}, []string{
			"source:    I am a programmer 员", "tokens:    <bos> 我 是 一 个 程 序 [员]"}},
		{[]string{"corrupt", "drop(1)", "--text", "a b"}, []string{"corrupted: <bos> <unk> <unk>"}},
		{[]string{"corrupt", "schedule(random, 0, 1, 10)", "--text", "a b c", "--step", "0"}, []string{"0 of 3"}},
		{[]string{"corrupt", "schedule(random, 0, 1, 10)", "--text", "a b c", "--step", "10"}, []string{"3 of 3"}},
	} {
		code, out, errs := runCLI(tc.args...)
		if code != 0 {
			t.Errorf("%q: code %d: %s", tc.args, code, errs)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	// Seeds give reproducible, different draws.
	_, a, _ := runCLI("corrupt", "random(0.5)", "--text", strings.Repeat("x ", 40), "--seed", "1")
	_, b, _ := runCLI("corrupt", "random(0.5)", "--text", strings.Repeat("x ", 40), "--seed", "1")
	_, c, _ := runCLI("corrupt", "random(0.5)", "--text", strings.Repeat("x ", 40), "--seed", "2")
	if a != b || a == c {
		t.Errorf("random(0.5) by seed:\n%s\n%s\n%s", a, b, c)
	}
	// Frequencies from --corpus: 的 is the most frequent token there.
	path := filepath.Join(t.TempDir(), "corpus.txt")
	os.WriteFile(path, []byte("我的书\n你的猫\n他的狗\n"), 0o644)
	_, out, errs := runCLI("corrupt", "interactive(freq, 0.05)", "--text", "我的猫", "--corpus", path)
	if !strings.Contains(out, "tokens:    <bos> 我 [的] 猫") {
		t.Errorf("interactive(freq) with --corpus:\n%s%s", out, errs)
	}
}

func TestCorruptErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"corrupt", "partial(0)", "--text", "x"}, "partial: k must be >= 1, got 0"},
		{[]string{"corrupt", "partail(2)", "--text", "x"}, `did you mean "partial"`},
		{[]string{"corrupt", "causal & pad", "--text", "x"}, "known input names"},
		{[]string{"corrupt", "full"}, "--text must have at least one token"},
		{[]string{"corrupt", "full", "--text", "x", "--step", "-1"}, "--step must be >= 0, got -1"},
		{[]string{"corrupt"}, "want exactly one SPEC argument, got 0"},
		{[]string{"corrupt", "full", "--text", "x", "--corpus", "/nonexistent/c.txt"}, "--corpus"},
	} {
		code, out, errs := runCLI(tc.args...)
		if code == 0 || out != "" || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want one line containing %q", tc.args, code, out, errs, tc.want)
		}
	}
	if code, _, _ := runCLI("corrupt", "--help"); code != 0 {
		t.Errorf("corrupt --help: code %d", code)
	}
}
