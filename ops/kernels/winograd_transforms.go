package kernels

// The transforms of Winograd's F(4x4, 3x3) (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016), interpolating at
// 0, +-1, +-2 and infinity. For one 6x6 input tile d and a 3x3 kernel g the
// 4x4 output tile of the correlation is
//
//	Y = A^T [ (G g G^T) .* (B^T d B) ] A
//
// with
//
//	B^T = | 4  0 -5  0  1  0 |   G = | 1/4     0     0 |   A^T = | 1  1  1  1  1  0 |
//	      | 0 -4 -4  1  1  0 |       | -1/6 -1/6  -1/6 |         | 0  1 -1  2 -2  0 |
//	      | 0  4 -4 -1  1  0 |       | -1/6  1/6  -1/6 |         | 0  1  1  4  4  0 |
//	      | 0 -2 -1  2  1  0 |       | 1/24 1/12   1/6 |         | 0  1 -1  8 -8  1 |
//	      | 0  2 -1 -2  1  0 |       | 1/24 -1/12  1/6 |
//	      | 0  4  0 -5  0  1 |       | 0     0     1   |
//
// Every 2-D transform is its 1-D transform applied to the columns, then to
// the rows. The 1-D transforms share their sums and differences, so that
// each costs few additions; the points +-2 keep the constants small (the
// largest is 8), which is what makes F(4x4, 3x3) accurate enough in float32.

// winoPositions is the number of elements of a transformed tile, the
// Winograd domain's 6x6 positions.
const winoPositions = 36

// winoIn1D computes B^T d for 6 values.
func winoIn1D(d0, d1, d2, d3, d4, d5 float32) (o0, o1, o2, o3, o4, o5 float32) {
	a, b := d4-4*d2, d3-4*d1
	c, e := d4-d2, 2*(d3-d1)
	return 4*d0 - 5*d2 + d4, a + b, a - b, c + e, c - e, 4*d1 - 5*d3 + d5
}

// winoInput sets d to B^T d B.
func winoInput(d *[winoPositions]float32) {
	for j := 0; j < 6; j++ {
		d[j], d[6+j], d[12+j], d[18+j], d[24+j], d[30+j] = winoIn1D(d[j], d[6+j], d[12+j], d[18+j], d[24+j], d[30+j])
	}
	for i := 0; i < 36; i += 6 {
		r := (*[6]float32)(d[i : i+6])
		r[0], r[1], r[2], r[3], r[4], r[5] = winoIn1D(r[0], r[1], r[2], r[3], r[4], r[5])
	}
}

// winoOut1D computes A^T m for 6 values.
func winoOut1D(m0, m1, m2, m3, m4, m5 float32) (y0, y1, y2, y3 float32) {
	s12, d12 := m1+m2, m1-m2
	s34, d34 := m3+m4, m3-m4
	return m0 + s12 + s34, d12 + 2*d34, s12 + 4*s34, d12 + 8*d34 + m5
}

// winoOutput sets the 4x4 tile y (row stride 4) to A^T m A.
func winoOutput(m *[winoPositions]float32, y *[16]float32) {
	var t [24]float32 // A^T m: 4 rows of 6
	for j := 0; j < 6; j++ {
		t[j], t[6+j], t[12+j], t[18+j] = winoOut1D(m[j], m[6+j], m[12+j], m[18+j], m[24+j], m[30+j])
	}
	for i := 0; i < 4; i++ {
		r := (*[6]float32)(t[6*i : 6*i+6])
		y[4*i], y[4*i+1], y[4*i+2], y[4*i+3] = winoOut1D(r[0], r[1], r[2], r[3], r[4], r[5])
	}
}

// winoGrad1D computes A e for 4 values: the adjoint of winoOut1D.
func winoGrad1D(e0, e1, e2, e3 float32) (m0, m1, m2, m3, m4, m5 float32) {
	s02, s13 := e0+e2, e1+e3
	f02, f13 := e0+4*e2, 2*e1+8*e3
	return e0, s02 + s13, s02 - s13, f02 + f13, f02 - f13, e3
}

// winoGrad sets m to A e A^T for the 4x4 tile e (row stride 4): the gradient
// of the Winograd-domain product from the output tile's gradient.
func winoGrad(e *[16]float32, m *[winoPositions]float32) {
	var t [24]float32 // e A^T: 4 rows of 6
	for i := 0; i < 4; i++ {
		t[6*i], t[6*i+1], t[6*i+2], t[6*i+3], t[6*i+4], t[6*i+5] = winoGrad1D(e[4*i], e[4*i+1], e[4*i+2], e[4*i+3])
	}
	for j := 0; j < 6; j++ {
		m[j], m[6+j], m[12+j], m[18+j], m[24+j], m[30+j] = winoGrad1D(t[j], t[6+j], t[12+j], t[18+j])
	}
}

// winoFilter1D computes G g for 3 values.
func winoFilter1D(g0, g1, g2 float32) (u0, u1, u2, u3, u4, u5 float32) {
	s := g0 + g2
	return g0 / 4, -(s + g1) / 6, -(s - g1) / 6, g0/24 + g1/12 + g2/6, g0/24 - g1/12 + g2/6, g2
}

// winoFilter sets u to G g G^T for the 3x3 kernel g (row stride 3).
func winoFilter(g []float32, u *[winoPositions]float32) {
	g = g[:9]
	var t [18]float32 // G g: 6 rows of 3
	for j := 0; j < 3; j++ {
		t[j], t[3+j], t[6+j], t[9+j], t[12+j], t[15+j] = winoFilter1D(g[j], g[3+j], g[6+j])
	}
	for i := 0; i < 6; i++ {
		u[6*i], u[6*i+1], u[6*i+2], u[6*i+3], u[6*i+4], u[6*i+5] = winoFilter1D(t[3*i], t[3*i+1], t[3*i+2])
	}
}

// winoFilterGrad1D computes G^T u for 6 values: the adjoint of winoFilter1D.
func winoFilterGrad1D(u0, u1, u2, u3, u4, u5 float32) (g0, g1, g2 float32) {
	s12, d12 := u1+u2, u2-u1
	s34, d34 := u3+u4, u3-u4
	return u0/4 - s12/6 + s34/24, d12/6 + d34/12, -s12/6 + s34/6 + u5
}

// winoFilterGrad sets the 3x3 kernel gradient g (row stride 3) to G^T u G.
func winoFilterGrad(u *[winoPositions]float32, g []float32) {
	g = g[:9]
	var t [18]float32 // G^T u: 3 rows of 6
	for j := 0; j < 6; j++ {
		t[j], t[6+j], t[12+j] = winoFilterGrad1D(u[j], u[6+j], u[12+j], u[18+j], u[24+j], u[30+j])
	}
	for i := 0; i < 3; i++ {
		r := (*[6]float32)(t[6*i : 6*i+6])
		g[3*i], g[3*i+1], g[3*i+2] = winoFilterGrad1D(r[0], r[1], r[2], r[3], r[4], r[5])
	}
}
