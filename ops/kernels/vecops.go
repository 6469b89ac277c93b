package kernels

import "math"

// Vector primitives for the normalization and spiking kernels: sums and
// elementwise maps over float32 slices, in AVX2 assembly where the CPU has
// it (vecops_amd64.s) and in Go otherwise. The Go loops sum in exactly the
// assembly's order, so both give the same bits:
//
//   - Sum64 and SumDot64 keep 16 partial sums in float64, partial j taking
//     the elements 16q+j; the partials combine as
//     c[j] = (p[j] + p[4+j]) + (p[8+j] + p[12+j]) for j < 4, then
//     (c0 + c2) + (c1 + c3); elements after the last full 16 are added to
//     that one by one.
//   - SumShifted and SumDyDx keep 32 partial sums in float32 the same way:
//     c[j] = (p[j] + p[8+j]) + (p[16+j] + p[24+j]) for j < 8,
//     d[j] = c[j] + c[4+j] for j < 4, then (d0 + d2) + (d1 + d3), then
//     the tail one by one.
//
// The maps round every operation to float32 in the order given, with no
// fused multiply-add.

// Sum64 returns the sum of x, accumulated in float64.
func Sum64(x []float32) float64 {
	n := len(x) &^ 15
	var s float64
	if n > 0 && vecAccel && !forceGo {
		s = sum64AVX2(&x[0], n)
	} else {
		var p [16]float64
		for i := 0; i < n; i += 16 {
			for j, v := range x[i : i+16] {
				p[j] += float64(v)
			}
		}
		s = combine16(&p)
	}
	for _, v := range x[n:] {
		s += float64(v)
	}
	return s
}

// SumDot64 returns sum(x) and sum(x*y), accumulated in float64 (each
// product exact).
func SumDot64(x, y []float32) (sum, dot float64) {
	y = y[:len(x)]
	n := len(x) &^ 15
	if n > 0 && vecAccel && !forceGo {
		sum, dot = sumDot64AVX2(&x[0], &y[0], n)
	} else {
		var p, q [16]float64
		for i := 0; i < n; i += 16 {
			ys := y[i : i+16]
			for j, v := range x[i : i+16] {
				p[j] += float64(v)
				q[j] += float64(v) * float64(ys[j])
			}
		}
		sum, dot = combine16(&p), combine16(&q)
	}
	for i, v := range x[n:] {
		sum += float64(v)
		dot += float64(v) * float64(y[n+i])
	}
	return sum, dot
}

func combine16(p *[16]float64) float64 {
	var c [4]float64
	for j := range c {
		c[j] = (p[j] + p[4+j]) + (p[8+j] + p[12+j])
	}
	return (c[0] + c[2]) + (c[1] + c[3])
}

// SumShifted returns sum(x-k) and sum((x-k)^2) in float32.
func SumShifted(x []float32, k float32) (float32, float32) {
	n := len(x) &^ 31
	var a, b float32
	if n > 0 && vecAccel && !forceGo {
		a, b = sumShiftedAVX2(&x[0], n, k)
	} else {
		var p, q [32]float32
		for i := 0; i < n; i += 32 {
			for j, v := range x[i : i+32] {
				d := v - k
				p[j] += d
				q[j] += float32(d * d)
			}
		}
		a, b = combine32(&p), combine32(&q)
	}
	for _, v := range x[n:] {
		d := v - k
		a += d
		b += float32(d * d)
	}
	return a, b
}

// SumDyDx returns sum(dy) and sum(dy*(x-m)) in float32.
func SumDyDx(dy, x []float32, m float32) (float32, float32) {
	x = x[:len(dy)]
	n := len(dy) &^ 31
	var a, b float32
	if n > 0 && vecAccel && !forceGo {
		a, b = sumDyDxAVX2(&dy[0], &x[0], n, m)
	} else {
		var p, q [32]float32
		for i := 0; i < n; i += 32 {
			xs := x[i : i+32]
			for j, g := range dy[i : i+32] {
				p[j] += g
				q[j] += float32(g * (xs[j] - m))
			}
		}
		a, b = combine32(&p), combine32(&q)
	}
	for i, g := range dy[n:] {
		a += g
		b += float32(g * (x[n+i] - m))
	}
	return a, b
}

func combine32(p *[32]float32) float32 {
	var c [8]float32
	for j := range c {
		c[j] = (p[j] + p[8+j]) + (p[16+j] + p[24+j])
	}
	var d [4]float32
	for j := range d {
		d[j] = c[j] + c[4+j]
	}
	return (d[0] + d[2]) + (d[1] + d[3])
}

// Scale sets dst[i] = a*x[i]. dst may be x.
func Scale(dst, x []float32, a float32) {
	x = x[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 && vecAccel && !forceGo {
		scaleAVX2(&dst[0], &x[0], n, a)
	} else {
		n = 0
	}
	for i := n; i < len(dst); i++ {
		dst[i] = a * x[i]
	}
}

// ScaleAdd sets dst[i] = x[i]*a + b, the product rounded before the sum.
// dst may be x.
func ScaleAdd(dst, x []float32, a, b float32) {
	x = x[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 && vecAccel && !forceGo {
		scaleAddAVX2(&dst[0], &x[0], n, a, b)
	} else {
		n = 0
	}
	for i := n; i < len(dst); i++ {
		dst[i] = float32(x[i]*a) + b
	}
}

// Affine2 sets dst[i] = (k*g[i] + p*x[i]) + q, each product and sum rounded
// in that order. dst may be g or x.
func Affine2(dst, g, x []float32, k, p, q float32) {
	g, x = g[:len(dst)], x[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 && vecAccel && !forceGo {
		affine2AVX2(&dst[0], &g[0], &x[0], n, k, p, q)
	} else {
		n = 0
	}
	for i := n; i < len(dst); i++ {
		dst[i] = float32(float32(k*g[i])+float32(p*x[i])) + q
	}
}

// Add sets dst[i] = a[i] + b[i]. dst may be a or b.
func Add(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 && vecAccel && !forceGo {
		addAVX2(&dst[0], &a[0], &b[0], n)
	} else {
		n = 0
	}
	for i := n; i < len(dst); i++ {
		dst[i] = a[i] + b[i]
	}
}

// Relu sets dst[i] = max(x[i], 0) with Go's max: NaN stays NaN and -0
// becomes +0. dst may be x.
func Relu(dst, x []float32) {
	x = x[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 && vecAccel && !forceGo {
		reluAVX2(&dst[0], &x[0], n)
	} else {
		n = 0
	}
	for i := n; i < len(dst); i++ {
		dst[i] = max(x[i], 0)
	}
}

// ReluGrad sets dst[i] = dy[i] where the bits of x[i] are a positive int32
// (x > 0, +Inf and positive NaNs), 0 elsewhere. dst may be x or dy.
func ReluGrad(dst, x, dy []float32) {
	x, dy = x[:len(dst)], dy[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 && vecAccel && !forceGo {
		reluGradAVX2(&dst[0], &x[0], &dy[0], n)
	} else {
		n = 0
	}
	for i := n; i < len(dst); i++ {
		if int32(math.Float32bits(x[i])) > 0 {
			dst[i] = dy[i]
		} else {
			dst[i] = 0
		}
	}
}

// CountNonzero returns how many elements of x are not 0 (NaNs count,
// -0 does not).
func CountNonzero(x []float32) int {
	n := len(x) &^ 7
	c := 0
	if n > 0 && vecAccel && !forceGo {
		c = countNonzeroAVX2(&x[0], n)
	} else {
		n = 0
	}
	for _, v := range x[n:] {
		if v != 0 {
			c++
		}
	}
	return c
}
