package envvars

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/environment.md shows exactly the table, and no Go file outside this package (and
// the benchmark tool in scripts/bench) reads the environment by itself.
func TestTableIsDocumentedAndTheOnlyReader(t *testing.T) {
	doc, err := os.ReadFile("../../docs/environment.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Table {
		row := "| `" + v.Name + "` | " + v.Package + " | " + v.Effect + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/environment.md lacks the row %s", row)
		}
	}
	read := regexp.MustCompile(`os\.(Getenv|LookupEnv|Environ)\(`)
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || path == "../../scripts/bench" || path == "../../internal/envvars") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if read.MatchString(line) && !strings.Contains(line, "os.LookupEnv(e.Name)") {
				t.Errorf("%s:%d reads the environment outside internal/envvars: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGetRefusesUnknownNames(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Get of a name not in the table did not panic")
		}
	}()
	Get("MASKLAB_NOT_A_VARIABLE")
}
