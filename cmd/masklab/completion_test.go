package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// completionScript writes "masklab completion SHELL" to a file and returns its path.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errs := runCLI("completion", shell)
	if code != 0 || errs != "" || out == "" {
		t.Fatalf("masklab completion %s: exit %d, stderr %q", shell, code, errs)
	}
	path := filepath.Join(t.TempDir(), "masklab."+shell)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// bashComplete sources the bash script in a fresh bash, completes the command line
// words (the last one is the word being completed) and returns COMPREPLY.
func bashComplete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	prog := `source "$1" || exit 3
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
_masklab
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog, "bash", script)
	cmd.Dir = t.TempDir()
	os.WriteFile(filepath.Join(cmd.Dir, "sweep.yaml"), nil, 0o644)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, out)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// The bash script is valid and really completes: subcommands, flags, flag values,
// mask names (also after an operator), config keys and files.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := completionScript(t, "bash")
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		words []string
		want  []string // all in COMPREPLY
		not   []string // none in COMPREPLY
	}{
		{[]string{"masklab", "tr"}, []string{"train"}, []string{"audit", "mask"}},
		{[]string{"masklab", ""}, []string{"audit", "completion", "mask", "tasks", "version", "help"}, nil},
		{[]string{"masklab", "audit", "--ex"}, []string{"--expect"}, []string{"--self"}},
		{[]string{"masklab", "audit", "--"}, []string{"--self", "--segments", "--prefix", "--help"}, nil},
		{[]string{"masklab", "audit", "--self", "ca"}, []string{"causal", "causal_br"}, []string{"doc"}},
		{[]string{"masklab", "audit", "--expect", "causal & d"}, []string{"causal & dilated", "causal & doc"}, nil},
		{[]string{"masklab", "audit", "--self", "!pr"}, []string{"!prefix"}, nil},
		{[]string{"masklab", "audit", "--model", ""}, []string{"decoder", "seq2seq", "lstm"}, nil},
		{[]string{"masklab", "audit", "--q", ""}, nil, []string{"--self", "causal"}},
		{[]string{"masklab", "mask", "win"}, []string{"window"}, nil},
		{[]string{"masklab", "mask", "--kind", "loss", "pl"}, []string{"plw"}, []string{"prefix"}},
		{[]string{"masklab", "mask", "--format", ""}, []string{"ascii", "png", "svg", "pdf"}, nil},
		{[]string{"masklab", "corrupt", "sp"}, []string{"span"}, nil},
		{[]string{"masklab", "train", "--set", "model.la"}, []string{"model.layers="}, nil},
		{[]string{"masklab", "train", "--backend", "x"}, []string{"xla:cpu", "xla:cuda"}, nil},
		{[]string{"masklab", "train", "--qu"}, []string{"--quiet"}, nil},
		{[]string{"masklab", "sweep", "sw"}, []string{"sweep.yaml"}, nil},
		{[]string{"masklab", "completion", ""}, []string{"bash", "zsh"}, nil},
		{[]string{"masklab", "help", "au"}, []string{"audit"}, nil},
	} {
		got := bashComplete(t, script, tc.words...)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("completing %q: COMPREPLY %q lacks %q", tc.words, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("completing %q: COMPREPLY %q has %q", tc.words, got, w)
			}
		}
	}
}

// zshComplete loads the zsh script in a fresh zsh with the completion system's
// builtins replaced by stubs that print what they are given (compadd's words,
// _describe's entries, FILES for _files), completes the words, and returns the lines.
func zshComplete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	prog := `compdef() { : }
compset() { return 1 }
compadd() { while (($#)) && [[ $1 != -- ]]; do shift; done; shift; print -rl -- "$@" }
_describe() { print -rl -- "${(@P)4}" }
_files() { print FILES }
source "$1" || exit 3
words=(` + strings.Join(quoted, " ") + `)
CURRENT=${#words}
_masklab`
	out, err := exec.Command("zsh", "-f", "-c", prog, "zsh", script).CombinedOutput()
	if err != nil {
		t.Fatalf("zsh completion of %q: %v\n%s", words, err, out)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// The zsh script is valid zsh and offers the same things (zsh itself filters by the
// typed prefix, so the stubs see every candidate).
func TestZshCompletion(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh (apt-get install zsh)")
	}
	script := completionScript(t, "zsh")
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	hasPrefix := func(lines []string, p string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, p) })
	}
	if got := zshComplete(t, script, "masklab", "tr"); !hasPrefix(got, "train:train one run") || !hasPrefix(got, "help:") {
		t.Errorf("zsh: subcommands = %q", got)
	}
	for _, tc := range []struct {
		words []string
		want  []string
		not   []string
	}{
		{[]string{"masklab", "audit", "--"}, []string{"--expect", "--self", "--help"}, []string{"causal"}},
		{[]string{"masklab", "audit", "--self", "ca"}, []string{"causal", "doc", "window"}, []string{"--self"}},
		{[]string{"masklab", "audit", "--expect=ca"}, []string{"causal"}, nil},
		{[]string{"masklab", "audit", "--model", ""}, []string{"decoder", "seq2seq", "lstm"}, nil},
		{[]string{"masklab", "audit", "--q", ""}, []string{""}, []string{"--self", "causal"}},
		{[]string{"masklab", "mask", "c"}, []string{"causal", "prefix"}, []string{"plw"}},
		{[]string{"masklab", "mask", "--kind", "loss", "p"}, []string{"plw", "completion"}, []string{"prefix"}},
		{[]string{"masklab", "corrupt", "s"}, []string{"span", "schedule"}, nil},
		{[]string{"masklab", "train", "--set", "m"}, []string{"model.layers=", "masks.self="}, nil},
		{[]string{"masklab", "train", "c"}, []string{"FILES"}, nil},
		{[]string{"masklab", "completion", ""}, []string{"bash", "zsh"}, nil},
	} {
		got := zshComplete(t, script, tc.words...)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("zsh: completing %q gives %q, lacking %q", tc.words, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("zsh: completing %q gives %q, with %q", tc.words, got, w)
			}
		}
	}
}

func TestCompletionErrors(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "fish"}, {"completion", "bash", "zsh"}} {
		if code, out, errs := runCLI(args...); code != 2 || out != "" || !strings.Contains(errs, "bash or zsh") {
			t.Errorf("masklab %q: exit %d, stdout %.40q, stderr %q", args, code, out, errs)
		}
	}
}
