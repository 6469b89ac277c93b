package data

import (
	"fmt"
	"math"
	"slices"
)

// Fit says how an image is brought to the model's H x W.
type Fit int

const (
	// FitResize resizes bilinearly (half-pixel centres, like PyTorch's
	// interpolate(mode="bilinear", align_corners=False) without antialiasing).
	FitResize Fit = iota
	// FitPadCrop centres the image: each axis is zero-padded (black) when the model's size is
	// larger, or cropped when smaller; an odd difference puts the extra pixel at the
	// bottom / right.
	FitPadCrop
)

func (f Fit) String() string {
	switch f {
	case FitResize:
		return "resize"
	case FitPadCrop:
		return "padcrop"
	}
	return fmt.Sprintf("Fit(%d)", int(f))
}

// Norm holds per-channel normalization constants for pixels scaled to [0, 1]:
// x = (p/255 - Mean[c]) / Std[c].
type Norm struct {
	Mean, Std []float32
}

// DefaultNorm returns the customary constants of a dataset kind: Fashion-MNIST 0.2860 /
// 0.3530, MNIST 0.1307 / 0.3081, CIFAR-10 (0.4914, 0.4822, 0.4465) / (0.2470, 0.2435,
// 0.2616), CIFAR-100 (0.5071, 0.4865, 0.4409) / (0.2673, 0.2564, 0.2762). For folder
// datasets (and anything else) it returns 0.5 / 0.5; use ComputeNorm on the training split
// for dataset-specific constants.
func DefaultNorm(kind Kind) Norm {
	switch kind {
	case FashionMNIST:
		return Norm{[]float32{0.2860}, []float32{0.3530}}
	case MNIST:
		return Norm{[]float32{0.1307}, []float32{0.3081}}
	case CIFAR10:
		return Norm{[]float32{0.4914, 0.4822, 0.4465}, []float32{0.2470, 0.2435, 0.2616}}
	case CIFAR100:
		return Norm{[]float32{0.5071, 0.4865, 0.4409}, []float32{0.2673, 0.2564, 0.2762}}
	}
	return Norm{[]float32{0.5}, []float32{0.5}}
}

// ComputeNorm returns the per-channel mean and (population) standard deviation of d's
// pixels scaled to [0, 1]. Use it on the training split and pass the result to both the
// training and the test Transform. A constant channel gets Std 1.
func ComputeNorm(d *Dataset) Norm {
	n := Norm{Mean: make([]float32, d.C), Std: make([]float32, d.C)}
	plane := d.H * d.W
	for c := range d.C {
		var hist [256]int64
		for i := range d.N {
			for _, v := range d.Pixels[(i*d.C+c)*plane : (i*d.C+c+1)*plane] {
				hist[v]++
			}
		}
		var cnt, s, s2 float64
		for v, k := range hist {
			x := float64(v) / 255
			cnt += float64(k)
			s += float64(k) * x
			s2 += float64(k) * x * x
		}
		if cnt == 0 {
			n.Mean[c], n.Std[c] = 0.5, 0.5
			continue
		}
		mean := s / cnt
		std := math.Sqrt(max(s2/cnt-mean*mean, 0))
		if std < 1e-6 {
			std = 1
		}
		n.Mean[c], n.Std[c] = float32(mean), float32(std)
	}
	return n
}

// Luma weights (ITU-R BT.601) used to turn RGB into one grey channel.
const lumaR, lumaG, lumaB = 0.299, 0.587, 0.114

// TransformConfig configures a Transform.
type TransformConfig struct {
	// Out is the model's input shape [C, H, W]; the zero value keeps the dataset's shape.
	// C may differ from the dataset's: grey is replicated into 3 channels, RGB is turned
	// into grey with luma weights 0.299 R + 0.587 G + 0.114 B.
	Out Shape
	// Fit brings the image to Out.H x Out.W (ignored when the sizes already agree).
	Fit Fit
	// Norm overrides DefaultNorm(dataset kind). Mean and Std have one entry (used for every
	// channel) or one per output channel; 3 entries for a 1-channel output are folded with
	// the luma weights (mean and std each as a weighted sum, an approximation for std).
	Norm *Norm
}

