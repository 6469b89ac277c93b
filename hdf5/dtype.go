package hdf5

import (
	"bytes"
	"encoding/binary"
	"math"
)

// Datatype messages (spec §IV.A.2.d). The reader maps them onto Kind:
// fixed-point and IEEE floating-point numbers of either byte order, h5py's
// bool enum, fixed-length strings and variable-length strings. The writer
// produces version-1 messages byte for byte as h5py does.

type strKind uint8

const (
	notString strKind = iota
	fixedString
	vlenString
)

type datatype struct {
	kind      Kind
	size      int // bytes per element in the file
	bigEndian bool
	str       strKind
	pad       uint8 // fixed strings: 0 NUL-terminated, 1 NUL-padded, 2 space-padded
}

var classNames = map[uint8]string{2: "time", 4: "bitfield", 5: "opaque", 6: "compound",
	7: "reference", 10: "array", 11: "complex"}

const maxTypeDepth = 8 // nesting of enum/variable-length base types

// decodeDatatype reads a datatype at the cursor; errors go to c.err.
func decodeDatatype(c *cursor, depth int) datatype {
	at := c.off()
	cv := c.u8()
	class, version := cv&0x0f, cv>>4
	var bf [3]byte
	copy(bf[:], c.take(3))
	size := c.u32()
	if c.err != nil {
		return datatype{}
	}
	if version < 1 || version > 5 {
		c.fail(formatErr(at, "datatype version %d", version))
		return datatype{}
	}
	if depth > maxTypeDepth {
		c.fail(formatErr(at, "datatype nested deeper than %d", maxTypeDepth))
		return datatype{}
	}
	dt := datatype{size: int(size), bigEndian: bf[0]&1 != 0}
	switch class {
	case 0:
		dt.kind = decodeFixedPoint(c, at, bf[0], size)
	case 1:
		dt.kind = decodeFloat(c, at, bf[0], size)
	case 3:
		dt.kind, dt.str, dt.pad, dt.bigEndian = String, fixedString, bf[0]&0x0f, false
		if size == 0 {
			c.fail(formatErr(at, "fixed-length string of size 0"))
		}
	case 8:
		dt = decodeEnum(c, at, version, bf, depth)
		if c.err == nil && size != 1 {
			c.fail(formatErr(at, "bool enum of element size %d", size))
		}
	case 9:
		dt = decodeVlen(c, at, bf, size, depth)
	default:
		name := classNames[class]
		if name == "" {
			c.fail(formatErr(at, "datatype class %d", class))
		} else {
			c.fail(unsupported(at, "%s datatype", name))
		}
	}
	return dt
}

func decodeFixedPoint(c *cursor, at int64, bits uint8, size uint32) Kind {
	offset, precision := c.u16(), c.u16()
	if c.err != nil {
		return Invalid
	}
	if (size != 1 && size != 2 && size != 4 && size != 8) || offset != 0 || uint32(precision) != 8*size {
		c.fail(unsupported(at, "%d-bit integer at bit offset %d in %d bytes", precision, offset, size))
		return Invalid
	}
	kinds := map[uint32][2]Kind{1: {Uint8, Int8}, 2: {Uint16, Int16}, 4: {Uint32, Int32}, 8: {Uint64, Int64}}
	if bits&0x08 != 0 {
		return kinds[size][1]
	}
	return kinds[size][0]
}

// decodeFloat accepts IEEE 754 binary32 and binary64 only.
func decodeFloat(c *cursor, at int64, bits uint8, size uint32) Kind {
	offset, precision := c.u16(), c.u16()
	expLoc, expSize, mantLoc, mantSize := c.u8(), c.u8(), c.u8(), c.u8()
	bias := c.u32()
	if c.err != nil {
		return Invalid
	}
	if bits&0x40 != 0 {
		c.fail(unsupported(at, "VAX byte order"))
		return Invalid
	}
	ieee := [5]uint32{uint32(offset), uint32(expLoc), uint32(expSize), uint32(mantLoc), uint32(mantSize)}
	switch {
	case size == 4 && precision == 32 && ieee == [5]uint32{0, 23, 8, 0, 23} && bias == 127:
		return Float32
	case size == 8 && precision == 64 && ieee == [5]uint32{0, 52, 11, 0, 52} && bias == 1023:
		return Float64
	}
	c.fail(unsupported(at, "%d-bit floating point (only IEEE float32 and float64 are read)", precision))
	return Invalid
}

