package hdf5

import (
	"bytes"
	"sort"
)

// Old-style groups (spec §III.B–D), h5py's default: the group's object
// header has a symbol table message pointing to a version-1 B-tree of
// symbol-table nodes ("SNOD", 2K entries each) and to a local heap ("HEAP")
// holding the link names.

const symbolEntrySize = 8 + 8 + 4 + 4 + 16 // with 8-byte addresses

// symbolTableLinks returns the links of an old-style group.
func (d *decoder) symbolTableLinks(m *message) ([]rawLink, error) {
	c := newCursor(m.data, m.off, "symbol table message", d.sb.sz)
	btree, ok1 := c.addr()
	heapAddr, ok2 := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	if !ok1 || !ok2 {
		return nil, formatErr(m.off, "symbol table message with an undefined address")
	}
	heap, err := d.localHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	var links []rawLink
	err = d.walkBtree1(btree, btreeGroup, d.sb.sz.length, func(e btreeEntry) error {
		more, err := d.symbolNode(e.child, heap)
		links = append(links, more...)
		return err
	})
	return links, err
}

// localHeap returns the data segment of the local heap at addr.
func (d *decoder) localHeap(addr uint64) (*cursor, error) {
	c, err := d.block(addr, uint64(8+2*d.sb.sz.length+d.sb.sz.offset), "HEAP", 0, false, "local heap")
	if err != nil {
		return nil, err
	}
	c.skip(3)
	size := c.length()
	c.length() // free list head: the reader never allocates
	data, ok := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	if !ok {
		return nil, formatErr(c.base, "local heap with an undefined data segment")
	}
	return d.cursorAt(data, size, "local heap data")
}

// heapString returns the NUL-terminated string at offset off of a local
// heap's data segment.
func heapString(heap *cursor, off uint64) (string, error) {
	if off >= uint64(len(heap.b)) {
		return "", formatErr(heap.base, "name offset %d beyond the %d-byte local heap", off, len(heap.b))
	}
	i := bytes.IndexByte(heap.b[off:], 0)
	if i < 0 {
		return "", formatErr(heap.base+int64(off), "unterminated name in the local heap")
	}
	return string(heap.b[off : off+uint64(i)]), nil
}

// symbolNode decodes the entries of a symbol-table node: link name offset,
// object header address, cache type, reserved, scratch pad (which holds
// the value offset of a soft link, cache type 2).
func (d *decoder) symbolNode(addr uint64, heap *cursor) ([]rawLink, error) {
	c, err := d.block(addr, 8, "SNOD", 1, false, "symbol table node")
	if err != nil {
		return nil, err
	}
	c.skip(1)
	n := int(c.u16())
	if c.err != nil {
		return nil, c.err
	}
	entry := 2*d.sb.sz.offset + 24
	c, err = d.cursorAt(addr+8, uint64(n*entry), "symbol table node")
	if err != nil {
		return nil, err
	}
	links := make([]rawLink, 0, n)
	for range n {
		off := c.off()
		nameOff := c.uN(d.sb.sz.offset)
		header, ok := c.addr()
		cache := c.u32()
		c.skip(4)
		scratch := c.take(16)
		if c.err != nil {
			return nil, c.err
		}
		name, err := heapString(heap, nameOff)
		if err != nil {
			return nil, err
		}
		l := rawLink{name: name, addr: header, off: off}
		switch {
		case cache == 2:
			target, err := heapString(heap, leUint(scratch[:4]))
			if err != nil {
				return nil, err
			}
			l.isSoft, l.soft = true, target
		case !ok:
			return nil, formatErr(off, "link %q to an undefined address", name)
		}
		links = append(links, l)
	}
	return links, nil
}

// localHeapBuilder collects a group's names for its local heap. Offset 0
// holds the empty string, which key[0] of the group B-tree refers to;
// every name is NUL-terminated and padded to 8 bytes.
type localHeapBuilder struct {
	data []byte
}

func newLocalHeap() *localHeapBuilder { return &localHeapBuilder{data: make([]byte, 8)} }

func (h *localHeapBuilder) add(s string) uint64 {
	off := uint64(len(h.data))
	h.data = append(h.data, padded([]byte(s+"\x00"))...)
	return off
}

// writeSymbolTable writes an old-style group's local heap, symbol-table
// nodes and B-tree for links (sorted by name, targets already written) and
// returns the B-tree and heap addresses.
func (w *writer) writeSymbolTable(links []encLink) (btree, heap uint64) {
	sort.Slice(links, func(i, j int) bool { return links[i].name < links[j].name })
	names := newLocalHeap()
	offsets := make([]uint64, len(links))
	values := make([]uint64, len(links))
	for i, l := range links {
		offsets[i] = names.add(l.name)
		if l.soft {
			values[i] = names.add(l.target)
		}
	}
	// Header, then the data segment right after it; no free space, so the
	// free list is empty (H5HL_FREE_NULL, 1).
	heap = w.alloc(8 + 8 + 8 + 8)
	data := w.alloc(len(names.data))
	var e encbuf
	e.raw([]byte("HEAP\x00\x00\x00\x00"))
	e.u64(uint64(len(names.data)))
	e.u64(1)
	e.u64(data)
	w.put(heap, e.b)
	w.put(data, names.data)

	const perNode = 2 * groupLeafK
	keys := [][]byte{le64(0)}
	var nodes []uint64
	for lo := 0; lo < len(links); lo += perNode {
		hi := min(lo+perNode, len(links))
		nodes = append(nodes, w.writeSymbolNode(links[lo:hi], offsets[lo:hi], values[lo:hi]))
		keys = append(keys, le64(offsets[hi-1]))
	}
	return buildBtree1(w, btreeGroup, groupInternalK, keys, nodes), heap
}

// writeSymbolNode writes one full-size symbol-table node. Groups linked
// once cache their B-tree and heap addresses (cache type 1), as the
// library does; soft links are cache type 2.
func (w *writer) writeSymbolNode(links []encLink, names, values []uint64) uint64 {
	addr := w.alloc(8 + 2*groupLeafK*symbolEntrySize)
	var e encbuf
	e.raw([]byte("SNOD\x01\x00"))
	e.u16(uint16(len(links)))
	for i, l := range links {
		e.u64(names[i])
		switch {
		case l.soft:
			e.u64(undef(8))
			e.u32(2)
			e.u32(0)
			e.u32(uint32(values[i]))
			e.zeros(12)
		case l.group != nil && l.refCount == 1:
			e.u64(l.addr)
			e.u32(1)
			e.u32(0)
			e.u64(l.group.btree)
			e.u64(l.group.heap)
		default:
			e.u64(l.addr)
			e.zeros(4 + 4 + 16)
		}
	}
	w.put(addr, e.b)
	return addr
}

func le64(v uint64) []byte {
	var e encbuf
	e.u64(v)
	return e.b
}
