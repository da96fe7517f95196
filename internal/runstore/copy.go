package runstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/internal/runlock"
)

// ReusedFile, in a run directory that CopyRun filled, names the run directory it was
// copied from (one line): the run was not trained in this sweep, so its wall time is
// not this sweep's cost.
const ReusedFile = "reused_from"

// Finished reports whether the run in dir has finished as a sweep sees it: its
// summary.json says done or diverged (a diverged run is a result, not retrained). A
// failed run, a run without a summary and a summary that does not parse are not
// finished: a sweep trains them again.
func Finished(dir string) bool {
	s, err := ReadSummary(dir)
	return err == nil && (s.Status == StatusDone || s.Status == StatusDiverged)
}

// CopyRun copies the finished run in src (summary status done) into dst, a run
// directory with the same config hash in another sweep directory, instead of training
// dst again: a run's config hash fixes its numbers (same config and seed, same numbers
// on the Go backend). It copies only when dst has not finished (Finished: a failed run
// is replaced) and no live process holds it (CopyRun takes dst's lock while it
// copies), and reports whether it copied. The caller matches the runs (same run id and
// config hash: runstore does not parse configs).
//
// The copy is crash-safe: it is built whole, summary.json and ReusedFile (which records
// src) included, in a hidden temporary sibling of dst, and renamed into place while
// CopyRun holds dst's lock. A copy cut short (an error, a kill) leaves dst as it was,
// never part of src's files next to part of dst's, which a later sweep would resume
// as a wrong finished run; the temporary directory it may leave is removed by the next
// CopyRun of dst. Temporary files in src (hidden ones, *.tmp, the lock) are not copied,
// and a file that vanishes from src while CopyRun walks it is skipped.
func CopyRun(src, dst string) (copied bool, err error) {
	summary, err := os.ReadFile(filepath.Join(src, SummaryFile))
	if err != nil {
		return false, nil // not finished
	}
	var s Summary
	if json.Unmarshal(summary, &s) != nil || s.Status != StatusDone {
		return false, nil
	}
	if Finished(dst) {
		return false, nil
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return false, err
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
	defer func() {
		// After the swap the lock file left with dst's old contents: Release then finds
		// none (or removes one a last heartbeat wrote) and returns nil.
		if rerr := lock.Release(); rerr != nil && err == nil {
			err = fmt.Errorf("releasing the lock of %s: %w", dst, rerr)
		}
	}()
	if Finished(dst) {
		return false, nil // finished while we waited for the lock
	}
	parent, base := filepath.Dir(dst), filepath.Base(dst)
	// Leftovers of a copy cut short: only a holder of dst's lock makes them.
	for _, pat := range []string{".reuse-*", ".old-*"} {
		old, _ := filepath.Glob(filepath.Join(parent, "."+base+pat))
		for _, p := range old {
			if err := os.RemoveAll(p); err != nil {
				return false, err
			}
		}
	}
	suffix := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	tmp := filepath.Join(parent, "."+base+".reuse-"+suffix)
	if err := os.Mkdir(tmp, fsx.DirMode); err != nil {
		return false, fmt.Errorf("reusing run %s: %w", src, err)
	}
	swapped := false
	defer func() {
		if !swapped {
			os.RemoveAll(tmp)
		}
	}()
	if err := copyTree(src, tmp); err != nil {
		return false, fmt.Errorf("reusing run %s: %w", src, err)
	}
	for _, name := range []string{ConfigFile, MetricsFile} {
		if _, err := os.Stat(filepath.Join(tmp, name)); err != nil {
			return false, fmt.Errorf("reusing run %s: it has no %s", src, name)
		}
	}
	if err := fsx.WriteFileAtomic(filepath.Join(tmp, ReusedFile), []byte(abs+"\n")); err != nil {
		return false, err
	}
	if err := fsx.WriteFileAtomic(filepath.Join(tmp, SummaryFile), summary); err != nil {
		return false, err
	}
	select {
	case <-lock.Lost():
		return false, fmt.Errorf("reusing run %s as %s: another process took the run's lock over during the copy", src, dst)
	default:
	}
	// dst cannot be replaced by a rename while it holds files: move it aside, move the
	// copy in, then remove the old contents. A kill between the two renames leaves no
	// dst at all, which a sweep trains from scratch.
	old := filepath.Join(parent, "."+base+".old-"+suffix)
	if err := os.Rename(dst, old); err != nil {
		return false, fmt.Errorf("reusing run %s as %s: %w", src, dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		if rerr := os.Rename(old, dst); rerr != nil {
			return false, fmt.Errorf("reusing run %s as %s: %w (and putting %s back: %v)", src, dst, err, old, rerr)
		}
		return false, fmt.Errorf("reusing run %s as %s: %w", src, dst, err)
	}
	swapped = true
	if err := fsx.SyncDir(parent); err != nil {
		return true, err
	}
	if err := os.RemoveAll(old); err != nil {
		return true, fmt.Errorf("reused run %s as %s, but removing its old contents %s: %w", src, dst, old, err)
	}
	return true, nil
}

// transient reports whether an entry of a run directory (top: in the directory
// itself, not a subdirectory) is not part of the run: a temporary file or directory
// (fsx's hidden ".NAME.tmp-*", ckpt's "ckpt.tmp/", a "*.tmp"), the lock or a stale
// lock moved aside, or ReusedFile and summary.json, which CopyRun writes itself.
func transient(name string, top bool) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") {
		return true
	}
	return top && (name == LockFile || strings.HasPrefix(name, LockFile+".stale-") || name == ReusedFile || name == SummaryFile)
}

// copyTree copies the run files of src into the empty directory dst, each file
// fsynced, then each directory.
func copyTree(src, dst string) error {
	var dirs []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != src {
				return nil // vanished while we walked: not part of the finished run
			}
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			dirs = append(dirs, dst)
			return nil
		}
		if transient(d.Name(), filepath.Dir(rel) == ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			dirs = append(dirs, target)
			return os.Mkdir(target, fsx.DirMode)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		if err := copyFile(path, target); errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
				return nil // vanished between the listing and the open
			}
			return err
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := fsx.SyncDir(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies src to the new file dst and fsyncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fsx.FileMode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("writing %s: fsync: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}
