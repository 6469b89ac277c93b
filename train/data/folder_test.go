package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFolderSplitLayout(t *testing.T) {
	dir := t.TempDir()
	type file struct {
		path string
		img  image.Image
		jpeg bool
	}
	files := []file{
		{"train/cat/b.png", randRGBA(1, 5, 4), false},
		{"train/cat/a.PNG", randRGBA(2, 5, 4), false},
		{"train/ant/x.jpg", randRGBA(3, 5, 4), true},
		{"train/ant/y.png", randGray(4, 5, 4), false}, // grey in a colour dataset: replicated
		{"train/dog/z.jpeg", randRGBA(5, 5, 4), true},
		{"test/dog/t.png", randRGBA(6, 5, 4), false},
		{"test/ant/s.png", randRGBA(7, 5, 4), false},
	}
	for _, f := range files {
		var b []byte
		if f.jpeg {
			b = encodeJPEG(t, f.img)
		} else {
			b = encodePNG(t, f.img)
		}
		writeFile(t, filepath.Join(dir, f.path), b)
	}
	writeFile(t, filepath.Join(dir, "train/cat/notes.txt"), []byte("ignored"))
	writeFile(t, filepath.Join(dir, "train/.hidden/q.png"), encodePNG(t, randRGBA(8, 5, 4)))

	// The expected pixels of a JPEG are what image/jpeg decodes.
	want := func(f file) []byte {
		if f.jpeg {
			img, err := jpeg.Decode(bytes.NewReader(encodeJPEG(t, f.img)))
			if err != nil {
				t.Fatal(err)
			}
			return planarRGB(img)
		}
		return planarRGB(f.img)
	}

	d, err := Open(Spec{Kind: Folder, Dir: dir}, Train)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.ClassNames, []string{"ant", "cat", "dog"}) || d.NumClasses != 3 {
		t.Fatalf("classes %v", d.ClassNames)
	}
	if d.N != 5 || d.C != 3 || d.H != 4 || d.W != 5 {
		t.Fatalf("N=%d shape %v", d.N, d.Shape())
	}
	// Order: class by class, files sorted by name.
	order := []int{2, 3, 1, 0, 4}
	wantLabels := []int{0, 0, 1, 1, 2}
	for i, fi := range order {
		if !bytes.Equal(d.Image(i), want(files[fi])) {
			t.Errorf("image %d (%s) pixels differ", i, files[fi].path)
		}
		if d.Labels[i] != wantLabels[i] {
			t.Errorf("image %d label %d, want %d", i, d.Labels[i], wantLabels[i])
		}
		if d.Files[i] != filepath.Join(dir, files[fi].path) {
			t.Errorf("file %d = %s, want %s", i, d.Files[i], files[fi].path)
		}
	}
	// The grey PNG is replicated into R, G and B.
	g := files[3].img.(*image.Gray)
	img := d.Image(1)
	for k := range 3 {
		if !bytes.Equal(img[k*20:(k+1)*20], g.Pix) {
			t.Errorf("grey image channel %d differs", k)
		}
	}

	d, err = Open(Spec{Kind: Folder, Dir: dir}, Test)
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 2 || !slices.Equal(d.Labels, []int{0, 2}) || !slices.Equal(d.ClassNames, []string{"ant", "cat", "dog"}) {
		t.Fatalf("test: N=%d labels %v classes %v", d.N, d.Labels, d.ClassNames)
	}
	if !bytes.Equal(d.Image(0), planarRGB(files[6].img)) || !bytes.Equal(d.Image(1), planarRGB(files[5].img)) {
		t.Error("test pixels differ")
	}
}

