package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"io/fs"
	"path"
	"slices"
	"strings"
)

// FolderTestEvery sets the split of a folder dataset without train/ and test/ sub-folders:
// within each class, files sorted by name, every FolderTestEvery-th file (positions 4, 9,
// 14, ... counting from 0) is a test image and all others are training images.
const FolderTestEvery = 5

// folderItem is one image file of a folder dataset.
type folderItem struct {
	path  string // inside the source fs
	label int
}

// openFolder reads an image-folder dataset; see the package documentation for the layout.
func openFolder(src source, split Split) (*Dataset, error) {
	var (
		classes []string
		items   []folderItem
		err     error
	)
	if src.isDir("train") {
		classes, err = listClasses(src, "train")
		if err != nil {
			return nil, err
		}
		base := "train"
		if split == Test {
			base = "test"
			if !src.isDir(base) {
				return nil, fmt.Errorf("folder dataset %s: has train/ but no test/ folder: %w", src.name("."), fs.ErrNotExist)
			}
			testClasses, err := listClasses(src, base)
			if err != nil {
				return nil, err
			}
			for _, c := range testClasses {
				if !slices.Contains(classes, c) {
					return nil, fmt.Errorf("folder dataset: class folder %s has no counterpart in %s",
						src.name(path.Join(base, c)), src.name("train"))
				}
			}
		}
		for label, c := range classes {
			dir := path.Join(base, c)
			if !src.isDir(dir) {
				continue // a class with no test images
			}
			files, err := listImages(src, dir)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				items = append(items, folderItem{f, label})
			}
		}
	} else {
		classes, err = listClasses(src, ".")
		if err != nil {
			return nil, err
		}
		for label, c := range classes {
			files, err := listImages(src, c)
			if err != nil {
				return nil, err
			}
			for i, f := range files {
				if (i%FolderTestEvery == FolderTestEvery-1) == (split == Test) {
					items = append(items, folderItem{f, label})
				}
			}
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("folder dataset %s: no %s images (.png, .jpg, .jpeg) found", src.name("."), split)
	}
	return decodeFolder(src, items, classes)
}

// listClasses returns the sub-folder names of dir, sorted, hidden ones (".x") skipped.
func listClasses(src source, dir string) ([]string, error) {
	entries, err := fs.ReadDir(src.fsys, dir)
	if err != nil {
		return nil, ioErr(src.name(dir), err)
	}
	var classes []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && src.isDir(path.Join(dir, e.Name())) {
			classes = append(classes, e.Name())
		}
	}
	slices.Sort(classes)
	if len(classes) == 0 {
		return nil, fmt.Errorf("folder dataset %s: no class sub-folders: %w", src.name(dir), fs.ErrNotExist)
	}
	return classes, nil
}

// listImages returns the .png/.jpg/.jpeg files (case-insensitive) directly in dir, sorted.
func listImages(src source, dir string) ([]string, error) {
	return listFiles(src, dir, ".png", ".jpg", ".jpeg")
}

// listFiles returns the files directly in dir whose extension is one of exts
// (case-insensitive, with the dot), hidden ones (".x") skipped, sorted by name.
func listFiles(src source, dir string, exts ...string) ([]string, error) {
	entries, err := fs.ReadDir(src.fsys, dir)
	if err != nil {
		return nil, ioErr(src.name(dir), err)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if slices.Contains(exts, strings.ToLower(path.Ext(name))) {
			files = append(files, path.Join(dir, name))
		}
	}
	slices.Sort(files)
	return files, nil
}

type decodedImage struct {
	grey bool
	h, w int
	pix  []uint8 // grey: [h, w]; colour: [3, h, w]
	err  error
}

// decodeFolder decodes the images in parallel and assembles the Dataset. The error
// reported is always that of the first bad file in item order.
func decodeFolder(src source, items []folderItem, classes []string) (*Dataset, error) {
	res := make([]decodedImage, len(items))
	err := forEach(len(items), 0, func(i int) error {
		res[i] = decodeImageFile(src, items[i].path)
		return res[i].err
	})
	if err != nil {
		return nil, err
	}

	c := 1
	for i := range res {
		if !res[i].grey {
			c = 3
			break
		}
	}
	h, w := res[0].h, res[0].w
	d := &Dataset{
		N: len(items), C: c, H: h, W: w,
		Pixels:     make([]uint8, len(items)*c*h*w),
		Labels:     make([]int, len(items)),
		NumClasses: len(classes),
		ClassNames: classes,
		Files:      make([]string, len(items)),
	}
	plane := h * w
	for i, r := range res {
		name := src.name(items[i].path)
		if r.h != h || r.w != w {
			return nil, formatErr(name, -1, "image is %dx%d but %s is %dx%d; all images of a folder dataset must share one size",
				r.w, r.h, d.Files[0], w, h)
		}
		dst := d.Image(i)
		if r.grey && c == 3 {
			for k := range 3 {
				copy(dst[k*plane:(k+1)*plane], r.pix)
			}
		} else {
			copy(dst, r.pix)
		}
		d.Labels[i] = items[i].label
		d.Files[i] = name
	}
	return d, nil
}

func decodeImageFile(src source, p string) decodedImage {
	name := src.name(p)
	b, err := fs.ReadFile(src.fsys, p)
	if err != nil {
		return decodedImage{err: ioErr(name, err)}
	}
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return decodedImage{err: &FormatError{File: name, Record: -1, Msg: "cannot decode image", Err: err}}
	}
	r := img.Bounds()
	h, w := r.Dy(), r.Dx()
	if h <= 0 || w <= 0 {
		return decodedImage{err: formatErr(name, -1, "empty %s image", format)}
	}
	plane := h * w
	cm := img.ColorModel()
	if cm == color.GrayModel || cm == color.Gray16Model {
		pix := make([]uint8, plane)
		if g, ok := img.(*image.Gray); ok {
			for y := range h {
				o := g.PixOffset(r.Min.X, r.Min.Y+y)
				copy(pix[y*w:(y+1)*w], g.Pix[o:o+w])
			}
		} else {
			for y := range h {
				for x := range w {
					pix[y*w+x] = color.GrayModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.Gray).Y
				}
			}
		}
		return decodedImage{grey: true, h: h, w: w, pix: pix}
	}
	// Colour: planar RGB; transparent pixels are composited over black (premultiplied).
	pix := make([]uint8, 3*plane)
	R, G, B := pix[:plane], pix[plane:2*plane], pix[2*plane:]
	switch m := img.(type) {
	case *image.RGBA:
		for y := range h {
			o := m.PixOffset(r.Min.X, r.Min.Y+y)
			row := m.Pix[o : o+4*w]
			for x := range w {
				R[y*w+x], G[y*w+x], B[y*w+x] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	default:
		for y := range h {
			for x := range w {
				cr, cg, cb, _ := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
				R[y*w+x], G[y*w+x], B[y*w+x] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
			}
		}
	}
	return decodedImage{h: h, w: w, pix: pix}
}
