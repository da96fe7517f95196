//go:build ((linux && (amd64 || arm64)) || (darwin && arm64)) && !noxla

package backend

import (
	// XLA through PJRT: compiled in by default, used only when selected.
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/masklab/masklab/internal/envvars"
)

// go-xla downloads a PJRT plugin at run time by default (with an HTTP client without a
// timeout). masklab never downloads behind the user's back: only with
// MASKLAB_XLA_AUTO_INSTALL=1.
func init() {
	xla.EnableAutoInstall(envvars.Get("MASKLAB_XLA_AUTO_INSTALL") == "1")
}
