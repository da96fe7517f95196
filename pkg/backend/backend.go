// Package backend chooses the GoMLX compute backend for masklab in one place.
//
// Precedence: an explicit override (command line or notebook), then $GOMLX_BACKEND,
// then a config file's value, then the default: the embedded pure-Go backend with
// options that are safe on small machines ("go:parallelism=-1": unbounded workers, the
// threads bounded by GOMAXPROCS; docs/performance.md tells why).
//
// XLA (PJRT) is used only when asked for. Nothing is downloaded unless the user opts in
// with MASKLAB_XLA_AUTO_INSTALL=1; otherwise a missing plugin is a clear error that
// names the install route and the GOMLX_BACKEND=go fallback.
package backend

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"slices"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // the embedded pure-Go backend
	"github.com/masklab/masklab/internal/envvars"
	"github.com/masklab/masklab/internal/textutil"
)

// Default is the backend configuration used when nothing else is chosen.
const Default = "go:parallelism=-1"

// EnvVar is GoMLX's own environment variable for the backend configuration.
const EnvVar = compute.ConfigEnvVar

// Choice is a resolved backend configuration and where it came from.
type Choice struct {
	Config string // e.g. "go:parallelism=-1", "xla:cpu"
	Source string // "override", "env", "config" or "default"
}

// Resolve applies masklab's precedence: override, then $GOMLX_BACKEND, then the
// config file's value, then Default. Empty strings count as unset.
func Resolve(override, fromConfig string) Choice {
	if s := strings.TrimSpace(override); s != "" {
		return Choice{normalize(s), "override"}
	}
	if s := strings.TrimSpace(envvars.Get(EnvVar)); s != "" {
		return Choice{normalize(s), "env"}
	}
	if s := strings.TrimSpace(fromConfig); s != "" {
		return Choice{normalize(s), "config"}
	}
	return Choice{Default, "default"}
}

// normalize gives the Go backend the safe worker-pool option (parallelism=-1) when none
// is given.
func normalize(cfg string) string {
	name, opts, _ := strings.Cut(cfg, ":")
	if name != "go" {
		return cfg
	}
	if _, ok := goParallelism(opts); ok {
		return cfg
	}
	if strings.TrimSpace(opts) == "" {
		return Default
	}
	return cfg + ",parallelism=-1"
}

// goParallelism returns the value of the Go backend's "parallelism" option, if set.
func goParallelism(opts string) (string, bool) {
	val, found := "", false
	for _, o := range strings.Split(opts, ",") {
		if k, v, ok := strings.Cut(o, "="); ok && strings.TrimSpace(k) == "parallelism" {
			val, found = strings.TrimSpace(v), true
		}
	}
	return val, found
}

// checkGoParallelism refuses a bounded worker pool of more than one worker, which has
// frozen runs and is slower than -1 (measured in docs/performance.md). -1 (unbounded;
// GOMAXPROCS bounds the threads) and 1 are safe and give the same numbers.
func checkGoParallelism(c Choice) error {
	name, opts, _ := strings.Cut(c.Config, ":")
	if name != "go" || envvars.Get("MASKLAB_ALLOW_GO_PARALLELISM") == "1" {
		return nil
	}
	v, _ := goParallelism(opts)
	switch v {
	case "", "-1", "0", "1":
		return nil
	}
	return fmt.Errorf("backend %q (from %s): parallelism=%s has frozen runs and is slower than -1; "+
		"use parallelism=-1 and bound the threads with GOMAXPROCS=N (set MASKLAB_ALLOW_GO_PARALLELISM=1 to try anyway)",
		c.Config, c.Source, v)
}

// Name is the backend name without options ("go", "xla").
func (c Choice) Name() string {
	name, _, _ := strings.Cut(c.Config, ":")
	return name
}

