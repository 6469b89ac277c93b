package data

import (
	"math"
	"strings"
	"testing"
)

// tiny builds an in-memory dataset of one image.
func tiny(kind Kind, c, h, w int, pix []uint8) *Dataset {
	return &Dataset{Kind: kind, N: 1, C: c, H: h, W: w, Pixels: pix, Labels: []int{0}, NumClasses: 1, ClassNames: []string{"x"}}
}

// raw is a Norm under which the output equals the pixel value: (p/255 - 0) / (1/255).
var raw = &Norm{Mean: []float32{0}, Std: []float32{1.0 / 255}}

func apply(t *testing.T, ds *Dataset, cfg TransformConfig, a Aug) []float32 {
	t.Helper()
	tf, err := NewTransform(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, tf.Out().Size())
	if err := tf.Apply(out, ds.Image(0), a); err != nil {
		t.Fatal(err)
	}
	return out
}

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-float64(want[i])) > tol {
			t.Fatalf("%s: [%d] = %v, want %v\n got %v\nwant %v", what, i, got[i], want[i], got, want)
		}
	}
}

func TestNormalizeDefaults(t *testing.T) {
	pix := []uint8{0, 51, 128, 255}
	for _, c := range []struct {
		kind      Kind
		mean, std float64
	}{{FashionMNIST, 0.2860, 0.3530}, {MNIST, 0.1307, 0.3081}, {Folder, 0.5, 0.5}} {
		got := apply(t, tiny(c.kind, 1, 2, 2, pix), TransformConfig{}, Aug{})
		var want []float32
		for _, p := range pix {
			want = append(want, float32((float64(p)/255-c.mean)/c.std))
		}
		near(t, string(c.kind), got, want, 1e-5)
	}
	// CIFAR: per-channel constants.
	pix3 := []uint8{10, 20, 30, 40, 50, 60}
	for _, kind := range []Kind{CIFAR10, CIFAR100} {
		n := DefaultNorm(kind)
		got := apply(t, tiny(kind, 3, 1, 2, pix3), TransformConfig{}, Aug{})
		var want []float32
		for i, p := range pix3 {
			c := i / 2
			want = append(want, float32((float64(p)/255-float64(n.Mean[c]))/float64(n.Std[c])))
		}
		near(t, string(kind), got, want, 1e-5)
	}
	// Override.
	got := apply(t, tiny(MNIST, 1, 1, 2, []uint8{0, 255}), TransformConfig{Norm: &Norm{[]float32{0.5}, []float32{0.25}}}, Aug{})
	near(t, "override", got, []float32{-2, 2}, 1e-6)
}

