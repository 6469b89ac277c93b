package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/bsnnctl/bsnnctl/dist"
)

// allreduceFiles all-reduces every DIR/r<rank>.<case>.f32|f64 file of this
// rank (little-endian floats), in name order, into DIR/out.
func allreduceFiles(c dist.Comm, dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("r%d.*", c.Rank())))
	if err != nil {
		return err
	}
	sort.Strings(names)
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		return err
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		switch ext := filepath.Ext(name); ext {
		case ".f32":
			v := make([]float32, len(b)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			if err := c.AllreduceSum32(v); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for i, x := range v {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
			}
		case ".f64":
			v := make([]float64, len(b)/8)
			for i := range v {
				v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			}
			if err := c.AllreduceSum64(v); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for i, x := range v {
				binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
			}
		default:
			return fmt.Errorf("%s: extension %q is neither .f32 nor .f64", name, ext)
		}
		if err := os.WriteFile(filepath.Join(dir, "out", filepath.Base(name)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// broadcastFile sends root's DIR/bcast.bin to every rank as a program
// would: its length first, then the bytes.
func broadcastFile(c dist.Comm, dir string, root int) error {
	var data []byte
	if c.Rank() == root {
		var err error
		if data, err = os.ReadFile(filepath.Join(dir, "bcast.bin")); err != nil {
			return err
		}
	}
	n := make([]byte, 8)
	binary.LittleEndian.PutUint64(n, uint64(len(data)))
	if err := c.Broadcast(n, root); err != nil {
		return err
	}
	if c.Rank() != root {
		data = make([]byte, binary.LittleEndian.Uint64(n))
	}
	if err := c.Broadcast(data, root); err != nil {
		return err
	}
	out := filepath.Join(dir, "out", fmt.Sprintf("r%d.bcast.bin", c.Rank()))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}
