package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/bsnnctl/bsnnctl/dist"
)

// abort: rank calls Abort(code) while the other ranks wait in a barrier.
// With busy, another goroutine of rank is first left blocked in a barrier no
// other rank joins, so Abort cannot reach MPI.
func abort(c dist.Comm, rank, code int, busy bool) error {
	if c.Rank() == rank {
		if busy {
			go c.Barrier()
			time.Sleep(200 * time.Millisecond) // let the barrier enter MPI
		}
		c.Abort(code, fmt.Sprintf("commcheck: rank %d aborts on purpose\n(with status %d)", rank, code))
	}
	for busy {
		time.Sleep(time.Hour) // the other ranks stay out of the barrier
	}
	return c.Barrier()
}

// kill all-reduces in a loop; rank sends itself SIGKILL at iteration 20,
// the others then wait in the next all-reduce until mpirun ends them.
func kill(ctx context.Context, c dist.Comm, rank int) error {
	v := make([]float32, 1<<18)
	for i := 0; ; i++ {
		if i == 20 && c.Rank() == rank {
			return syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
		}
		if err := c.AllreduceSum32(v); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("iteration %d: %w", i, err)
		}
	}
}

// agree runs ten steps of a small all-reduce; rank fails at step, and Agree
// makes every rank stop at that step with the same error.
func agree(c dist.Comm, rank, step int) error {
	loss := []float64{1}
	for s := range 10 {
		if err := c.AllreduceSum64(loss); err != nil {
			return err
		}
		var err error
		if c.Rank() == rank && s == step {
			err = errors.New(fmt.Sprint("step ", s, ": loss is NaN"))
		}
		if err := dist.Agree(c, err); err != nil {
			return err
		}
	}
	return nil
}
