package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// maxTensorFileBytes bounds a .pb tensor file (the protobuf limit).
const maxTensorFileBytes = onnx.MaxModelBytes

// readTensorFile reads a tensor file given on the command line, chosen by
// extension: .npy (NumPy, C order) or .pb (a serialized ONNX TensorProto).
// Errors name the file.
func readTensorFile(path string) (*onnx.Tensor, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		t, err := npy.ReadFile(path)
		return t, fileErr(path, err)
	case ".pb":
		st, err := os.Stat(path)
		if err != nil {
			return nil, fileErr(path, err)
		}
		if st.Size() > maxTensorFileBytes {
			return nil, fileErr(path, fmt.Errorf("larger than the 2 GiB protobuf limit"))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fileErr(path, err)
		}
		var tp onnxpb.TensorProto
		if err := proto.Unmarshal(data, &tp); err != nil {
			return nil, fileErr(path, fmt.Errorf("not an ONNX TensorProto: %v", err))
		}
		t, err := onnx.TensorFromProto(&tp)
		return t, fileErr(path, err)
	}
	return nil, fileErr(path, fmt.Errorf("unknown tensor file type %q: use .npy or .pb (ONNX TensorProto)", filepath.Ext(path)))
}

// floatData returns a tensor's values as float32 for the engine: float32
// (and float16/bfloat16, widened on reading) as is, float64 converted;
// any other type is an error naming what (an input) and the file.
func floatData(t *onnx.Tensor, what, path string) ([]float32, error) {
	switch t.Type {
	case onnx.Float, onnx.Float16, onnx.BFloat16, onnx.Double:
		return t.Floats(), nil
	}
	return nil, fmt.Errorf("%s: %s holds %s values; the engine takes float32 (float64 is converted)", what, path, t.Type)
}

// shapeString prints a shape like onnx.Shape.String: "[2,1,28,28]".
func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
