// Package version reports what masklab is: its own commit and the versions of the
// libraries that compute its numbers, for run provenance and "masklab version".
package version

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
)

// Module is masklab's module path.
const Module = "github.com/masklab/masklab"

// Info is the provenance of a binary.
type Info struct {
	Masklab string `json:"masklab"` // module version or "devel"
	Commit  string `json:"commit"`  // VCS commit, with "+dirty" when modified; "" when unknown
	GoMLX   string `json:"gomlx"`
	Compute string `json:"compute"`
	GoXLA   string `json:"go_xla"`
	Go      string `json:"go"`
	SIMD    bool   `json:"simd"` // built with GOEXPERIMENT=simd
}

var (
	once sync.Once
	info Info
)

// Get returns the build's provenance. The commit comes from the binary's build info
// when it was stamped (go build with VCS stamping), and otherwise from git in the
// working directory, as with "go run" and tests.
func Get() Info {
	once.Do(func() {
		info = Info{Masklab: "devel"}
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		info.Go = bi.GoVersion
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Masklab = v
		}
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
			switch d.Path {
			case "github.com/gomlx/gomlx":
				info.GoMLX = v
			case "github.com/gomlx/compute":
				info.Compute = v
			case "github.com/gomlx/go-xla":
				info.GoXLA = v
			}
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "GOEXPERIMENT":
				info.SIMD = strings.Contains(s.Value, "simd")
			}
		}
		if info.Commit == "" {
			info.Commit, modified = gitCommit()
		}
		if modified && info.Commit != "" {
			info.Commit += "+dirty"
		}
	})
	return info
}

func gitCommit() (string, bool) {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), len(strings.TrimSpace(string(st))) > 0
}
