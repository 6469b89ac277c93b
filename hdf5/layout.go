package hdf5

import (
	"bytes"
	"encoding/binary"
)

// The data layout message (spec §IV.A.2.i) says where a dataset's elements
// are: in the message (compact), in one block (contiguous) or in chunks
// found through an index. Version 3 (h5py's default) indexes chunks with a
// version-1 B-tree; version 4 (libver='latest') adds single-chunk,
// implicit, fixed-array, extensible-array and v2 B-tree indexes, of which
// the first three are read (the last two appear only for datasets with an
// unlimited dimension).

const (
	indexBtree1     = 0 // version 3 layouts
	indexSingle     = 1
	indexImplicit   = 2
	indexFixedArray = 3
	indexExtArray   = 4
	indexBtree2     = 5
)

type layout struct {
	class   Layout
	off     int64
	compact []byte
	addr    uint64 // contiguous data, chunk index, or single chunk
	defined bool   // addr is not the undefined address
	size    uint64 // contiguous: bytes allocated
	chunk   []uint64
	index   uint8
	// Single-chunk index of a filtered dataset: stored size and mask.
	singleFiltered bool
	singleSize     uint64
	singleMask     uint32
	pageBits       uint8 // fixed array
}

func decodeLayout(m *message, sz sizes) (*layout, error) {
	c := newCursor(m.data, m.off, "layout message", sz)
	version, class := c.u8(), c.u8()
	l := &layout{off: m.off}
	if c.err != nil {
		return nil, c.err
	}
	if version < 3 || version > 4 {
		return nil, unsupported(m.off, "layout message version %d (written before HDF5 1.6.3)", version)
	}
	switch class {
	case 0:
		l.class = Compact
		l.compact = c.take(int(c.u16()))
	case 1:
		l.class = Contiguous
		l.addr, l.defined = c.addr()
		l.size = c.length()
	case 2:
		l.class = Chunked
		if version == 3 {
			decodeChunkedV3(c, l)
		} else {
			decodeChunkedV4(c, l)
		}
	case 3:
		return nil, unsupported(m.off, "virtual dataset")
	default:
		return nil, formatErr(m.off, "layout class %d", class)
	}
	return l, c.err
}

// decodeChunkedV3: dimensionality (rank+1), B-tree address, chunk
// dimensions (4 bytes each) whose last is the element size.
func decodeChunkedV3(c *cursor, l *layout) {
	n := int(c.u8())
	l.addr, l.defined = c.addr()
	if n < 2 || n > maxRank+1 {
		c.fail(formatErr(l.off, "chunked layout of dimensionality %d", n))
		return
	}
	for range n - 1 {
		l.chunk = append(l.chunk, uint64(c.u32()))
	}
	c.skip(4) // element size, checked against the datatype by the caller
	l.index = indexBtree1
}

// decodeChunkedV4: flags, dimensionality, dimension width, dimensions
// (the last is the element size), index type, index information, address.
func decodeChunkedV4(c *cursor, l *layout) {
	flags, n, width := c.u8(), int(c.u8()), int(c.u8())
	if c.err != nil {
		return
	}
	if n < 2 || n > maxRank+1 || width < 1 || width > 8 {
		c.fail(formatErr(l.off, "chunked layout of dimensionality %d, dimension width %d", n, width))
		return
	}
	for range n - 1 {
		l.chunk = append(l.chunk, c.uN(width))
	}
	c.skip(width)
	l.index = c.u8()
	switch l.index {
	case indexSingle:
		if flags&0x02 != 0 {
			l.singleFiltered = true
			l.singleSize = c.length()
			l.singleMask = c.u32()
		}
	case indexImplicit:
	case indexFixedArray:
		l.pageBits = c.u8()
	case indexExtArray:
		c.skip(5)
	case indexBtree2:
		c.skip(6)
	default:
		c.fail(formatErr(l.off, "chunk index type %d", l.index))
	}
	l.addr, l.defined = c.addr()
}

// encodeLayout returns a version-3 layout message for a compact block,
// contiguous data at addr (undefined when empty), or chunks indexed by a
// B-tree at addr.
func encodeLayout(s Storage, chunks []int, elemSize int, addr uint64, size int, compact []byte) []byte {
	var e encbuf
	switch s.Layout {
	case Compact:
		e.raw([]byte{3, 0})
		e.u16(uint16(len(compact)))
		e.raw(compact)
	case Contiguous:
		e.raw([]byte{3, 1})
		e.u64(addr)
		e.u64(uint64(size))
	case Chunked:
		e.raw([]byte{3, 2, byte(len(chunks) + 1)})
		e.u64(addr)
		for _, c := range chunks {
			e.u32(uint32(c))
		}
		e.u32(uint32(elemSize))
	}
	return padded(e.b)
}

