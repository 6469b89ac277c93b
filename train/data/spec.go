package data

import (
	"fmt"
	"os"
	"strings"
)

// Kind names a dataset format, as written before the colon of a --data SPEC.
type Kind string

// The dataset kinds accepted by ParseSpec.
const (
	FashionMNIST Kind = "fashion-mnist"
	MNIST        Kind = "mnist"
	CIFAR10      Kind = "cifar10"
	CIFAR100     Kind = "cifar100"
	Folder       Kind = "folder"

	// Event-camera datasets (see OpenEvents): samples are frame sequences, not images.
	NMNIST     Kind = "nmnist"
	DVSGesture Kind = "dvsgesture"
	CIFAR10DVS Kind = "cifar10dvs"
)

// IsEvent reports whether k is an event-camera dataset, read with OpenEvents rather than
// Open.
func (k Kind) IsEvent() bool { return k == NMNIST || k == DVSGesture || k == CIFAR10DVS }

// DefaultFashionMNISTDir is where Debian's dataset-fashion-mnist installs the IDX files.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTDir is where `--data fashion-mnist` (no DIR) looks for the IDX files:
// $BSNNCTL_FASHION_MNIST, else DefaultFashionMNISTDir.
func FashionMNISTDir() string {
	if d := os.Getenv("BSNNCTL_FASHION_MNIST"); d != "" {
		return d
	}
	return DefaultFashionMNISTDir
}

// SpecForms lists the accepted --data SPEC forms, for help texts and error messages.
const SpecForms = "fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR, folder:DIR, nmnist:DIR, dvsgesture:DIR, cifar10dvs:DIR"

// Spec is a parsed --data SPEC: a dataset kind and the folder holding its files.
type Spec struct {
	Kind Kind
	Dir  string
}

// String returns the SPEC form of s; ParseSpec(s.String()) == s.
func (s Spec) String() string {
	if s.Dir == "" {
		return string(s.Kind)
	}
	return string(s.Kind) + ":" + s.Dir
}

// ParseSpec parses a --data SPEC: `fashion-mnist[:DIR]` (DIR defaults to
// DefaultFashionMNISTDir), `mnist:DIR`, `cifar10:DIR`, `cifar100:DIR` or `folder:DIR`, and
// the event datasets `nmnist:DIR`, `dvsgesture:DIR` and `cifar10dvs:DIR`.
// The kind is case-insensitive; DIR is everything after the first colon and is kept verbatim.
func ParseSpec(spec string) (Spec, error) {
	kindStr, dir, hasDir := strings.Cut(spec, ":")
	kind := Kind(strings.ToLower(strings.TrimSpace(kindStr)))
	switch kind {
	case FashionMNIST, MNIST, CIFAR10, CIFAR100, Folder, NMNIST, DVSGesture, CIFAR10DVS:
	default:
		return Spec{}, fmt.Errorf("unknown dataset %q in --data %q; accepted forms: %s", kindStr, spec, SpecForms)
	}
	if hasDir && dir == "" {
		return Spec{}, fmt.Errorf("empty DIR in --data %q; accepted forms: %s", spec, SpecForms)
	}
	if !hasDir {
		if kind != FashionMNIST {
			return Spec{}, fmt.Errorf("--data %q needs a folder: %s:DIR (accepted forms: %s)", spec, kind, SpecForms)
		}
		dir = FashionMNISTDir()
	}
	return Spec{Kind: kind, Dir: dir}, nil
}

// Split selects the training or the test part of a dataset.
type Split int

const (
	Train Split = iota
	Test
)

func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}
