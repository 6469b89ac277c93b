package dist

import (
	"fmt"
	"os"
	"strings"
)

// Local is the group of one process: rank 0 of 1. Reductions and broadcasts
// leave the data as it is, Gather64 copies; nothing is communicated. It is
// what Open returns when no launcher started the process, and in builds
// without the mpi tag.
type Local struct{}

var _ Comm = Local{}

// Rank is 0.
func (Local) Rank() int { return 0 }

// Size is 1.
func (Local) Size() int { return 1 }

// AllreduceSum32 leaves buf as it is: the sum over one rank.
func (Local) AllreduceSum32(buf []float32) error { return nil }

// AllreduceSum64 leaves buf as it is: the sum over one rank.
func (Local) AllreduceSum64(buf []float64) error { return nil }

// Broadcast leaves buf as it is; root must be 0.
func (Local) Broadcast(buf []byte, root int) error { return checkRoot("Broadcast", root, 1) }

// Gather64 copies send to the front of recv; root must be 0.
func (Local) Gather64(send, recv []float64, root int) error {
	if err := checkRoot("Gather64", root, 1); err != nil {
		return err
	}
	if len(recv) < len(send) {
		return fmt.Errorf("dist: Gather64: recv holds %d values, the root needs %d", len(recv), len(send))
	}
	copy(recv, send)
	return nil
}

// Barrier returns at once.
func (Local) Barrier() error { return nil }

// Abort writes msg as one line on stderr and exits with status code.
func (Local) Abort(code int, msg string) {
	writeAbortLine(msg)
	os.Exit(code)
}

// Close does nothing.
func (Local) Close() error { return nil }

// Stats is zero: nothing is communicated.
func (Local) Stats() Stats { return Stats{} }

// writeAbortLine writes msg on stderr as exactly one line.
func writeAbortLine(msg string) {
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "\r", "\n")), " ")
	fmt.Fprintln(os.Stderr, msg)
}