// Check reports a configuration that cannot work, without creating the backend (which
// for XLA loads a plugin): a backend name this binary does not have, with the closest
// known one, or a Go worker pool masklab refuses. New calls it first.
func (c Choice) Check() error {
	name := c.Name()
	if !registered(name) {
		known := slices.Sorted(slices.Values(compute.List()))
		msg := fmt.Sprintf("backend %q (from %s): no backend %q in this binary", c.Config, c.Source, name)
		if s := textutil.Closest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		hint := "Use --backend go (or GOMLX_BACKEND=go) for the embedded pure-Go backend."
		if name == "xla" {
			hint = "This binary was built with -tags noxla. " + xlaHint
		}
		return fmt.Errorf("%s; known: %s (options after a colon, e.g. go:parallelism=-1, xla:cpu, xla:cuda). %s",
			msg, strings.Join(known, ", "), hint)
	}
	return checkGoParallelism(c)
}

var (
	mu    sync.Mutex
	cache = map[string]compute.Backend{}
)

// New returns a backend for the configuration, shared between callers with the same
// configuration (backends are expensive to create and safe to share).
func New(c Choice) (compute.Backend, error) {
	mu.Lock()
	defer mu.Unlock()
	if b, ok := cache[c.Config]; ok {
		return b, nil
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	b, err := newBackend(c.Config)
	if err != nil {
		if c.Name() != "go" { // xla and its aliases (hlo, shlo, stablehlo)
			return nil, xlaError(c, err)
		}
		return nil, fmt.Errorf("backend %q (from %s): %w", c.Config, c.Source, err)
	}
	cache[c.Config] = b
	return b, nil
}

// newBackend creates a backend, turning a panic inside the backend's constructor into an error.
// The Go backend prints "Go backend: parallelism set to N" on stdout when given options;
// stdout belongs to masklab's output (ASCII masks, tables), so it is silenced meanwhile.
func newBackend(cfg string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	if devNull, derr := os.OpenFile(os.DevNull, os.O_WRONLY, 0); derr == nil {
		saved := os.Stdout
		os.Stdout = devNull
		defer func() {
			os.Stdout = saved
			devNull.Close()
		}()
	}
	return compute.NewWithConfig(cfg)
}

func registered(name string) bool {
	for _, n := range compute.List() {
		if n == name {
			return true
		}
	}
	return false
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

const xlaHint = "XLA needs a PJRT plugin: install one (CPU: run once with MASKLAB_XLA_AUTO_INSTALL=1 to let go-xla " +
	"download its CPU plugin into ~/.local/lib/go-xla; CUDA: install a jax-cuda PJRT plugin and point " +
	"PJRT_PLUGIN_LIBRARY_PATH at the directory holding pjrt_c_api_cuda_plugin.so), " +
	"or run on the embedded pure-Go backend: --backend go (or GOMLX_BACKEND=go)."

// xlaError explains a failure to start XLA in masklab's terms first: what happened, how
// to install a plugin, the Go fallback. GoMLX's own message, written for developers
// embedding it ("import _ .../autoinstall"), follows as detail.
func xlaError(c Choice, err error) error {
	detail := firstLine(err)
	what := "XLA did not start"
	if strings.Contains(detail, "no plugins found") || strings.Contains(detail, "not found: available plugins") {
		_, opts, _ := strings.Cut(c.Config, ":")
		plugin, _, _ := strings.Cut(opts, ",")
		if plugin == "" {
			what = "no XLA (PJRT) plugin was found"
		} else {
			what = fmt.Sprintf("no XLA (PJRT) plugin for %q was found", plugin)
		}
		what += " (go-xla searches the directories in PJRT_PLUGIN_LIBRARY_PATH when it is set, otherwise " +
			"~/.local/lib/go-xla, /usr/local/lib/go-xla and the system's library paths)"
	}
	return fmt.Errorf("backend %q (from %s): %s. %s Detail from GoMLX: %s", c.Config, c.Source, what, xlaHint, detail)
}

// Must is New for the default resolution (override and config empty); it panics on error.
// For tests and examples only.
func Must() compute.Backend {
	b, err := New(Resolve("", ""))
	if err != nil {
		panic(err)
	}
	return b
}
