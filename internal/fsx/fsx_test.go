package fsx

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Results are written with the umask's permissions (0644 under umask 022), not 0600:
// on a cluster, collaborators must be able to read them.
func TestWriteFileAtomicFollowsUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.json")
	if err := WriteJSONAtomic(path, map[string]int{"step": 1}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("{}\n")); err != nil { // replacing keeps the mode rule
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o644 {
		t.Errorf("mode %o, want 644 under umask 022", got)
	}
	if b, _ := os.ReadFile(path); string(b) != "{}\n" {
		t.Errorf("content %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temp files left behind: %v", ents)
	}
}