// Transform turns a uint8 [C, H, W] image into the model's float32 input: fit (resize or
// centre pad/crop), optional augmentation (random crop with padding, horizontal flip),
// channel conversion, then x = (p/255 - mean[c]) / std[c]. Pixels outside the image (pad
// and crop padding) are black: p = 0. A Transform is immutable and safe for concurrent use.
type Transform struct {
	in, out Shape
	fit     Fit
	norm    Norm           // effective, one entry per output channel
	lut     [][256]float32 // per output channel: p -> normalized value
	mix     [][]float32    // [out.C][in.C] channel mixing (used when srcCh[c] < 0)
	srcCh   []int          // per output channel: the single source channel it copies, or -1
	dupOf   []int          // per output channel: an earlier channel with identical values, or -1
	rows    []tap          // out.H taps: fitted row -> source rows
	cols    []tap          // out.W taps
	direct  bool           // no interpolation: every tap reads one source pixel
	// Fitted columns [colLo, colHi) hold image, the rest is padding; when direct,
	// column x reads source column x - colOff.
	colLo, colHi, colOff int
}

// tap maps one fitted coordinate to source coordinates: value = (1-w)*src[i0] + w*src[i1];
// ok is false where the fitted image is padding.
type tap struct {
	i0, i1 int32
	w      float32
	ok     bool
}

// NewTransform builds the Transform from ds's image shape and kind to cfg.Out.
func NewTransform(ds *Dataset, cfg TransformConfig) (*Transform, error) {
	in := ds.Shape()
	out := cfg.Out
	if out == (Shape{}) {
		out = in
	}
	if out.C <= 0 || out.H <= 0 || out.W <= 0 {
		return nil, fmt.Errorf("data: invalid model input shape %v", out)
	}
	if in.C <= 0 || in.H <= 0 || in.W <= 0 {
		return nil, fmt.Errorf("data: invalid dataset image shape %v", in)
	}
	t := &Transform{in: in, out: out, fit: cfg.Fit}
	if cfg.Fit != FitResize && cfg.Fit != FitPadCrop {
		return nil, fmt.Errorf("data: unknown fit mode %v", cfg.Fit)
	}

	// Channel conversion.
	t.mix = make([][]float32, out.C)
	t.srcCh = make([]int, out.C)
	for c := range out.C {
		t.mix[c] = make([]float32, in.C)
		switch {
		case in.C == out.C:
			t.mix[c][c], t.srcCh[c] = 1, c
		case in.C == 1:
			t.mix[c][0], t.srcCh[c] = 1, 0
		case in.C == 3 && out.C == 1:
			t.mix[c][0], t.mix[c][1], t.mix[c][2], t.srcCh[c] = lumaR, lumaG, lumaB, -1
		default:
			return nil, fmt.Errorf("data: cannot convert %d-channel images to the model's %d channels", in.C, out.C)
		}
	}

	// Normalization.
	norm := DefaultNorm(ds.Kind)
	if cfg.Norm != nil {
		norm = *cfg.Norm
	}
	mean, std, err := adaptNorm(norm, out.C)
	if err != nil {
		return nil, err
	}
	t.norm = Norm{Mean: mean, Std: std}
	// Output channels computed identically (grey replicated into RGB under one
	// normalization) are computed once and copied.
	t.dupOf = make([]int, out.C)
	for c := range out.C {
		t.dupOf[c] = -1
		for e := range c {
			if slices.Equal(t.mix[c], t.mix[e]) && mean[c] == mean[e] && std[c] == std[e] {
				t.dupOf[c] = e
				break
			}
		}
	}
	t.lut = make([][256]float32, out.C)
	for c := range out.C {
		for p := range 256 {
			t.lut[c][p] = normalize(float32(p), mean[c], std[c])
		}
	}

	// Geometry.
	t.rows = makeTaps(in.H, out.H, cfg.Fit)
	t.cols = makeTaps(in.W, out.W, cfg.Fit)
	// The fitted columns that are not padding form one range [colLo, colHi). The Transform
	// is direct (fast path) when no tap interpolates and column x of that range reads source
	// column x - colOff.
	t.direct = true
	for _, tp := range t.rows {
		if tp.ok && tp.i0 != tp.i1 && tp.w != 0 {
			t.direct = false
		}
	}
	t.colLo, t.colHi = -1, -1
	for x, tp := range t.cols {
		if !tp.ok {
			continue
		}
		if t.colLo < 0 {
			t.colLo, t.colOff = x, x-int(tp.i0)
		} else if x != t.colHi {
			return nil, fmt.Errorf("data: internal error: non-contiguous column taps")
		}
		t.colHi = x + 1
		if (tp.i0 != tp.i1 && tp.w != 0) || x-int(tp.i0) != t.colOff {
			t.direct = false
		}
	}
	if t.colLo < 0 {
		t.colLo, t.colHi = 0, 0
	}
	return t, nil
}

