package hdf5

import "encoding/binary"

// Global heap collections (spec §III.E) hold variable-length data: here the
// bytes of variable-length strings. A collection is "GCOL", version 1,
// reserved, its size, then objects (index, reference count, reserved, size,
// data padded to 8 bytes); object 0 is the free space at the end.

const gheapMinSize = 4096 // the library's minimum (and default) collection size

type globalHeap struct {
	objects map[uint16][]byte
}

// globalHeap returns the collection at addr, reading it once.
func (d *decoder) globalHeap(addr uint64) (*globalHeap, error) {
	if h, ok := d.gheaps[addr]; ok {
		return h, nil
	}
	c, err := d.block(addr, uint64(8+d.sb.sz.length), "GCOL", 1, false, "global heap collection")
	if err != nil {
		return nil, err
	}
	c.skip(3)
	size := c.length()
	if c.err != nil {
		return nil, c.err
	}
	if c, err = d.cursorAt(addr, size, "global heap collection"); err != nil {
		return nil, err
	}
	c.skip(8 + d.sb.sz.length)
	h := &globalHeap{objects: map[uint16][]byte{}}
	for c.left() >= 8+d.sb.sz.length {
		at := c.off()
		idx := c.u16()
		c.skip(2 + 4) // reference count, reserved
		n := c.length()
		if idx == 0 {
			break // free space
		}
		if n > uint64(c.left()) {
			return nil, formatErr(at, "global heap object of %d bytes in a %d-byte collection", n, size)
		}
		data := c.take(int(n))
		c.skip(min(pad8(int(n))-int(n), c.left()))
		if _, dup := h.objects[idx]; dup {
			return nil, formatErr(at, "global heap object %d appears twice", idx)
		}
		h.objects[idx] = data
	}
	if c.err != nil {
		return nil, c.err
	}
	d.gheaps[addr] = h
	return h, nil
}

// vlenStrings resolves n variable-length string elements (length, heap
// collection address, object index) to their values.
func (d *decoder) vlenStrings(raw []byte, n int, off int64) ([]string, error) {
	out := make([]string, n)
	o := d.sb.sz.offset
	elem := 4 + o + 4
	for i := range out {
		p := raw[i*elem : (i+1)*elem]
		length := uint64(binary.LittleEndian.Uint32(p))
		if length == 0 {
			continue
		}
		addr := leUint(p[4 : 4+o])
		idx := binary.LittleEndian.Uint32(p[4+o:])
		at := off + int64(i*elem)
		if addr == undef(o) || idx > 0xffff {
			return nil, formatErr(at, "string %d has no valid global heap object", i)
		}
		h, err := d.globalHeap(addr)
		if err != nil {
			return nil, err
		}
		data, ok := h.objects[uint16(idx)]
		if !ok || uint64(len(data)) < length {
			return nil, formatErr(at, "string %d: global heap object %d missing or shorter than %d bytes", i, idx, length)
		}
		if err := d.spend(length, at); err != nil {
			return nil, err
		}
		out[i] = string(data[:length])
	}
	return out, nil
}

// gheapWriter packs the file's strings into global heap collections of at
// least gheapMinSize bytes, starting a new collection when one is full.
type gheapWriter struct {
	colls []*gheapCollection
}

type gheapCollection struct {
	addr    uint64
	objects [][]byte
	size    int // bytes used: header plus objects
}

// heapID is where a string lives: collection and object index (from 1).
type heapID struct {
	coll  *gheapCollection
	index uint16
}

func (g *gheapWriter) add(s string) heapID {
	need := 16 + pad8(len(s))
	var c *gheapCollection
	if n := len(g.colls); n > 0 {
		last := g.colls[n-1]
		if last.size+need <= gheapMinSize && len(last.objects) < 0xffff {
			c = last
		}
	}
	if c == nil {
		c = &gheapCollection{size: 16}
		g.colls = append(g.colls, c)
	}
	c.objects = append(c.objects, []byte(s))
	c.size += need
	return heapID{coll: c, index: uint16(len(c.objects))}
}

// write places every collection: objects with reference count 0 (as the
// library writes variable-length data), then object 0 for the free space.
func (g *gheapWriter) write(w *writer) {
	for _, c := range g.colls {
		total := max(c.size, gheapMinSize)
		var e encbuf
		e.raw([]byte("GCOL\x01\x00\x00\x00"))
		e.u64(uint64(total))
		for i, obj := range c.objects {
			e.u16(uint16(i + 1))
			e.u16(0)
			e.u32(0)
			e.u64(uint64(len(obj)))
			e.raw(padded(obj))
		}
		if free := total - len(e.b); free >= 16 {
			e.u16(0)
			e.u16(0)
			e.u32(0)
			e.u64(uint64(free))
		}
		c.addr = w.alloc(total)
		w.put(c.addr, e.b)
	}
}

// encodeVlenStrings returns the raw elements of a string array.
func encodeVlenStrings(ids []heapID, data []string) []byte {
	var e encbuf
	for i, id := range ids {
		e.u32(uint32(len(data[i])))
		e.u64(id.coll.addr)
		e.u32(uint32(id.index))
	}
	return e.b
}
