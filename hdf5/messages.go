package hdf5

import (
	"fmt"
	"unicode/utf8"
)

// Decoders and encoders of the header messages that describe datasets,
// attributes and links (spec §IV.A.2). Each decoder takes the message body
// and its file offset; the writer emits the versions h5py writes by default.

const maxRank = 32 // the library's H5S_MAX_RANK

// dataspace is a decoded dataspace message; a scalar has no dims.
type dataspace struct {
	dims []uint64
	null bool
}

func decodeDataspace(c *cursor) dataspace {
	at := c.off()
	version, rank, flags := c.u8(), int(c.u8()), c.u8()
	var ds dataspace
	switch version {
	case 1:
		c.skip(5)
	case 2:
		switch typ := c.u8(); typ {
		case 0, 1:
		case 2:
			ds.null = true
		default:
			c.fail(formatErr(at, "dataspace type %d", typ))
		}
	default:
		c.fail(formatErr(at, "dataspace version %d", version))
	}
	if rank > maxRank {
		c.fail(formatErr(at, "dataspace of rank %d (at most %d)", rank, maxRank))
	}
	if c.err != nil {
		return ds
	}
	for range rank {
		ds.dims = append(ds.dims, c.length())
	}
	if flags&1 != 0 {
		c.skip(rank * c.sz.length) // maximum dimensions
	}
	return ds
}

// encodeDataspace returns a version-1 dataspace message; simple dataspaces
// carry maximum dimensions equal to the dimensions, as h5py writes them.
func encodeDataspace(shape []int) []byte {
	var e encbuf
	flags := byte(0)
	if len(shape) > 0 {
		flags = 1
	}
	e.raw([]byte{1, byte(len(shape)), flags, 0})
	e.u32(0)
	for range 2 {
		for _, d := range shape {
			e.u64(uint64(d))
		}
	}
	return e.b
}

// decodeFill returns the fill value of a new-style (0x05) or old-style
// (0x04) fill value message: nil when undefined or the default (zeros).
func decodeFill(m *message, sz sizes) ([]byte, error) {
	c := newCursor(m.data, m.off, "fill value message", sz)
	if m.typ == msgFillOld {
		n := c.u32()
		v := c.take(int(n))
		return v, c.err
	}
	version := c.u8()
	defined := false
	switch version {
	case 1, 2:
		c.skip(2) // allocation time, fill write time
		defined = c.u8() != 0
		if version == 1 {
			defined = true // the size field is always there
		}
	case 3:
		defined = c.u8()&0x20 != 0 // flags: allocation and fill times, undefined, defined
	default:
		return nil, formatErr(m.off, "fill value message version %d", version)
	}
	if !defined || c.err != nil {
		return nil, c.err
	}
	n := c.u32()
	v := c.take(int(n))
	return v, c.err
}

// encodeFill returns a version-2 fill value message for the default fill
// value, with h5py's allocation and fill times: late allocation for
// contiguous data, early for compact, incremental for chunked; fill values
// written on allocation for strings, only if set by the user otherwise.
func encodeFill(l Layout, k Kind) []byte {
	alloc := map[Layout]byte{Contiguous: 2, Compact: 1, Chunked: 3}[l]
	write := byte(2)
	if k == String || l == Chunked {
		write = 0
	}
	return []byte{2, alloc, write, 1, 0, 0, 0, 0}
}

// filter is one entry of a filter pipeline message.
type filter struct {
	id       uint16
	optional bool
	client   []uint32
}

const (
	filterDeflate    = 1
	filterShuffle    = 2
	filterFletcher32 = 3
	maxFilters       = 32
)

func decodeFilters(m *message, sz sizes) ([]filter, error) {
	c := newCursor(m.data, m.off, "filter pipeline message", sz)
	version, n := c.u8(), int(c.u8())
	switch version {
	case 1:
		c.skip(6)
	case 2:
	default:
		return nil, formatErr(m.off, "filter pipeline message version %d", version)
	}
	if n > maxFilters {
		return nil, formatErr(m.off, "%d filters (at most %d)", n, maxFilters)
	}
	var out []filter
	for i := 0; i < n && c.err == nil; i++ {
		f := filter{id: c.u16()}
		nameLen := 0
		if version == 1 || f.id >= 256 {
			nameLen = int(c.u16())
		}
		f.optional = c.u16()&1 != 0
		nvals := int(c.u16())
		c.skip(nameLen)
		for range nvals {
			if c.err != nil {
				break
			}
			f.client = append(f.client, c.u32())
		}
		if version == 1 && nvals%2 == 1 {
			c.skip(4)
		}
		out = append(out, f)
	}
	return out, c.err
}

// encodeFilters returns a version-1 filter pipeline message as h5py writes
// it: named, optional filters ("shuffle" with the element size, then
// "deflate" with the level).
func encodeFilters(s Storage, elemSize int) []byte {
	var e encbuf
	n := 0
	if s.Shuffle {
		n++
	}
	if s.Deflate > 0 {
		n++
	}
	e.raw([]byte{1, byte(n), 0, 0, 0, 0, 0, 0})
	add := func(id uint16, name string, value uint32) {
		e.u16(id)
		e.u16(8)
		e.u16(1) // optional
		e.u16(1) // one client value
		e.raw(padded([]byte(name + "\x00")))
		e.u32(value)
		e.u32(0) // pads an odd number of values
	}
	if s.Shuffle {
		add(filterShuffle, "shuffle", uint32(elemSize))
	}
	if s.Deflate > 0 {
		add(filterDeflate, "deflate", uint32(s.Deflate))
	}
	return e.b
}

