package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// DataType is an ONNX tensor element type (TensorProto.DataType).
type DataType int32

// The element types the toolkit names. Other values are still decoded and
// re-encoded verbatim; only their conversion to numbers is unsupported.
const (
	Undefined DataType = DataType(onnxpb.TensorProto_UNDEFINED)
	Float     DataType = DataType(onnxpb.TensorProto_FLOAT)
	Uint8     DataType = DataType(onnxpb.TensorProto_UINT8)
	Int8      DataType = DataType(onnxpb.TensorProto_INT8)
	Uint16    DataType = DataType(onnxpb.TensorProto_UINT16)
	Int16     DataType = DataType(onnxpb.TensorProto_INT16)
	Int32     DataType = DataType(onnxpb.TensorProto_INT32)
	Int64     DataType = DataType(onnxpb.TensorProto_INT64)
	String    DataType = DataType(onnxpb.TensorProto_STRING)
	Bool      DataType = DataType(onnxpb.TensorProto_BOOL)
	Float16   DataType = DataType(onnxpb.TensorProto_FLOAT16)
	Double    DataType = DataType(onnxpb.TensorProto_DOUBLE)
	Uint32    DataType = DataType(onnxpb.TensorProto_UINT32)
	Uint64    DataType = DataType(onnxpb.TensorProto_UINT64)
	BFloat16  DataType = DataType(onnxpb.TensorProto_BFLOAT16)
)

// String returns the ONNX name of the type, in lower case as onnx.helper
// prints it (float, int64, ...).
func (d DataType) String() string {
	switch d {
	case Float:
		return "float"
	case Double:
		return "double"
	case Float16:
		return "float16"
	case BFloat16:
		return "bfloat16"
	case Int8:
		return "int8"
	case Int16:
		return "int16"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Uint8:
		return "uint8"
	case Uint16:
		return "uint16"
	case Uint32:
		return "uint32"
	case Uint64:
		return "uint64"
	case Bool:
		return "bool"
	case String:
		return "string"
	case Undefined:
		return "undefined"
	}
	return fmt.Sprintf("type%d", int32(d))
}

// Size returns the number of bytes one element takes in raw_data, or 0 for
// types without a fixed size (string, undefined).
func (d DataType) Size() int {
	switch d {
	case Float, Int32, Uint32:
		return 4
	case Double, Int64, Uint64:
		return 8
	case Float16, BFloat16, Int16, Uint16:
		return 2
	case Int8, Uint8, Bool:
		return 1
	}
	if d == DataType(onnxpb.TensorProto_COMPLEX64) {
		return 8
	}
	if d == DataType(onnxpb.TensorProto_COMPLEX128) {
		return 16
	}
	return 0
}

// NumElements returns the product of dims, or an error if a dim is negative or
// the product overflows.
func NumElements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in %v", d, dims)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("dimensions %v overflow", dims)
		}
		n *= d
	}
	return n, nil
}

// A Tensor is a dense tensor with its values converted to Go slices. Exactly
// one of the data slices is set, matching Type: Float32 for float, Float64
// for double, Int64 for all signed and unsigned integer types up to 32 bits
// and int64/uint64, Bool for bool; float16 and bfloat16 are widened to
// Float32.
type Tensor struct {
	Name    string
	Type    DataType
	Dims    []int64
	Float32 []float32
	Float64 []float64
	Int64   []int64
	Bool    []bool
}

// Len returns the number of elements.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Dims {
		n *= int(d)
	}
	return n
}

// Shape returns the dims as ints.
func (t *Tensor) Shape() []int {
	s := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		s[i] = int(d)
	}
	return s
}

