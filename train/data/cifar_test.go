package data

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCIFAR10(t *testing.T) {
	counts := []int{2, 3, 1, 2, 2}
	for _, layout := range []string{"", "cifar-10-batches-bin"} {
		t.Run("layout="+layout, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, layout)
			var wantPix []byte
			var wantLbl []int
			var wantFiles []string
			for b, n := range counts {
				f, px, lb := cifarRecords(uint64(10+b), n, 1, 10)
				name := filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", b+1))
				writeFile(t, name, f)
				wantPix, wantLbl, wantFiles = append(wantPix, px...), append(wantLbl, lb...), append(wantFiles, name)
			}
			tf, tpx, tlb := cifarRecords(20, 3, 1, 10)
			writeFile(t, filepath.Join(dir, "test_batch.bin"), tf)

			d, err := Open(Spec{Kind: CIFAR10, Dir: root}, Train)
			if err != nil {
				t.Fatal(err)
			}
			if d.N != 10 || d.C != 3 || d.H != 32 || d.W != 32 || d.NumClasses != 10 {
				t.Fatalf("N=%d shape %v classes %d", d.N, d.Shape(), d.NumClasses)
			}
			if !bytes.Equal(d.Pixels, wantPix) || !slices.Equal(d.Labels, wantLbl) {
				t.Fatal("pixels or labels differ")
			}
			if !slices.Equal(d.Files, wantFiles) {
				t.Errorf("Files %v, want %v", d.Files, wantFiles)
			}
			if d.ClassNames[0] != "airplane" || d.ClassNames[9] != "truck" {
				t.Errorf("class names %v", d.ClassNames)
			}
			d, err = Open(Spec{Kind: CIFAR10, Dir: root}, Test)
			if err != nil {
				t.Fatal(err)
			}
			if d.N != 3 || !bytes.Equal(d.Pixels, tpx) || !slices.Equal(d.Labels, tlb) {
				t.Fatal("test split differs")
			}
			// R plane first: pixel (0, 0) of channel 1 is byte 1024 of the record.
			if d.Image(2)[1024] != tf[2*3073+1+1024] {
				t.Fatal("channel planes misplaced")
			}
		})
	}
}

func TestCIFAR10ClassNamesFile(t *testing.T) {
	dir := t.TempDir()
	f, _, _ := cifarRecords(1, 2, 1, 10)
	writeFile(t, filepath.Join(dir, "test_batch.bin"), f)
	names := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n"
	writeFile(t, filepath.Join(dir, "batches.meta.txt"), []byte(names))
	d, err := Open(Spec{Kind: CIFAR10, Dir: dir}, Test)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.ClassNames, strings.Fields(names)) {
		t.Errorf("class names %v", d.ClassNames)
	}
	writeFile(t, filepath.Join(dir, "batches.meta.txt"), []byte("a\nb\n"))
	_, err = Open(Spec{Kind: CIFAR10, Dir: dir}, Test)
	wantFormatError(t, err, "batches.meta.txt", -1, "2 class names, want 10")
}

func TestCIFAR100(t *testing.T) {
	if len(cifar100Classes) != 100 || !slices.IsSorted(cifar100Classes) {
		t.Fatalf("built-in CIFAR-100 names: %d, sorted %v", len(cifar100Classes), slices.IsSorted(cifar100Classes))
	}
	for _, layout := range []string{"", "cifar-100-binary"} {
		t.Run("layout="+layout, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, layout)
			f, px, lb := cifarRecords(30, 7, 2, 100)
			writeFile(t, filepath.Join(dir, "train.bin"), f)
			tf, tpx, tlb := cifarRecords(31, 4, 2, 100)
			writeFile(t, filepath.Join(dir, "test.bin"), tf)
			for split, want := range map[Split]struct {
				px []byte
				lb []int
				f  []byte
			}{Train: {px, lb, f}, Test: {tpx, tlb, tf}} {
				d, err := Open(Spec{Kind: CIFAR100, Dir: root}, split)
				if err != nil {
					t.Fatal(err)
				}
				if d.NumClasses != 100 || len(d.ClassNames) != 100 || d.C != 3 || d.H != 32 || d.W != 32 {
					t.Fatalf("%v: classes %d shape %v", split, d.NumClasses, d.Shape())
				}
				if !bytes.Equal(d.Pixels, want.px) || !slices.Equal(d.Labels, want.lb) {
					t.Fatalf("%v: pixels or labels differ", split)
				}
				for i, l := range d.Labels { // the fine label is the second byte
					if l != int(want.f[i*3074+1]) {
						t.Fatalf("%v: label %d = %d is not the fine label %d", split, i, l, want.f[i*3074+1])
					}
				}
			}
		})
	}
}

func TestCIFARCorrupt(t *testing.T) {
	good10, _, _ := cifarRecords(40, 4, 1, 10)
	good100, _, _ := cifarRecords(41, 4, 2, 100)
	bad10 := slices.Clone(good10)
	bad10[2*3073] = 10
	badFine := slices.Clone(good100)
	badFine[3*3074+1] = 100
	badCoarse := slices.Clone(good100)
	badCoarse[1*3074] = 20
	cases := []struct {
		name      string
		kind      Kind
		files     map[string][]byte
		split     Split
		file      string
		record    int
		fragments []string
	}{
		{"cifar10 odd size", CIFAR10, map[string][]byte{"test_batch.bin": good10[:3*3073+100]}, Test,
			"test_batch.bin", 3, []string{"not a multiple of the 3073-byte record", "only 100 bytes"}},
		{"cifar10 odd size in batch 2", CIFAR10, map[string][]byte{
			"data_batch_1.bin": good10, "data_batch_2.bin": good10[:3073+1]}, Train,
			"data_batch_2.bin", 1, []string{"not a multiple"}},
		{"cifar10 label out of range", CIFAR10, map[string][]byte{"test_batch.bin": bad10}, Test,
			"test_batch.bin", 2, []string{"label 10 out of range [0, 10)"}},
		{"cifar10 empty", CIFAR10, map[string][]byte{"test_batch.bin": {}}, Test,
			"test_batch.bin", -1, []string{"empty"}},
		{"cifar100 odd size", CIFAR100, map[string][]byte{"train.bin": good100[:3074*2+3073]}, Train,
			"train.bin", 2, []string{"3074-byte record"}},
		{"cifar100 fine label out of range", CIFAR100, map[string][]byte{"train.bin": badFine}, Train,
			"train.bin", 3, []string{"label 100 out of range [0, 100)"}},
		{"cifar100 coarse label out of range", CIFAR100, map[string][]byte{"test.bin": badCoarse}, Test,
			"test.bin", 1, []string{"coarse label 20 out of range [0, 20)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range c.files {
				writeFile(t, filepath.Join(dir, name), b)
			}
			_, err := Open(Spec{Kind: c.kind, Dir: dir}, c.split)
			wantFormatError(t, err, filepath.Join(dir, c.file), c.record, c.fragments...)
		})
	}

	t.Run("cifar10 batch gap", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "data_batch_1.bin"), good10)
		writeFile(t, filepath.Join(dir, "data_batch_3.bin"), good10)
		_, err := Open(Spec{Kind: CIFAR10, Dir: dir}, Train)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "data_batch_2.bin") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("cifar100 missing", func(t *testing.T) {
		_, err := Open(Spec{Kind: CIFAR100, Dir: t.TempDir()}, Test)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "test.bin") {
			t.Fatalf("got %v", err)
		}
	})
}
