// Package envvars is the table of every environment variable that changes what masklab
// does, and the one way its packages read them (Get refuses a variable not in the table).
package envvars

import (
	"fmt"
	"os"
)

// Var is one environment variable: its name, the package that reads it, and its effect.
type Var struct {
	Name, Package, Effect string
}

// Table lists every variable masklab's Go code reads. docs/environment.md shows the same
// table (a test keeps them equal); `masklab version --verbose` prints it with the values
// set in the current environment.
var Table = []Var{
	{"GOMLX_BACKEND", "pkg/backend", "the backend when no --backend is given; it wins over a config's backend: (go, xla:cpu, xla:cuda)"},
	{"MASKLAB_ALLOW_GO_PARALLELISM", "pkg/backend", "1 allows go:parallelism=N with N > 1 (refused otherwise: slower than -1)"},
	{"MASKLAB_XLA_AUTO_INSTALL", "pkg/backend", "1 lets GoMLX download a missing XLA PJRT plugin (never done otherwise)"},
	{"MASKLAB_PLAIN_GRADIENTS", "pkg/layers", "1 builds models from stock GoMLX ops and gradients instead of masklab's fast path (same values; the benchmarks' baseline)"},
	{"MASKLAB_CJK_FONT", "pkg/plots", "path of a TrueType/OpenType font with CJK glyphs for figure labels (none: no CJK glyphs; default: searched in the system's font folders)"},
	{"MASKLAB_QUICK", "pkg/notebook", "1 runs the notebooks in quick mode (a short smoke run each, what the tests run)"},
	{"MASKLAB_RUNS", "pkg/notebook", "the folder where notebook sweeps keep their runs (default: runs/notebooks under the repository)"},
	{"MASKLAB_WORKERS", "pkg/notebook", "how many runs of a notebook's sweep train at once (default 1; scripts/reproduce.sh --workers N sets it)"},
	{"HF_HUB_CACHE", "pkg/hf", "the Hugging Face hub cache where model ids (init_from, generate) are looked up and downloaded (default: $HF_HOME/hub)"},
	{"HF_HOME", "pkg/hf", "Hugging Face's home; the hub cache is $HF_HOME/hub unless HF_HUB_CACHE is set (default: $XDG_CACHE_HOME/huggingface)"},
	{"XDG_CACHE_HOME", "pkg/hf", "the default HF_HOME is $XDG_CACHE_HOME/huggingface (default: ~/.cache)"},
	{"HF_HUB_OFFLINE", "pkg/hf", "1 (or on, yes, true) never downloads a model id: one missing from the hub cache is an error saying where it looked"},
	{"HF_TOKEN", "pkg/hf", "the access token sent when downloading a model id (gated models such as Llama)"},
	{"HF_ENDPOINT", "pkg/hf", "the hub downloads come from (default https://huggingface.co); read by go-huggingface's hub package"},
	{"MASKLAB_TRACE", "cmd/masklab", "non-empty: an internal error prints its Go panic trace instead of one line"},
}

// Get returns the value of the environment variable name, which must be in Table (a
// programming error otherwise, so that no variable is read without being documented).
func Get(name string) string {
	for _, v := range Table {
		if v.Name == name {
			return os.Getenv(name)
		}
	}
	panic(fmt.Sprintf("envvars: %s is not in the table of masklab's environment variables", name))
}