// normalize maps a pixel value p in [0, 255] (possibly fractional) to (p/255 - mean) / std.
func normalize(p, mean, std float32) float32 { return (p/255 - mean) / std }

func adaptNorm(n Norm, c int) (mean, std []float32, err error) {
	if len(n.Mean) != len(n.Std) {
		return nil, nil, fmt.Errorf("data: normalization has %d means but %d stds", len(n.Mean), len(n.Std))
	}
	for i, s := range n.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(n.Mean[i])) || math.IsInf(float64(n.Mean[i]), 0) {
			return nil, nil, fmt.Errorf("data: normalization channel %d: mean %v std %v (std must be finite and > 0)", i, n.Mean[i], s)
		}
	}
	mean, std = make([]float32, c), make([]float32, c)
	switch {
	case len(n.Mean) == 1:
		for i := range c {
			mean[i], std[i] = n.Mean[0], n.Std[0]
		}
	case len(n.Mean) == c:
		copy(mean, n.Mean)
		copy(std, n.Std)
	case len(n.Mean) == 3 && c == 1:
		mean[0] = lumaR*n.Mean[0] + lumaG*n.Mean[1] + lumaB*n.Mean[2]
		std[0] = lumaR*n.Std[0] + lumaG*n.Std[1] + lumaB*n.Std[2]
	default:
		return nil, nil, fmt.Errorf("data: normalization has %d channels, the model input has %d", len(n.Mean), c)
	}
	return mean, std, nil
}

// makeTaps maps each of the out fitted positions to source positions in [0, in).
func makeTaps(in, out int, fit Fit) []tap {
	taps := make([]tap, out)
	if in == out || fit == FitPadCrop {
		off := (out - in) / 2 // > 0: padding before; < 0: cropping
		if out < in {
			off = -((in - out) / 2)
		}
		for d := range out {
			s := d - off
			taps[d] = tap{i0: int32(s), i1: int32(s), ok: s >= 0 && s < in}
		}
		return taps
	}
	scale := float64(in) / float64(out)
	for d := range out {
		s := (float64(d)+0.5)*scale - 0.5
		if s < 0 {
			s = 0
		}
		i0 := int(s)
		if i0 > in-1 {
			i0 = in - 1
		}
		i1 := min(i0+1, in-1)
		taps[d] = tap{i0: int32(i0), i1: int32(i1), w: float32(s - float64(i0)), ok: true}
	}
	return taps
}

// In returns the dataset image shape the Transform expects.
func (t *Transform) In() Shape { return t.in }

// Out returns the model input shape the Transform produces.
func (t *Transform) Out() Shape { return t.out }

// Norm returns the normalization in effect, one entry per output channel.
func (t *Transform) Norm() Norm {
	return Norm{Mean: append([]float32(nil), t.norm.Mean...), Std: append([]float32(nil), t.norm.Std...)}
}

