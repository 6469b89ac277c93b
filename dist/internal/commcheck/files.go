package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"unsafe"

	"github.com/bsnnctl/bsnnctl/dist"
)

// allreduceFiles all-reduces every DIR/r<rank>.<case>.f32|f64 file of this
// rank (little-endian floats), in name order, into DIR/out, each from
// another OS thread.
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
		err = onNewThread(func() error {
			switch ext := filepath.Ext(name); ext {
			case ".f32":
				return allreduceBytes(b, c.AllreduceSum32)
			case ".f64":
				return allreduceBytes(b, c.AllreduceSum64)
			default:
				return fmt.Errorf("extension %q is neither .f32 nor .f64", ext)
			}
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "out", filepath.Base(name)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// onNewThread runs f on an OS thread of its own, which ends with it (a
// goroutine that exits while locked takes its thread along), so that
// successive calls reach MPI from different threads.
func onNewThread(f func() error) error {
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		done <- f()
	}()
	return <-done
}

// allreduceBytes all-reduces the little-endian floats in b, in place.
func allreduceBytes[T float32 | float64](b []byte, allreduce func([]T) error) error {
	var zero T
	v := make([]T, len(b)/int(unsafe.Sizeof(zero)))
	if _, err := binary.Decode(b, binary.LittleEndian, v); err != nil {
		return err
	}
	if err := allreduce(v); err != nil {
		return err
	}
	_, err := binary.Encode(b, binary.LittleEndian, v)
	return err
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