func TestChannelConversion(t *testing.T) {
	grey := []uint8{0, 100, 200, 255}
	got := apply(t, tiny(FashionMNIST, 1, 2, 2, grey), TransformConfig{Out: Shape{3, 2, 2}, Norm: raw}, Aug{})
	near(t, "grey->rgb", got, []float32{0, 100, 200, 255, 0, 100, 200, 255, 0, 100, 200, 255}, 1e-3)

	// Grey->RGB with the dataset's one-channel default norm broadcast to 3 channels.
	tf, err := NewTransform(tiny(FashionMNIST, 1, 2, 2, grey), TransformConfig{Out: Shape{3, 2, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if n := tf.Norm(); len(n.Mean) != 3 || n.Mean[2] != 0.2860 || n.Std[1] != 0.3530 {
		t.Errorf("broadcast norm %v", n)
	}

	rgb := []uint8{255, 0, 10, 0, 255, 20, 0, 0, 30} // [3, 1, 3]
	got = apply(t, tiny(CIFAR10, 3, 1, 3, rgb), TransformConfig{Out: Shape{1, 1, 3}, Norm: raw}, Aug{})
	near(t, "rgb->grey", got, []float32{0.299 * 255, 0.587 * 255, 0.299*10 + 0.587*20 + 0.114*30}, 1e-3)

	// RGB->grey with CIFAR-10's 3-channel default folded by luma.
	tf, err = NewTransform(tiny(CIFAR10, 3, 1, 3, rgb), TransformConfig{Out: Shape{1, 1, 3}})
	if err != nil {
		t.Fatal(err)
	}
	wantMean := 0.299*0.4914 + 0.587*0.4822 + 0.114*0.4465
	if n := tf.Norm(); len(n.Mean) != 1 || math.Abs(float64(n.Mean[0])-wantMean) > 1e-6 {
		t.Errorf("luma norm %v, want mean %v", n, wantMean)
	}
}

func TestResizeBilinear(t *testing.T) {
	// Upsampling 2x2 -> 4x4 with half-pixel centres: source coordinates
	// max(0, (d+0.5)/2-0.5) = 0, 0.25, 0.75, 1.25 (clamped to the last pixel).
	src := []uint8{0, 100, 200, 40}
	got := apply(t, tiny(Folder, 1, 2, 2, src), TransformConfig{Out: Shape{1, 4, 4}, Norm: raw}, Aug{})
	lerp := func(a, b, w float64) float64 { return a + (b-a)*w }
	ws := []float64{0, 0.25, 0.75, 1}
	var want []float32
	for _, wy := range ws {
		for _, wx := range ws {
			top := lerp(0, 100, wx)
			bot := lerp(200, 40, wx)
			want = append(want, float32(lerp(top, bot, wy)))
		}
	}
	near(t, "upsample", got, want, 1e-3)

	// Downsampling 4 -> 2 along x, 1 -> 1 along y: averages of pixel pairs.
	got = apply(t, tiny(Folder, 1, 1, 4, []uint8{10, 20, 100, 200}), TransformConfig{Out: Shape{1, 1, 2}, Norm: raw}, Aug{})
	near(t, "downsample", got, []float32{15, 150}, 1e-3)

	// Non-integer ratio 3 -> 2: coordinates 0.25 and 1.75.
	got = apply(t, tiny(Folder, 1, 1, 3, []uint8{0, 100, 200}), TransformConfig{Out: Shape{1, 1, 2}, Norm: raw}, Aug{})
	near(t, "3->2", got, []float32{25, 175}, 1e-3)
}

func TestPadCrop(t *testing.T) {
	src := []uint8{1, 2, 3, 4} // 2x2
	got := apply(t, tiny(Folder, 1, 2, 2, src), TransformConfig{Out: Shape{1, 4, 5}, Fit: FitPadCrop, Norm: raw}, Aug{})
	// Rows: 1 above, 1 below; columns: 1 left, 2 right (odd difference: extra at the right).
	near(t, "pad", got, []float32{
		0, 0, 0, 0, 0,
		0, 1, 2, 0, 0,
		0, 3, 4, 0, 0,
		0, 0, 0, 0, 0,
	}, 1e-3)
	src = make([]uint8, 25)
	for i := range src {
		src[i] = uint8(i)
	}
	got = apply(t, tiny(Folder, 1, 5, 5, src), TransformConfig{Out: Shape{1, 3, 2}, Fit: FitPadCrop, Norm: raw}, Aug{})
	// Crop rows 1..3, columns 1..2 (offset (5-2)/2 = 1).
	near(t, "crop", got, []float32{6, 7, 11, 12, 16, 17}, 1e-3)

	// Padding is black (p = 0) after normalization too.
	got = apply(t, tiny(FashionMNIST, 1, 1, 1, []uint8{255}), TransformConfig{Out: Shape{1, 1, 3}, Fit: FitPadCrop}, Aug{})
	z := float32((0 - 0.2860) / 0.3530)
	near(t, "pad normalized", got, []float32{z, float32((1 - 0.2860) / 0.3530), z}, 1e-5)
}

// refAugment is a direct implementation of crop-with-padding then flip on a [C, H, W] image.
func refAugment(img []float32, c, h, w int, a Aug) []float32 {
	ph, pw := h+2*a.Pad, w+2*a.Pad
	padded := make([]float32, c*ph*pw)
	for k := range c {
		for y := range h {
			for x := range w {
				padded[k*ph*pw+(y+a.Pad)*pw+x+a.Pad] = img[k*h*w+y*w+x]
			}
		}
	}
	out := make([]float32, c*h*w)
	for k := range c {
		for y := range h {
			for x := range w {
				out[k*h*w+y*w+x] = padded[k*ph*pw+(y+a.DY)*pw+x+a.DX]
			}
		}
		if a.Flip {
			for y := range h {
				row := out[k*h*w+y*w : k*h*w+(y+1)*w]
				for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
					row[i], row[j] = row[j], row[i]
				}
			}
		}
	}
	return out
}

func TestAugmentGeometry(t *testing.T) {
	const c, h, w = 3, 4, 5
	src := make([]uint8, c*h*w)
	for i := range src {
		src[i] = uint8(1 + i*3)
	}
	ds := tiny(Folder, c, h, w, src)
	plain := apply(t, ds, TransformConfig{Norm: raw}, Aug{})
	for _, cfg := range []TransformConfig{{Norm: raw}, {Out: Shape{3, 6, 7}, Norm: raw}, {Out: Shape{3, 6, 7}, Fit: FitPadCrop, Norm: raw}, {Out: Shape{1, 4, 5}, Norm: raw}} {
		base := apply(t, ds, cfg, Aug{})
		o := cfg.Out
		if o == (Shape{}) {
			o = Shape{c, h, w}
		}
		for _, a := range []Aug{{Pad: 2, DY: 0, DX: 4}, {Pad: 2, DY: 3, DX: 1, Flip: true}, {Flip: true}, {Pad: 1, DY: 1, DX: 1}, {Pad: 3, DY: 6, DX: 0, Flip: true}} {
			got := apply(t, ds, cfg, a)
			near(t, "augment", got, refAugment(base, o.C, o.H, o.W, a), 1e-3)
		}
	}
	if got := apply(t, ds, TransformConfig{Norm: raw}, Aug{Pad: 2, DY: 2, DX: 2}); !equalF(got, plain) {
		t.Error("centred crop of the padded image is not the identity")
	}

	// Draws are in range, depend only on (seed, epoch, index), and vary.
	aug := Augment{Pad: 4, HFlip: true}
	seen := map[Aug]bool{}
	flips := 0
	for i := range 2000 {
		a := aug.Draw(7, 3, i)
		if a.Pad != 4 || a.DY < 0 || a.DY > 8 || a.DX < 0 || a.DX > 8 {
			t.Fatalf("draw %+v out of range", a)
		}
		if a != aug.Draw(7, 3, i) {
			t.Fatal("Draw is not deterministic")
		}
		if a.Flip {
			flips++
		}
		seen[a] = true
	}
	if len(seen) < 150 || flips < 900 || flips > 1100 {
		t.Errorf("draws poorly spread: %d distinct, %d flips of 2000", len(seen), flips)
	}
	if aug.Draw(7, 3, 5) == aug.Draw(7, 4, 5) && aug.Draw(7, 3, 6) == aug.Draw(7, 4, 6) && aug.Draw(7, 3, 7) == aug.Draw(7, 4, 7) {
		t.Error("draws do not change with the epoch")
	}
	if (Augment{}).Draw(1, 2, 3) != (Aug{}) {
		t.Error("zero Augment draws something")
	}
}

func equalF(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestComputeNorm(t *testing.T) {
	// Two images, 3 channels of 2 pixels: channel 0 = {0, 255, 0, 255}, 1 = const 51, 2 = {0,0,0,255}.
	pix := []uint8{0, 255, 51, 51, 0, 0, 0, 255, 51, 51, 0, 255}
	d := &Dataset{N: 2, C: 3, H: 1, W: 2, Pixels: pix, Labels: []int{0, 0}}
	n := ComputeNorm(d)
	want := Norm{Mean: []float32{0.5, 0.2, 0.25}, Std: []float32{0.5, 1, float32(math.Sqrt(0.25 - 0.0625))}}
	near(t, "mean", n.Mean, want.Mean, 1e-6)
	near(t, "std", n.Std, want.Std, 1e-6)
}

func TestTransformErrors(t *testing.T) {
	ds := tiny(Folder, 3, 2, 2, make([]uint8, 12))
	for _, c := range []struct {
		cfg TransformConfig
		err string
	}{
		{TransformConfig{Out: Shape{2, 2, 2}}, "cannot convert 3-channel"},
		{TransformConfig{Out: Shape{3, 0, 2}}, "invalid model input shape"},
		{TransformConfig{Norm: &Norm{[]float32{0.5, 0.5}, []float32{0.5, 0.5}}}, "2 channels"},
		{TransformConfig{Norm: &Norm{[]float32{0.5}, []float32{0}}}, "std must be"},
		{TransformConfig{Norm: &Norm{[]float32{0.5}, []float32{0.5, 0.5}}}, "1 means but 2 stds"},
		{TransformConfig{Fit: Fit(9)}, "unknown fit"},
	} {
		if _, err := NewTransform(ds, c.cfg); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.err)
		}
	}
	tf, _ := NewTransform(ds, TransformConfig{})
	if err := tf.Apply(make([]float32, 11), ds.Image(0), Aug{}); err == nil {
		t.Error("Apply with a short dst succeeded")
	}
	if err := tf.Apply(make([]float32, 12), ds.Image(0), Aug{Pad: 1, DY: 3}); err == nil {
		t.Error("Apply with an out-of-range crop succeeded")
	}
}

// The direct fast path (offset copy through a lookup table) agrees bit for bit with the
// general per-pixel path on random images and augmentations.
func TestFastPathMatchesGeneric(t *testing.T) {
	ds := synth(CIFAR10, 3, 3, 7, 9)
	aug := Augment{Pad: 4, HFlip: true}
	for _, cfg := range []TransformConfig{
		{},
		{Out: Shape{3, 11, 6}, Fit: FitPadCrop},
		{Out: Shape{3, 4, 13}, Fit: FitPadCrop},
		{Out: Shape{3, 7, 9}, Fit: FitResize},
	} {
		fast, err := NewTransform(ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !fast.direct {
			t.Fatalf("%+v: not on the direct path", cfg)
		}
		slow := *fast
		slow.direct = false
		n := fast.Out().Size()
		for i := range 3 {
			for e := range 40 {
				a := aug.Draw(5, e, i)
				got, want := make([]float32, n), make([]float32, n)
				fast.Apply(got, ds.Image(i), a)
				slow.Apply(want, ds.Image(i), a)
				if !equalF(got, want) {
					t.Fatalf("%+v %+v: fast path differs", cfg, a)
				}
			}
		}
	}
}

func BenchmarkTransformApply(b *testing.B) {
	ds := synth(FashionMNIST, 256, 1, 28, 28)
	for _, c := range []struct {
		name string
		cfg  TransformConfig
	}{
		{"fmnist-28x28", TransformConfig{}},
		{"fmnist-to-3x32x32-resize", TransformConfig{Out: Shape{3, 32, 32}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			tf, err := NewTransform(ds, c.cfg)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]float32, tf.Out().Size())
			aug := Augment{Pad: 2, HFlip: true}
			i := 0
			for b.Loop() {
				tf.Apply(dst, ds.Image(i%256), aug.Draw(1, 0, i))
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

func TestResizeDegenerate(t *testing.T) {
	// A 1x1 image stretched to 3x4 (every tap reads the one pixel, none interpolates).
	got := apply(t, tiny(Folder, 1, 1, 1, []uint8{77}), TransformConfig{Out: Shape{1, 3, 4}, Norm: raw}, Aug{Pad: 1, DY: 1, DX: 2, Flip: true})
	want := []float32{0, 77, 77, 77, 0, 77, 77, 77, 0, 77, 77, 77} // crop starts one column in, then the flip
	near(t, "1x1->3x4 shifted", got, want, 1e-3)
	// 1 x 2 -> 2 x 1: rows repeat, columns average.
	got = apply(t, tiny(Folder, 1, 1, 2, []uint8{10, 30}), TransformConfig{Out: Shape{1, 2, 1}, Norm: raw}, Aug{})
	near(t, "1x2->2x1", got, []float32{20, 20}, 1e-3)
}
