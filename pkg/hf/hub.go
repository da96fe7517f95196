package hf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gomlx/go-huggingface/hub"

	"github.com/masklab/masklab/internal/envvars"
)

// The hub cache follows huggingface_hub's layout (constants.py, file_download.py's
// try_to_load_from_cache), so that masklab and Python programs share one cache:
//
//	$HF_HUB_CACHE (default $HF_HOME/hub; HF_HOME defaults to $XDG_CACHE_HOME/huggingface,
//	XDG_CACHE_HOME to ~/.cache)
//	  models--Qwen--Qwen2.5-0.5B/
//	    refs/main                  the commit hash that "main" points at (no newline)
//	    snapshots/<commit>/...     the checkpoint's files (links into blobs/)
//	    blobs/<etag>
//
// Downloads go through github.com/gomlx/go-huggingface's hub package, which writes the
// same snapshots and blobs (it reads HF_ENDPOINT itself, and keeps the Hub's answer
// about the repository in an info/ folder beside them, which huggingface_hub ignores);
// ResolveModel then writes refs/<revision> as huggingface_hub does, which go-huggingface
// does not, so a later offline run (HF_HUB_OFFLINE=1, or no network) finds the model by
// its id. Only the checkpoint's files are fetched (config, generation config, tokenizer,
// safetensors weights), not pickles, ONNX or GGUF copies.