// Floats returns the values as float32, converting from any numeric type.
func (t *Tensor) Floats() []float32 {
	switch {
	case t.Float32 != nil:
		return t.Float32
	case t.Float64 != nil:
		out := make([]float32, len(t.Float64))
		for i, v := range t.Float64 {
			out[i] = float32(v)
		}
		return out
	case t.Int64 != nil:
		out := make([]float32, len(t.Int64))
		for i, v := range t.Int64 {
			out[i] = float32(v)
		}
		return out
	case t.Bool != nil:
		out := make([]float32, len(t.Bool))
		for i, v := range t.Bool {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	return make([]float32, t.Len())
}

// Ints returns the values as int64, converting (truncating) from any numeric
// type.
func (t *Tensor) Ints() []int64 {
	switch {
	case t.Int64 != nil:
		return t.Int64
	case t.Float32 != nil:
		out := make([]int64, len(t.Float32))
		for i, v := range t.Float32 {
			out[i] = int64(v)
		}
		return out
	case t.Float64 != nil:
		out := make([]int64, len(t.Float64))
		for i, v := range t.Float64 {
			out[i] = int64(v)
		}
		return out
	case t.Bool != nil:
		out := make([]int64, len(t.Bool))
		for i, v := range t.Bool {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	return make([]int64, t.Len())
}

// TensorFromProto converts an in-memory TensorProto (raw_data or the typed
// repeated fields) into a Tensor. External data must have been loaded first
// (see Model.LoadExternalData). The declared dims must agree with the amount
// of data, else a *FormatError is returned.
//
// A float32 tensor shares its values with p instead of copying them (its
// raw_data on a little-endian machine when aligned, as Decode lays it out,
// or its float_data): weights are held once however many views read them.
// Treat the values as read-only while p is in use (copy them to change
// them); every other element type is converted into memory of its own.
func TensorFromProto(p *onnxpb.TensorProto) (*Tensor, error) {
	name := p.GetName()
	where := "tensor " + fmt.Sprintf("%q", name)
	if p.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, formatErrorf(where, "external data not loaded")
	}
	if p.Segment != nil {
		return nil, &UnsupportedError{Items: []Unsupported{{OpType: "segmented tensor", Reason: name}}}
	}
	n, err := NumElements(p.Dims)
	if err != nil {
		return nil, formatErrorf(where, "%v", err)
	}
	dt := DataType(p.GetDataType())
	t := &Tensor{Name: name, Type: dt, Dims: append([]int64(nil), p.Dims...)}
	raw := p.RawData
	if raw != nil && dt.Size() == 0 {
		return nil, &UnsupportedError{Items: []Unsupported{{OpType: "tensor type " + dt.String(), Reason: "tensor " + name}}}
	}
	// Check the amount of data before allocating anything from dims.
	if err := checkTensorData(p, where, n); err != nil {
		return nil, err
	}
	count := func(have int) error { return nil } // checked above
	le := binary.LittleEndian
	switch dt {
	case Float:
		switch v, ok := float32View(raw, n); {
		case ok:
			t.Float32 = v
		case raw != nil:
			t.Float32 = make([]float32, n)
			for i := range t.Float32 {
				t.Float32[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
			}
		case n > 0:
			t.Float32 = p.FloatData[:n:n]
		default:
			t.Float32 = []float32{}
		}
	case Double:
		if raw != nil {
			t.Float64 = make([]float64, n)
			for i := range t.Float64 {
				t.Float64[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
			}
		} else {
			if err := count(len(p.DoubleData)); err != nil {
				return nil, err
			}
			t.Float64 = append([]float64{}, p.DoubleData...)
		}
	case Float16, BFloat16:
		t.Float32 = make([]float32, n)
		var bits []uint16
		if raw != nil {
			bits = make([]uint16, n)
			for i := range bits {
				bits[i] = le.Uint16(raw[2*i:])
			}
		} else {
			if err := count(len(p.Int32Data)); err != nil {
				return nil, err
			}
			bits = make([]uint16, n)
			for i, v := range p.Int32Data {
				bits[i] = uint16(v)
			}
		}
		for i, b := range bits {
			if dt == Float16 {
				t.Float32[i] = halfToFloat(b)
			} else {
				t.Float32[i] = math.Float32frombits(uint32(b) << 16)
			}
		}
	case Int64:
		if raw != nil {
			t.Int64 = make([]int64, n)
			for i := range t.Int64 {
				t.Int64[i] = int64(le.Uint64(raw[8*i:]))
			}
		} else {
			if err := count(len(p.Int64Data)); err != nil {
				return nil, err
			}
			t.Int64 = append([]int64{}, p.Int64Data...)
		}
	case Uint64:
		if raw != nil {
			t.Int64 = make([]int64, n)
			for i := range t.Int64 {
				t.Int64[i] = int64(le.Uint64(raw[8*i:]))
			}
		} else {
			if err := count(len(p.Uint64Data)); err != nil {
				return nil, err
			}
			t.Int64 = make([]int64, n)
			for i, v := range p.Uint64Data {
				t.Int64[i] = int64(v)
			}
		}
	case Int32, Int16, Int8, Uint16, Uint8, Uint32, Bool:
		vals := make([]int64, n)
		if raw != nil {
			for i := range vals {
				switch dt {
				case Int32:
					vals[i] = int64(int32(le.Uint32(raw[4*i:])))
				case Uint32:
					vals[i] = int64(le.Uint32(raw[4*i:]))
				case Int16:
					vals[i] = int64(int16(le.Uint16(raw[2*i:])))
				case Uint16:
					vals[i] = int64(le.Uint16(raw[2*i:]))
				case Int8:
					vals[i] = int64(int8(raw[i]))
				default:
					vals[i] = int64(raw[i])
				}
			}
		} else if dt == Uint32 {
			if err := count(len(p.Uint64Data)); err != nil {
				return nil, err
			}
			for i, v := range p.Uint64Data {
				vals[i] = int64(v)
			}
		} else {
			if err := count(len(p.Int32Data)); err != nil {
				return nil, err
			}
			for i, v := range p.Int32Data {
				vals[i] = int64(v)
			}
		}
		if dt == Bool {
			t.Bool = make([]bool, n)
			for i, v := range vals {
				t.Bool[i] = v != 0
			}
		} else {
			t.Int64 = vals
		}
	default:
		return nil, &UnsupportedError{Items: []Unsupported{{OpType: "tensor type " + dt.String(), Reason: "tensor " + name}}}
	}
	return t, nil
}

// Proto converts the tensor to a TensorProto with its data in raw_data
// (little-endian), the form every exporter writes. Int64 data is written as
// the tensor's Type (int8..int64, uint8..uint64); Float32 data as float,
// float16 or bfloat16.
func (t *Tensor) Proto() *onnxpb.TensorProto { return t.proto(false) }

// ProtoView is Proto without the copy where it can be done: on a
// little-endian machine the raw_data of a float32 tensor is the tensor's
// own memory. The tensor and the proto then share their values, and
// neither may be modified while the other is in use; values that keep
// changing (training parameters) go through Proto.
func (t *Tensor) ProtoView() *onnxpb.TensorProto { return t.proto(true) }

func (t *Tensor) proto(share bool) *onnxpb.TensorProto {
	dt := t.Type
	if dt == Undefined {
		switch {
		case t.Float32 != nil:
			dt = Float
		case t.Float64 != nil:
			dt = Double
		case t.Int64 != nil:
			dt = Int64
		case t.Bool != nil:
			dt = Bool
		}
	}
	n := t.Len()
	p := &onnxpb.TensorProto{
		Dims:     append([]int64{}, t.Dims...),
		DataType: ptr(int32(dt)),
	}
	if t.Name != "" {
		p.Name = ptr(t.Name)
	}
	if share && dt == Float && len(t.Float32) == n {
		if raw, ok := float32Bytes(t.Float32); ok {
			p.RawData = raw
			return p
		}
	}
	raw := make([]byte, n*dt.Size())
	p.RawData = raw
	le := binary.LittleEndian
	switch dt {
	case Float:
		for i, v := range t.Float32 {
			le.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case Float16:
		for i, v := range t.Float32 {
			le.PutUint16(raw[2*i:], floatToHalf(v))
		}
	case BFloat16:
		for i, v := range t.Float32 {
			le.PutUint16(raw[2*i:], uint16(math.Float32bits(v)>>16))
		}
	case Double:
		for i, v := range t.Float64 {
			le.PutUint64(raw[8*i:], math.Float64bits(v))
		}
	case Int64, Uint64:
		for i, v := range t.Int64 {
			le.PutUint64(raw[8*i:], uint64(v))
		}
	case Int32, Uint32:
		for i, v := range t.Int64 {
			le.PutUint32(raw[4*i:], uint32(v))
		}
	case Int16, Uint16:
		for i, v := range t.Int64 {
			le.PutUint16(raw[2*i:], uint16(v))
		}
	case Int8, Uint8:
		for i, v := range t.Int64 {
			raw[i] = byte(v)
		}
	case Bool:
		for i, v := range t.Bool {
			if v {
				raw[i] = 1
			}
		}
	}
	return p
}

// FloatTensor returns a float32 tensor proto named name.
func FloatTensor(name string, dims []int64, data []float32) *onnxpb.TensorProto {
	return (&Tensor{Name: name, Type: Float, Dims: dims, Float32: data}).Proto()
}

// Int64Tensor returns an int64 tensor proto named name.
func Int64Tensor(name string, dims []int64, data []int64) *onnxpb.TensorProto {
	return (&Tensor{Name: name, Type: Int64, Dims: dims, Int64: data}).Proto()
}

func ptr[T any](v T) *T { return &v }

// halfToFloat converts IEEE 754 binary16 bits to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// floatToHalf converts float32 to IEEE 754 binary16 bits, rounding to nearest
// even.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN
		return sign | 0x7e00
	case exp >= 0x1f:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++
	}
	return sign | uint16(half)
}
