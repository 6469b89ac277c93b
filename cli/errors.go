package cli

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// fileError is an error about a file given on the command line. It prints
// as "<path>: <cause>" with the path named once, however the cause was
// worded (os errors and onnx.FormatError may already carry the path).
type fileError struct {
	Path string
	Err  error
}

// fileErr wraps err (nil stays nil) so that it names path.
func fileErr(path string, err error) error {
	if err == nil {
		return nil
	}
	return &fileError{Path: path, Err: err}
}

func (e *fileError) Unwrap() error { return e.Err }

func (e *fileError) Error() string {
	// Only the error itself, not one it wraps: a wrapper adds context
	// that must stay in the message.
	if pe, ok := e.Err.(*fs.PathError); ok && pe.Path == e.Path {
		return fmt.Sprintf("%s: %v", e.Path, pe.Err)
	}
	if fe, ok := e.Err.(*onnx.FormatError); ok && fe.Where == e.Path {
		return fmt.Sprintf("%s: %v", e.Path, &onnx.FormatError{Msg: fe.Msg})
	}
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.Path+": ") {
		return msg
	}
	return e.Path + ": " + msg
}
