package data

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	cifarH, cifarW = 32, 32
	cifarPixels    = 3 * cifarH * cifarW // 3072: 1024 R, 1024 G, 1024 B, rows top to bottom
)

var (
	cifar10Classes = []string{"airplane", "automobile", "bird", "cat", "deer",
		"dog", "frog", "horse", "ship", "truck"}
	cifar100Classes = []string{"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee",
		"beetle", "bicycle", "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel",
		"can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud",
		"cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant",
		"flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp",
		"lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle",
		"mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree",
		"pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum",
		"rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew",
		"skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower",
		"sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor", "train",
		"trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"}
)

var dataBatchRE = regexp.MustCompile(`^data_batch_([0-9]+)\.bin$`)

// openCIFAR10 reads the CIFAR-10 binary version: train = data_batch_1.bin ... data_batch_M.bin
// (all present batches, which must be numbered 1..M without gaps; the official set has
// M = 5), test = test_batch.bin; either directly in the folder or in its
// cifar-10-batches-bin/ sub-folder. Class names come from batches.meta.txt when present.
func openCIFAR10(src source, split Split) (*Dataset, error) {
	dir := "."
	if _, ok := src.find("data_batch_1.bin", "test_batch.bin"); !ok && src.isDir("cifar-10-batches-bin") {
		dir = "cifar-10-batches-bin"
	}
	var files []string
	if split == Test {
		p := path.Join(dir, "test_batch.bin")
		if _, ok := src.find(p); !ok {
			return nil, fmt.Errorf("cifar10 test: %s not found (looked in %s and its cifar-10-batches-bin/): %w",
				src.name(p), src.name("."), fs.ErrNotExist)
		}
		files = []string{p}
	} else {
		entries, err := fs.ReadDir(src.fsys, dir)
		if err != nil {
			return nil, fmt.Errorf("cifar10 train: %w", ioErr(src.name(dir), err))
		}
		var nums []int
		for _, e := range entries {
			if m := dataBatchRE.FindStringSubmatch(e.Name()); m != nil && !e.IsDir() {
				k, err := strconv.Atoi(m[1])
				if err == nil {
					nums = append(nums, k)
				}
			}
		}
		slices.Sort(nums)
		if len(nums) == 0 {
			return nil, fmt.Errorf("cifar10 train: no data_batch_N.bin in %s or its cifar-10-batches-bin/: %w",
				src.name("."), fs.ErrNotExist)
		}
		for i, k := range nums {
			if k != i+1 {
				return nil, fmt.Errorf("cifar10 train: %s is missing (batches must be numbered 1..N): %w",
					src.name(path.Join(dir, fmt.Sprintf("data_batch_%d.bin", i+1))), fs.ErrNotExist)
			}
			files = append(files, path.Join(dir, fmt.Sprintf("data_batch_%d.bin", k)))
		}
	}
	names, err := readClassNames(src, path.Join(dir, "batches.meta.txt"), cifar10Classes)
	if err != nil {
		return nil, err
	}
	return readCIFAR(src, files, 1, len(cifar10Classes), 0, names)
}

// openCIFAR100 reads the CIFAR-100 binary version: train.bin / test.bin, directly in the
// folder or in its cifar-100-binary/ sub-folder; records carry a coarse and a fine label,
// the fine one (100 classes) is used. Class names come from fine_label_names.txt when present.
func openCIFAR100(src source, split Split) (*Dataset, error) {
	dir := "."
	if _, ok := src.find("train.bin", "test.bin"); !ok && src.isDir("cifar-100-binary") {
		dir = "cifar-100-binary"
	}
	name := "train.bin"
	if split == Test {
		name = "test.bin"
	}
	p := path.Join(dir, name)
	if _, ok := src.find(p); !ok {
		return nil, fmt.Errorf("cifar100 %s: %s not found (looked in %s and its cifar-100-binary/): %w",
			split, src.name(p), src.name("."), fs.ErrNotExist)
	}
	names, err := readClassNames(src, path.Join(dir, "fine_label_names.txt"), cifar100Classes)
	if err != nil {
		return nil, err
	}
	return readCIFAR(src, []string{p}, 2, len(cifar100Classes), 20, names)
}

// readCIFAR reads fixed-size records of labelBytes label bytes (the last one is the class;
// with two, the first is the coarse label, checked against coarseClasses) and 3072 pixels.
func readCIFAR(src source, files []string, labelBytes, classes, coarseClasses int, names []string) (*Dataset, error) {
	recSize := labelBytes + cifarPixels
	type blob struct {
		name string
		b    []byte
	}
	var blobs []blob
	total := 0
	for _, p := range files {
		name := src.name(p)
		b, err := fs.ReadFile(src.fsys, p)
		if err != nil {
			return nil, ioErr(name, err)
		}
		if len(b) == 0 {
			return nil, formatErr(name, -1, "empty file")
		}
		if r := len(b) % recSize; r != 0 {
			return nil, formatErr(name, len(b)/recSize,
				"size %d is not a multiple of the %d-byte record: the record has only %d bytes", len(b), recSize, r)
		}
		blobs = append(blobs, blob{name, b})
		total += len(b) / recSize
	}
	d := &Dataset{
		N: total, C: 3, H: cifarH, W: cifarW,
		Pixels:     make([]uint8, total*cifarPixels),
		Labels:     make([]int, total),
		NumClasses: classes,
		ClassNames: names,
	}
	i := 0
	for _, bl := range blobs {
		d.Files = append(d.Files, bl.name)
		for r := 0; r < len(bl.b)/recSize; r++ {
			rec := bl.b[r*recSize : (r+1)*recSize]
			if coarseClasses > 0 && int(rec[0]) >= coarseClasses {
				return nil, formatErr(bl.name, r, "coarse label %d out of range [0, %d)", rec[0], coarseClasses)
			}
			lbl := int(rec[labelBytes-1])
			if lbl >= classes {
				return nil, formatErr(bl.name, r, "label %d out of range [0, %d)", lbl, classes)
			}
			d.Labels[i] = lbl
			copy(d.Pixels[i*cifarPixels:], rec[labelBytes:])
			i++
		}
	}
	return d, nil
}

// readClassNames reads one class name per non-empty line from p if it exists, else returns
// the defaults; a names file with the wrong number of names is an error.
func readClassNames(src source, p string, defaults []string) ([]string, error) {
	if _, ok := src.find(p); !ok {
		return append([]string(nil), defaults...), nil
	}
	b, err := fs.ReadFile(src.fsys, p)
	if err != nil {
		return nil, ioErr(src.name(p), err)
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		if s := strings.TrimSpace(line); s != "" {
			names = append(names, s)
		}
	}
	if len(names) != len(defaults) {
		return nil, formatErr(src.name(p), -1, "has %d class names, want %d", len(names), len(defaults))
	}
	return names, nil
}
