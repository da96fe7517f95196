package runlock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLockStaleAndExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(path); err == nil {
		t.Fatal("second lock acquired while the first is held")
	}
	l.Release()
	// A lock of a dead process on this host is broken at once.
	os.WriteFile(path, []byte(`{"host":"`+Hostname()+`","pid":999999999,"token":"x","heartbeat":`+
		strings.TrimSpace(time.Now().Format("20060102"))[:0]+`1}`), 0o644)
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("stale lock not broken: %v", err)
	}
	l2.Release()
}
