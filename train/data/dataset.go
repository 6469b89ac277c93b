package data

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Shape is a per-image shape: channels, height, width.
type Shape struct{ C, H, W int }

// Size returns C*H*W.
func (s Shape) Size() int { return s.C * s.H * s.W }

func (s Shape) String() string { return fmt.Sprintf("[%d, %d, %d]", s.C, s.H, s.W) }

// Dataset is one split of a dataset, held in memory.
type Dataset struct {
	Kind  Kind
	Split Split

	N, C, H, W int
	// Pixels holds the images as uint8 in [N, C, H, W] order (channels RGB for C == 3).
	Pixels []uint8
	// Labels[i] is the class of image i, in [0, NumClasses).
	Labels []int

	NumClasses int
	ClassNames []string // len NumClasses
	// Files are the source files the split was read from, as named in error messages.
	Files []string
}

// Shape returns the per-image shape [C, H, W].
func (d *Dataset) Shape() Shape { return Shape{d.C, d.H, d.W} }

// Len returns the number of images.
func (d *Dataset) Len() int { return d.N }

// Image returns image i's pixels ([C, H, W], shared with d.Pixels).
func (d *Dataset) Image(i int) []uint8 {
	n := d.C * d.H * d.W
	return d.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// Slice returns the images [lo, hi) as a Dataset sharing d's memory (for example the
// first images of a split for a quick evaluation).
func (d *Dataset) Slice(lo, hi int) (*Dataset, error) {
	if lo < 0 || hi > d.N || lo > hi {
		return nil, fmt.Errorf("data: Slice(%d, %d) out of range [0, %d]", lo, hi, d.N)
	}
	n := d.C * d.H * d.W
	s := *d
	s.N = hi - lo
	s.Pixels = d.Pixels[lo*n : hi*n : hi*n]
	s.Labels = d.Labels[lo:hi:hi]
	return &s, nil
}

// Open reads one split of the dataset named by spec from the operating system's files.
func Open(spec Spec, split Split) (*Dataset, error) {
	if spec.Dir == "" {
		if spec.Kind != FashionMNIST {
			return nil, fmt.Errorf("%s: no folder given (accepted forms: %s)", spec.Kind, SpecForms)
		}
		spec.Dir = FashionMNISTDir()
	}
	src, err := dirSource(spec.Kind, spec.Dir)
	if err != nil {
		return nil, err
	}
	return open(src, spec.Kind, split)
}

// dirSource is the dataset folder dir of the operating system's files, which must exist.
func dirSource(kind Kind, dir string) (source, error) {
	if st, err := os.Stat(dir); err != nil {
		return source{}, fmt.Errorf("%s dataset folder: %w", kind, err)
	} else if !st.IsDir() {
		return source{}, fmt.Errorf("%s dataset folder %s: not a folder", kind, dir)
	}
	return source{
		fsys: os.DirFS(dir),
		name: func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) },
	}, nil
}

// OpenFS reads one split of a dataset from fsys (for example an embed.FS holding gzipped
// IDX files). spec.Dir is a slash-separated path inside fsys ("" or "." for its root); file
// names in errors and in Dataset.Files are paths inside fsys.
func OpenFS(fsys fs.FS, spec Spec, split Split) (*Dataset, error) {
	root := spec.Dir
	if root == "" {
		root = "."
	}
	root = path.Clean(root)
	if !fs.ValidPath(root) {
		return nil, fmt.Errorf("%s dataset: invalid fs path %q", spec.Kind, spec.Dir)
	}
	src := source{fsys: fsys, name: func(p string) string { return p }}
	if root != "." {
		sub, err := fs.Sub(fsys, root)
		if err != nil {
			return nil, fmt.Errorf("%s dataset folder %s: %w", spec.Kind, root, err)
		}
		src = source{fsys: sub, name: func(p string) string { return path.Join(root, p) }}
	}
	return open(src, spec.Kind, split)
}

func open(src source, kind Kind, split Split) (*Dataset, error) {
	if split != Train && split != Test {
		return nil, fmt.Errorf("data: invalid split %v", split)
	}
	var (
		d   *Dataset
		err error
	)
	switch kind {
	case FashionMNIST, MNIST:
		d, err = openIDX(src, kind, split)
	case CIFAR10:
		d, err = openCIFAR10(src, split)
	case CIFAR100:
		d, err = openCIFAR100(src, split)
	case Folder:
		d, err = openFolder(src, split)
	case NMNIST, DVSGesture, CIFAR10DVS:
		return nil, fmt.Errorf("%s is an event dataset: its samples are frame sequences [T, 2, H, W], not images (read it with OpenEvents)", kind)
	default:
		return nil, fmt.Errorf("unknown dataset kind %q; accepted forms: %s", kind, SpecForms)
	}
	if err != nil {
		return nil, err
	}
	d.Kind, d.Split = kind, split
	return d, nil
}

// source is a folder of dataset files: fsys rooted at the dataset folder, and name, which
// turns a slash path inside it into the name used in errors.
type source struct {
	fsys fs.FS
	name func(string) string
}

// find returns the first of the candidate paths that exists as a regular file.
func (s source) find(candidates ...string) (string, bool) {
	for _, c := range candidates {
		if st, err := fs.Stat(s.fsys, c); err == nil && st.Mode().IsRegular() {
			return c, true
		}
	}
	return "", false
}

func (s source) isDir(p string) bool {
	st, err := fs.Stat(s.fsys, p)
	return err == nil && st.IsDir()
}