// Without train/ and test/ every FolderTestEvery-th file of each class (sorted) is test.
func TestFolderFlatLayoutGrey(t *testing.T) {
	dir := t.TempDir()
	perClass := map[string]int{"b": 11, "a": 4, "c": 5}
	imgs := map[string]*image.Gray{}
	for c, n := range perClass {
		for i := range n {
			name := fmt.Sprintf("%s/img%02d.png", c, i)
			imgs[name] = randGray(uint64(len(imgs)+100), 3, 2)
			writeFile(t, filepath.Join(dir, name), encodePNG(t, imgs[name]))
		}
	}
	// A grey JPEG keeps the dataset single-channel.
	gj := randGray(999, 3, 2)
	writeFile(t, filepath.Join(dir, "a/img99.jpg"), encodeJPEG(t, gj))

	tr, err := Open(Spec{Kind: Folder, Dir: dir}, Train)
	if err != nil {
		t.Fatal(err)
	}
	te, err := Open(Spec{Kind: Folder, Dir: dir}, Test)
	if err != nil {
		t.Fatal(err)
	}
	if tr.C != 1 || te.C != 1 {
		t.Fatalf("channels %d %d, want 1", tr.C, te.C)
	}
	var testFiles []string
	for _, f := range te.Files {
		rel, _ := filepath.Rel(dir, f)
		testFiles = append(testFiles, filepath.ToSlash(rel))
	}
	wantTest := []string{"a/img99.jpg", "b/img04.png", "b/img09.png", "c/img04.png"}
	if !slices.Equal(testFiles, wantTest) {
		t.Fatalf("test files %v, want %v", testFiles, wantTest)
	}
	if tr.N+te.N != 4+1+11+5 || tr.N != 17 {
		t.Fatalf("train %d test %d", tr.N, te.N)
	}
	if !slices.Equal(te.Labels, []int{0, 1, 1, 2}) {
		t.Errorf("test labels %v", te.Labels)
	}
	for i, f := range tr.Files {
		rel, _ := filepath.Rel(dir, f)
		rel = filepath.ToSlash(rel)
		if strings.HasSuffix(rel, ".jpg") {
			continue
		}
		if !bytes.Equal(tr.Image(i), imgs[rel].Pix) {
			t.Errorf("%s pixels differ", rel)
		}
	}
	dec, _ := jpeg.Decode(bytes.NewReader(encodeJPEG(t, gj)))
	dg := dec.(*image.Gray) // stride may exceed the width
	var wantJ []byte
	for y := range 2 {
		wantJ = append(wantJ, dg.Pix[y*dg.Stride:y*dg.Stride+3]...)
	}
	if !bytes.Equal(te.Image(0), wantJ) {
		t.Error("grey JPEG pixels differ")
	}
}

func TestFolderTransparentOverBlack(t *testing.T) {
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 255})
	img.SetNRGBA(1, 0, color.NRGBA{200, 100, 50, 0})
	writeFile(t, filepath.Join(dir, "train/x/a.png"), encodePNG(t, img))
	writeFile(t, filepath.Join(dir, "test/x/a.png"), encodePNG(t, img))
	d, err := Open(Spec{Kind: Folder, Dir: dir}, Train)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{200, 0, 100, 0, 50, 0}; !bytes.Equal(d.Pixels, want) {
		t.Fatalf("pixels %v, want %v", d.Pixels, want)
	}
}

func TestFolderErrors(t *testing.T) {
	t.Run("bad png", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "train/a/1.png"), encodePNG(t, randRGBA(1, 4, 4)))
		good := encodePNG(t, randRGBA(2, 4, 4))
		writeFile(t, filepath.Join(dir, "train/b/2.png"), good[:len(good)/2])
		writeFile(t, filepath.Join(dir, "train/b/3.png"), []byte("not an image"))
		_, err := Open(Spec{Kind: Folder, Dir: dir}, Train)
		wantFormatError(t, err, filepath.Join(dir, "train/b/2.png"), -1, "cannot decode image")
	})
	t.Run("size mismatch", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a/1.png"), encodePNG(t, randRGBA(1, 4, 4)))
		writeFile(t, filepath.Join(dir, "a/2.png"), encodePNG(t, randRGBA(2, 4, 3)))
		_, err := Open(Spec{Kind: Folder, Dir: dir}, Train)
		wantFormatError(t, err, filepath.Join(dir, "a/2.png"), -1, "4x3", "share one size")
	})
	t.Run("test class unknown", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "train/a/1.png"), encodePNG(t, randRGBA(1, 4, 4)))
		writeFile(t, filepath.Join(dir, "test/b/1.png"), encodePNG(t, randRGBA(1, 4, 4)))
		_, err := Open(Spec{Kind: Folder, Dir: dir}, Test)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "test/b")) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no test folder", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "train/a/1.png"), encodePNG(t, randRGBA(1, 4, 4)))
		if _, err := Open(Spec{Kind: Folder, Dir: dir}, Test); err == nil || !strings.Contains(err.Error(), "test/") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no images", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a/readme.txt"), []byte("x"))
		if _, err := Open(Spec{Kind: Folder, Dir: dir}, Train); err == nil || !strings.Contains(err.Error(), "no train images") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("not a folder", func(t *testing.T) {
		if _, err := Open(Spec{Kind: Folder, Dir: filepath.Join(t.TempDir(), "missing")}, Train); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("got %v", err)
		}
	})
}
