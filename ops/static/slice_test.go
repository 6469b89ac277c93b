package static

import (
	"math"
	"testing"
)

func TestSliceRange(t *testing.T) {
	big := int64(math.MaxInt64)
	cases := []struct {
		start, end, step int64
		dim              int64
		first, count     int64
	}{
		{0, 3, 1, 5, 0, 3},
		{1, -1, 1, 5, 1, 3},
		{-3, big, 1, 5, 2, 3},
		{0, big, 2, 5, 0, 3},
		{-100, 100, 1, 5, 0, 5},
		{4, 0, -1, 5, 4, 4},
		{-1, -big, -1, 5, 4, 5},
		{big, -big, -2, 5, 4, 3},
		{3, 3, 1, 5, 3, 0},
		{4, 1, 1, 5, 4, 0},
		{1, 4, -1, 5, 1, 0},
		{10, 20, 1, 5, 5, 0},
	}
	for _, c := range cases {
		f, n, _ := sliceRange(c.start, c.end, c.step, c.dim)
		if n != c.count || (n > 0 && f != c.first) {
			t.Errorf("sliceRange(%d, %d, %d, %d) = %d, %d; want %d, %d", c.start, c.end, c.step, c.dim, f, n, c.first, c.count)
		}
	}
}
