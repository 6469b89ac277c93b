package hdf5

import "math/bits"

// Fractal heaps (spec §III.G) hold the link messages of a group with dense
// link storage and the attribute messages of an object with dense
// attribute storage (libver='latest' files with more than 8 links or
// attributes). Objects live in direct blocks reached through a doubling
// table of indirect blocks; small ones ("tiny") live in the heap ID itself.
// Huge objects (beyond the managed size, 64 KiB by default) and filtered
// heaps are not read.

type fractalHeap struct {
	addr        uint64
	idLen       int
	flags       uint8
	maxManaged  uint64
	width       int    // doubling table width
	startSize   uint64 // starting block size
	maxDirect   uint64 // maximum direct block size
	maxHeapBits int
	root        uint64
	rootDefined bool
	rootRows    int
	offBytes    int // heap offsets in IDs and block headers
	lenBytes    int // object lengths in managed IDs
	// Direct blocks already read and checked, by address: a group's links
	// share a few blocks. At most the file size is cached.
	blocks      map[uint64][]byte
	cachedBytes uint64
}

func isPow2(v uint64) bool { return v != 0 && v&(v-1) == 0 }

func log2(v uint64) int { return bits.Len64(v) - 1 }

func (d *decoder) fractalHeap(addr uint64) (*fractalHeap, error) {
	o, l := d.sb.sz.offset, d.sb.sz.length
	size := 4 + 1 + 2 + 2 + 1 + 4 + l + o + l + o + 8*l + 2 + l + l + 2 + 2 + o + 2
	c, err := d.block(addr, uint64(size+4), "FRHP", 0, true, "fractal heap header")
	if err != nil {
		return nil, err
	}
	h := &fractalHeap{addr: addr, idLen: int(c.u16()), blocks: map[uint64][]byte{}}
	filterLen := c.u16()
	h.flags = c.u8()
	h.maxManaged = uint64(c.u32())
	c.skip(l + o + l + o + 8*l) // huge objects, free space, counters
	h.width = int(c.u16())
	h.startSize, h.maxDirect = c.length(), c.length()
	h.maxHeapBits = int(c.u16())
	c.skip(2) // starting rows of the root indirect block
	h.root, h.rootDefined = c.addr()
	h.rootRows = int(c.u16())
	if c.err != nil {
		return nil, c.err
	}
	if filterLen != 0 {
		return nil, unsupported(c.base, "filtered fractal heap")
	}
	if !isPow2(uint64(h.width)) || !isPow2(h.startSize) || !isPow2(h.maxDirect) || h.maxDirect < h.startSize ||
		h.maxHeapBits < 1 || h.maxHeapBits > 64 || h.rootRows > h.maxHeapBits {
		return nil, formatErr(c.base, "fractal heap doubling table: width %d, block sizes %d–%d, %d bits, %d root rows",
			h.width, h.startSize, h.maxDirect, h.maxHeapBits, h.rootRows)
	}
	h.offBytes = (h.maxHeapBits + 7) / 8
	h.lenBytes = min((log2(h.maxDirect)+7)/8, log2(max(h.maxManaged, 1))/8+1)
	return h, nil
}

// heapObject returns the object a heap ID names.
func (d *decoder) heapObject(h *fractalHeap, id []byte, at int64) ([]byte, error) {
	if len(id) == 0 {
		return nil, formatErr(at, "empty fractal heap ID")
	}
	if id[0]>>6 != 0 {
		return nil, formatErr(at, "fractal heap ID version %d", id[0]>>6)
	}
	switch (id[0] >> 4) & 3 {
	case 0:
		c := newCursor(id[1:], at+1, "fractal heap ID", d.sb.sz)
		off, n := c.uN(h.offBytes), c.uN(h.lenBytes)
		if c.err != nil {
			return nil, c.err
		}
		return d.managedObject(h, off, n, at)
	case 2:
		if len(id) <= 18 {
			n := int(id[0]&0x0f) + 1
			if 1+n > len(id) {
				return nil, formatErr(at, "tiny heap object of %d bytes in a %d-byte ID", n, len(id))
			}
			return id[1 : 1+n], nil
		}
		n := (int(id[0]&0x0f)<<8 | int(id[1])) + 1
		if 2+n > len(id) {
			return nil, formatErr(at, "tiny heap object of %d bytes in a %d-byte ID", n, len(id))
		}
		return id[2 : 2+n], nil
	case 1:
		return nil, unsupported(at, "huge fractal heap object (over %d bytes)", h.maxManaged)
	}
	return nil, formatErr(at, "fractal heap ID type 3")
}

