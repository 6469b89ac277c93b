//go:build !cgo

package ort

// SessionOptions configure a Session.
type SessionOptions struct {
	IntraOpThreads, InterOpThreads int
	LowMemory                      bool
}

// A Session is a model loaded in onnxruntime; without cgo there is none.
type Session struct{}

// NewSession reports onnxruntime as unavailable: built without cgo.
func NewSession(model []byte, opts SessionOptions) (*Session, error) { return nil, errNoCgo }

// NewSessionFile reports onnxruntime as unavailable: built without cgo.
func NewSessionFile(path string, inputs, outputs []string, opts SessionOptions) (*Session, error) {
	return nil, errNoCgo
}

// Inputs returns nothing: built without cgo.
func (s *Session) Inputs() []string { return nil }

// Outputs returns nothing: built without cgo.
func (s *Session) Outputs() []string { return nil }

// Close does nothing: built without cgo.
func (s *Session) Close() error { return nil }

// A Call is a prepared run; without cgo there is none.
type Call struct{}

// Prepare reports onnxruntime as unavailable: built without cgo.
func (s *Session) Prepare(inputs map[string]Tensor) (*Call, error) { return nil, errNoCgo }

// Run reports onnxruntime as unavailable: built without cgo.
func (c *Call) Run() error { return errNoCgo }

// Outputs reports onnxruntime as unavailable: built without cgo.
func (c *Call) Outputs() ([]Tensor, error) { return nil, errNoCgo }

// Close does nothing: built without cgo.
func (c *Call) Close() error { return nil }
