package infer

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/infer/bitkern"
)

// A kind is how a runtime tensor is stored.
type kind uint8

const (
	// kindFloat: float32, row-major in the tensor's ONNX shape.
	kindFloat kind = iota
	// kindRepeat: a directly encoded input, float32 [N, ...] that the
	// logical tensor [T*N, ...] repeats T times along axis 0 (time-major).
	// Stateless layers compute it once.
	kindRepeat
	// kindSpikes: packed spikes (bitkern layout) of geo.imgs images of
	// geo.c channels and geo.h x geo.w pixels; gate, when set, holds an
	// AGMM gate factor per image that multiplies the spikes.
	kindSpikes
	// kindNHWC: float32 channels last, in the geometry geo: the affine
	// output of a binary layer.
	kindNHWC
)

func (k kind) String() string {
	return [...]string{"float", "repeated float", "packed spikes", "float (channels last)"}[k]
}

// geo is the geometry of packed or channels-last data: images of c
// channels and h x w pixels. The tensor's ONNX shape is any shape whose
// leading axes are the images ([T*N, ...] or [T, N, ...]) and whose other
// axes hold c*h*w values in NCHW order.
type geo struct{ imgs, c, h, w int }

func (g geo) perImage() int { return g.c * g.h * g.w }

// tensor is a runtime value.
type tensor struct {
	kind  kind
	shape []int
	f     []float32
	bits  []uint64
	geo   geo
	gate  []float32
	reps  int
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// geoOf returns the geometry of an [imgs, C, H, W] (or [imgs, C], [imgs, C,
// W]) shape with imgs = lead.
func geoOf(shape []int) (geo, error) {
	if len(shape) < 2 || len(shape) > 4 {
		return geo{}, fmt.Errorf("shape %v is not [N, C, ...] with at most 2 spatial axes", shape)
	}
	g := geo{imgs: shape[0], c: shape[1], h: 1, w: 1}
	switch len(shape) {
	case 3:
		g.w = shape[2]
	case 4:
		g.h, g.w = shape[2], shape[3]
	}
	return g, nil
}

// imageAxes returns how many leading axes of shape make up imgs images
// (1 for [imgs, ...], 2 for [T, N, ...] with T*N = imgs), or 0.
func imageAxes(shape []int, imgs, T int) int {
	switch {
	case len(shape) >= 1 && shape[0] == imgs:
		return 1
	case len(shape) >= 2 && shape[0] == T && shape[0]*shape[1] == imgs:
		return 2
	}
	return 0
}

// spikesNCHW unpacks packed spikes into float32 NCHW (the order of the
// tensor's shape, whatever its leading axes).
func spikesNCHW(t *tensor, dst []float32) {
	g := t.geo
	bitkern.UnpackNCHW(g.imgs, g.c, g.h, g.w, t.bits, dst)
	if t.gate != nil {
		per := g.perImage()
		for i, f := range t.gate {
			row := dst[i*per:][:per]
			for j, v := range row {
				row[j] = f * v
			}
		}
	}
}

// nhwcToNCHW transposes channels-last data of geometry g.
func nhwcToNCHW(g geo, src, dst []float32) {
	p := g.h * g.w
	for i := range g.imgs {
		s, d := src[i*p*g.c:][:p*g.c], dst[i*p*g.c:][:p*g.c]
		for q := range p {
			for c, v := range s[q*g.c:][:g.c] {
				d[c*p+q] = v
			}
		}
	}
}

// nchwToNHWC transposes NCHW data of geometry g to channels last.
func nchwToNHWC(g geo, src, dst []float32) {
	p := g.h * g.w
	for i := range g.imgs {
		s, d := src[i*p*g.c:][:p*g.c], dst[i*p*g.c:][:p*g.c]
		for c := range g.c {
			for q, v := range s[c*p:][:p] {
				d[q*g.c+c] = v
			}
		}
	}
}