// decodeEnum accepts h5py's bool: an 8-bit integer enum whose members are
// exactly FALSE = 0 and TRUE = 1.
func decodeEnum(c *cursor, at int64, version uint8, bf [3]byte, depth int) datatype {
	n := int(bf[0]) | int(bf[1])<<8
	base := decodeDatatype(c, depth+1)
	names := make([]string, 0, min(n, 16))
	for i := 0; i < n && c.err == nil; i++ {
		start := c.pos
		names = append(names, cString(c))
		if version < 3 {
			c.skip(pad8(c.pos-start) - (c.pos - start))
		}
	}
	values := c.take(n * base.size)
	if c.err != nil {
		return datatype{}
	}
	if (base.kind == Int8 || base.kind == Uint8) && n == 2 {
		members := map[string]byte{names[0]: values[0], names[1]: values[1]}
		if f, ok := members["FALSE"]; ok && f == 0 && members["TRUE"] == 1 {
			return datatype{kind: Bool, size: 1}
		}
	}
	c.fail(unsupported(at, "enum datatype other than h5py's bool (%d members)", n))
	return datatype{}
}

// decodeVlen accepts variable-length strings; their elements are 4-byte
// lengths followed by global heap IDs.
func decodeVlen(c *cursor, at int64, bf [3]byte, size uint32, depth int) datatype {
	if bf[0]&0x0f != 1 {
		c.fail(unsupported(at, "variable-length sequence datatype"))
		return datatype{}
	}
	decodeDatatype(c, depth+1) // base type: characters
	if c.err == nil && int(size) != 4+c.sz.offset+4 {
		c.fail(formatErr(at, "variable-length string of element size %d, want %d", size, 4+c.sz.offset+4))
	}
	return datatype{kind: String, str: vlenString, size: int(size)}
}

// cString reads a NUL-terminated string.
func cString(c *cursor) string {
	if c.err != nil {
		return ""
	}
	i := bytes.IndexByte(c.b[c.pos:], 0)
	if i < 0 {
		c.fail(formatErr(c.off(), "%s: unterminated string", c.what))
		return ""
	}
	s := string(c.b[c.pos : c.pos+i])
	c.pos += i + 1
	return s
}

// encodeDatatype returns the version-1 datatype message for a kind, as
// h5py writes it, and the element size in the file.
func encodeDatatype(k Kind) ([]byte, int) {
	var e encbuf
	switch k {
	case Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64:
		size := intSize(k)
		encodeFixedPoint(&e, size, k <= Int64)
		return e.b, size
	case Float32:
		e.raw([]byte{0x11, 0x20, 0x1f, 0x00})
		e.u32(4)
		e.raw([]byte{0, 0, 32, 0, 23, 8, 0, 23})
		e.u32(127)
		return e.b, 4
	case Float64:
		e.raw([]byte{0x11, 0x20, 0x3f, 0x00})
		e.u32(8)
		e.raw([]byte{0, 0, 64, 0, 52, 11, 0, 52})
		e.u32(1023)
		return e.b, 8
	case Bool:
		e.raw([]byte{0x18, 2, 0, 0}) // enum, 2 members
		e.u32(1)
		encodeFixedPoint(&e, 1, true)
		e.raw([]byte("FALSE\x00\x00\x00TRUE\x00\x00\x00\x00"))
		e.raw([]byte{0, 1})
		return e.b, 1
	case String:
		e.raw([]byte{0x19, 0x01, 0x01, 0x00}) // variable-length string, NUL-terminated, UTF-8
		e.u32(vlenSize)
		encodeFixedPoint(&e, 1, false) // characters: unsigned bytes
		return e.b, vlenSize
	}
	panic("hdf5: encodeDatatype: invalid kind")
}

// vlenSize is a variable-length element: length (4), heap collection
// address (8), object index (4).
const vlenSize = 16

