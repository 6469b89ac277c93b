package kernels

import "github.com/bsnnctl/bsnnctl/internal/parallel"

// A 1x1 convolution with strides and no padding (a ResNet's projection
// shortcut) reads only every stride-th pixel: it is the unit-stride 1x1
// convolution of the subsampled image. Run that way it takes the pointwise
// path (the image itself is the GEMM operand) instead of im2col panels one
// channel count deep and a col2im scatter. The copies cost one pass over the
// subsampled image (and, for the data gradient, clearing dx).

// subsampled returns the unit-stride 1x1 convolution on p's subsampled
// image, and whether p is a strided 1x1 convolution without padding.
func (p ConvParams) subsampled() (ConvParams, bool) {
	if p.KH != 1 || p.KW != 1 || (p.StrideH == 1 && p.StrideW == 1) ||
		p.PadTop != 0 || p.PadLeft != 0 || p.PadBottom != 0 || p.PadRight != 0 || p.C == p.Groups {
		return p, false
	}
	q := p
	q.H, q.W = p.OutH(), p.OutW()
	q.StrideH, q.StrideW, q.DilH, q.DilW = 1, 1, 1, 1
	return q, true
}

// subsampleBuffers recycles the subsampled images and gradients.
var subsampleBuffers parallel.FreeList[subsampleCall]

// subsampleCall copies between an image of p and its subsampled image of
// q, one part of the N*C planes per thread.
type subsampleCall struct {
	p, q    ConvParams
	full    []float32 // [N, C, H, W]
	sub     []float32 // [N, C, OH, OW]
	scatter bool      // sub -> full (zeros elsewhere); else full -> sub
	parts   int
	group   parallel.Group
}

func getSubsample(p, q ConvParams, full []float32, scatter bool) *subsampleCall {
	s := subsampleBuffers.Get()
	s.p, s.q, s.full, s.scatter = p, q, full, scatter
	s.sub = grow(s.sub, q.xLen())
	return s
}

func (s *subsampleCall) put() {
	s.full = nil
	subsampleBuffers.Put(s)
}

// run copies full into sub, or scatters sub into full.
func (s *subsampleCall) run() {
	planes := s.p.N * s.p.C
	s.parts = 1
	if s.p.xLen() >= 1<<16 {
		s.parts = min(maxThreads(), planes)
	}
	s.group.Run(s, s.parts)
}

// RunPart copies the planes of one part.
func (s *subsampleCall) RunPart(part int) {
	p, q := s.p, s.q
	planes := p.N * p.C
	for pl := planes * part / s.parts; pl < planes*(part+1)/s.parts; pl++ {
		full, sub := s.full[pl*p.H*p.W:][:p.H*p.W], s.sub[pl*q.H*q.W:][:q.H*q.W]
		if s.scatter {
			clear(full)
		}
		for oh := range q.H {
			row := full[oh*p.StrideH*p.W:]
			srow := sub[oh*q.W:][:q.W]
			for ow := range srow {
				if s.scatter {
					row[ow*p.StrideW] = srow[ow]
				} else {
					srow[ow] = row[ow*p.StrideW]
				}
			}
		}
	}
}

// convForwardSubsampled is ConvForward for a strided 1x1 convolution.
func convForwardSubsampled(p, q ConvParams, x, w, bias, y []float32) {
	s := getSubsample(p, q, x, false)
	defer s.put()
	s.run()
	ConvForward(q, s.sub, w, bias, y)
}

// convBackwardDataSubsampled is ConvBackwardData for a strided 1x1
// convolution: the gradient of the subsampled image, scattered.
func convBackwardDataSubsampled(p, q ConvParams, dy, w, dx []float32) {
	s := getSubsample(p, q, dx, true)
	defer s.put()
	ConvBackwardData(q, dy, w, s.sub)
	s.run()
}

// convBackwardFilterSubsampled is ConvBackwardFilter for a strided 1x1
// convolution.
func convBackwardFilterSubsampled(p, q ConvParams, x, dy, dw []float32) {
	s := getSubsample(p, q, x, false)
	defer s.put()
	s.run()
	ConvBackwardFilter(q, s.sub, dy, dw)
}
