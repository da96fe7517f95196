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

// An unknown subcommand gets the closest one, when one is near.
func TestUnknownCommandDidYouMean(t *testing.T) {
	for arg, want := range map[string]string{
		"trian":  `masklab: unknown command "trian" (did you mean "train"?); known: `,
		"Audit":  `(did you mean "audit"?)`,
		"sweeps": `(did you mean "sweep"?)`,
	} {
		code, out, errs := runCLI(arg)
		if code != 2 || out != "" || !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("masklab %s: exit %d, stdout %q, stderr %q; want exit 2 and one line containing %q", arg, code, out, errs, want)
		}
	}
	if _, _, errs := runCLI("xyzzy"); strings.Contains(errs, "did you mean") {
		t.Errorf("masklab xyzzy suggests a command: %q", errs)
	}
}

// masklab version --backend checks the name (without loading XLA): a typo is an error
// with the closest known backend, not an echo of what was typed.
func TestVersionChecksBackend(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "")
	for _, tc := range []struct {
		backend string
		want    []string
	}{
		{"foo", []string{`backend "foo" (from override)`, "known: go"}},
		{"gp", []string{`did you mean "go"?`}},
		{"xlaa:cpu", []string{`did you mean "xla"?`}},
		{"go:parallelism=8", []string{"parallelism=8", "GOMAXPROCS"}},
	} {
		code, out, errs := runCLI("version", "--backend", tc.backend)
		if code != 2 || out != "" || strings.Count(errs, "\n") != 1 {
			t.Errorf("masklab version --backend %s: exit %d, stdout %q, stderr %q; want exit 2, one line", tc.backend, code, out, errs)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errs, w) {
				t.Errorf("masklab version --backend %s: stderr %q lacks %q", tc.backend, errs, w)
			}
		}
	}
	for _, ok := range []string{"go", "go:parallelism=1", "xla:cuda"} {
		if code, out, errs := runCLI("version", "--backend", ok); code != 0 || !strings.Contains(out, "backend "+ok) {
			t.Errorf("masklab version --backend %s: exit %d, stdout %q, stderr %q", ok, code, out, errs)
		}
	}
	// A bad $GOMLX_BACKEND is named with where it came from.
	t.Setenv("GOMLX_BACKEND", "xls")
	if code, _, errs := runCLI("version"); code != 1 || !strings.Contains(errs, `backend "xls" (from env)`) {
		t.Errorf("GOMLX_BACKEND=xls masklab version: exit %d, stderr %q", code, errs)
	}
}

// A command that needs XLA without a plugin says so in masklab's words first.
func TestXLAMissingPluginCLI(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "xla:cpu")
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv("MASKLAB_XLA_AUTO_INSTALL", "")
	code, out, errs := runCLI("audit", "--q", "2")
	if code == 0 {
		t.Skip("an XLA CPU plugin is installed on this machine")
	}
	want := `masklab audit: backend "xla:cpu" (from env): no XLA (PJRT) plugin for "cpu" was found`
	if code != 1 || out != "" || !strings.HasPrefix(errs, want) || strings.Count(errs, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q", code, out, errs, want)
	}
	if i, j := strings.Index(errs, "--backend go"), strings.Index(errs, "Detail from GoMLX"); i < 0 || j < i {
		t.Errorf("the fallback does not come before GoMLX's detail: %q", errs)
	}
}
