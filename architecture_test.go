// Package masklab_test checks the shape of the repository that docs/architecture.md
// describes: which package may import which, and that the docs list every package.
package masklab_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/masklab/masklab/"

// mayImport lists, for each package, the masklab packages it may import besides the
// module's internal/ helpers (data flows config → data → masks → layers → experiments →
// report → plots; slurm, notebook and the CLI sit on top). A package not listed here
// fails the test until its place is decided (and written in docs/architecture.md).
var mayImport = map[string][]string{
	"datasets":                 {},
	"pkg/version":              {},
	"pkg/optim":                {},
	"pkg/backend":              {},
	"pkg/plots":                {},
	"pkg/plots/nbplot":         {"pkg/plots"},
	"pkg/mask":                 {"pkg/backend"},
	"pkg/layers/internal/fast": {},
	"pkg/layers":               {"pkg/mask", "pkg/layers/internal/fast", "pkg/backend"},
	"pkg/hf":                   {"datasets", "pkg/mask", "pkg/layers", "pkg/backend"},
	"pkg/experiments":          {"datasets", "pkg/mask", "pkg/layers", "pkg/optim", "pkg/backend", "pkg/version", "pkg/hf"},
	"pkg/check":                {"datasets", "pkg/mask", "pkg/layers", "pkg/experiments", "pkg/hf", "pkg/backend"},
	"pkg/report":               {"pkg/experiments", "pkg/plots"},
	"pkg/slurm":                {"pkg/experiments"},
	"pkg/notebook":             {"datasets", "pkg/mask", "pkg/layers", "pkg/experiments", "pkg/report", "pkg/plots", "pkg/check", "pkg/hf", "pkg/backend", "pkg/version"},
	"cmd/masklab":              {"*"},
	"scripts/bench":            {"*"},
}

func TestImportsFollowTheArchitecture(t *testing.T) {
	pkgs := map[string]map[string]bool{} // package dir -> masklab imports of its non-test files
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "notebooks") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if pkgs[dir] == nil {
			pkgs[dir] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, module) {
				pkgs[dir][strings.TrimPrefix(p, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	arch, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for dir, imports := range pkgs {
		if !strings.Contains(string(arch), dir+"/") {
			t.Errorf("docs/architecture.md does not describe %s/", dir)
		}
		if strings.HasPrefix(dir, "internal/") {
			for imp := range imports {
				if !strings.HasPrefix(imp, "internal/") {
					t.Errorf("%s imports %s: internal helpers import only each other", dir, imp)
				}
			}
			continue
		}
		allowed, ok := mayImport[dir]
		if !ok {
			t.Errorf("package %s has no place in the architecture yet (mayImport, docs/architecture.md)", dir)
			continue
		}
		for imp := range imports {
			if strings.HasPrefix(imp, "internal/") || (len(allowed) == 1 && allowed[0] == "*") {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || a == imp
			}
			if !ok {
				t.Errorf("%s imports %s, which the architecture does not allow (allowed: %v)", dir, imp, allowed)
			}
		}
	}
}

// The README's Layout section names every top-level package directory.
func TestReadmeLayoutMatchesTree(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "## Layout")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	dirs, _ := filepath.Glob("pkg/*")
	dirs = append(dirs, "cmd/masklab", "datasets", "internal", "notebooks", "sweeps", "scripts", "docs")
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() && !strings.Contains(layout, filepath.ToSlash(d)+"/") {
			t.Errorf("README.md's Layout does not mention %s/", d)
		}
	}
}

// pkg/experiments keeps one job (config, training, evaluation, sweeps, the run store):
// at most 3,000 non-test lines, so that a new feature finds its own package (issue 15).
func TestExperimentsStaysSmall(t *testing.T) {
	files, err := filepath.Glob("pkg/experiments/*.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(string(b), "\n")
	}
	if lines > 3000 {
		t.Errorf("pkg/experiments has %d non-test lines, more than 3,000: move a job into its own package (docs/architecture.md)", lines)
	}
}