// modelID matches a Hugging Face model id owner/name (huggingface_hub's
// validate_repo_id: letters, digits, '-', '_', '.'; no '--' or '..'), with an optional
// @revision.
var modelID = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)(?:@([A-Za-z0-9_./-]+))?$`)

// commitHash matches a full git commit hash (a revision that names a snapshot itself).
var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// IsModelID reports whether s has the form of a Hugging Face model id, owner/name or
// owner/name@revision (e.g. Qwen/Qwen2.5-0.5B). A directory of that name wins over the
// hub: callers check for one first.
func IsModelID(s string) bool {
	m := modelID.FindStringSubmatch(s)
	return m != nil && !strings.Contains(s, "--") && !strings.Contains(s, "..")
}

// HubCacheDir returns the hub cache directory as huggingface_hub computes it:
// HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
func HubCacheDir() (string, error) {
	if d := envvars.Get("HF_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	home := envvars.Get("HF_HOME")
	if home == "" {
		cache := envvars.Get("XDG_CACHE_HOME")
		if cache == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("hf: the hub cache: no HF_HUB_CACHE, HF_HOME or XDG_CACHE_HOME, and %w", err)
			}
			cache = filepath.Join(h, ".cache")
		}
		home = filepath.Join(cache, "huggingface")
	}
	home, err := expandHome(home)
	return filepath.Join(home, "hub"), err
}

// expandHome expands a leading ~ (huggingface_hub calls os.path.expanduser).
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("hf: expanding %s: %w", p, err)
	}
	return filepath.Join(h, p[1:]), nil
}

// HubOffline reports whether HF_HUB_OFFLINE forbids downloads (huggingface_hub's
// _is_true: 1, ON, YES or TRUE, any case).
func HubOffline() bool {
	switch strings.ToUpper(strings.TrimSpace(envvars.Get("HF_HUB_OFFLINE"))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// RepoFolder returns the cache folder name of a model repository
// (huggingface_hub's repo_folder_name): "models--" + the id with "/" as "--".
func RepoFolder(id string) string {
	return "models--" + strings.ReplaceAll(id, "/", "--")
}

// CachedModel returns the snapshot directory of model id (owner/name, optionally
// @revision; default main) in the hub cache dir, as try_to_load_from_cache finds it:
// refs/<revision> names the commit (a 40-hex revision is the commit), and
// snapshots/<commit> must hold config.json. The error says what is missing and where.
func CachedModel(cache, id string) (string, error) {
	name, rev, err := splitModelID(id)
	if err != nil {
		return "", err
	}
	repo := filepath.Join(cache, RepoFolder(name))
	commit := rev
	ref := filepath.Join(repo, "refs", filepath.FromSlash(rev))
	if b, err := os.ReadFile(ref); err == nil {
		commit = strings.TrimSpace(string(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("hf: model %s: %w", id, err)
	} else if !commitHash.MatchString(rev) {
		return "", fmt.Errorf("hf: model %s is not in the Hugging Face cache: no %s", id, ref)
	}
	snap := filepath.Join(repo, "snapshots", commit)
	if _, err := os.Stat(filepath.Join(snap, ConfigFile)); err != nil {
		return "", fmt.Errorf("hf: model %s is not in the Hugging Face cache: no %s (revision %s is commit %s)", id, filepath.Join(snap, ConfigFile), rev, commit)
	}
	return snap, nil
}

// splitModelID returns a model id's name and revision (main when not given).
func splitModelID(id string) (name, rev string, err error) {
	if !IsModelID(id) {
		return "", "", fmt.Errorf("hf: %q is not a Hugging Face model id (owner/name or owner/name@revision)", id)
	}
	m := modelID.FindStringSubmatch(id)
	name, rev = m[1]+"/"+m[2], m[3]
	if rev == "" {
		rev = "main"
	}
	return name, rev, nil
}

// ResolveModel returns the local checkpoint directory of model id (owner/name or
// owner/name@revision): its snapshot in the hub cache, downloaded there first when it is
// missing and downloads are allowed (not HF_HUB_OFFLINE; HF_TOKEN authenticates gated
// models). A model that is neither cached nor downloadable is an error that says where
// it looked and how to get it there.
func ResolveModel(id string) (string, error) {
	cache, err := HubCacheDir()
	if err != nil {
		return "", err
	}
	snap, cacheErr := CachedModel(cache, id)
	if cacheErr == nil {
		return snap, nil
	}
	if _, _, err := splitModelID(id); err != nil {
		return "", err
	}
	how := fmt.Sprintf("download it where the network allows (huggingface-cli download %s) and copy %s into %s, or set HF_HUB_CACHE or HF_HOME to a cache that has it",
		strings.SplitN(id, "@", 2)[0], RepoFolder(strings.SplitN(id, "@", 2)[0]), cache)
	if HubOffline() {
		return "", fmt.Errorf("%w; HF_HUB_OFFLINE is set, so nothing is downloaded: %s", cacheErr, how)
	}
	snap, err = downloadModel(cache, id)
	if err != nil {
		return "", fmt.Errorf("%w; downloading it failed (%v): %s", cacheErr, err, how)
	}
	return snap, nil
}

// checkpointFiles are the files ResolveModel downloads when the repository has them:
// the config, generation defaults, tokenizer and weights (safetensors only).
var checkpointFiles = map[string]bool{
	ConfigFile: true, GenerationConfigFile: true, WeightsFile: true, IndexFile: true,
	"tokenizer.json": true, "tokenizer_config.json": true, "special_tokens_map.json": true,
	"added_tokens.json": true, "vocab.json": true, "merges.txt": true, "tokenizer.model": true,
	"chat_template.jinja": true, "vocab.txt": true,
}

// downloadModel downloads the checkpoint files of model id into the cache with
// go-huggingface's hub (shards of model.safetensors.index.json included) and records
// refs/<revision>.
func downloadModel(cache, id string) (string, error) {
	name, rev, err := splitModelID(id)
	if err != nil {
		return "", err
	}
	repo := hub.New(name).WithCacheDir(cache).WithRevision(rev)
	repo.Verbosity = 0 // no progress lines on stdout
	if tok := envvars.Get("HF_TOKEN"); tok != "" {
		repo = repo.WithAuth(tok)
	}
	var files []string
	for f, err := range repo.IterFileNames() {
		if err != nil {
			return "", err
		}
		if checkpointFiles[f] || (strings.HasPrefix(f, "model-") && strings.HasSuffix(f, ".safetensors")) {
			files = append(files, f)
		}
	}
	if len(files) == 0 || !containsString(files, ConfigFile) {
		return "", fmt.Errorf("the repository %s has no %s", name, ConfigFile)
	}
	paths, err := repo.DownloadFiles(files...)
	if err != nil {
		return "", err
	}
	snap := filepath.Dir(paths[0])
	for i, f := range files {
		if !strings.Contains(f, "/") {
			snap = filepath.Dir(paths[i])
			break
		}
	}
	if !commitHash.MatchString(rev) {
		ref := filepath.Join(cache, RepoFolder(name), "refs", filepath.FromSlash(rev))
		if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(ref, []byte(filepath.Base(snap)), 0o644); err != nil {
			return "", err
		}
	}
	return snap, nil
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
