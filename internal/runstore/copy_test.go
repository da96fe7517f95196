package runstore

import (
	"os"
	"path/filepath"
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
		{"destination failed", "done", StatusFailed, "seed: 1\n"},
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
	t.Run("different configs", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "dst")
		writeRun(t, dst, "seed: 2\n", "")
		copied, err := CopyRun(done, dst)
		if err == nil || copied || !strings.Contains(err.Error(), "differ") {
			t.Fatalf("CopyRun across configs = %v, %v; want an error saying the configs differ", copied, err)
		}
	})
}
