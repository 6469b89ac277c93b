package dist

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// rankVector is rank r's test vector of length n: values spread over 40
// (float32) or 80 (float64) binary orders of magnitude, so that adding them
// in another order changes the result.
func rankVector[T float32 | float64](r, n int) []T {
	rng := rand.New(rand.NewPCG(uint64(r), uint64(n*sizeOf[T]())))
	span := 10*sizeOf[T]() + 1
	v := make([]T, n)
	for i := range v {
		v[i] = T(rng.NormFloat64() * math.Ldexp(1, rng.IntN(span)-span/2))
	}
	return v
}

// orderedSum is the contract: ((v₀ + v₁) + v₂) + … element by element.
func orderedSum[T float32 | float64](vs [][]T) []T {
	s := slices.Clone(vs[0])
	for _, v := range vs[1:] {
		for k := range s {
			s[k] += v[k]
		}
	}
	return s
}

func TestPartition(t *testing.T) {
	for p := 1; p <= 5; p++ {
		for n := 0; n <= 23; n++ {
			counts, displs := make([]int, p), make([]int, p)
			partition(n, counts, displs)
			off := 0
			for i := range p {
				if displs[i] != off || counts[i] < n/p || counts[i] > n/p+1 {
					t.Fatalf("partition(%d) over %d: counts %v displs %v", n, p, counts, displs)
				}
				off += counts[i]
			}
			if off != n {
				t.Fatalf("partition(%d) over %d covers %d", n, p, off)
			}
		}
	}
}

// TestAllreduceSumFixedOrder checks, on in-process ranks, that both paths
// (one allgather for small vectors, segmented reduce-scatter for the
// others) give every rank the rank-ordered sum, bit for bit.
func TestAllreduceSumFixedOrder(t *testing.T) {
	const small, segment = 256, 64 // bytes: paths and segments at test sizes
	for _, p := range []int{1, 2, 3, 5} {
		for _, n := range []int{0, 1, 2, 7, 8, 31, 64, 65, 200, 1001} {
			t.Run(fmt.Sprintf("p%d/n%d", p, n), func(t *testing.T) {
				in32 := make([][]float32, p)
				in64 := make([][]float64, p)
				for r := range p {
					in32[r], in64[r] = rankVector[float32](r, n), rankVector[float64](r, n)
				}
				want32, want64 := orderedSum(in32), orderedSum(in64)
				got32, got64 := make([][]float32, p), make([][]float64, p)
				errs := runRanks(p, small, segment, func(c Comm) error {
					r := c.Rank()
					got32[r], got64[r] = slices.Clone(in32[r]), slices.Clone(in64[r])
					if err := c.AllreduceSum32(got32[r]); err != nil {
						return err
					}
					return c.AllreduceSum64(got64[r])
				})
				for r := range p {
					if errs[r] != nil {
						t.Fatalf("rank %d: %v", r, errs[r])
					}
					if !bytes.Equal(bytesOf(got32[r]), bytesOf(want32)) {
						t.Errorf("rank %d: float32 sum differs from the rank-ordered sum", r)
					}
					if !bytes.Equal(bytesOf(got64[r]), bytesOf(want64)) {
						t.Errorf("rank %d: float64 sum differs from the rank-ordered sum", r)
					}
				}
			})
		}
	}
}

// TestOrderMatters makes sure the test vectors detect a change of order:
// summing three ranks backwards gives other bits.
func TestOrderMatters(t *testing.T) {
	vs := [][]float32{rankVector[float32](0, 1000), rankVector[float32](1, 1000), rankVector[float32](2, 1000)}
	fwd := orderedSum(vs)
	slices.Reverse(vs)
	if bytes.Equal(bytesOf(fwd), bytesOf(orderedSum(vs))) {
		t.Fatal("the test vectors sum to the same bits in both orders; they cannot detect an order change")
	}
}

