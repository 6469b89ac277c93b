package hdf5

import (
	"bytes"
	"math"
	"sort"
)

// Reading datasets and attributes: dataspace, datatype, layout, filters and
// fill value messages become an Array and a Storage.

func (d *decoder) dataset(oh *objectHeader) (*Dataset, error) {
	space, dt, err := d.spaceAndType(oh)
	if err != nil {
		return nil, err
	}
	lm := oh.find(msgLayout)
	if lm == nil {
		return nil, formatErr(d.abs(oh.addr), "dataset without a layout message")
	}
	if oh.find(msgExternal) != nil {
		return nil, unsupported(d.abs(oh.addr), "external raw data files")
	}
	l, err := decodeLayout(lm, d.sb.sz)
	if err != nil {
		return nil, err
	}
	var filters []filter
	if m := oh.find(msgFilters); m != nil {
		if filters, err = decodeFilters(m, d.sb.sz); err != nil {
			return nil, err
		}
	}
	fill, err := d.fillValue(oh, dt)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Storage: storageOf(l, filters)}
	raw, n, err := d.rawData(l, space, dt, filters, fill)
	if err != nil {
		return nil, err
	}
	if ds.Array, err = d.array(space, dt, raw, n, lm.off); err != nil {
		return nil, err
	}
	if ds.Attrs, err = d.attributes(oh); err != nil {
		return nil, err
	}
	return ds, nil
}

// spaceAndType decodes a dataset's dataspace and datatype messages; a
// datatype stored in a committed datatype object is followed.
func (d *decoder) spaceAndType(oh *objectHeader) (dataspace, datatype, error) {
	sm, tm := oh.find(msgDataspace), oh.find(msgDatatype)
	if sm == nil || tm == nil {
		return dataspace{}, datatype{}, formatErr(d.abs(oh.addr), "dataset without a dataspace or datatype message")
	}
	if sm.flags&msgFlagShared != 0 {
		return dataspace{}, datatype{}, unsupported(sm.off, "shared dataspace message")
	}
	sc := newCursor(sm.data, sm.off, "dataspace message", d.sb.sz)
	space := decodeDataspace(sc)
	if sc.err != nil {
		return space, datatype{}, sc.err
	}
	if space.null {
		return space, datatype{}, unsupported(sm.off, "null dataspace (h5py.Empty)")
	}
	if tm.flags&msgFlagShared != 0 {
		var err error
		if tm, err = d.committedType(tm); err != nil {
			return space, datatype{}, err
		}
	}
	tc := newCursor(tm.data, tm.off, "datatype message", d.sb.sz)
	dt := decodeDatatype(tc, 0)
	return space, dt, tc.err
}

// committedType follows a shared datatype message to the datatype message
// of the committed datatype object it names (shared message versions 1–3,
// "committed" location only).
func (d *decoder) committedType(m *message) (*message, error) {
	c := newCursor(m.data, m.off, "shared message", d.sb.sz)
	version, typ := c.u8(), c.u8()
	switch {
	case version == 1:
		c.skip(6)
	case (version == 2 || version == 3) && typ != 1:
	default:
		return nil, unsupported(m.off, "shared message version %d type %d (shared object header message table)", version, typ)
	}
	addr, ok := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	if !ok {
		return nil, formatErr(m.off, "shared datatype at an undefined address")
	}
	oh, err := d.objectHeader(addr)
	if err != nil {
		return nil, err
	}
	tm := oh.find(msgDatatype)
	if tm == nil || tm.flags&msgFlagShared != 0 {
		return nil, formatErr(d.abs(addr), "committed datatype object without a plain datatype message")
	}
	return tm, nil
}

// fillValue returns the fill value pattern for unwritten elements of a
// numeric or bool dataset, or nil for zeros. Strings always fill with "".
func (d *decoder) fillValue(oh *objectHeader, dt datatype) ([]byte, error) {
	m := oh.find(msgFill)
	if m == nil {
		m = oh.find(msgFillOld)
	}
	if m == nil || dt.str != notString {
		return nil, nil
	}
	v, err := decodeFill(m, d.sb.sz)
	if err != nil || len(v) == 0 {
		return nil, err
	}
	if len(v) != dt.size {
		return nil, formatErr(m.off, "fill value of %d bytes for %d-byte elements", len(v), dt.size)
	}
	return v, nil
}

