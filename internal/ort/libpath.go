package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// VersionPinned is the onnxruntime-node release scripts/deps.sh installs.
const VersionPinned = "1.30.0"

// CacheDir is the folder scripts/deps.sh installs into:
// $BSNNCTL_CACHE, else $XDG_CACHE_HOME/bsnnctl, else $HOME/.cache/bsnnctl.
func CacheDir() (string, error) {
	if d := os.Getenv("BSNNCTL_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "bsnnctl"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache folder: %w", err)
	}
	return filepath.Join(home, ".cache", "bsnnctl"), nil
}

// LibPath finds libonnxruntime.so.1: $BSNNCTL_ORT_LIB if set (it must
// exist), else the copy scripts/deps.sh put in CacheDir(). The error wraps
// ErrUnavailable.
func LibPath() (string, error) {
	if p := os.Getenv("BSNNCTL_ORT_LIB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: BSNNCTL_ORT_LIB: %v", ErrUnavailable, err)
		}
		return p, nil
	}
	cache, err := CacheDir()
	if err != nil {
		return "", fmt.Errorf("%w: onnxruntime: %v", ErrUnavailable, err)
	}
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if runtime.GOOS != "linux" || arch == "" {
		return "", fmt.Errorf("%w: onnxruntime: no npm onnxruntime-node CPU library for %s/%s; set BSNNCTL_ORT_LIB",
			ErrUnavailable, runtime.GOOS, runtime.GOARCH)
	}
	dir := filepath.Join(cache, "ort", "node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", arch)
	p := filepath.Join(dir, "libonnxruntime.so.1")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p, nil
	}
	// Accept a versioned file name too (libonnxruntime.so.1.30.0).
	if m, _ := filepath.Glob(filepath.Join(dir, "libonnxruntime.so.1.*")); len(m) > 0 {
		return m[len(m)-1], nil
	}
	return "", fmt.Errorf("%w: onnxruntime: %s not found; run scripts/deps.sh or set BSNNCTL_ORT_LIB",
		ErrUnavailable, p)
}
