package data

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	BatchSize int  // > 0
	Shuffle   bool // a new order every epoch: Permutation(Seed, epoch, n)
	DropLast  bool // drop the last batch when it would be smaller than BatchSize
	Seed      uint64
	// Augment is applied to every sample (use the zero value for evaluation); each
	// sample's draw is Augment.Draw(Seed, epoch, dataset index).
	Augment Augment
	// Workers is the number of goroutines preparing batches (0: GOMAXPROCS). The batches
	// do not depend on it.
	Workers int
	// Prefetch is how many batches are prepared ahead of the consumer (0: 2).
	Prefetch int
	// Shards > 1 cuts every batch into that many contiguous slices, and the
	// loader yields slice Shard of each: samples [Shard*n/Shards,
	// (Shard+1)*n/Shards) of a batch of n, the part of a global batch one
	// rank of a data-parallel run trains on. Len, Samples, the order and
	// the augmentation are those of the whole batches.
	Shards, Shard int
}

// Batch is one mini-batch in the model's layout: for images X is [N, C, H, W]; for event
// frames (NewEventLoader) X is frame-major, [T, N, 2, H, W], the time-major input of an
// event-input BSNN, sample i's frame t at X[(t*N+i)*2*H*W:].
//
// Ownership: a Batch returned by Iter.Next belongs to the caller until it calls Release,
// after which the Loader reuses its buffers for a later batch; X, Y and Indices must not be
// used after Release. Not releasing a batch is safe (its memory is left to the garbage
// collector) but costs an allocation for a later batch.
type Batch struct {
	X       []float32 // N*C*H*W values, NCHW (events: T*N*2*H*W values, TNCHW)
	Y       []int     // N labels
	N       int
	Indices []int // dataset index of each sample
	Epoch   int
	Index   int // batch index within the epoch

	owner *Loader
}

// Release hands the batch's buffers back to its Loader. Call it at most once per batch
// (a repeated call is ignored only until the Loader hands the buffers out again); on a nil
// Batch it does nothing.
func (b *Batch) Release() {
	if b == nil || b.owner == nil {
		return
	}
	l := b.owner
	b.owner = nil
	select {
	case l.free <- b:
	default:
	}
}

// Loader turns a Dataset into mini-batches through a Transform, or an EventDataset into
// batches of frames (NewEventLoader). It is safe for concurrent use; several Iters may run
// at once.
type Loader struct {
	ds        *Dataset      // nil for event frames
	tf        *Transform    // nil for event frames
	events    *EventDataset // nil for images
	src       sampleSource
	cfg       LoaderConfig
	sampleLen int
	free      chan *Batch // pool of released batches

	mu         sync.Mutex
	orderEpoch int
	order      []int
}

// NewLoader returns a Loader over ds; tf must have been built for ds's image shape.
func NewLoader(ds *Dataset, tf *Transform, cfg LoaderConfig) (*Loader, error) {
	if ds == nil || tf == nil {
		return nil, fmt.Errorf("data: NewLoader needs a dataset and a transform")
	}
	if ds.N == 0 {
		return nil, fmt.Errorf("data: %s %s dataset is empty", ds.Kind, ds.Split)
	}
	if tf.In() != ds.Shape() {
		return nil, fmt.Errorf("data: transform expects %v images, dataset has %v", tf.In(), ds.Shape())
	}
	if cfg.Augment.Pad < 0 {
		return nil, fmt.Errorf("data: augmentation pad %d, want >= 0", cfg.Augment.Pad)
	}
	l, err := loaderFor(imageSource{ds: ds, tf: tf, aug: cfg.Augment}, cfg)
	if err != nil {
		return nil, err
	}
	l.ds, l.tf = ds, tf
	return l, nil
}

// loaderFor checks what every Loader needs and sets up the batch pool.
func loaderFor(src sampleSource, cfg LoaderConfig) (*Loader, error) {
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("data: batch size %d, want > 0", cfg.BatchSize)
	}
	if cfg.Shards < 0 || cfg.Shard < 0 || cfg.Shard >= max(cfg.Shards, 1) {
		return nil, fmt.Errorf("data: shard %d of %d", cfg.Shard, cfg.Shards)
	}
	if cfg.DropLast && src.len() < cfg.BatchSize {
		return nil, fmt.Errorf("data: drop-last with batch size %d leaves no batch of the %d samples", cfg.BatchSize, src.len())
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	return &Loader{
		src: src, cfg: cfg,
		sampleLen:  src.sampleLen(),
		free:       make(chan *Batch, cfg.Prefetch+cfg.Workers+2),
		orderEpoch: -1,
	}, nil
}

// Len returns the number of batches per epoch.
func (l *Loader) Len() int {
	n := l.src.len()
	if l.cfg.DropLast {
		return n / l.cfg.BatchSize
	}
	return (n + l.cfg.BatchSize - 1) / l.cfg.BatchSize
}

// Samples returns the number of samples per epoch (less than the dataset's size with
// DropLast).
func (l *Loader) Samples() int {
	if l.cfg.DropLast {
		return l.Len() * l.cfg.BatchSize
	}
	return l.src.len()
}

// Shape returns the per-sample shape of Batch.X: the image shape, or for event frames the
// shape [2, H, W] of one frame (see Frames).
func (l *Loader) Shape() Shape {
	if l.events != nil {
		return l.events.FrameShape()
	}
	return l.tf.Out()
}

// Frames returns T, the number of frames per sample, for event frames (Batch.X is then
// [T, N, 2, H, W]), and 0 for images.
func (l *Loader) Frames() int {
	if l.events != nil {
		return l.events.T
	}
	return 0
}

// Dataset returns the loader's image dataset (nil for event frames).
func (l *Loader) Dataset() *Dataset { return l.ds }

