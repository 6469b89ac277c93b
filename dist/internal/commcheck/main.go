// Command commcheck runs one scenario of package dist on every rank of a
// job, for dist's interop tests and for measuring the all-reduce:
//
//	go build -tags mpi -o commcheck ./dist/internal/commcheck
//	mpirun --oversubscribe -np 2 ./commcheck bench
//
// Scenarios (arguments after the name):
//
//	info                  each rank prints {"rank","size","launcher","go_signals"} as one JSON line
//	allreduce DIR         all-reduce each DIR/r<rank>.<case>.f32|f64 file (each from a new OS thread) into DIR/out/
//	broadcast DIR ROOT    root sends DIR/bcast.bin (length, then bytes); each rank writes DIR/out/r<rank>.bcast.bin
//	gather                rank 0 prints the gathered [rank, rank²+0.5] of every rank as JSON
//	abort RANK CODE       RANK calls Abort(CODE, …) while the others wait in a barrier
//	abort-busy RANK CODE  as abort, while another goroutine of RANK is blocked in a barrier nobody else joins
//	kill RANK             all-reduce in a loop; RANK sends itself SIGKILL at iteration 20
//	agree RANK STEP       ten steps; RANK fails at STEP; Agree stops every rank there
//	bench [ROUNDS]        AllreduceSum32 against MPI_Allreduce, 1 to 50 MiB (rank 0 prints a table)
//
// Errors are printed as one line "commcheck: …" (once per job for errors
// that dist.Quiet says rank 0 prints) and exit with status 1. It handles
// SIGINT and SIGTERM as bsnnctl does (a context), so a rank blocked in MPI
// is not ended by SIGTERM alone.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/bsnnctl/bsnnctl/dist"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		if !dist.Quiet(err) {
			fmt.Fprintf(os.Stderr, "commcheck: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) (err error) {
	if len(args) == 0 {
		return errors.New("usage: commcheck SCENARIO [ARGS] (see go doc ./dist/internal/commcheck)")
	}
	c, err := dist.Open()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}()
	scenario, args := args[0], args[1:]
	switch scenario {
	case "info":
		return info(c)
	case "allreduce":
		if len(args) != 1 {
			return errors.New("usage: commcheck allreduce DIR")
		}
		return allreduceFiles(c, args[0])
	case "broadcast":
		root, err := intArgs(args[1:], 1)
		if err != nil || len(args) != 2 {
			return errors.New("usage: commcheck broadcast DIR ROOT")
		}
		return broadcastFile(c, args[0], root[0])
	case "gather":
		return gather(c)
	case "abort", "abort-busy":
		a, err := intArgs(args, 2)
		if err != nil {
			return fmt.Errorf("usage: commcheck %s RANK CODE: %v", scenario, err)
		}
		return abort(c, a[0], a[1], scenario == "abort-busy")
	case "kill":
		a, err := intArgs(args, 1)
		if err != nil {
			return fmt.Errorf("usage: commcheck kill RANK: %v", err)
		}
		return kill(ctx, c, a[0])
	case "agree":
		a, err := intArgs(args, 2)
		if err != nil {
			return fmt.Errorf("usage: commcheck agree RANK STEP: %v", err)
		}
		return agree(c, a[0], a[1])
	case "bench":
		rounds := []int{10}
		if len(args) > 0 {
			if rounds, err = intArgs(args, 1); err != nil {
				return fmt.Errorf("usage: commcheck bench [ROUNDS]: %v", err)
			}
		}
		return bench(c, rounds[0])
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// intArgs parses exactly n integer arguments.
func intArgs(args []string, n int) ([]int, error) {
	if len(args) != n {
		return nil, fmt.Errorf("want %d integer arguments, got %d", n, len(args))
	}
	v := make([]int, n)
	for i, a := range args {
		var err error
		if v[i], err = strconv.Atoi(a); err != nil {
			return nil, fmt.Errorf("argument %q is not an integer", a)
		}
	}
	return v, nil
}

// info prints what this rank knows, and whether Go's own SIGSEGV handler
// still turns a nil dereference into a panic after MPI_Init (Open MPI
// installs its handlers only where none is installed).
func info(c dist.Comm) error {
	l, err := dist.DetectLaunch(os.Getenv)
	if err != nil {
		return err
	}
	line, err := json.Marshal(map[string]any{"rank": c.Rank(), "size": c.Size(),
		"launcher": l.Launcher, "mpi": dist.MPIBuilt, "go_signals": nilPanics()})
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return c.Barrier()
}

func nilPanics() (ok bool) {
	defer func() { ok = recover() != nil }()
	var p *int
	return *p == 0
}

func gather(c dist.Comm) error {
	var recv []float64
	if c.Rank() == 0 {
		recv = make([]float64, 2*c.Size())
	}
	r := float64(c.Rank())
	if err := c.Gather64([]float64{r, r*r + 0.5}, recv, 0); err != nil {
		return err
	}
	if c.Rank() == 0 {
		return json.NewEncoder(os.Stdout).Encode(recv)
	}
	return nil
}
