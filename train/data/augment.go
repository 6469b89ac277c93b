package data

import (
	"math/bits"
	"math/rand/v2"
)

// Augment configures training-time augmentation. The zero value means none.
type Augment struct {
	// Pad > 0 enables random crop with padding: the image (already fitted to the model's
	// H x W) is padded by Pad zero (black) pixels on every side and an H x W window is
	// cropped at a uniformly random offset in [0, 2*Pad] along each axis.
	Pad int
	// HFlip enables a horizontal flip with probability 1/2 (after the crop).
	HFlip bool
}

// Enabled reports whether a draws any random augmentation.
func (a Augment) Enabled() bool { return a.Pad > 0 || a.HFlip }

// Aug is one sample's drawn augmentation: the crop window starts at (DY, DX) in the image
// padded by Pad; Flip mirrors the cropped window. The zero value is the identity.
type Aug struct {
	Pad, DY, DX int
	Flip        bool
}

// Draw returns the augmentation of dataset sample index in the given epoch. It depends only
// on (seed, epoch, index), never on batch composition, worker count or call order: the
// random source is a math/rand/v2 PCG seeded from the three, and the draws are computed
// from its raw 64-bit outputs so they do not change across Go releases.
func (a Augment) Draw(seed uint64, epoch, index int) Aug {
	if !a.Enabled() {
		return Aug{}
	}
	src := drawSource(augDomain, seed, epoch, index)
	var g Aug
	if a.Pad > 0 {
		g.Pad = a.Pad
		g.DY = int(uintN(src, uint64(2*a.Pad+1)))
		g.DX = int(uintN(src, uint64(2*a.Pad+1)))
	}
	if a.HFlip {
		g.Flip = src.Uint64()>>63 == 1
	}
	return g
}

// drawSource is the random source of one sample's augmentation in an epoch; domain
// separates the streams of different augmentations.
func drawSource(domain, seed uint64, epoch, index int) *rand.PCG {
	hi := splitmix64(splitmix64(seed^domain) ^ uint64(epoch))
	return rand.NewPCG(hi, splitmix64(hi^uint64(index)))
}

const (
	augDomain  = 0x61756731_9e3779b9 // separates the augmentation and shuffle streams
	permDomain = 0x7065726d_7f4a7c15
)

// Permutation returns the sample order of an epoch: a Fisher-Yates shuffle of 0..n-1 driven
// by a PCG seeded from (seed, epoch). Like Draw it is computed from raw PCG outputs, so a
// run resumed with a later Go release sees the same order.
func Permutation(seed uint64, epoch, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	hi := splitmix64(seed ^ permDomain)
	src := rand.NewPCG(hi, splitmix64(hi^uint64(epoch)))
	for i := n - 1; i > 0; i-- {
		j := int(uintN(src, uint64(i+1)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// uintN returns a uniform integer in [0, n) (Lemire's multiply-and-reject method).
func uintN(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
