package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unsafe"

	"github.com/bsnnctl/bsnnctl/dist"
)

// plainAllreducer is the measuring hook of dist's MPI communicator.
type plainAllreducer interface {
	MPIAllreduceSum32(buf []float32) error
}

// benchSizes are the vector sizes in bytes: latency-bound ones (the
// one-allgather path), then the 1–50 MiB range of gradient vectors.
var benchSizes = []int{8, 1 << 10, 64 << 10, 1 << 20, 2 << 20, 5 << 20, 10 << 20, 20 << 20, 50 << 20}

// bench times AllreduceSum32 (fixed order) against MPI_Allreduce on the same
// vectors, interleaved round by round after one warm-up round, the side
// that goes first alternating. A sample is the slowest rank's time, after a
// barrier; small sizes repeat the call so a sample lasts about a
// millisecond. Rank 0 prints min and median per side and size.
func bench(c dist.Comm, rounds int) error {
	plain, ok := c.(plainAllreducer)
	if !ok || c.Size() < 2 {
		return errors.New("bench needs a build with -tags mpi started by mpirun with 2 or more ranks")
	}
	if rounds < 1 {
		return errors.New("bench: ROUNDS must be at least 1")
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	if c.Rank() == 0 {
		fmt.Printf("ranks %d, GOMAXPROCS %d, %d rounds after 1 warm-up, load average %s\n",
			c.Size(), runtime.GOMAXPROCS(0), rounds, loadAvg())
		fmt.Fprintln(tw, "size\tordered min ms\tmedian ms\tMPI_Allreduce min ms\tmedian ms\t"+
			"ordered/MPI (medians)\tordered busbw GB/s\tMPI busbw GB/s\tsame bits\t")
	}
	for _, size := range benchSizes {
		row, err := benchSize(c, plain, size, rounds)
		if err != nil {
			return fmt.Errorf("%d bytes: %w", size, err)
		}
		if c.Rank() == 0 {
			fmt.Fprintln(tw, row)
		}
	}
	if c.Rank() == 0 {
		tw.Flush()
		fmt.Printf("load average after: %s\n", loadAvg())
		fmt.Println("busbw = 2(p-1)/p × size / median time; same bits: MPI_Allreduce's result equals the rank-ordered sum on every rank")
	}
	return nil
}

// benchSize measures one size and returns rank 0's table row.
func benchSize(c dist.Comm, plain plainAllreducer, size, rounds int) (string, error) {
	n := size / 4
	rng := rand.New(rand.NewPCG(uint64(c.Rank()), uint64(n)))
	orig := make([]float32, n)
	for i := range orig {
		orig[i] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(41)-20))
	}
	v := make([]float32, n)
	reps := min(max(1, (1<<20)/size), 1000)
	sides := []func([]float32) error{c.AllreduceSum32, plain.MPIAllreduceSum32}
	var times [2][]float64
	for round := range rounds + 1 {
		for k := range sides {
			side := (k + round) % 2
			var d time.Duration
			for range reps {
				copy(v, orig)
				if err := c.Barrier(); err != nil {
					return "", err
				}
				start := time.Now()
				if err := sides[side](v); err != nil {
					return "", err
				}
				d += time.Since(start)
			}
			slowest, err := maxOverRanks(c, d.Seconds()/float64(reps))
			if err != nil {
				return "", err
			}
			if round > 0 {
				times[side] = append(times[side], slowest)
			}
		}
	}
	same, err := sameBits(c, orig, v, sides)
	if err != nil || c.Rank() != 0 {
		return "", err
	}
	bus := 2 * float64(c.Size()-1) / float64(c.Size()) * float64(size)
	o, p := stats(times[0]), stats(times[1])
	return fmt.Sprintf("%s\t%.4g\t%.4g\t%.4g\t%.4g\t%.2f\t%.2f\t%.2f\t%v\t",
		sizeName(size), o.min*1e3, o.median*1e3, p.min*1e3, p.median*1e3, o.median/p.median,
		bus/o.median/1e9, bus/p.median/1e9, same), nil
}

// sameBits all-reduces orig both ways once more and reports whether MPI's
// result has the rank-ordered sum's bits on every rank.
func sameBits(c dist.Comm, orig, v []float32, sides []func([]float32) error) (bool, error) {
	var h [2]uint64
	for side, f := range sides {
		copy(v, orig)
		if err := f(v); err != nil {
			return false, err
		}
		fh := fnv.New64a()
		fh.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
		h[side] = fh.Sum64()
	}
	equal := 0.0
	if h[0] == h[1] {
		equal = 1
	}
	all := []float64{equal}
	if err := c.AllreduceSum64(all); err != nil {
		return false, err
	}
	return all[0] == float64(c.Size()), nil
}

// maxOverRanks is the largest x over all ranks, on rank 0.
func maxOverRanks(c dist.Comm, x float64) (float64, error) {
	var all []float64
	if c.Rank() == 0 {
		all = make([]float64, c.Size())
	}
	if err := c.Gather64([]float64{x}, all, 0); err != nil {
		return 0, err
	}
	if c.Rank() != 0 {
		return 0, nil
	}
	return slices.Max(all), nil
}

type minMedian struct{ min, median float64 }

func stats(xs []float64) minMedian {
	s := slices.Sorted(slices.Values(xs))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return minMedian{s[0], m}
}

func sizeName(b int) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<10:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d B", b)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
