package hdf5

import (
	"errors"
	"fmt"
)

// A FormatError reports a malformed file: a structure that breaks the HDF5
// file-format specification, a checksum mismatch, or a size or address that
// points outside the file.
type FormatError struct {
	Offset int64  // byte offset of the offending structure or field; -1 if unknown
	Path   string // HDF5 path of the object being read; "" before the root group
	Msg    string
}

func (e *FormatError) Error() string { return errorText("malformed file", e.Offset, e.Path, e.Msg) }

// errorText is "hdf5: what at byte N (path): msg".
func errorText(what string, off int64, path, msg string) string {
	s := "hdf5: " + what
	if off >= 0 {
		s += fmt.Sprintf(" at byte %d", off)
	}
	if path != "" {
		s += " (" + path + ")"
	}
	return s + ": " + msg
}

// An UnsupportedError reports a valid HDF5 feature that this package does not
// read or write, such as a compound datatype or the szip filter.
type UnsupportedError struct {
	Offset  int64  // byte offset of the structure using the feature; -1 if unknown
	Path    string // HDF5 path of the object using the feature
	Feature string
}

func (e *UnsupportedError) Error() string {
	return errorText("unsupported", e.Offset, e.Path, e.Feature)
}

func formatErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(off int64, format string, args ...any) error {
	return &UnsupportedError{Offset: off, Feature: fmt.Sprintf(format, args...)}
}

// withPath fills in the HDF5 path of a FormatError or UnsupportedError that
// was raised below the object level and does not know it yet.
func withPath(err error, path string) error {
	var fe *FormatError
	if errors.As(err, &fe) && fe.Path == "" {
		fe.Path = path
	}
	var ue *UnsupportedError
	if errors.As(err, &ue) && ue.Path == "" {
		ue.Path = path
	}
	return err
}
