package runstore

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/masklab/masklab/internal/runlock"
)

// writeRun writes a run directory with a config, metrics, a checkpoint file and
// (status != "") a summary.
func writeRun(t *testing.T, dir, config, status string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "ckpt"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{ConfigFile: config, MetricsFile: `{"step":10,"valid_loss":1.5}` + "\n", "ckpt/weights.bin": "w-" + dir}
	if status != "" {
		files[SummaryFile] = `{"status":"` + status + `","step":10,"final":{"valid_loss":1.5},"best":{},"provenance":{"wall_seconds":12}}`
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCopyRunCopiesAFinishedRunIntoAPendingOne(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "a", "id1"), filepath.Join(root, "b", "id1")
	writeRun(t, src, "seed: 1\n", StatusDone)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	// A pending run with a partial checkpoint and a stray file: both replaced.
	if err := os.WriteFile(filepath.Join(dst, ConfigFile), []byte("seed: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "stray"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	copied, err := CopyRun(src, dst)
	if err != nil || !copied {
		t.Fatalf("CopyRun = %v, %v; want a copy", copied, err)
	}
	if state, step, _ := StateOf(dst); state != StatusDone || step != 10 {
		t.Errorf("dst state %s at step %d, want done at 10", state, step)
	}
	if w, err := os.ReadFile(filepath.Join(dst, "ckpt", "weights.bin")); err != nil || string(w) != "w-"+src {
		t.Errorf("checkpoint not copied: %q, %v", w, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "stray")); !os.IsNotExist(err) {
		t.Errorf("dst's own files were not replaced: stray %v", err)
	}
	if r, err := os.ReadFile(filepath.Join(dst, ReusedFile)); err != nil || strings.TrimSpace(string(r)) != src {
		t.Errorf("%s = %q, %v; want %s", ReusedFile, r, err, src)
	}
	if _, err := os.Stat(filepath.Join(dst, LockFile)); !os.IsNotExist(err) {
		t.Errorf("the lock was not released: %v", err)
	}
	// Done now: a second copy does nothing.
	if copied, err := CopyRun(src, dst); err != nil || copied {
		t.Errorf("second CopyRun = %v, %v; want no copy", copied, err)
	}
}

func TestCopyRunLeavesWhatItMayNotTouch(t *testing.T) {
	root := t.TempDir()
	done := filepath.Join(root, "done")
	writeRun(t, done, "seed: 1\n", StatusDone)
	for _, tc := range []struct {
		name   string
		src    string
		status string // the destination's own summary, "" for none
		config string
	}{
		{"source not finished", "pending", "", "seed: 1\n"},
		{"source diverged", "diverged", "", "seed: 1\n"},
		{"destination finished", "done", StatusDone, "seed: 1\n"},
		{"destination diverged", "done", StatusDiverged, "seed: 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := done
			switch tc.src {
			case "pending":
				src = filepath.Join(t.TempDir(), "src")
				writeRun(t, src, tc.config, "")
			case "diverged":
				src = filepath.Join(t.TempDir(), "src")
				writeRun(t, src, tc.config, StatusDiverged)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			writeRun(t, dst, tc.config, tc.status)
			before, _ := os.ReadFile(filepath.Join(dst, "ckpt", "weights.bin"))
			copied, err := CopyRun(src, dst)
			if err != nil || copied {
				t.Fatalf("CopyRun = %v, %v; want no copy and no error", copied, err)
			}
			if after, _ := os.ReadFile(filepath.Join(dst, "ckpt", "weights.bin")); string(after) != string(before) {
				t.Errorf("dst changed: %q -> %q", before, after)
			}
		})
	}
	t.Run("destination being trained", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "dst")
		writeRun(t, dst, "seed: 1\n", "")
		l, err := runlock.Acquire(filepath.Join(dst, LockFile))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		if copied, err := CopyRun(done, dst); err != nil || copied {
			t.Fatalf("CopyRun into a locked run = %v, %v; want no copy and no error", copied, err)
		}
	})
}

// A failed run is not finished (a sweep trains it again): a finished copy replaces it.
func TestCopyRunReplacesAFailedRun(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "a", "id1"), filepath.Join(root, "b", "id1")
	writeRun(t, src, "seed: 1\n", StatusDone)
	writeRun(t, dst, "seed: 1\n", StatusFailed)
	copied, err := CopyRun(src, dst)
	if err != nil || !copied {
		t.Fatalf("CopyRun over a failed run = %v, %v; want a copy", copied, err)
	}
	if state, _, _ := StateOf(dst); state != StatusDone {
		t.Errorf("dst state %s, want done", state)
	}
	if w, err := os.ReadFile(filepath.Join(dst, "ckpt", "weights.bin")); err != nil || string(w) != "w-"+src {
		t.Errorf("checkpoint not replaced: %q, %v", w, err)
	}
}

