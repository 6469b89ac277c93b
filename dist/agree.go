package dist

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// RankError is Agree's error: which rank failed and why, the same on every
// rank.
type RankError struct {
	Rank   int    // the lowest rank that failed
	Size   int    // the number of ranks
	Failed int    // how many ranks failed
	Msg    string // the error message of rank Rank
	local  error  // this rank's own error, when it is rank Rank
	self   int    // the rank that returned this error
}

func (e *RankError) Error() string {
	s := fmt.Sprintf("rank %d of %d: %s", e.Rank, e.Size, e.Msg)
	if e.Failed > 1 {
		s += fmt.Sprintf(" (%d ranks failed)", e.Failed)
	}
	return s
}

// Unwrap returns the original error on the rank that reported it, so that
// errors.Is and errors.As see it there; nil on the other ranks.
func (e *RankError) Unwrap() error { return e.local }

// maxAgreeMsg bounds the message Agree broadcasts.
const maxAgreeMsg = 4096

// Agree is the collective "did any rank fail?" check: every rank passes its
// own error (nil when it is fine) and gets the same answer, nil when no rank
// failed, else a *RankError with the lowest failing rank's message (cut to
// 4 KiB); in a group of one, err itself. A training step calls it after computing the loss, so a NaN on one
// rank stops all ranks at the same step, and rank 0 can report the one
// line. It costs one all-reduce of Size() values, and two broadcasts when a
// rank failed. An error of the communication itself is returned as it is.
func Agree(c Comm, err error) error {
	if c.Size() == 1 {
		return err // nothing to agree on; the error as it is reads best
	}
	flags := make([]float64, c.Size())
	if err != nil {
		flags[c.Rank()] = 1
	}
	if cerr := c.AllreduceSum64(flags); cerr != nil {
		return cerr
	}
	e := &RankError{Rank: -1, Size: c.Size(), self: c.Rank()}
	for r, f := range flags {
		if f != 0 {
			e.Failed++
			if e.Rank < 0 {
				e.Rank = r
			}
		}
	}
	if e.Failed == 0 {
		return nil
	}
	var msg []byte
	if c.Rank() == e.Rank {
		e.local = err
		msg = []byte(err.Error())
		if len(msg) > maxAgreeMsg {
			msg = msg[:maxAgreeMsg]
			for !utf8.Valid(msg) { // do not cut a character in two
				msg = msg[:len(msg)-1]
			}
		}
	}
	msg, cerr := BroadcastBytes(c, msg, e.Rank)
	if cerr != nil {
		return cerr
	}
	e.Msg = string(msg)
	return e
}

// Quiet reports whether this process should not print err because rank 0
// prints the same message: err is a *RankError (from Agree) on a rank other
// than 0, or a *LaunchError on a rank other than 0 of a launch whose size is
// known. A program that prints its error on every rank thus shows such an
// error once per job.
func Quiet(err error) bool {
	var re *RankError
	if errors.As(err, &re) {
		return re.self != 0
	}
	var le *LaunchError
	if errors.As(err, &le) {
		return le.Launch.Rank != 0 && le.Launch.Size > 1
	}
	return false
}
