package data

import "fmt"

// EventFormatError reports a malformed event file (N-MNIST .bin, AEDAT): the file and the
// byte offset of the header line, packet or event at fault. The Decode functions leave
// File empty (they see only bytes); OpenEvents fills it in.
type EventFormatError struct {
	File   string
	Offset int64
	Msg    string
}

func (e *EventFormatError) Error() string {
	s := fmt.Sprintf("byte offset %d: %s", e.Offset, e.Msg)
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s
}

func eventErr(off int, format string, args ...any) error {
	return &EventFormatError{Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}