// A copy cut short (here: a file CopyRun cannot copy, met after the checkpoint and
// before metrics.jsonl) leaves dst exactly as it was: not src's checkpoint next to
// dst's metrics (or none), which a later sweep would resume as a wrong finished run.
// Nothing is left beside dst.
func TestCopyRunCutShortLeavesTheDestinationAsItWas(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "a", "id1"), filepath.Join(root, "b", "id1")
	writeRun(t, src, "seed: 1\n", StatusDone)
	if err := os.Symlink("/nonexistent", filepath.Join(src, "link")); err != nil { // walked after ckpt/ and config.yaml
		t.Fatal(err)
	}
	writeRun(t, dst, "seed: 1\n", "")
	if err := os.WriteFile(filepath.Join(dst, MetricsFile), []byte(`{"step":4,"valid_loss":3}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, dst)
	copied, err := CopyRun(src, dst)
	if err == nil || copied || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("CopyRun = %v, %v; want an error naming the file it cannot copy", copied, err)
	}
	after := readTree(t, dst)
	if !maps.Equal(before, after) {
		t.Errorf("dst changed by a copy cut short:\nbefore %q\nafter  %q", before, after)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("left beside dst: %v", ents)
	}
}

// What a copy killed before its rename leaves (a hidden temporary directory beside
// dst, holding a complete summary.json) is not dst: dst stays pending, and the next
// CopyRun removes the leftover and copies.
func TestCopyRunRemovesTheLeftoversOfAKilledCopy(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "a", "id1"), filepath.Join(root, "b", "id1")
	writeRun(t, src, "seed: 1\n", StatusDone)
	writeRun(t, dst, "seed: 1\n", "")
	left := filepath.Join(root, "b", ".id1.reuse-1-2")
	writeRun(t, left, "seed: 1\n", StatusDone)
	if state, _, _ := StateOf(dst); state != StatusPending {
		t.Fatalf("dst is %s beside a killed copy, want pending", state)
	}
	if copied, err := CopyRun(src, dst); err != nil || !copied {
		t.Fatalf("CopyRun = %v, %v; want a copy", copied, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 || ents[0].Name() != "id1" {
		t.Errorf("%s holds %v, want id1 only", filepath.Dir(dst), ents)
	}
}

// Temporary files of src (an evaluation being written, a checkpoint being replaced)
// are not part of the run and are not copied.
func TestCopyRunSkipsTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "a", "id1"), filepath.Join(root, "b", "id1")
	writeRun(t, src, "seed: 1\n", StatusDone)
	for _, name := range []string{".eval-1a2b.json.tmp-12-3", "eval-1a2b.tmp", "ckpt.tmp/weights.bin", "lock.stale-x", "ckpt/.w.tmp-1-1"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if copied, err := CopyRun(src, dst); err != nil || !copied {
		t.Fatalf("CopyRun = %v, %v; want a copy", copied, err)
	}
	got := readTree(t, dst)
	want := []string{"ckpt/weights.bin", ConfigFile, MetricsFile, ReusedFile, SummaryFile}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("dst holds %q, want %q", keys, want)
	}
}

// readTree returns every file under dir (slash paths relative to dir) with its content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
