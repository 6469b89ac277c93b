package hdf5

import (
	"encoding/binary"
)

// HDF5 stores every metadata field little-endian. Addresses ("offsets") and
// lengths have the widths the superblock declares; this package writes 8 and
// reads 2, 4 or 8.

// sizes holds the superblock's field widths.
type sizes struct {
	offset int // bytes per address
	length int // bytes per length
}

// undef is the undefined address for a width of n bytes: all bits set.
func undef(n int) uint64 {
	if n >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*uint(n)) - 1
}

// cursor decodes fields from a byte slice that came from file offset base.
// Reading past the end sets a sticky FormatError naming what was being
// decoded and returns zero values, so a decoder can read a whole structure
// and check err once.
type cursor struct {
	b    []byte
	pos  int
	base int64
	what string // structure being decoded, for the error message
	sz   sizes
	err  error
}

func newCursor(b []byte, base int64, what string, sz sizes) *cursor {
	return &cursor{b: b, base: base, what: what, sz: sz}
}

// off returns the file offset of the next byte.
func (c *cursor) off() int64 { return c.base + int64(c.pos) }

func (c *cursor) left() int { return len(c.b) - c.pos }

// take returns the next n bytes, or nil after setting err.
func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || n > len(c.b)-c.pos {
		c.err = formatErr(c.off(), "%s truncated: need %d bytes, %d left", c.what, n, len(c.b)-c.pos)
		return nil
	}
	p := c.b[c.pos : c.pos+n]
	c.pos += n
	return p
}

func (c *cursor) skip(n int) { c.take(n) }

func (c *cursor) u8() uint8 {
	p := c.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (c *cursor) u16() uint16 {
	p := c.take(2)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

func (c *cursor) u32() uint32 {
	p := c.take(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (c *cursor) u64() uint64 { return c.uN(8) }

// uN reads an n-byte little-endian unsigned integer (1 ≤ n ≤ 8).
func (c *cursor) uN(n int) uint64 {
	if n < 1 || n > 8 {
		if c.err == nil {
			c.err = formatErr(c.off(), "%s: field width %d", c.what, n)
		}
		return 0
	}
	p := c.take(n)
	if p == nil {
		return 0
	}
	return leUint(p)
}

// addr reads an address; ok is false for the undefined address.
func (c *cursor) addr() (a uint64, ok bool) {
	a = c.uN(c.sz.offset)
	return a, a != undef(c.sz.offset)
}

func (c *cursor) length() uint64 { return c.uN(c.sz.length) }

// signature checks a 4-byte structure signature.
func (c *cursor) signature(sig string) {
	at := c.off()
	p := c.take(4)
	if p != nil && string(p) != sig {
		c.err = formatErr(at, "%s: signature %q, want %q", c.what, p, sig)
	}
}

// fail records err (if none is recorded yet).
func (c *cursor) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func leUint(p []byte) uint64 {
	var v uint64
	for i := len(p) - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

// bytesFor is the least number of bytes that can hold v (at least 1), the
// width HDF5 uses for its variable-size counters.
func bytesFor(v uint64) int {
	n := 1
	for v > 0xff {
		v >>= 8
		n++
	}
	return n
}

// encbuf builds little-endian structures for the writer.
type encbuf struct {
	b []byte
}

func (e *encbuf) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encbuf) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encbuf) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encbuf) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encbuf) raw(p []byte) { e.b = append(e.b, p...) }
func (e *encbuf) zeros(n int)  { e.b = append(e.b, make([]byte, n)...) }

// pad8 appends zeros up to a multiple of eight bytes.
func (e *encbuf) pad8() { e.zeros(pad8(len(e.b)) - len(e.b)) }

// pad8 rounds n up to a multiple of eight.
func pad8(n int) int { return (n + 7) &^ 7 }
