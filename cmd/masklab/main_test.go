package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every subcommand answers --help (and -h) with exit 0 and its usage, and a bad flag
// with exit 2 and one line naming the flag, never the whole usage or a panic trace.
func TestEveryCommandHelpAndBadFlag(t *testing.T) {
	if len(commands) < 5 {
		t.Fatalf("only %d subcommands registered", len(commands))
	}
	for _, name := range names() {
		for _, h := range []string{"--help", "-h"} {
			code, _, errs := runCLI(name, h)
			if code != 0 || !strings.Contains(errs, "usage: masklab "+name) {
				t.Errorf("masklab %s %s: exit %d, stderr starts %.80q; want exit 0 and the usage", name, h, code, errs)
			}
		}
		code, out, errs := runCLI(name, "--no-such-flag")
		lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
		if code != 2 || out != "" || len(lines) != 1 || !strings.Contains(errs, "-no-such-flag") || !strings.Contains(errs, "masklab "+name+" --help") {
			t.Errorf("masklab %s --no-such-flag: exit %d, stdout %q, stderr %q; want exit 2 and one line", name, code, out, errs)
		}
	}
	if code, out, _ := runCLI("help"); code != 0 || !strings.Contains(out, "commands:") {
		t.Errorf("masklab help: exit %d", code)
	}
	if code, _, errs := runCLI("nosuch"); code != 2 || !strings.Contains(errs, "known: ") {
		t.Errorf("masklab nosuch: exit %d, %q", code, errs)
	}
}

// masklab version names the masklab commit, the GoMLX version and the backend.
func TestVersion(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "")
	code, out, errs := runCLI("version")
	if code != 0 || errs != "" {
		t.Fatalf("masklab version: exit %d, stderr %q", code, errs)
	}
	// The GoMLX version this module requires, as go.mod says.
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	gomlx := regexp.MustCompile(`(?m)^\s*github\.com/gomlx/gomlx (v\S+)`).FindSubmatch(gomod)
	if gomlx == nil {
		t.Fatal("go.mod names no github.com/gomlx/gomlx version")
	}
	for _, want := range []string{"masklab ", "(commit ", "gomlx " + string(gomlx[1]), "backend go:parallelism=-1 (from default)"} {
		if !strings.Contains(out, want) {
			t.Errorf("masklab version output lacks %q:\n%s", want, out)
		}
	}
	if _, out, _ := runCLI("version", "--backend", "xla:cpu"); !strings.Contains(out, "backend xla:cpu (from override)") {
		t.Errorf("masklab version --backend xla:cpu:\n%s", out)
	}
}
