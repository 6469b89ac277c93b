package bitkern

// Spikes runs the convolution fused with the epilogue e and LIF neurons:
// x holds N packed input images where image t*(N/T) + n is time step t of
// sample n (time-major, as the BSNN's [T*N, ...] tensors), and out receives
// the N packed output images (N*OutH*OutW*Words(M) words, overwritten). The
// LIF membrane of every output neuron starts at v_reset and runs through
// the T steps in order. Every spike is identical to the float engine's
// (conv, BatchNormalization, Add, LIF) when e has no Gate; see Epilogue.
func (c *Conv) Spikes(T int, x []uint64, e *Epilogue, out []uint64, threads int) error {
	if err := c.checkCall(T, x, e, true); err != nil {
		return err
	}
	mustLen("Spikes", "out", len(out), c.p.N*c.oh*c.ow*Words(c.p.M))
	c.run(convCall{mode: outSpikes, steps: T, x: x, e: e, spk: out}, threads)
	return nil
}

// Float32 runs the convolution fused with the epilogue e up to the LIF
// (which it does not apply) and writes the float32 results to out,
// [N, OutH, OutW, M] channels last: for example a shortcut convolution and
// its BatchNormalization, whose output is another convolution's Residual.
func (c *Conv) Float32(x []uint64, e *Epilogue, out []float32, threads int) error {
	if err := c.checkCall(1, x, e, false); err != nil {
		return err
	}
	mustLen("Float32", "out", len(out), c.p.N*c.oh*c.ow*c.p.M)
	c.run(convCall{mode: outFloat32, steps: 1, x: x, e: e, f32: out}, threads)
	return nil
}

func (c *Conv) checkCall(T int, x []uint64, e *Epilogue, spikes bool) error {
	if T < 1 || c.p.N%T != 0 {
		return errorf("%d images are not T = %d steps of whole samples", c.p.N, T)
	}
	if len(x) < c.p.InLen() {
		return errorf("input has %d words, want %d", len(x), c.p.InLen())
	}
	return e.check(c, spikes)
}

// epiArgs locates one band's data for an epilogue: rows pixels of m
// channels at every step t < T. Step t, pixel q, channel j is at
// acc[t*accT+q*ldd+j], res[t*resT+q*m+j], word j/64 of rspk[t*rspkT+q*mw:]
// and out[t*outT+q*mw:] (f32[t*outT+q*m+j] for float output). gate holds
// the band's sample's factor per step (1 without a gate); scale and shift
// are nil (no affine step) or padded with zeros to whole blocks of 16.
type epiArgs struct {
	T, rows, m, mw int
	acc            []int32
	accF           []float32 // float inputs instead of acc (LIFChannelsLast)
	accT, ldd      int
	gate           []float32
	scale, shift   []float32
	res            []float32
	resT           int
	rspk           []uint64
	rspkT          int
	out            []uint64
	f32            []float32
	outT           int
	lif            lifConsts
	v, x           []float32 // m floats of scratch each for epiSpikesGo
	mem            []float32 // membranes of the assembly epilogues: rows*roundUp(m, 16) floats
	asm            asmConsts // scratch for the assembly epilogues
}

