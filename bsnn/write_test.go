package bsnn_test

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// TestWriteRefusesBrokenNames: onnx.Marshal (and so every writer) refuses a
// BSNN file that breaks a naming rule, with the NameError; a model that is
// not a BSNN file is written as it is.
func TestWriteRefusesBrokenNames(t *testing.T) {
	m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: oldStyle()}}
	if _, err := onnx.Marshal(m); err != nil {
		t.Fatalf("a model without bsnn.format_version: %v", err)
	}
	m.SetMetadata(bsnn.MetaFormatVersion, bsnn.FormatVersion)
	var ne *bsnn.NameError
	if _, err := onnx.Marshal(m); !errors.As(err, &ne) || ne.Node != "encode/repeat" {
		t.Fatalf("Marshal of a broken BSNN file: %v", err)
	}
	path := t.TempDir() + "/broken.onnx"
	if err := onnx.EncodeFile(path, m); !errors.As(err, &ne) {
		t.Fatalf("EncodeFile: %v", err)
	}
	bsnn.Legalize(m.Proto.Graph)
	if _, err := onnx.Marshal(m); err != nil {
		t.Fatalf("Marshal after Legalize: %v", err)
	}
}