func TestBroadcastGather(t *testing.T) {
	const p = 3
	for root := range p {
		got := make([][]byte, p)
		gathered := make([]float64, 2*p)
		errs := runRanks(p, 0, 5, func(c Comm) error {
			r := c.Rank()
			got[r] = bytes.Repeat([]byte{byte(r + 1)}, 23) // 23 bytes: 5 segments of 5
			if err := c.Broadcast(got[r], root); err != nil {
				return err
			}
			var recv []float64
			if r == root {
				recv = gathered
			}
			return c.Gather64([]float64{float64(r), -float64(r)}, recv, root)
		})
		for r := range p {
			if errs[r] != nil {
				t.Fatalf("root %d, rank %d: %v", root, r, errs[r])
			}
			if want := bytes.Repeat([]byte{byte(root + 1)}, 23); !bytes.Equal(got[r], want) {
				t.Errorf("root %d, rank %d: Broadcast gave %v", root, r, got[r])
			}
		}
		if want := []float64{0, 0, 1, -1, 2, -2}; !slices.Equal(gathered, want) {
			t.Errorf("root %d: Gather64 gave %v, want %v", root, gathered, want)
		}
	}
}

func TestBroadcast32(t *testing.T) {
	got := make([][]float32, 2)
	errs := runRanks(2, 0, 0, func(c Comm) error {
		got[c.Rank()] = []float32{float32(c.Rank()), 1.5, float32(math.NaN())}
		return Broadcast32(c, got[c.Rank()], 1)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytesOf(got[0]), bytesOf(got[1])) || got[0][0] != 1 {
		t.Errorf("Broadcast32 from rank 1 gave %v on rank 0, %v on rank 1", got[0], got[1])
	}
}

func TestBroadcastBytes(t *testing.T) {
	got := make([][]byte, 3)
	errs := runRanks(3, 0, 0, func(c Comm) error {
		mine := []byte(fmt.Sprint("rank ", c.Rank()))
		var err error
		got[c.Rank()], err = BroadcastBytes(c, mine, 2)
		return err
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for r, g := range got {
		if string(g) != "rank 2" {
			t.Errorf("rank %d got %q from rank 2", r, g)
		}
	}
}

// TestInProcess: the exported in-process group sums in rank order, as a
// group of MPI ranks does.
func TestInProcess(t *testing.T) {
	cs := InProcess(3)
	got := make([][]float32, len(cs))
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for r, c := range cs {
		got[r] = rankVector[float32](r, 1000)
		wg.Go(func() {
			errs[r] = c.AllreduceSum32(got[r])
			if errs[r] == nil {
				errs[r] = c.Close()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	want := orderedSum([][]float32{rankVector[float32](0, 1000), rankVector[float32](1, 1000), rankVector[float32](2, 1000)})
	for r := range cs {
		if !bytes.Equal(bytesOf(got[r]), bytesOf(want)) || cs[r].Rank() != r || cs[r].Size() != 3 {
			t.Errorf("rank %d: not the rank-ordered sum", r)
		}
	}
}

func TestArgumentErrors(t *testing.T) {
	errs := runRanks(2, 0, 0, func(c Comm) error {
		if err := c.Broadcast(nil, 2); err == nil {
			return errors.New("Broadcast with root 2 of 2 succeeded")
		}
		// A root without room reports it, after taking part.
		err := c.Gather64([]float64{1}, make([]float64, 1), 0)
		if (err == nil) != (c.Rank() != 0) {
			return fmt.Errorf("Gather64 into a recv too short on the root: %v", err)
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestStatsAndClose(t *testing.T) {
	const p, n = 4, 1000
	stats := make([]Stats, p)
	errs := runRanks(p, 1, 0, func(c Comm) error { // small=1: the reduce-scatter path
		before := c.Stats()
		if err := c.AllreduceSum32(make([]float32, n)); err != nil {
			return err
		}
		if err := c.Broadcast(make([]byte, 10), 0); err != nil {
			return err
		}
		stats[c.Rank()] = c.Stats().Sub(before)
		if err := c.Close(); err != nil {
			return err
		}
		if err := c.Barrier(); !errors.Is(err, ErrClosed) {
			return fmt.Errorf("Barrier after Close: %v, want ErrClosed", err)
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for r, s := range stats {
		want := int64(2 * n * 4 * (p - 1) / p) // reduce-scatter + allgather
		if r == 0 {
			want += 10 * (p - 1) // the broadcast's root
		}
		if s.Calls != 2 || s.Bytes != want || s.Time <= 0 {
			t.Errorf("rank %d: Stats %+v, want 2 calls, %d bytes, some time", r, s, want)
		}
	}
}

func TestAgree(t *testing.T) {
	errNaN := errors.New("step 12: loss is NaN")
	const p = 4
	for _, tc := range []struct {
		name   string
		failed map[int]error
	}{
		{"none", nil},
		{"one", map[int]error{2: errNaN}},
		{"two", map[int]error{3: errors.New("disk full"), 1: errNaN}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]error, p)
			errs := runRanks(p, 0, 0, func(c Comm) error {
				got[c.Rank()] = Agree(c, tc.failed[c.Rank()])
				return nil
			})
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for r, err := range got {
				if tc.failed == nil {
					if err != nil {
						t.Errorf("rank %d: Agree = %v, want nil", r, err)
					}
					continue
				}
				var re *RankError
				if !errors.As(err, &re) {
					t.Fatalf("rank %d: Agree = %v, want a *RankError", r, err)
				}
				want := fmt.Sprintf("rank %d of %d: %s", slices.Min(keys(tc.failed)), p, errNaN)
				if len(tc.failed) > 1 {
					want += fmt.Sprintf(" (%d ranks failed)", len(tc.failed))
				}
				if err.Error() != want {
					t.Errorf("rank %d: Agree = %q, want %q", r, err, want)
				}
				if Quiet(err) != (r != 0) {
					t.Errorf("rank %d: Quiet(err) = %v", r, Quiet(err))
				}
				if errors.Is(err, errNaN) != (r == re.Rank) {
					t.Errorf("rank %d: errors.Is(err, the NaN error) = %v", r, errors.Is(err, errNaN))
				}
			}
		})
	}
}

func keys(m map[int]error) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestAgreeAlone(t *testing.T) {
	errNaN := errors.New("loss is NaN")
	if err := Agree(Local{}, errNaN); err != errNaN {
		t.Errorf("Agree(Local, err) = %v, want err itself", err)
	}
	if err := Agree(Local{}, nil); err != nil {
		t.Errorf("Agree(Local, nil) = %v", err)
	}
}

func TestLocal(t *testing.T) {
	var c Comm = Local{}
	v := []float32{1, 2}
	if err := c.AllreduceSum32(v); err != nil || v[0] != 1 || v[1] != 2 {
		t.Errorf("AllreduceSum32 = %v, %v", v, err)
	}
	recv := make([]float64, 2)
	if err := c.Gather64([]float64{3, 4}, recv, 0); err != nil || recv[0] != 3 || recv[1] != 4 {
		t.Errorf("Gather64 = %v, %v", recv, err)
	}
	if err := c.Broadcast([]byte{1}, 1); err == nil {
		t.Error("Broadcast from root 1 in a group of one succeeded")
	}
	if c.Rank() != 0 || c.Size() != 1 || c.Barrier() != nil || c.Close() != nil || c.Stats() != (Stats{}) {
		t.Error("Local is not rank 0 of 1 with no-op Barrier, Close and zero Stats")
	}
}

// BenchmarkSumInto is the local addition of the reduce-scatter for a 10 MiB
// float32 vector over 2 ranks: one 5 MiB chunk, the own block in place.
func BenchmarkSumInto(b *testing.B) {
	const p, n = 2, 10 << 20 / 4 / 2
	blocks := make([]float32, p*n)
	dst := make([]float32, n)
	b.SetBytes(n * 4)
	for b.Loop() {
		sumInto(dst, blocks, n, p, 1)
	}
}

// runRanks runs f on p in-process ranks at once (small and segment lowered
// when > 0) and returns each rank's error.
func runRanks(p, small, segment int, f func(c Comm) error) []error {
	g := newMemGroup(p)
	errs := make([]error, p)
	var wg sync.WaitGroup
	for r := range p {
		w := newWorld(memTransport{g: g, me: r})
		if small > 0 {
			w.small = small
		}
		if segment > 0 {
			w.segment = segment
		}
		wg.Go(func() { errs[r] = f(w) })
	}
	wg.Wait()
	return errs
}