// epilogue runs call's epilogue for sample n's output pixels [q0, q1),
// whose accumulators for every step are in s.acc (rows pixels per step).
func (c *Conv) epilogue(k *tileKernel, call *convCall, s *convScratch, n, q0, q1, rows int) {
	p, e := c.p, call.e
	samples := p.N / call.steps
	P := c.oh * c.ow
	mw := Words(p.M)
	// Offsets of step 0 of sample n at pixel q0, and the step strides.
	off, stepPix := n*P+q0, samples*P
	s.v, s.x = grow(s.v, p.M), grow(s.x, p.M)
	s.mem = grow(s.mem, (q1-q0)*c.mPad())
	s.ea = epiArgs{T: call.steps, rows: q1 - q0, m: p.M, mw: mw,
		acc: s.acc, accT: rows * c.mPad(), ldd: c.mPad(),
		scale: call.scale, shift: call.shift, lif: newLIFConsts(e.LIF), v: s.v, x: s.x, mem: s.mem}
	ea := &s.ea
	s.gate = grow(s.gate, call.steps)
	for t := range call.steps {
		s.gate[t] = 1
		if e.Gate != nil {
			s.gate[t] = e.Gate[t*samples+n]
		}
	}
	ea.gate = s.gate
	if e.Residual != nil {
		ea.res, ea.resT = e.Residual[off*p.M:], stepPix*p.M
	}
	if e.ResidualSpikes != nil {
		ea.rspk, ea.rspkT = e.ResidualSpikes[off*mw:], stepPix*mw
	}
	if call.mode == outFloat32 {
		ea.f32, ea.outT = call.f32[off*p.M:], stepPix*p.M
		if k.affine == nil || !k.affine(ea) {
			epiFloatGo(ea)
		}
		return
	}
	ea.out, ea.outT = call.spk[off*mw:], stepPix*mw
	for t := range ea.T {
		clear(ea.out[t*ea.outT:][:ea.rows*mw])
	}
	if k.epi == nil || !k.epi(ea) {
		epiSpikesGo(ea)
	}
}

// preLIF writes to x the values that reach the LIF (or the float output)
// at step t of pixel q, one per channel: the exact sums through gate,
// affine and residual, in the order documented at Epilogue.
func (a *epiArgs) preLIF(t, q int, x []float32) {
	g := a.gate[t]
	if a.accF != nil {
		for j, s := range a.accF[t*a.accT+q*a.ldd:][:len(x)] {
			x[j] = s * g
		}
	} else {
		for j, s := range a.acc[t*a.accT+q*a.ldd:][:len(x)] {
			x[j] = float32(s) * g // exact when there is no gate (1)
		}
	}
	if a.scale != nil {
		scale, shift := a.scale[:len(x)], a.shift[:len(x)]
		for j, v := range x {
			x[j] = float32(v*scale[j]) + shift[j]
		}
	}
	switch {
	case a.res != nil:
		for j, r := range a.res[t*a.resT+q*a.m:][:len(x)] {
			x[j] = x[j] + r
		}
	case a.rspk != nil:
		r := a.rspk[t*a.rspkT+q*a.mw:][:a.mw]
		for j := range x {
			x[j] = x[j] + float32(r[j>>6]>>(j&63)&1)
		}
	}
}

// epiFloatGo is the float32-output epilogue. The usual case (no residual,
// an affine step) runs in one pass.
func epiFloatGo(a *epiArgs) {
	if a.res != nil || a.rspk != nil || a.scale == nil || a.accF != nil {
		for q := range a.rows {
			a.preLIF(0, q, a.f32[q*a.m:][:a.m])
		}
		return
	}
	g := a.gate[0]
	scale, shift := a.scale[:a.m], a.shift[:a.m]
	for q := range a.rows {
		out := a.f32[q*a.m:][:a.m]
		for j, s := range a.acc[q*a.ldd:][:a.m] {
			x := float32(s) * g
			out[j] = float32(x*scale[j]) + shift[j]
		}
	}
}

// epiSpikesGo is the portable LIF epilogue: per pixel, the T steps in
// order with the membranes in a.v. out must be zero on entry.
func epiSpikesGo(a *epiArgs) {
	v, x := a.v[:a.m], a.x[:a.m]
	for q := range a.rows {
		for j := range v {
			v[j] = a.lif.vr
		}
		for t := range a.T {
			a.preLIF(t, q, x)
			out := a.out[t*a.outT+q*a.mw:][:a.mw]
			for j, xj := range x {
				var fired bool
				fired, v[j] = a.lif.step(v[j], xj)
				if fired {
					out[j>>6] |= 1 << (j & 63)
				}
			}
		}
	}
}