func storageOf(l *layout, filters []filter) Storage {
	s := Storage{Layout: l.class}
	if l.class != Chunked {
		return s
	}
	s.Chunks = make([]int, len(l.chunk))
	for i, c := range l.chunk {
		s.Chunks[i] = int(min(c, math.MaxInt32))
	}
	for _, f := range filters {
		switch {
		case f.id == filterShuffle:
			s.Shuffle = true
		case f.id == filterDeflate && len(f.client) > 0:
			s.Deflate = int(min(f.client[0], 9))
		}
	}
	return s
}

// dataSize checks a dataspace against the budget and returns the number of
// elements and bytes.
func (d *decoder) dataSize(space dataspace, dt datatype, off int64) (uint64, uint64, error) {
	n := uint64(1)
	for _, dim := range space.dims {
		if dim != 0 && n > math.MaxInt64/dim {
			return 0, 0, formatErr(off, "dataspace %v overflows", space.dims)
		}
		n *= dim
	}
	if dt.size <= 0 || n > math.MaxInt64/uint64(dt.size) {
		return 0, 0, formatErr(off, "dataspace %v of %d-byte elements overflows", space.dims, dt.size)
	}
	bytes := n * uint64(dt.size)
	if err := d.spend(bytes, off); err != nil {
		return 0, 0, err
	}
	return n, bytes, nil
}

// rawData returns a dataset's elements as stored (after filters), filling
// unwritten parts with the fill value.
func (d *decoder) rawData(l *layout, space dataspace, dt datatype, filters []filter, fill []byte) ([]byte, uint64, error) {
	n, size, err := d.dataSize(space, dt, l.off)
	if err != nil {
		return nil, 0, err
	}
	switch l.class {
	case Compact:
		if uint64(len(l.compact)) < size {
			return nil, 0, formatErr(l.off, "compact data of %d bytes, want %d", len(l.compact), size)
		}
		return l.compact[:size], n, nil
	case Contiguous:
		if !l.defined || size == 0 {
			return fillBuffer(size, fill), n, nil
		}
		if l.size < size {
			return nil, 0, formatErr(l.off, "contiguous data of %d bytes, want %d", l.size, size)
		}
		b, err := d.read(l.addr, size, "contiguous data")
		return b, n, err
	}
	out := fillBuffer(size, fill)
	return out, n, d.readChunks(out, l, space.dims, dt.size, filters)
}

func fillBuffer(size uint64, fill []byte) []byte {
	if len(fill) == 0 || bytes.Count(fill, []byte{0}) == len(fill) {
		return make([]byte, size)
	}
	return bytes.Repeat(fill, int(size)/len(fill))
}

// readChunks copies every stored chunk into out, the dataset in row-major
// order.
func (d *decoder) readChunks(out []byte, l *layout, dims []uint64, elemSize int, filters []filter) error {
	rank := len(dims)
	if rank == 0 || len(l.chunk) != rank {
		return formatErr(l.off, "chunked layout of rank %d for a dataspace of rank %d", len(l.chunk), rank)
	}
	chunkBytes := uint64(elemSize)
	for _, c := range l.chunk {
		if c == 0 || c > 1<<32 || chunkBytes > (1<<32)/c {
			return formatErr(l.off, "chunk shape %v of %d-byte elements (chunks are under 4 GiB)", l.chunk, elemSize)
		}
		chunkBytes *= c
	}
	if len(out) == 0 {
		return nil
	}
	recs, err := d.chunkRecords(l, dims, elemSize, chunkBytes)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if len(r.offset) != rank {
			return formatErr(r.at, "chunk with %d coordinates in a rank-%d dataset", len(r.offset), rank)
		}
		inside := true
		for i, o := range r.offset {
			if o%l.chunk[i] != 0 {
				return formatErr(r.at, "chunk at %v is not aligned to the chunk shape %v", r.offset, l.chunk)
			}
			inside = inside && o < dims[i]
		}
		if !inside {
			continue // left over from a shrunk dataset
		}
		if len(filters) == 0 && r.size != chunkBytes {
			return formatErr(r.at, "chunk of %d stored bytes for %d bytes of data", r.size, chunkBytes)
		}
		stored, err := d.read(r.addr, r.size, "chunk")
		if err != nil {
			return err
		}
		data, err := unfilter(stored, filters, r.mask, chunkBytes, elemSize, d.abs(r.addr))
		if err != nil {
			return err
		}
		copyChunk(out, data, dims, l.chunk, r.offset, elemSize)
	}
	return nil
}