// EventDataset returns the loader's event dataset (nil for images).
func (l *Loader) EventDataset() *EventDataset { return l.events }

// Order returns the sample order of an epoch (the identity without Shuffle). The caller
// must not modify it.
func (l *Loader) Order(epoch int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.order == nil || l.orderEpoch != epoch {
		if l.cfg.Shuffle {
			l.order = Permutation(l.cfg.Seed, epoch, l.src.len())
		} else {
			l.order = make([]int, l.src.len())
			for i := range l.order {
				l.order[i] = i
			}
		}
		l.orderEpoch = epoch
	}
	return l.order
}

// BatchAt builds batch k of an epoch synchronously in the calling goroutine. It returns
// exactly what an Iter yields for the same (epoch, k).
func (l *Loader) BatchAt(epoch, k int) (*Batch, error) {
	if err := l.checkPos(epoch, k, false); err != nil {
		return nil, err
	}
	b := l.get()
	l.fill(b, epoch, k, l.Order(epoch))
	return b, nil
}

func (l *Loader) checkPos(epoch, k int, endOK bool) error {
	if epoch < 0 {
		return fmt.Errorf("data: epoch %d, want >= 0", epoch)
	}
	n := l.Len()
	if k < 0 || k > n || (k == n && !endOK) {
		return fmt.Errorf("data: batch %d out of range [0, %d)", k, n)
	}
	return nil
}

func (l *Loader) get() *Batch {
	select {
	case b := <-l.free:
		b.owner = l
		return b
	default:
	}
	bs := l.cfg.BatchSize
	return &Batch{
		X:       make([]float32, bs*l.sampleLen),
		Y:       make([]int, bs),
		Indices: make([]int, bs),
		owner:   l,
	}
}

// fill builds batch k of epoch (order is the epoch's sample order) into b.
func (l *Loader) fill(b *Batch, epoch, k int, order []int) {
	lo := k * l.cfg.BatchSize
	hi := min(lo+l.cfg.BatchSize, len(order))
	if s := l.cfg.Shards; s > 1 {
		n := hi - lo
		lo, hi = lo+l.cfg.Shard*n/s, lo+(l.cfg.Shard+1)*n/s
	}
	n := hi - lo
	b.N, b.Epoch, b.Index = n, epoch, k
	b.X = b.X[:n*l.sampleLen]
	b.Y = b.Y[:n]
	b.Indices = b.Indices[:n]
	for i, idx := range order[lo:hi] {
		l.src.put(b.X, n, i, idx, l.cfg.Seed, epoch)
		b.Y[i] = l.src.label(idx)
		b.Indices[i] = idx
	}
}

// Iter yields the batches of one epoch in order, prepared by background goroutines. Next
// and Close must be called from one goroutine at a time.
type Iter struct {
	ctx    context.Context
	parent context.Context
	cancel context.CancelFunc
	slots  chan chan *Batch
	wg     *sync.WaitGroup // separate from Iter so running goroutines do not keep it reachable
	closed bool
}

// Start begins epoch at batch startBatch (0 for a full epoch; k resumes an interrupted
// epoch and yields exactly the batches k, k+1, ... an uninterrupted run would have
// produced). The background goroutines stop when ctx is cancelled, when the epoch is
// exhausted, or on Close; call Close in any case (an Iter dropped without Close is
// cancelled when the garbage collector finds it unreachable, a safety net only).
func (l *Loader) Start(ctx context.Context, epoch, startBatch int) (*Iter, error) {
	if err := l.checkPos(epoch, startBatch, true); err != nil {
		return nil, err
	}
	order := l.Order(epoch)
	cctx, cancel := context.WithCancel(ctx)
	// One slot per batch in flight, in epoch order: the dispatcher blocks once Prefetch
	// slots are waiting for the consumer, bounding the work ahead.
	slots := make(chan chan *Batch, l.cfg.Prefetch)
	wg := new(sync.WaitGroup)
	it := &Iter{ctx: cctx, parent: ctx, cancel: cancel, slots: slots, wg: wg}
	runtime.AddCleanup(it, func(cancel context.CancelFunc) { cancel() }, cancel)
	type job struct {
		k   int
		out chan *Batch
	}
	jobs := make(chan job)
	nb := l.Len()
	wg.Go(func() {
		defer close(jobs)
		defer close(slots)
		for k := startBatch; k < nb; k++ {
			out := make(chan *Batch, 1)
			select {
			case slots <- out:
			case <-cctx.Done():
				return
			}
			select {
			case jobs <- job{k, out}:
			case <-cctx.Done():
				return
			}
		}
	})
	for range min(l.cfg.Workers, max(nb-startBatch, 1)) {
		wg.Go(func() {
			for j := range jobs {
				b := l.get()
				l.fill(b, epoch, j.k, order)
				j.out <- b // buffered: never blocks
			}
		})
	}
	return it, nil
}

// Next returns the next batch, io.EOF after the last one, the context's error once it is
// cancelled, or ErrClosed after Close.
func (it *Iter) Next() (*Batch, error) {
	if it.closed {
		return nil, ErrClosed
	}
	var out chan *Batch
	select {
	case o, ok := <-it.slots:
		if !ok {
			if err := it.parent.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		out = o
	case <-it.ctx.Done():
		return nil, it.parent.Err()
	}
	select {
	case b := <-out:
		return b, nil
	case <-it.ctx.Done():
		return nil, it.parent.Err()
	}
}

// Close stops the background goroutines and waits for them to exit. Batches already
// returned by Next stay valid until released.
func (it *Iter) Close() {
	if it.closed {
		return
	}
	it.closed = true
	it.cancel()
	it.wg.Wait()
}
