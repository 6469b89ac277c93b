package data

import (
	"errors"
	"fmt"
	"io/fs"
)

// FormatError reports a malformed dataset file. File is the path of the file at fault as
// the caller named it (Open: a file-system path; OpenFS: a slash path inside the fs.FS) and
// Record the 0-based index of the first record at fault, or -1 when the problem is not tied
// to one record (a bad header, an undecodable image).
type FormatError struct {
	File   string
	Record int
	Msg    string
	Err    error // underlying cause, if any
}

func (e *FormatError) Error() string {
	s := e.File + ": "
	if e.Record >= 0 {
		s += fmt.Sprintf("record %d: ", e.Record)
	}
	s += e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(file string, record int, format string, args ...any) error {
	return &FormatError{File: file, Record: record, Msg: fmt.Sprintf(format, args...)}
}

// ErrClosed is returned by Iter.Next after Iter.Close.
var ErrClosed = errors.New("data: iterator closed")

// ioErr names file (the caller-facing name) in an I/O error from an fs.FS, whose paths are
// relative to the dataset folder.
func ioErr(file string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: file, Err: pe.Err}
	}
	return fmt.Errorf("%s: %w", file, err)
}
