package runstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/internal/runlock"
)

// ReusedFile, in a run directory that CopyRun filled, names the run directory it was
// copied from (one line): the run was not trained in this sweep, so its wall time is
// not this sweep's cost.
const ReusedFile = "reused_from"

// CopyRun copies the finished run in src (summary status done) into dst, a run
// directory with the same config hash in another sweep directory, instead of training
// dst again: a run's config hash fixes its numbers (same config and seed, same numbers
// on the Go backend). It copies only when dst has not finished (no summary.json) and
// no live process holds it (CopyRun takes dst's lock while it copies), and reports
// whether it copied. dst's own files are replaced, summary.json is written last (a
// copy cut short leaves dst pending, to be copied or trained again), and ReusedFile
// records src. The caller matches the run ids; CopyRun checks that both directories
// hold the same config.yaml.
func CopyRun(src, dst string) (bool, error) {
	if s, err := ReadSummary(src); err != nil || s.Status != StatusDone {
		return false, nil
	}
	if _, err := os.Stat(filepath.Join(dst, SummaryFile)); err == nil {
		return false, nil
	}
	a, err := os.ReadFile(filepath.Join(src, ConfigFile))
	if err != nil {
		return false, err
	}
	if b, err := os.ReadFile(filepath.Join(dst, ConfigFile)); err == nil && string(a) != string(b) {
		return false, fmt.Errorf("reusing run %s as %s: their %s differ (not the same run)", src, dst, ConfigFile)
	}
	if err := os.MkdirAll(dst, fsx.DirMode); err != nil {
		return false, err
	}
	lock, err := runlock.Acquire(filepath.Join(dst, LockFile))
	if errors.Is(err, runlock.ErrLocked) {
		return false, nil // being trained: leave it to its process
	} else if err != nil {
		return false, err
	}
	defer lock.Release()
	if _, err := os.Stat(filepath.Join(dst, SummaryFile)); err == nil {
		return false, nil // finished while we waited for the lock
	}
	old, err := os.ReadDir(dst)
	if err != nil {
		return false, err
	}
	for _, e := range old {
		if e.Name() != LockFile {
			if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
				return false, err
			}
		}
	}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." || rel == LockFile || rel == SummaryFile || rel == ReusedFile {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), fsx.DirMode)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("reusing run %s: %s is not a regular file", src, path)
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
	if err != nil {
		return false, err
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return false, err
	}
	if err := fsx.WriteFileAtomic(filepath.Join(dst, ReusedFile), []byte(abs+"\n")); err != nil {
		return false, err
	}
	if err := fsx.SyncTree(dst); err != nil {
		return false, err
	}
	summary, err := os.ReadFile(filepath.Join(src, SummaryFile))
	if err != nil {
		return false, err
	}
	return true, fsx.WriteFileAtomic(filepath.Join(dst, SummaryFile), summary)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fsx.FileMode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
