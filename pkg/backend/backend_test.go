package backend

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestResolvePrecedence(t *testing.T) {
	t.Setenv(EnvVar, "")
	if c := Resolve("", ""); c.Config != Default || c.Source != "default" {
		t.Errorf("default: got %+v", c)
	}
	if c := Resolve("", "xla:cpu"); c.Config != "xla:cpu" || c.Source != "config" {
		t.Errorf("config: got %+v", c)
	}
	t.Setenv(EnvVar, "go")
	if c := Resolve("", "xla:cpu"); c.Config != Default || c.Source != "env" {
		t.Errorf("env beats config and bare go gets safe options: got %+v", c)
	}
	if c := Resolve("xla:cuda", "xla:cpu"); c.Config != "xla:cuda" || c.Source != "override" {
		t.Errorf("override beats env: got %+v", c)
	}
}

func TestGoBackendRuns(t *testing.T) {
	b, err := New(Choice{Config: Default, Source: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() == "" {
		t.Error("backend without a name")
	}
}

func TestUnknownBackendIsClearError(t *testing.T) {
	_, err := New(Choice{Config: "nosuch", Source: "override"})
	if err == nil || !strings.Contains(err.Error(), `"nosuch"`) || !strings.Contains(err.Error(), "GOMLX_BACKEND=go") {
		t.Fatalf("want a clear error naming the backend and the fallback, got %v", err)
	}
}

// Without a PJRT plugin, asking for XLA fails fast with the install hint and never
// downloads anything (no network here; a download attempt would show in the error).
func TestXLAWithoutPluginIsClearError(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv("MASKLAB_XLA_AUTO_INSTALL", "")
	_, err := New(Choice{Config: "xla:cpu", Source: "env"})
	if err == nil {
		t.Skip("an XLA CPU plugin is installed on this machine")
	}
	msg := err.Error()
	for _, want := range []string{"xla:cpu", "GOMLX_BACKEND=go", "MASKLAB_XLA_AUTO_INSTALL=1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "auto-install") || strings.Contains(msg, "http") {
		t.Errorf("error shows a download attempt: %s", msg)
	}
}

// The Go backend's constructor prints to stdout; masklab's stdout must stay clean
// (masklab mask prints exactly its picture there).
func TestNewKeepsStdoutClean(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	_, err = New(Choice{Config: "go:parallelism=1", Source: "override"})
	os.Stdout = saved
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 {
		t.Errorf("backend construction wrote to stdout: %q", out)
	}
}

func TestXLAErrorIsOneLine(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	_, err := New(Choice{Config: "xla:cpu", Source: "env"})
	if err == nil {
		t.Skip("an XLA CPU plugin is installed on this machine")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans several lines: %q", err)
	}
}

func TestGoOptionsGetSafeParallelism(t *testing.T) {
	t.Setenv(EnvVar, "")
	for in, want := range map[string]string{
		"go":                             Default,
		"go:ops_sequential":              "go:ops_sequential,parallelism=-1",
		"go:parallelism=1":               "go:parallelism=1",
		"go:parallelism=-1,ops_parallel": "go:parallelism=-1,ops_parallel",
		"xla:cpu":                        "xla:cpu",
	} {
		if got := Resolve(in, "").Config; got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGoParallelismAboveOneIsRefused(t *testing.T) {
	t.Setenv("MASKLAB_ALLOW_GO_PARALLELISM", "")
	_, err := New(Resolve("go:parallelism=2", ""))
	if err == nil || !strings.Contains(err.Error(), "parallelism=2") || !strings.Contains(err.Error(), "GOMAXPROCS") {
		t.Fatalf("want a clear refusal naming the option and the fix, got %v", err)
	}
}

// Check validates a backend configuration without creating it (what "masklab version
// --backend" uses): an unknown name is an error with the closest known name.
func TestCheckNames(t *testing.T) {
	for _, ok := range []string{"go", Default, "go:parallelism=1", "xla:cpu", "xla:cuda", "xla"} {
		if err := (Choice{Config: ok, Source: "override"}).Check(); err != nil && (ok[:2] == "go" || registered("xla")) {
			t.Errorf("Check(%q) = %v, want nil", ok, err)
		}
	}
	for cfg, want := range map[string][]string{
		"gp":      {`backend "gp" (from override)`, `did you mean "go"?`, "known: go", "--backend go"},
		"GO":      {`did you mean "go"?`},
		"xls:cpu": {`backend "xls:cpu"`, `did you mean "xla"?`},
		"foo":     {`backend "foo" (from override)`, "known: go"},
		":cpu":    {`backend ":cpu"`, "known: go"},
	} {
		err := Choice{Config: cfg, Source: "override"}.Check()
		if err == nil {
			t.Errorf("Check(%q) = nil, want an error", cfg)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Check(%q) = %q, want it to contain %q", cfg, err, w)
			}
		}
		if cfg == "foo" && strings.Contains(err.Error(), "did you mean") {
			t.Errorf("Check(foo) suggests a name: %q", err)
		}
	}
	if err := (Choice{Config: "go:parallelism=4", Source: "env"}).Check(); err == nil || !strings.Contains(err.Error(), "GOMAXPROCS") {
		t.Errorf("Check(go:parallelism=4) = %v, want the refusal", err)
	}
}

// A missing PJRT plugin is explained in masklab's words first (what happened, how to
// install a plugin, the Go backend fallback); GoMLX's developer advice ("import _ ...
// autoinstall") comes after, as detail.
func TestXLAErrorExplainsFirst(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv("MASKLAB_XLA_AUTO_INSTALL", "")
	_, err := New(Choice{Config: "xla:cpu", Source: "override"})
	if err == nil {
		t.Skip("an XLA CPU plugin is installed on this machine")
	}
	msg := err.Error()
	if want := `backend "xla:cpu" (from override): no XLA (PJRT) plugin for "cpu" was found`; !strings.HasPrefix(msg, want) {
		t.Errorf("error does not start with %q:\n%s", want, msg)
	}
	install := strings.Index(msg, "MASKLAB_XLA_AUTO_INSTALL=1")
	fallback := strings.Index(msg, "--backend go")
	detail := strings.Index(msg, "Detail from GoMLX: ")
	gomlx := strings.Index(msg, "autoinstall")
	if install < 0 || fallback < 0 || detail < 0 || gomlx < 0 || !(install < detail && fallback < detail && detail < gomlx) {
		t.Errorf("want the install route and the --backend go fallback before GoMLX's detail:\n%s", msg)
	}
}