func encodeFixedPoint(e *encbuf, size int, signed bool) {
	flags := byte(0)
	if signed {
		flags = 0x08
	}
	e.raw([]byte{0x10, flags, 0, 0})
	e.u32(uint32(size))
	e.u16(0)
	e.u16(uint16(8 * size))
}

func intSize(k Kind) int {
	switch k {
	case Int8, Uint8, Bool:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float32:
		return 4
	}
	return 8
}

// decodeElements converts n elements of raw file data to a typed slice.
// Variable-length strings are resolved by the decoder, not here.
func decodeElements(dt datatype, raw []byte, n int) any {
	var order binary.ByteOrder = binary.LittleEndian
	if dt.bigEndian {
		order = binary.BigEndian
	}
	switch dt.kind {
	case Int8:
		return convert(raw[:n], func(b byte) int8 { return int8(b) })
	case Uint8:
		return append([]uint8(nil), raw[:n]...)
	case Bool:
		return convert(raw[:n], func(b byte) bool { return b != 0 })
	case Int16:
		return words(raw, n, 2, func(p []byte) int16 { return int16(order.Uint16(p)) })
	case Uint16:
		return words(raw, n, 2, order.Uint16)
	case Int32:
		return words(raw, n, 4, func(p []byte) int32 { return int32(order.Uint32(p)) })
	case Uint32:
		return words(raw, n, 4, order.Uint32)
	case Int64:
		return words(raw, n, 8, func(p []byte) int64 { return int64(order.Uint64(p)) })
	case Uint64:
		return words(raw, n, 8, order.Uint64)
	case Float32:
		return words(raw, n, 4, func(p []byte) float32 { return math.Float32frombits(order.Uint32(p)) })
	case Float64:
		return words(raw, n, 8, func(p []byte) float64 { return math.Float64frombits(order.Uint64(p)) })
	case String:
		return words(raw, n, dt.size, func(p []byte) string { return fixedStringValue(p, dt.pad) })
	}
	return nil
}

func words[T any](raw []byte, n, size int, f func([]byte) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f(raw[i*size : (i+1)*size])
	}
	return out
}

// fixedStringValue strips a fixed-length string's padding.
func fixedStringValue(p []byte, pad uint8) string {
	switch pad {
	case 2:
		return string(bytes.TrimRight(p, " "))
	default:
		if i := bytes.IndexByte(p, 0); i >= 0 {
			p = p[:i]
		}
		return string(p)
	}
}

// encodeElements converts numeric or bool data to little-endian raw bytes.
func encodeElements(data any) []byte {
	le := binary.LittleEndian
	switch d := data.(type) {
	case []int8:
		return convert(d, func(v int8) byte { return byte(v) })
	case []uint8:
		return append([]byte(nil), d...)
	case []bool:
		return convert(d, func(v bool) byte { return byte(boolInt(v)) })
	case []int16:
		return appendAll(d, 2, func(b []byte, v int16) []byte { return le.AppendUint16(b, uint16(v)) })
	case []uint16:
		return appendAll(d, 2, le.AppendUint16)
	case []int32:
		return appendAll(d, 4, func(b []byte, v int32) []byte { return le.AppendUint32(b, uint32(v)) })
	case []uint32:
		return appendAll(d, 4, le.AppendUint32)
	case []int64:
		return appendAll(d, 8, func(b []byte, v int64) []byte { return le.AppendUint64(b, uint64(v)) })
	case []uint64:
		return appendAll(d, 8, le.AppendUint64)
	case []float32:
		return appendAll(d, 4, func(b []byte, v float32) []byte { return le.AppendUint32(b, math.Float32bits(v)) })
	case []float64:
		return appendAll(d, 8, func(b []byte, v float64) []byte { return le.AppendUint64(b, math.Float64bits(v)) })
	}
	panic("hdf5: encodeElements: unsupported data")
}

func appendAll[T any](d []T, size int, f func([]byte, T) []byte) []byte {
	b := make([]byte, 0, len(d)*size)
	for _, v := range d {
		b = f(b, v)
	}
	return b
}
