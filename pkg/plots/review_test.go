package plots

import (
	"os"
	"path/filepath"
	"testing"
)

// reviewDir is where tests also write their figures for a human to look at
// (MASKLAB_PLOTS_REVIEW=/tmp/plots-review go test ./pkg/plots/); unset, they go to
// the test's temporary directory only.
func reviewDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("MASKLAB_PLOTS_REVIEW"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// saveAll writes f in every format under dir/name.{png,svg,pdf} and returns the paths.
func saveAll(t *testing.T, f Figure, dir, name string, size Size) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for _, ext := range Formats {
		p := filepath.Join(dir, name+"."+ext)
		if err := Save(f, p, size); err != nil {
			t.Fatalf("Save(%s): %v", p, err)
		}
		paths[ext] = p
	}
	return paths
}
