package data

// sampleSource is what a Loader batches: labelled samples of a fixed number of float32
// values, each written into its place in a batch.
type sampleSource interface {
	len() int
	sampleLen() int
	label(i int) int
	// put writes sample idx, augmented as drawn for (seed, epoch, idx), as sample pos of
	// a batch x of n samples.
	put(x []float32, n, pos, idx int, seed uint64, epoch int)
}

// imageSource is a Dataset through a Transform: sample pos of a batch is x[pos*len:].
type imageSource struct {
	ds  *Dataset
	tf  *Transform
	aug Augment
}

func (s imageSource) len() int        { return s.ds.N }
func (s imageSource) sampleLen() int  { return s.tf.Out().Size() }
func (s imageSource) label(i int) int { return s.ds.Labels[i] }

func (s imageSource) put(x []float32, _, pos, idx int, seed uint64, epoch int) {
	n := s.sampleLen()
	// Cannot fail: NewLoader checked the shapes and Draw stays in range.
	_ = s.tf.Apply(x[pos*n:(pos+1)*n], s.ds.Image(idx), s.aug.Draw(seed, epoch, idx))
}