// rowSize is the size of the blocks in row r of the doubling table.
func (h *fractalHeap) rowSize(r int) uint64 {
	if r <= 1 {
		return h.startSize
	}
	return h.startSize << uint(r-1)
}

// managedObject finds the direct block holding heap offset off and returns
// the n bytes there.
func (d *decoder) managedObject(h *fractalHeap, off, n uint64, at int64) ([]byte, error) {
	if !h.rootDefined {
		return nil, formatErr(at, "fractal heap object in an empty heap")
	}
	block, blockOff, size := h.root, uint64(0), h.startSize
	if h.rootRows > 0 {
		var err error
		if block, blockOff, size, err = d.findDirectBlock(h, h.root, 0, h.rootRows, off); err != nil {
			return nil, err
		}
	}
	prefix := uint64(5 + d.sb.sz.offset + h.offBytes)
	if h.flags&2 != 0 {
		prefix += 4
	}
	if off < blockOff+prefix || n > size || off-blockOff > size-n {
		return nil, formatErr(at, "fractal heap object (%d bytes at heap offset %d) outside its direct block", n, off)
	}
	b, err := d.directBlock(h, block, size, int(prefix))
	if err != nil {
		return nil, err
	}
	return b[off-blockOff : off-blockOff+n], nil
}

// directBlock returns the direct block at addr, checked, from the cache
// when possible.
func (d *decoder) directBlock(h *fractalHeap, addr, size uint64, prefix int) ([]byte, error) {
	if b, ok := h.blocks[addr]; ok && uint64(len(b)) == size {
		return b, nil
	}
	c, err := d.block(addr, size, "FHDB", 0, false, "fractal heap direct block")
	if err != nil {
		return nil, err
	}
	if h.flags&2 != 0 {
		if err := checkDirectBlock(c.b, prefix-4, c.base); err != nil {
			return nil, err
		}
	}
	if h.cachedBytes+size <= uint64(d.size) {
		h.blocks[addr] = c.b
		h.cachedBytes += size
	}
	return c.b, nil
}

// checkDirectBlock verifies a direct block's checksum, computed over the
// whole block with the checksum field zeroed.
func checkDirectBlock(b []byte, at int, off int64) error {
	img := append([]byte(nil), b...)
	stored := leUint(img[at : at+4])
	clear(img[at : at+4])
	if got := lookup3(img); uint64(got) != stored {
		return formatErr(off, "fractal heap direct block checksum mismatch (stored %#08x, computed %#08x)", stored, got)
	}
	return nil
}

// findDirectBlock walks an indirect block of nrows rows that starts at heap
// offset start down to the direct block containing off. Child indirect
// blocks have fewer rows than their parent, so the walk ends.
func (d *decoder) findDirectBlock(h *fractalHeap, addr, start uint64, nrows int, off uint64) (uint64, uint64, uint64, error) {
	if log2(h.startSize)+nrows > 64 {
		return 0, 0, 0, formatErr(d.abs(addr), "fractal heap indirect block of %d rows", nrows)
	}
	maxDirectRows := log2(h.maxDirect) - log2(h.startSize) + 2
	direct := min(nrows, maxDirectRows) * h.width
	indirect := max(nrows-maxDirectRows, 0) * h.width
	o := d.sb.sz.offset
	size := 5 + o + h.offBytes + (direct+indirect)*o + 4
	c, err := d.block(addr, uint64(size), "FHIB", 0, true, "fractal heap indirect block")
	if err != nil {
		return 0, 0, 0, err
	}
	c.skip(o + h.offBytes)
	pos := start
	for r := range nrows {
		bsize := h.rowSize(r)
		for range h.width {
			child, ok := c.addr()
			if off >= pos && off-pos < bsize {
				if !ok {
					return 0, 0, 0, formatErr(c.off(), "fractal heap object in an unallocated block")
				}
				if r < maxDirectRows {
					return child, pos, bsize, nil
				}
				return d.findDirectBlock(h, child, pos, log2(bsize)-log2(h.startSize)+1, off)
			}
			pos += bsize
		}
	}
	return 0, 0, 0, formatErr(c.base, "heap offset %d beyond the fractal heap", off)
}