// chunkRec is one stored chunk.
type chunkRec struct {
	offset []uint64 // element coordinates of the chunk's first element
	addr   uint64
	size   uint64 // stored (filtered) bytes
	mask   uint32 // filters skipped for this chunk
	at     int64  // where the record is, for errors
}

// chunkGrid is the number of chunks along each dimension.
func chunkGrid(dims, chunk []uint64) []uint64 {
	g := make([]uint64, len(dims))
	for i := range dims {
		g[i] = (dims[i] + chunk[i] - 1) / chunk[i]
	}
	return g
}

// gridOffset returns the element coordinates of chunk number i of the grid
// (row-major).
func gridOffset(i uint64, grid, chunk []uint64) []uint64 {
	off := make([]uint64, len(grid))
	for k := len(grid) - 1; k >= 0; k-- {
		off[k] = (i % grid[k]) * chunk[k]
		i /= grid[k]
	}
	return off
}

// chunkRecords lists the stored chunks of a chunked dataset.
func (d *decoder) chunkRecords(l *layout, dims []uint64, elemSize int, chunkBytes uint64) ([]chunkRec, error) {
	if !l.defined {
		return nil, nil // nothing written yet: all fill value
	}
	rank := len(dims)
	grid := chunkGrid(dims, l.chunk)
	nchunks := uint64(1)
	for _, g := range grid {
		nchunks *= g // bounded: each dimension's chunks fit in the data size checked by the caller
	}
	switch l.index {
	case indexBtree1:
		return d.btreeChunks(l, rank)
	case indexSingle:
		size := chunkBytes
		if l.singleFiltered {
			size = l.singleSize
		}
		return []chunkRec{{offset: make([]uint64, rank), addr: l.addr, size: size, mask: l.singleMask, at: l.off}}, nil
	case indexImplicit:
		if nchunks > uint64(d.size) || nchunks*chunkBytes > uint64(d.size) {
			return nil, formatErr(l.off, "implicit chunk index of %d chunks does not fit in the file", nchunks)
		}
		recs := make([]chunkRec, nchunks)
		for i := range recs {
			recs[i] = chunkRec{offset: gridOffset(uint64(i), grid, l.chunk), addr: l.addr + uint64(i)*chunkBytes,
				size: chunkBytes, at: l.off}
		}
		return recs, nil
	case indexFixedArray:
		return d.fixedArrayChunks(l, grid, nchunks, chunkBytes)
	case indexExtArray:
		return nil, unsupported(l.off, "extensible-array chunk index (a dataset with an unlimited dimension, libver='latest')")
	default:
		return nil, unsupported(l.off, "v2 B-tree chunk index (a dataset with several unlimited dimensions, libver='latest')")
	}
}