// Apply writes the transformed image src (In() shape, uint8) into dst (Out().Size()
// float32s, CHW) with augmentation a (the zero Aug for none). It fails only when the
// lengths are wrong or the augmentation is out of range.
func (t *Transform) Apply(dst []float32, src []uint8, a Aug) error {
	H, W := t.out.H, t.out.W
	inPlane := t.in.H * t.in.W
	inW := t.in.W
	if len(dst) != t.out.Size() || len(src) != t.in.Size() {
		return fmt.Errorf("data: Transform.Apply: dst %d / src %d elements, want %d / %d",
			len(dst), len(src), t.out.Size(), t.in.Size())
	}
	if a.Pad < 0 || a.DY < 0 || a.DX < 0 || a.DY > 2*a.Pad || a.DX > 2*a.Pad {
		return fmt.Errorf("data: Transform.Apply: augmentation %+v out of range", a)
	}
	// Output (y, x) reads the fitted image at (y + DY - Pad, xo + DX - Pad), where xo is x,
	// or W-1-x when flipped; outside the fitted image's pixels it is black.
	x0 := a.DX - a.Pad
	var xs, xe int // output columns [xs, xe) land on image pixels
	if !a.Flip {
		xs, xe = max(0, t.colLo-x0), min(W, t.colHi-x0)
	} else {
		xs, xe = max(0, W+x0-t.colHi), min(W, W+x0-t.colLo)
	}
	if xs >= xe {
		xs, xe = 0, 0
	}
	xa0, step := xs+x0, 1 // fitted column of output column xs, and its increment
	if a.Flip {
		xa0, step = W-1-xs+x0, -1
	}

	for c := range t.out.C {
		plane := dst[c*H*W : (c+1)*H*W]
		if e := t.dupOf[c]; e >= 0 {
			copy(plane, dst[e*H*W:(e+1)*H*W])
			continue
		}
		lut := &t.lut[c]
		zero := lut[0]
		sc := t.srcCh[c]
		mean, std := t.norm.Mean[c], t.norm.Std[c]
		for y := range H {
			drow := plane[y*W : (y+1)*W]
			ya := y + a.DY - a.Pad
			if ya < 0 || ya >= H || !t.rows[ya].ok || xs == xe {
				for x := range drow {
					drow[x] = zero
				}
				continue
			}
			for x := range drow[:xs] {
				drow[x] = zero
			}
			for x := xe; x < W; x++ {
				drow[x] = zero
			}
			rt := t.rows[ya]
			if t.direct && sc >= 0 {
				// Fast path: a (possibly mirrored) offset copy of one source row through
				// the lookup table.
				off := sc*inPlane + int(rt.i0)*inW - t.colOff
				if step == 1 {
					sr := src[off+xa0 : off+xa0+(xe-xs)]
					dr := drow[xs:xe]
					for i, v := range sr {
						dr[i] = lut[v]
					}
				} else {
					base := off + xa0 + xs
					for x := xs; x < xe; x++ {
						drow[x] = lut[src[base-x]]
					}
				}
				continue
			}
			// General path: bilinear taps, channel mixing, then normalization.
			dr := drow[xs:xe]
			first := true
			for k, coef := range t.mix[c] {
				if coef == 0 {
					continue
				}
				r0 := src[k*inPlane+int(rt.i0)*inW : k*inPlane+int(rt.i0+1)*inW]
				r1 := src[k*inPlane+int(rt.i1)*inW : k*inPlane+int(rt.i1+1)*inW]
				wy := rt.w
				xa := xa0
				for i := range dr {
					ct := t.cols[xa]
					p0, p1 := float32(r0[ct.i0]), float32(r0[ct.i1])
					q0, q1 := float32(r1[ct.i0]), float32(r1[ct.i1])
					top := p0 + (p1-p0)*ct.w
					bot := q0 + (q1-q0)*ct.w
					p := coef * (top + (bot-top)*wy)
					if first {
						dr[i] = p
					} else {
						dr[i] += p
					}
					xa += step
				}
				first = false
			}
			for i, v := range dr {
				dr[i] = normalize(v, mean, std)
			}
		}
	}
	return nil
}
