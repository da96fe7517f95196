//go:build ((linux && (amd64 || arm64)) || (darwin && arm64)) && !noxla

package backend

// XLA through PJRT: compiled in by default, used only when selected.
import _ "github.com/gomlx/go-xla/compute/xla"
