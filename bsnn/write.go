package bsnn

import "github.com/bsnnctl/bsnnctl/onnx"

// checkWrite is the write check registered with package onnx: CheckNames
// on the main graph of a model that says it is a BSNN file.
func checkWrite(m *onnx.Model) error {
	if _, ok := m.Metadata()[MetaFormatVersion]; !ok {
		return nil
	}
	return CheckNames(m.Proto.GetGraph())
}

func init() { onnx.RegisterWriteCheck(checkWrite) }