// btreeChunks walks a version-1 chunk B-tree. Each key is the chunk's
// stored size (4), filter mask (4) and rank+1 coordinates (8 each, the
// last always 0).
func (d *decoder) btreeChunks(l *layout, rank int) ([]chunkRec, error) {
	var recs []chunkRec
	keySize := 8 + 8*(rank+1)
	err := d.walkBtree1(l.addr, btreeChunk, keySize, func(e btreeEntry) error {
		if len(recs) >= int(d.size) {
			return formatErr(e.keyOff, "more chunks than bytes in the file")
		}
		r := chunkRec{addr: e.child, at: e.keyOff}
		r.size = uint64(binary.LittleEndian.Uint32(e.left))
		r.mask = binary.LittleEndian.Uint32(e.left[4:])
		for i := range rank {
			r.offset = append(r.offset, binary.LittleEndian.Uint64(e.left[8+8*i:]))
		}
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// fixedArrayChunks reads a fixed-array chunk index: header "FAHD" (client,
// entry size, page bits, number of entries, data block address) and data
// block "FADB" with one entry per chunk in grid order, split into
// checksummed pages when there are more entries than one page holds.
func (d *decoder) fixedArrayChunks(l *layout, grid []uint64, nchunks, chunkBytes uint64) ([]chunkRec, error) {
	o := d.sb.sz.offset
	c, err := d.block(l.addr, uint64(12+d.sb.sz.length+o), "FAHD", 0, true, "fixed array header")
	if err != nil {
		return nil, err
	}
	client, entrySize, pageBits := c.u8(), int(c.u8()), c.u8()
	n := c.length()
	dblock, ok := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	filtered := client == 1
	minEntry := o
	if filtered {
		minEntry = o + 1 + 4
	}
	if client > 1 || entrySize < minEntry || entrySize > o+8+4 || pageBits == 0 || pageBits > 32 || n < nchunks {
		return nil, formatErr(c.base, "fixed array header: client %d, entry size %d, page bits %d, %d entries for %d chunks",
			client, entrySize, pageBits, n, nchunks)
	}
	if !ok {
		return nil, nil
	}
	entries, err := d.fixedArrayEntries(dblock, n, entrySize, uint64(1)<<pageBits)
	if err != nil {
		return nil, err
	}
	var recs []chunkRec
	for i := range nchunks {
		ec := newCursor(entries[i*uint64(entrySize):(i+1)*uint64(entrySize)], -1, "fixed array entry", d.sb.sz)
		addr, ok := ec.addr()
		if !ok {
			continue // chunk never written
		}
		r := chunkRec{offset: gridOffset(i, grid, l.chunk), addr: addr, size: chunkBytes, at: d.abs(dblock)}
		if filtered {
			r.size = ec.uN(entrySize - o - 4)
			r.mask = ec.u32()
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// fixedArrayEntries returns the n entries of a fixed-array data block,
// concatenated, after checking every checksum.
func (d *decoder) fixedArrayEntries(addr, n uint64, entrySize int, pageLen uint64) ([]byte, error) {
	o := d.sb.sz.offset
	if n > uint64(d.size) || n*uint64(entrySize) > uint64(d.size) {
		return nil, formatErr(d.abs(addr), "fixed array of %d entries does not fit in the file", n)
	}
	prefix := 4 + 1 + 1 + uint64(o)
	if n <= pageLen {
		c, err := d.block(addr, prefix+n*uint64(entrySize)+4, "FADB", 0, true, "fixed array data block")
		if err != nil {
			return nil, err
		}
		return c.b[prefix : len(c.b)-4], nil
	}
	pages := (n + pageLen - 1) / pageLen
	bitmap := (pages + 7) / 8
	c, err := d.block(addr, prefix+bitmap+4, "FADB", 0, true, "fixed array data block")
	if err != nil {
		return nil, err
	}
	init := c.b[prefix : prefix+bitmap]
	var out bytes.Buffer
	pos := addr + uint64(len(c.b))
	for p := range pages {
		count := min(pageLen, n-p*pageLen)
		size := count*uint64(entrySize) + 4
		if init[p/8]&(0x80>>(p%8)) == 0 {
			// Never-written page: all chunks undefined.
			out.Write(bytes.Repeat([]byte{0xff}, int(count)*entrySize))
		} else {
			pc, err := d.cursorAt(pos, size, "fixed array data block page")
			if err != nil {
				return nil, err
			}
			if err := verifyChecksum(pc.b, len(pc.b)-4, pc.base, "fixed array data block page"); err != nil {
				return nil, err
			}
			out.Write(pc.b[:len(pc.b)-4])
		}
		pos += size
	}
	return out.Bytes(), nil
}

// writeChunks writes a dataset's chunks (edge chunks padded with zeros,
// then filtered) and the B-tree indexing them, and returns the B-tree's
// address, or the undefined address when there is no element.
func (w *writer) writeChunks(raw []byte, shape, chunks []int, elemSize int, s Storage) (uint64, error) {
	dims, shp := make([]uint64, len(shape)), make([]uint64, len(chunks))
	n, chunkBytes := uint64(1), uint64(elemSize)
	for i := range shape {
		dims[i], shp[i] = uint64(shape[i]), uint64(chunks[i])
		chunkBytes *= shp[i]
	}
	grid := chunkGrid(dims, shp)
	for _, g := range grid {
		n *= g
	}
	if n == 0 {
		return undef(8), nil
	}
	buf := make([]byte, chunkBytes)
	var keys [][]byte
	var children []uint64
	for i := range n {
		off := gridOffset(i, grid, shp)
		clear(buf)
		chunkRuns(dims, shp, off, elemSize, func(inChunk, inData, m uint64) {
			copy(buf[inChunk:inChunk+m], raw[inData:inData+m])
		})
		stored, err := w.filter.apply(buf, s, elemSize)
		if err != nil {
			return 0, err
		}
		addr := w.alloc(len(stored))
		w.put(addr, stored)
		keys = append(keys, chunkKey(uint32(len(stored)), off, 0))
		children = append(children, addr)
	}
	// The last key bounds the last chunk: its offset plus the chunk shape,
	// and the element size in the datatype dimension, as the library
	// writes it.
	end := gridOffset(n-1, grid, shp)
	for i := range end {
		end[i] += shp[i]
	}
	keys = append(keys, chunkKey(0, end, uint64(elemSize)))
	return buildBtree1(w, btreeChunk, chunkK, keys, children), nil
}

// chunkKey encodes a chunk B-tree key: stored size, filter mask (0: every
// filter applied), coordinates, datatype coordinate.
func chunkKey(size uint32, offset []uint64, last uint64) []byte {
	var e encbuf
	e.u32(size)
	e.u32(0)
	for _, o := range offset {
		e.u64(o)
	}
	e.u64(last)
	return e.b
}
