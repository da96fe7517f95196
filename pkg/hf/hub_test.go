package hf

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeHubCache lays out model id's checkpoint (the files of testdata/src) in a hub cache
// as huggingface_hub's hf_hub_download leaves it: blobs/<sha256> with the content,
// snapshots/<commit>/<file> relative symbolic links to them, refs/<ref> with the commit
// hash (no newline). It returns the snapshot directory.
func fakeHubCache(t *testing.T, cache, id, src, commit string, refs ...string) string {
	t.Helper()
	repo := filepath.Join(cache, "models--"+strings.ReplaceAll(id, "/", "--"))
	snap := filepath.Join(repo, "snapshots", commit)
	for _, d := range []string{filepath.Join(repo, "blobs"), filepath.Join(repo, "refs"), snap} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		etag := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(repo, "blobs", etag), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "blobs", etag), filepath.Join(snap, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range refs {
		if err := os.WriteFile(filepath.Join(repo, "refs", r), []byte(commit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return snap
}

func clearHubEnv(t *testing.T) {
	for _, v := range []string{"HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HF_HUB_OFFLINE", "HF_TOKEN"} {
		t.Setenv(v, "")
	}
}

// The cache directory follows huggingface_hub's precedence: HF_HUB_CACHE, then
// $HF_HOME/hub, then $XDG_CACHE_HOME/huggingface/hub, then ~/.cache/huggingface/hub.
func TestHubCacheDir(t *testing.T) {
	clearHubEnv(t)
	home, _ := os.UserHomeDir()
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, filepath.Join(home, ".cache", "huggingface", "hub")},
		{map[string]string{"XDG_CACHE_HOME": "/x"}, "/x/huggingface/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/x", "HF_HOME": "/h"}, "/h/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/x", "HF_HOME": "~/h"}, filepath.Join(home, "h", "hub")},
		{map[string]string{"HF_HOME": "/h", "HF_HUB_CACHE": "/c"}, "/c"},
	} {
		clearHubEnv(t)
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		if got, err := HubCacheDir(); err != nil || got != c.want {
			t.Errorf("%v: %q, %v; want %q", c.env, got, err, c.want)
		}
	}
	for v, want := range map[string]bool{"1": true, "on": true, "YES": true, "true": true, "0": false, "": false, "off": false} {
		t.Setenv("HF_HUB_OFFLINE", v)
		if HubOffline() != want {
			t.Errorf("HF_HUB_OFFLINE=%q: offline %v", v, !want)
		}
	}
}

func TestIsModelID(t *testing.T) {
	for s, want := range map[string]bool{
		"Qwen/Qwen2.5-0.5B": true, "meta-llama/Llama-3.2-1B@main": true, "a/b@0123456789abcdef0123456789abcdef01234567": true,
		"gpt2": false, "runs/x/y": false, "/abs/dir": false, "./a/b": false, "a--b/c": false, "a/..": false, "": false,
	} {
		if IsModelID(s) != want {
			t.Errorf("IsModelID(%q) = %v", s, !want)
		}
	}
}

// A model id resolves through refs/main (or another ref, or a commit hash) to its
// snapshot, which opens as a checkpoint; offline, a model that is not cached is an error
// that names the file it looked for, the cache, and what to do.
func TestResolveModelFromHubCache(t *testing.T) {
	clearHubEnv(t)
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	cache := filepath.Join(home, "hub")
	commit := "3f1e8c0a9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
	snap := fakeHubCache(t, cache, "Qwen/Tiny-Qwen2", filepath.Join("testdata", "qwen2"), commit, "main", "v1")
	for _, id := range []string{"Qwen/Tiny-Qwen2", "Qwen/Tiny-Qwen2@main", "Qwen/Tiny-Qwen2@v1", "Qwen/Tiny-Qwen2@" + commit} {
		dir, err := ResolveModel(id)
		if err != nil || dir != snap {
			t.Fatalf("%s: %q, %v; want %q", id, dir, err, snap)
		}
	}
	dir, _ := ResolveModel("Qwen/Tiny-Qwen2")
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config.Architecture != "Qwen2ForCausalLM" || !ck.Sharded {
		t.Fatalf("opened %s, sharded %v", ck.Config.Architecture, ck.Sharded)
	}

	t.Setenv("HF_HUB_OFFLINE", "1")
	for _, c := range []struct{ id, want string }{
		{"Qwen/Other", filepath.Join(cache, "models--Qwen--Other", "refs", "main")},
		{"Qwen/Tiny-Qwen2@v2", filepath.Join(cache, "models--Qwen--Tiny-Qwen2", "refs", "v2")},
		{"Qwen/Tiny-Qwen2@0123456789abcdef0123456789abcdef01234567", filepath.Join(cache, "models--Qwen--Tiny-Qwen2", "snapshots", "0123456789abcdef0123456789abcdef01234567", "config.json")},
	} {
		_, err := ResolveModel(c.id)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") ||
			!strings.Contains(err.Error(), "huggingface-cli download") {
			t.Errorf("%s: error %v, want one naming %s, HF_HUB_OFFLINE and how to download", c.id, err, c.want)
		}
	}
	if _, err := ResolveModel("not-an-id"); err == nil || !strings.Contains(err.Error(), "not a Hugging Face model id") {
		t.Errorf("not-an-id: %v", err)
	}
}

