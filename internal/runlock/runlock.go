// Package runlock is the lock of a run directory: an O_EXCL lock file with a heartbeat,
// broken when stale, so two processes (or Slurm tasks) never train the same run.
package runlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/masklab/masklab/internal/fsx"
)

// Lock timing. A holder refreshes its heartbeat every Heartbeat; another process may
// break a lock whose heartbeat is older than StaleAfter, or at once when the holder is
// on the same host and its process is gone. Variables so tests can shorten them.
var (
	Heartbeat  = 5 * time.Second
	StaleAfter = 60 * time.Second
)

// ErrLocked is returned by Acquire when a live process holds the run.
var ErrLocked = errors.New("run is locked by another process")

// Info is the content of a run's lock file.
type Info struct {
	Host      string `json:"host"`
	PID       int    `json:"pid"`
	Token     string `json:"token"` // unique per acquisition, to tell our lock from a successor's
	Started   int64  `json:"started"`
	Heartbeat int64  `json:"heartbeat"` // unix seconds
}

// Lock is a held run lock. Release it when done; Lost reports (closed channel) when the
// heartbeat found the lock taken over, in which case the holder must stop writing.
type Lock struct {
	path string
	info Info
	stop chan struct{}
	lost chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

var lockCounter struct {
	sync.Mutex
	n int
}

// Hostname is the host name recorded in locks ("unknown" if the system has none).
func Hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// Read reads a lock file.
func Read(path string) (*Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var li Info
	if err := json.Unmarshal(data, &li); err != nil {
		// A lock file cut short by a crash between create and write: treat it as stale
		// once it is old enough (its mtime is the heartbeat).
		st, serr := os.Stat(path)
		if serr != nil {
			return nil, serr
		}
		return &Info{Host: "?", PID: -1, Heartbeat: st.ModTime().Unix()}, nil
	}
	return &li, nil
}

// Stale says whether a lock can be broken: its heartbeat is older than StaleAfter, or
// its process, on this host, no longer exists.
func (li *Info) Stale() bool {
	if time.Since(time.Unix(li.Heartbeat, 0)) > StaleAfter {
		return true
	}
	if li.Host == Hostname() && li.PID > 0 && !processAlive(li.PID) {
		return true
	}
	return false
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Acquire takes the lock file at path, breaking a stale one. The file is
// created with O_EXCL, which is atomic on local and NFS (v3+) filesystems. It returns
// ErrLocked (wrapped, naming the holder) when a live process holds the run.
func Acquire(path string) (*Lock, error) {
	lockCounter.Lock()
	lockCounter.n++
	n := lockCounter.n
	lockCounter.Unlock()
	now := time.Now().Unix()
	info := Info{Host: Hostname(), PID: os.Getpid(), Started: now, Heartbeat: now,
		Token: fmt.Sprintf("%s-%d-%d-%d", Hostname(), os.Getpid(), time.Now().UnixNano(), n)}
	data, _ := json.Marshal(info)
	for attempt := 0; attempt < 3; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fsx.FileMode)
		if err == nil {
			_, werr := f.Write(data)
			serr := f.Sync()
			cerr := f.Close()
			if werr != nil || serr != nil || cerr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("writing lock %s: %v", path, errors.Join(werr, serr, cerr))
			}
			l := &Lock{path: path, info: info, stop: make(chan struct{}), lost: make(chan struct{})}
			l.wg.Add(1)
			go l.heartbeat()
			return l, nil
		}
		if !os.IsExist(err) {
			return nil, fmt.Errorf("creating lock %s: %w", path, err)
		}
		held, rerr := Read(path)
		if rerr != nil {
			if os.IsNotExist(rerr) {
				continue // released meanwhile
			}
			return nil, rerr
		}
		if !held.Stale() {
			return nil, fmt.Errorf("%w: %s pid %d (heartbeat %s ago)", ErrLocked, held.Host, held.PID,
				time.Since(time.Unix(held.Heartbeat, 0)).Round(time.Second))
		}
		// Break the stale lock: move it aside (atomic; only one breaker wins), check that
		// what we moved is the lock we judged stale, then retry the exclusive create.
		aside := fmt.Sprintf("%s.stale-%s", path, info.Token)
		if err := os.Rename(path, aside); err != nil {
			continue
		}
		moved, _ := Read(aside)
		if moved != nil && moved.Token != held.Token && !moved.Stale() {
			// A live successor took it between our read and our rename: give it back.
			_ = os.Rename(aside, path)
			return nil, fmt.Errorf("%w: %s pid %d", ErrLocked, moved.Host, moved.PID)
		}
		os.Remove(aside)
	}
	return nil, fmt.Errorf("%w: could not take %s after 3 attempts", ErrLocked, path)
}

func (l *Lock) heartbeat() {
	defer l.wg.Done()
	t := time.NewTicker(Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			cur, err := Read(l.path)
			if err != nil || cur.Token != l.info.Token {
				l.once.Do(func() { close(l.lost) })
				return
			}
			l.info.Heartbeat = time.Now().Unix()
			data, _ := json.Marshal(l.info)
			if err := fsx.WriteFileAtomic(l.path, data); err != nil {
				continue // try again at the next tick; staleness allows a few misses
			}
		}
	}
}

// Lost is closed when the heartbeat finds that another process took the lock over.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Release stops the heartbeat and removes the lock file if it is still ours.
func (l *Lock) Release() error {
	close(l.stop)
	l.wg.Wait()
	cur, err := Read(l.path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if cur.Token != l.info.Token {
		return nil
	}
	return os.Remove(l.path)
}

// Held tells whether the lock file at path is held by a live process, and by whom.
func Held(path string) (held bool, info *Info) {
	li, err := Read(path)
	if err != nil {
		return false, nil
	}
	return !li.Stale(), li
}
