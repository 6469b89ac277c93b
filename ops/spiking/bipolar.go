package spiking

import (
	"fmt"
	"math"
)

// STE selects the straight-through estimator that BipolarBackward uses for d sign(x)/dx
// (spec §2.1; training only, not stored in the file).
type STE int

const (
	// STEClipped (default): d sign(x)/dx = 1[|x| <= 1] (clipped identity, Bengio et al. 2013).
	STEClipped STE = iota
	// STEIdentity: d sign(x)/dx = 1.
	STEIdentity
)

var steNames = [...]string{STEClipped: "clipped", STEIdentity: "identity"}

// ParseSTE returns the STE named "clipped" or "identity".
func ParseSTE(name string) (STE, error) {
	for i, n := range steNames {
		if n == name {
			return STE(i), nil
		}
	}
	return 0, fmt.Errorf("%w: STE %q (want clipped or identity)", ErrParam, name)
}

// String returns "clipped" or "identity", or "STE(n)" for an invalid value.
func (s STE) String() string {
	if s >= 0 && int(s) < len(steNames) {
		return steNames[s]
	}
	return fmt.Sprintf("STE(%d)", int(s))
}

// scaleLayout returns the [outer, len(scale), inner] view of n elements described at
// BipolarForward.
func scaleLayout(op string, n, C, channelSize int) (outer, inner int, err error) {
	if C == 0 {
		return 0, 0, fmt.Errorf("%w: %s: empty scale", ErrShape, op)
	}
	if C == 1 {
		return 1, n, nil
	}
	if channelSize < 1 || n%C != 0 || (n/C)%channelSize != 0 {
		return 0, 0, fmt.Errorf("%w: %s: len %d is not a multiple of len(scale)*channelSize = %d*%d",
			ErrShape, op, n, C, channelSize)
	}
	return n / (C * channelSize), channelSize, nil
}

// BipolarForward computes qonnx.custom_op.general::BipolarQuant (spec §2.1):
//
//	y = (x >= 0 ? +1 : -1) * scale
//
// so sign(+0) = sign(-0) = +1 and a NaN gives -scale, as GreaterOrEqual -> Where -> Mul does.
// Each output is exactly +scale or -scale. len(y) == len(x); y may be the same slice as x.
//
// Scale layout (shared by BipolarBackward and MeanAbsPerChannel), with C = len(scale): C == 1
// is a scalar scale and channelSize is ignored. Otherwise x is viewed as [outer, C, channelSize]
// with outer = len(x)/(C*channelSize), and channel c covers x[(o*C + c)*channelSize + j] for
// every o and j. The two cases that matter:
//   - Conv weight [Cout, Cin/group, kh, kw]: C = Cout, channelSize = Cin/group*kh*kw, outer = 1;
//     channel c is the block x[c*channelSize : (c+1)*channelSize];
//   - MatMul weight [in, out]: C = out, channelSize = 1, outer = in; the scale broadcasts along
//     the last axis, as ONNX Mul does with a scale of shape [out].
func BipolarForward(x, y, scale []float32, channelSize int) error {
	const op = "BipolarForward"
	if err := checkLen(op, "y", y, len(x)); err != nil {
		return err
	}
	outer, inner, err := scaleLayout(op, len(x), len(scale), channelSize)
	if err != nil {
		return err
	}
	y = y[:len(x)]
	for o := range outer {
		for c, sc := range scale {
			off := (o*len(scale) + c) * inner
			xr, yr := x[off:off+inner], y[off:off+inner]
			bits := math.Float32bits(sc)
			for i, v := range xr {
				// -sc is sc with its sign bit flipped, exactly (-1)*sc.
				yr[i] = math.Float32frombits(bits ^ negMask(v))
			}
		}
	}
	return nil
}

// BipolarBackward is the straight-through backward pass of BipolarForward with respect to x:
//
//	gx = gy * scale * ste(x),  ste(x) = 1[|x| <= 1] (STEClipped) or 1 (STEIdentity)
//
// scale is a constant here: no gradient flows to it (for the XNOR option it is recomputed
// from the latent weights, not learned). With the default scale 1 this is the spec's
// dY/dX = 1[|X| <= 1]. x, gy and gx have one length; gx may be the same slice as x or gy.
func BipolarBackward(x, gy, gx, scale []float32, channelSize int, ste STE) error {
	const op = "BipolarBackward"
	if ste != STEClipped && ste != STEIdentity {
		return fmt.Errorf("%w: %s: %v", ErrParam, op, ste)
	}
	if err := firstErr(checkLen(op, "gy", gy, len(x)), checkLen(op, "gx", gx, len(x))); err != nil {
		return err
	}
	outer, inner, err := scaleLayout(op, len(x), len(scale), channelSize)
	if err != nil {
		return err
	}
	for o := range outer {
		for c, sc := range scale {
			off := (o*len(scale) + c) * inner
			xr, gyr, gxr := x[off:off+inner], gy[off:off+inner], gx[off:off+inner]
			if ste == STEIdentity {
				for i, g := range gyr {
					gxr[i] = g * sc
				}
				continue
			}
			for i, v := range xr {
				gxr[i] = gyr[i] * sc * b2f(abs32(v) <= 1)
			}
		}
	}
	return nil
}

// MeanAbsPerChannel sets scale[c] = mean |w| over channel c, the XNOR-Net scale of spec §2.1
// and §3.3 (alpha_c = mean|W_latent[c,...]|), with the channel layout of BipolarForward
// (len(scale) channels of channelSize; len(scale) == 1 averages over all of w). The sums are
// accumulated in float64 and each mean is rounded once to float32. w must not be empty.
func MeanAbsPerChannel(w []float32, channelSize int, scale []float32) error {
	const op = "MeanAbsPerChannel"
	if len(w) == 0 {
		return fmt.Errorf("%w: %s: empty w", ErrShape, op)
	}
	outer, inner, err := scaleLayout(op, len(w), len(scale), channelSize)
	if err != nil {
		return err
	}
	C := len(scale)
	if outer == 1 {
		for c := range scale {
			scale[c] = float32(sumAbs64(w[c*inner:(c+1)*inner]) / float64(inner))
		}
		return nil
	}
	// Channels interleaved (e.g. MatMul [in, out]): sweep w once per block of channels,
	// keeping the block's float64 sums in a stack buffer.
	var acc [256]float64
	for c0 := 0; c0 < C; c0 += len(acc) {
		c1 := min(c0+len(acc), C)
		a := acc[:c1-c0]
		clear(a)
		for o := range outer {
			for c := c0; c < c1; c++ {
				off := (o*C + c) * inner
				a[c-c0] += sumAbs64(w[off : off+inner])
			}
		}
		for c := c0; c < c1; c++ {
			scale[c] = float32(a[c-c0] / float64(outer*inner))
		}
	}
	return nil
}

// negMask is the float32 sign bit unless v >= 0, without a branch.
func negMask(v float32) uint32 {
	var m uint32
	if !(v >= 0) {
		m = 1 << 31
	}
	return m
}

// sumAbs64 returns the float64 sum of |v| over v.
func sumAbs64(v []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += float64(abs32(v[i]))
		s1 += float64(abs32(v[i+1]))
		s2 += float64(abs32(v[i+2]))
		s3 += float64(abs32(v[i+3]))
	}
	for ; i < len(v); i++ {
		s0 += float64(abs32(v[i]))
	}
	return (s0 + s1) + (s2 + s3)
}