// Online but unreachable (a closed port as the endpoint), a missing model is an error
// that says where it looked and why the download failed.
func TestResolveModelDownloadFails(t *testing.T) {
	clearHubEnv(t)
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:1")
	_, err := ResolveModel("Qwen/Missing")
	if err == nil || !strings.Contains(err.Error(), "downloading it failed") || !strings.Contains(err.Error(), filepath.Join("models--Qwen--Missing", "refs", "main")) {
		t.Fatalf("error %v", err)
	}
}

// A model id that is not cached downloads through go-huggingface's hub from the
// endpoint (here a local server speaking the Hub's API: /api/models/ID/revision/REV for
// the commit and file list, /ID/resolve/COMMIT/FILE with ETag and X-Repo-Commit for the
// files) into the cache in huggingface_hub's layout: blobs/<etag>, snapshots/<commit>
// links, refs/main; a second resolution, offline, finds it there.
func TestResolveModelDownloads(t *testing.T) {
	clearHubEnv(t)
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	const commit = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
	src := filepath.Join("testdata", "qwen2")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var siblings []string
	for _, e := range entries {
		siblings = append(siblings, `{"rfilename":"`+e.Name()+`"}`)
	}
	siblings = append(siblings, `{"rfilename":"README.md"}`, `{"rfilename":"pytorch_model.bin"}`) // not downloaded
	var served []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/models/tiny/qwen2/revision/main":
			fmt.Fprintf(w, `{"id":"tiny/qwen2","sha":%q,"siblings":[%s]}`, commit, strings.Join(siblings, ","))
		case strings.HasPrefix(r.URL.Path, "/tiny/qwen2/resolve/"+commit+"/"):
			name := strings.TrimPrefix(r.URL.Path, "/tiny/qwen2/resolve/"+commit+"/")
			b, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			sum := sha256.Sum256(b)
			w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
			w.Header().Set("X-Repo-Commit", commit)
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			if r.Method == http.MethodGet {
				mu.Lock()
				served = append(served, name)
				mu.Unlock()
				_, _ = w.Write(b)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("HF_ENDPOINT", srv.URL)
	dir, err := ResolveModel("tiny/qwen2")
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(cache, "models--tiny--qwen2")
	if want := filepath.Join(repo, "snapshots", commit); dir != want {
		t.Fatalf("snapshot %s, want %s", dir, want)
	}
	if ref, err := os.ReadFile(filepath.Join(repo, "refs", "main")); err != nil || string(ref) != commit {
		t.Fatalf("refs/main = %q, %v", ref, err)
	}
	if len(served) != len(entries) {
		t.Errorf("downloaded %v, want the %d checkpoint files only", served, len(entries))
	}
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("%s is not a link into blobs: %v", e.Name(), err)
		}
		if !strings.Contains(filepath.ToSlash(link), "blobs/") {
			t.Errorf("%s links to %s", e.Name(), link)
		}
	}
	srv.Close()
	t.Setenv("HF_HUB_OFFLINE", "1")
	again, err := ResolveModel("tiny/qwen2")
	if err != nil || again != dir {
		t.Fatalf("offline: %q, %v", again, err)
	}
	if _, err := Open(again); err != nil {
		t.Fatal(err)
	}
}