// copyChunk copies the part of a chunk that lies inside the dataset.
func copyChunk(out, chunk []byte, dims, shape, offset []uint64, elemSize int) {
	chunkRuns(dims, shape, offset, elemSize, func(inChunk, inData, n uint64) {
		copy(out[inData:inData+n], chunk[inChunk:inChunk+n])
	})
}

// chunkRuns calls fn for every run, along the last dimension, of the part
// of the chunk at offset (of the given shape) that lies inside a dataset of
// dims: the run's byte offsets in the chunk and in the dataset, and its
// length in bytes.
func chunkRuns(dims, shape, offset []uint64, elemSize int, fn func(inChunk, inData, n uint64)) {
	rank := len(dims)
	ext := make([]uint64, rank) // extent of the chunk inside the dataset
	for i := range dims {
		ext[i] = min(shape[i], dims[i]-offset[i])
	}
	run := ext[rank-1] * uint64(elemSize)
	idx := make([]uint64, rank) // position within the chunk; the last stays 0
	for {
		var src, dst uint64
		for i := range rank {
			src = src*shape[i] + idx[i]
			dst = dst*dims[i] + offset[i] + idx[i]
		}
		fn(src*uint64(elemSize), dst*uint64(elemSize), run)
		k := rank - 2
		for ; k >= 0; k-- {
			if idx[k]++; idx[k] < ext[k] {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// array converts raw elements to an Array of the dataspace's shape.
func (d *decoder) array(space dataspace, dt datatype, raw []byte, n uint64, off int64) (Array, error) {
	a := Array{}
	for _, dim := range space.dims {
		if dim > math.MaxInt {
			return a, formatErr(off, "dimension %d too large", dim)
		}
		a.Shape = append(a.Shape, int(dim))
	}
	if dt.str == vlenString {
		s, err := d.vlenStrings(raw, int(n), off)
		a.Data = s
		return a, err
	}
	a.Data = decodeElements(dt, raw, int(n))
	return a, nil
}

// attributes decodes an object's attributes, compact (attribute messages)
// or dense (attribute info message with a fractal heap).
func (d *decoder) attributes(oh *objectHeader) (Attributes, error) {
	msgs := oh.all(msgAttribute)
	if m := oh.find(msgAttrInfo); m != nil {
		dense, err := d.denseAttributes(m)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, dense...)
	}
	var out Attributes
	seen := map[string]bool{}
	for i := range msgs {
		m := &msgs[i]
		if m.flags&msgFlagShared != 0 {
			return nil, unsupported(m.off, "attribute stored in the shared object header message table")
		}
		a, err := decodeAttribute(m, d.sb.sz)
		if err != nil {
			return nil, err
		}
		if seen[a.name] {
			return nil, formatErr(m.off, "attribute %q appears twice", a.name)
		}
		seen[a.name] = true
		if a.space.null {
			return nil, unsupported(m.off, "attribute %q with a null dataspace (h5py.Empty)", a.name)
		}
		n, size, err := d.dataSize(a.space, a.dt, m.off)
		if err != nil {
			return nil, err
		}
		if uint64(len(a.data)) < size {
			return nil, formatErr(m.off, "attribute %q holds %d bytes, want %d", a.name, len(a.data), size)
		}
		arr, err := d.array(a.space, a.dt, a.data[:size], n, m.off)
		if err != nil {
			return nil, err
		}
		out = append(out, Attribute{Name: a.name, Array: arr})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func sortLinks(links []Link) {
	sort.Slice(links, func(i, j int) bool { return links[i].Name < links[j].Name })
}
