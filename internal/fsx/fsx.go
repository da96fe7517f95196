// Package fsx holds masklab's crash-safe file writes: a file is replaced atomically
// (temp file, fsync, rename, directory fsync), so a reader or a crash sees old or new.
package fsx

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// WriteFileAtomic writes data to path so that a reader (or a crash) sees either the old
// content or the new one, never a mix: it writes a temp file in the same directory,
// fsyncs it, renames it over path and fsyncs the directory.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: fsync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	ok = true
	return SyncDir(dir)
}

// FileMode and DirMode are the modes masklab creates files and directories with; the
// process's umask applies, as with every other tool (0644 and 0755 under the usual
// umask 022), so collaborators on a shared filesystem can read results.
const (
	FileMode os.FileMode = 0o666
	DirMode  os.FileMode = 0o777
)

var tempCounter atomic.Uint64

// CreateTemp creates a new file in dir named prefix followed by a unique suffix, like
// os.CreateTemp but with FileMode (so the umask decides its permissions, not a fixed
// 0600): renamed over a result, it must be as readable as any file the user creates.
func CreateTemp(dir, prefix string) (*os.File, error) {
	for {
		name := filepath.Join(dir, fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), tempCounter.Add(1)))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
		if os.IsExist(err) {
			continue
		}
		return f, err
	}
}

// WriteJSONAtomic writes v as indented JSON with WriteFileAtomic.
func WriteJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(data, '\n'))
}

// SyncDir fsyncs a directory (after a rename in it), ignoring filesystems that refuse.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some filesystems refuse fsync on directories; the rename is still atomic there.
	_ = d.Sync()
	return nil
}

// SyncTree fsyncs every file of dir and then dir itself.
func SyncTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return SyncDir(dir)
}