// attribute is a decoded attribute message before its data is converted.
type attribute struct {
	name  string
	dt    datatype
	space dataspace
	data  []byte
	off   int64
}

func decodeAttribute(m *message, sz sizes) (attribute, error) {
	c := newCursor(m.data, m.off, "attribute message", sz)
	version, flags := c.u8(), c.u8()
	nameSize, typeSize, spaceSize := int(c.u16()), int(c.u16()), int(c.u16())
	switch version {
	case 1:
	case 2:
	case 3:
		c.skip(1) // name character set
	default:
		return attribute{}, formatErr(m.off, "attribute message version %d", version)
	}
	if flags&3 != 0 {
		return attribute{}, unsupported(m.off, "attribute with a shared datatype or dataspace")
	}
	field := func(n int, what string) *cursor {
		at := c.off()
		p := c.take(n)
		if version == 1 {
			c.skip(pad8(n) - n)
		}
		return newCursor(p, at, what, sz)
	}
	name := field(nameSize, "attribute name").b
	tc := field(typeSize, "attribute datatype")
	sc := field(spaceSize, "attribute dataspace")
	if c.err != nil {
		return attribute{}, c.err
	}
	a := attribute{name: string(trimNul(name)), off: m.off}
	a.dt = decodeDatatype(tc, 0)
	a.space = decodeDataspace(sc)
	if tc.err != nil {
		return a, tc.err
	}
	if sc.err != nil {
		return a, sc.err
	}
	a.data = c.b[c.pos:]
	return a, nil
}

func trimNul(p []byte) []byte {
	for len(p) > 0 && p[len(p)-1] == 0 {
		p = p[:len(p)-1]
	}
	return p
}

// encodeAttribute returns a version-1 attribute message (fields padded to
// 8 bytes) for an already-encoded datatype and raw value.
func encodeAttribute(name string, dtype []byte, shape []int, raw []byte) []byte {
	var e encbuf
	space := encodeDataspace(shape)
	e.u8(1)
	e.u8(0)
	e.u16(uint16(len(name) + 1))
	e.u16(uint16(len(dtype)))
	e.u16(uint16(len(space)))
	e.raw(padded([]byte(name + "\x00")))
	e.raw(padded(dtype))
	e.raw(padded(space))
	e.raw(raw)
	e.pad8()
	return e.b
}

// linkInfo is a decoded link info message of a new-style group.
type linkInfo struct {
	dense     bool
	heap      uint64 // fractal heap of link messages
	nameIndex uint64 // v2 B-tree of name hashes
}

func decodeLinkInfo(m *message, sz sizes) (linkInfo, error) {
	c := newCursor(m.data, m.off, "link info message", sz)
	if v := c.u8(); v != 0 {
		return linkInfo{}, formatErr(m.off, "link info message version %d", v)
	}
	if c.u8()&1 != 0 {
		c.skip(8) // maximum creation index
	}
	var li linkInfo
	var ok1, ok2 bool
	li.heap, ok1 = c.addr()
	li.nameIndex, ok2 = c.addr()
	if c.err == nil && ok1 != ok2 {
		return li, formatErr(m.off, "link info message with only one of heap and name index")
	}
	li.dense = ok1
	return li, c.err
}

// decodeLink reads a link message (compact storage, or an object in a dense
// group's fractal heap).
func decodeLink(b []byte, off int64, sz sizes) (rawLink, error) {
	c := newCursor(b, off, "link message", sz)
	if v := c.u8(); v != 1 {
		return rawLink{}, formatErr(off, "link message version %d", v)
	}
	flags := c.u8()
	typ := uint8(0)
	if flags&0x08 != 0 {
		typ = c.u8()
	}
	if flags&0x04 != 0 {
		c.skip(8) // creation order
	}
	if flags&0x10 != 0 {
		c.skip(1) // name character set: ASCII or UTF-8, both kept as bytes
	}
	n := c.uN(1 << (flags & 3))
	if n > uint64(c.left()) {
		return rawLink{}, formatErr(c.off(), "link name of %d bytes in a %d-byte message", n, len(b))
	}
	l := rawLink{name: string(c.take(int(n))), off: off}
	switch typ {
	case 0:
		var ok bool
		if l.addr, ok = c.addr(); !ok && c.err == nil {
			return rawLink{}, formatErr(off, "hard link %q to an undefined address", l.name)
		}
	case 1:
		l.isSoft = true
		l.soft = string(c.take(int(c.u16())))
	case 64:
		return rawLink{}, unsupported(off, "external link %q", l.name)
	default:
		return rawLink{}, unsupported(off, "user-defined link %q of type %d", l.name, typ)
	}
	return l, c.err
}

// validName reports why name cannot name a link or attribute, or nil.
func validName(name string, link bool) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	case containsByte(name, 0):
		return fmt.Errorf("name %q contains a NUL byte", name)
	case link && (name == "." || containsByte(name, '/')):
		return fmt.Errorf("link name %q is \".\" or contains \"/\"", name)
	}
	return nil
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}
