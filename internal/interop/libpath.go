package interop

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/internal/onnxruntime"
)

// ORTVersionPinned is the onnxruntime-node release scripts/deps.sh installs.
const ORTVersionPinned = onnxruntime.PinnedVersion

// CacheDir is the folder scripts/deps.sh installs into:
// $BSNNCTL_CACHE, else $XDG_CACHE_HOME/bsnnctl, else $HOME/.cache/bsnnctl.
func CacheDir() (string, error) { return onnxruntime.CacheDir() }

// ORTLibPath finds libonnxruntime.so.1 as package internal/onnxruntime
// does: $BSNNCTL_ORT_LIB if set (it must exist), else the copy
// scripts/deps.sh put in CacheDir(). The error wraps ErrUnavailable.
func ORTLibPath() (string, error) {
	p, err := onnxruntime.LibPath()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return p, nil
}
