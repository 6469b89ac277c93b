package spiking

import (
	"errors"
	"fmt"
)

// Errors returned by the kernels. Every error a kernel returns wraps one of them, so a caller
// can tell a bad call (ErrShape) from bad operator attributes (ErrParam) with errors.Is.
var (
	// ErrShape reports slice lengths or dimensions that do not fit together.
	ErrShape = errors.New("spiking: shape mismatch")
	// ErrParam reports an invalid operator attribute (LIFParams, AGMMParams, STE, Surrogate).
	ErrParam = errors.New("spiking: invalid parameter")
)

// checkDims returns n = a*b, or an error when a or b is negative or the product overflows int.
func checkDims(op string, a, b int) (int, error) {
	if a < 0 || b < 0 {
		return 0, fmt.Errorf("%w: %s: negative dimension (%d, %d)", ErrShape, op, a, b)
	}
	if b != 0 && a > maxInt/b {
		return 0, fmt.Errorf("%w: %s: dimensions %d x %d overflow int", ErrShape, op, a, b)
	}
	return a * b, nil
}

const maxInt = int(^uint(0) >> 1)

// checkLen reports an ErrShape error unless len(s) == want.
func checkLen(op, name string, s []float32, want int) error {
	if len(s) != want {
		return fmt.Errorf("%w: %s: len(%s) = %d, want %d", ErrShape, op, name, len(s), want)
	}
	return nil
}

// checkOptLen is checkLen for an optional slice: nil is accepted.
func checkOptLen(op, name string, s []float32, want int) error {
	if s == nil {
		return nil
	}
	return checkLen(op, name, s, want)
}
