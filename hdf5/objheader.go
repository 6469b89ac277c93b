package hdf5

import "fmt"

// Object headers (spec §IV.A) hold an object's metadata as a list of
// messages, spread over a first chunk and continuation chunks. Version 1
// (superblock v0/v1 files) aligns everything to 8 bytes; version 2 ("OHDR",
// libver='latest') packs messages and checksums each chunk.

// Header message types this package reads or writes.
const (
	msgNil          = 0x00
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFillOld      = 0x04
	msgFill         = 0x05
	msgLink         = 0x06
	msgExternal     = 0x07
	msgLayout       = 0x08
	msgGroupInfo    = 0x0a
	msgFilters      = 0x0b
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// Message flag bits.
const (
	msgFlagConstant   = 0x01
	msgFlagShared     = 0x02
	msgFlagFailAlways = 0x80 // fail if the message type is unknown
)

type message struct {
	typ   uint16
	flags uint8
	data  []byte
	off   int64 // absolute offset of data
}

type objectHeader struct {
	addr     uint64
	msgs     []message
	crtOrder bool // version 2: messages carry a 2-byte creation order
}

type objKind int

const (
	objUnknown objKind = iota
	objGroup
	objDataset
	objDatatype
)

func (oh *objectHeader) kind() objKind {
	switch {
	case oh.find(msgSymbolTable) != nil, oh.find(msgLinkInfo) != nil, oh.find(msgLink) != nil:
		return objGroup
	case oh.find(msgLayout) != nil, oh.find(msgDataspace) != nil:
		return objDataset
	case oh.find(msgDatatype) != nil:
		return objDatatype
	}
	return objUnknown
}

func (oh *objectHeader) find(typ uint16) *message {
	for i := range oh.msgs {
		if oh.msgs[i].typ == typ {
			return &oh.msgs[i]
		}
	}
	return nil
}

func (oh *objectHeader) all(typ uint16) []message {
	var out []message
	for _, m := range oh.msgs {
		if m.typ == typ {
			out = append(out, m)
		}
	}
	return out
}

// knownMessages are the types a decoder may meet without failing; any other
// type with the fail-always flag set is refused, as the spec requires.
var knownMessages = map[uint16]bool{
	msgNil: true, msgDataspace: true, msgLinkInfo: true, msgDatatype: true, msgFillOld: true,
	msgFill: true, msgLink: true, msgExternal: true, msgLayout: true, msgGroupInfo: true,
	msgFilters: true, msgAttribute: true, msgContinuation: true, msgSymbolTable: true,
	msgAttrInfo: true,
	0x0d:        true, 0x0e: true, 0x0f: true, 0x12: true, 0x13: true, 0x14: true, 0x16: true, 0x17: true,
}

// objectHeader reads the object header at addr with all its continuation
// chunks. The chunks of one header may not add up to more bytes than the
// file has, and no chunk is read twice.
func (d *decoder) objectHeader(addr uint64) (*objectHeader, error) {
	start, err := d.read(addr, 4, "object header")
	if err != nil {
		return nil, err
	}
	oh := &objectHeader{addr: addr}
	oh2 := string(start) == "OHDR"
	var pending []chunkRef
	if oh2 {
		pending, err = d.headerV2(oh)
	} else {
		pending, err = d.headerV1(oh)
	}
	if err != nil {
		return nil, err
	}
	seen := map[uint64]bool{addr: true}
	total := uint64(0)
	for len(pending) > 0 {
		ch := pending[0]
		pending = pending[1:]
		if seen[ch.addr] {
			return nil, formatErr(d.abs(ch.addr), "object header continuation chunk visited twice")
		}
		seen[ch.addr] = true
		if total += ch.size; total > uint64(d.size) {
			return nil, formatErr(d.abs(ch.addr), "object header chunks exceed the file size")
		}
		more, err := d.continuation(oh, ch, oh2)
		if err != nil {
			return nil, err
		}
		pending = append(pending, more...)
	}
	for _, m := range oh.msgs {
		if !knownMessages[m.typ] && m.flags&msgFlagFailAlways != 0 {
			return nil, unsupported(m.off, "header message type %#x marked as required", m.typ)
		}
	}
	return oh, nil
}

type chunkRef struct{ addr, size uint64 }

// headerV1 reads a version-1 prefix and first chunk: version, reserved,
// message count, reference count, chunk size, then 4 bytes of alignment.
func (d *decoder) headerV1(oh *objectHeader) ([]chunkRef, error) {
	c, err := d.cursorAt(oh.addr, 16, "object header")
	if err != nil {
		return nil, err
	}
	if v := c.u8(); v != 1 {
		return nil, formatErr(c.base, "object header version %d (want 1, or the OHDR signature)", v)
	}
	c.skip(1 + 2 + 4) // reserved, number of messages (recounted), reference count
	size := uint64(c.u32())
	if c.err != nil {
		return nil, c.err
	}
	cc, err := d.cursorAt(oh.addr+16, size, "object header chunk")
	if err != nil {
		return nil, err
	}
	return parseMessages(oh, cc, false)
}

// parseMessages splits a chunk into messages. Version 1: type (2), size
// (2), flags (1), reserved (3), data. Version 2: type (1), size (2), flags
// (1), creation order (2, if tracked), data; a tail shorter than a message
// prefix is a gap.
func parseMessages(oh *objectHeader, c *cursor, v2 bool) (conts []chunkRef, err error) {
	head := 8
	if v2 {
		head = 4
		if oh.crtOrder {
			head = 6
		}
	}
	for c.left() >= head {
		var m message
		var size uint16
		if v2 {
			m.typ, size, m.flags = uint16(c.u8()), c.u16(), c.u8()
			c.skip(head - 4)
		} else {
			m.typ, size, m.flags = c.u16(), c.u16(), c.u8()
			c.skip(3)
		}
		m.off = c.off()
		m.data = c.take(int(size))
		if c.err != nil {
			return nil, c.err
		}
		if conts, err = oh.add(m, c.sz, conts); err != nil {
			return nil, err
		}
	}
	return conts, nil
}

// headerV2 reads an "OHDR" prefix and first chunk.
func (d *decoder) headerV2(oh *objectHeader) ([]chunkRef, error) {
	c, err := d.cursorAt(oh.addr, 6, "object header")
	if err != nil {
		return nil, err
	}
	c.skip(4)
	if v := c.u8(); v != 2 {
		return nil, formatErr(c.base+4, "object header version %d (want 2)", v)
	}
	flags := c.u8()
	prefix := 6 + 1<<(flags&3)
	if flags&0x20 != 0 {
		prefix += 16 // access, modification, change, birth times
	}
	if flags&0x10 != 0 {
		prefix += 4 // attribute phase change values
	}
	c, err = d.cursorAt(oh.addr, uint64(prefix), "object header")
	if err != nil {
		return nil, err
	}
	c.skip(prefix - 1<<(flags&3))
	size := c.uN(1 << (flags & 3))
	if c.err != nil {
		return nil, c.err
	}
	if size > uint64(d.size) {
		return nil, formatErr(c.base, "object header chunk of %d bytes in a %d-byte file", size, d.size)
	}
	all, err := d.cursorAt(oh.addr, uint64(prefix)+size+4, "object header")
	if err != nil {
		return nil, err
	}
	if err := verifyChecksum(all.b, prefix+int(size), all.base, "object header"); err != nil {
		return nil, err
	}
	body := newCursor(all.b[prefix:prefix+int(size)], all.base+int64(prefix), "object header chunk", d.sb.sz)
	oh.crtOrder = flags&0x04 != 0
	return parseMessages(oh, body, true)
}

// add keeps a parsed message, or for a continuation message the chunk it
// points to.
func (oh *objectHeader) add(m message, sz sizes, conts []chunkRef) ([]chunkRef, error) {
	if m.typ != msgContinuation {
		oh.msgs = append(oh.msgs, m)
		return conts, nil
	}
	ref, err := decodeContinuation(m, sz)
	if err != nil {
		return nil, err
	}
	return append(conts, ref), nil
}

// decodeContinuation reads a continuation message: address and length of
// the next chunk.
func decodeContinuation(m message, sz sizes) (chunkRef, error) {
	c := newCursor(m.data, m.off, "continuation message", sz)
	a, ok := c.addr()
	n := c.length()
	if c.err != nil {
		return chunkRef{}, c.err
	}
	if !ok || n == 0 {
		return chunkRef{}, formatErr(m.off, "continuation message with no chunk")
	}
	return chunkRef{addr: a, size: n}, nil
}

// continuation reads one continuation chunk. Version-2 chunks carry the
// "OCHK" signature and a checksum; version-1 chunks are bare messages.
func (d *decoder) continuation(oh *objectHeader, ch chunkRef, v2 bool) ([]chunkRef, error) {
	if !v2 {
		c, err := d.cursorAt(ch.addr, ch.size, "object header continuation")
		if err != nil {
			return nil, err
		}
		return parseMessages(oh, c, false)
	}
	if ch.size < 8 {
		return nil, formatErr(d.abs(ch.addr), "continuation chunk of %d bytes", ch.size)
	}
	c, err := d.block(ch.addr, ch.size, "OCHK", -1, true, "object header continuation")
	if err != nil {
		return nil, err
	}
	body := newCursor(c.b[4:len(c.b)-4], c.base+4, "object header continuation", d.sb.sz)
	return parseMessages(oh, body, true)
}

// encMessage is a message for the version-1 writer; data must already be
// padded to a multiple of 8 bytes.
type encMessage struct {
	typ   uint16
	flags uint8
	data  []byte
}

// maxMessage is the largest message body a 2-byte size field can describe
// once padded to 8 bytes.
const maxMessage = 0xfff8

// encodeObjectHeaderV1 returns a version-1 object header holding msgs in
// one chunk. refCount is the number of hard links to the object.
func encodeObjectHeaderV1(msgs []encMessage, refCount int) ([]byte, error) {
	if len(msgs) > 0xffff {
		return nil, fmt.Errorf("%d header messages (at most 65535: too many attributes)", len(msgs))
	}
	var body encbuf
	for _, m := range msgs {
		if len(m.data) > maxMessage || len(m.data)%8 != 0 {
			return nil, fmt.Errorf("header message %#x of %d bytes (at most %d, a multiple of 8)", m.typ, len(m.data), maxMessage)
		}
		body.u16(m.typ)
		body.u16(uint16(len(m.data)))
		body.u8(m.flags)
		body.zeros(3)
		body.raw(m.data)
	}
	if len(body.b) > 0xffffffff {
		return nil, fmt.Errorf("object header of %d bytes", len(body.b))
	}
	var e encbuf
	e.u8(1) // version
	e.u8(0)
	e.u16(uint16(len(msgs)))
	e.u32(uint32(refCount))
	e.u32(uint32(len(body.b)))
	e.u32(0) // alignment of the first message to 8 bytes
	e.raw(body.b)
	return e.b, nil
}

// padded returns p followed by zeros up to a multiple of 8 bytes.
func padded(p []byte) []byte {
	out := make([]byte, pad8(len(p)))
	copy(out, p)
	return out
}
