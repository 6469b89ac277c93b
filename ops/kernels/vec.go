package kernels

// Small vector helpers used by the convolution and pooling kernels.

// addTo sets dst[i] += src[i] for i < len(dst).
func addTo(dst, src []float32) {
	if vecAccel && !forceGo {
		addToAccel(dst, src)
		return
	}
	addToGo(dst, src)
}

func addToGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// addScalar sets dst[i] += v.
func addScalar(dst []float32, v float32) {
	for i := range dst {
		dst[i] += v
	}
}

// axpy2D sets y[r*ldy+i] += a*x[r*ldx+i] for r < rows, i < cols.
func axpy2D(a float32, x, y []float32, rows, cols, ldx, ldy int) {
	if vecAccel && !forceGo {
		axpy2DAccel(a, x, y, rows, cols, ldx, ldy)
		return
	}
	axpy2DGo(a, x, y, rows, cols, ldx, ldy)
}

func axpy2DGo(a float32, x, y []float32, rows, cols, ldx, ldy int) {
	for r := 0; r < rows; r++ {
		xr := x[r*ldx : r*ldx+cols]
		yr := y[r*ldy : r*ldy+cols]
		for i, v := range xr {
			yr[i] += a * v
		}
	}
}

// dot2D returns the sum of x[r*ldx+i]*y[r*ldy+i] for r < rows, i < cols.
func dot2D(x, y []float32, rows, cols, ldx, ldy int) float32 {
	if vecAccel && !forceGo {
		return dot2DAccel(x, y, rows, cols, ldx, ldy)
	}
	return dot2DGo(x, y, rows, cols, ldx, ldy)
}

func dot2DGo(x, y []float32, rows, cols, ldx, ldy int) float32 {
	var s0, s1, s2, s3 float32
	for r := 0; r < rows; r++ {
		xr := x[r*ldx : r*ldx+cols]
		yr := y[r*ldy : r*ldy+cols]
		i := 0
		for ; i+4 <= len(xr); i += 4 {
			s0 += xr[i] * yr[i]
			s1 += xr[i+1] * yr[i+1]
			s2 += xr[i+2] * yr[i+2]
			s3 += xr[i+3] * yr[i+3]
		}
		for ; i < len(xr); i++ {
			s0 += xr[i] * yr[i]
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// sum returns the sum of x.
func sum(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}
