package kernels

import "fmt"

// field is a named integer parameter, for validation messages.
type field struct {
	name string
	v    int
}

// atLeast appends an error to errs for every field below lo.
func atLeast(errs []error, lo int, fields ...field) []error {
	for _, f := range fields {
		if f.v < lo {
			errs = append(errs, fmt.Errorf("%s is %d, must be >= %d", f.name, f.v, lo))
		}
	}
	return errs
}

// namedLen is a slice argument's length and the length the call needs.
type namedLen struct {
	name       string
	have, want int
}

// mustCheck panics, naming the function, when err (the parameters'
// validation result) is not nil or a slice is too short.
func mustCheck(fn string, err error, slices ...namedLen) {
	if err != nil {
		panic(fmt.Sprintf("kernels: %s: %v", fn, err))
	}
	for _, s := range slices {
		if s.have < s.want {
			panic(fmt.Sprintf("kernels: %s: %s has %d elements, want %d", fn, s.name, s.have, s.want))
		}
	}
}
