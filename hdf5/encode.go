package hdf5

import (
	"fmt"
	"io"
	"sort"
	"unicode/utf8"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Encode writes root and everything reachable from it as an HDF5 file. The
// layout is h5py's default (see the package documentation): superblock 0,
// version-1 object headers, symbol-table groups, global heap strings. The
// same tree always gives the same bytes.
//
// An object linked several times is written once. Encode returns an error
// naming the path for an invalid tree: a cycle, a bad name, data that does
// not match its shape, or a storage setting the data cannot use.
func Encode(w io.Writer, root *Group) error {
	b, err := encode(root)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteFile encodes root and writes it to path atomically (a temporary file
// renamed into place); on error path is left untouched.
func WriteFile(path string, root *Group) error {
	b, err := encode(root)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return onnx.WriteFileAtomic(path, b)
}

// writer lays the file out in memory: every structure is allocated at the
// end, children before the parents that point to them.
type writer struct {
	buf     []byte
	heap    gheapWriter
	refs    map[Object]int        // hard links to each object (the root has one)
	addrs   map[Object]uint64     // object header addresses, once written
	groups  map[*Group]groupAddrs // B-tree and local heap of written groups
	strings map[stringKey][]heapID
	filter  chunkFilter
}

type groupAddrs struct{ btree, heap uint64 }

// stringKey names a string array: a dataset's data (attr "") or an
// attribute of an object.
type stringKey struct {
	obj  Object
	attr string
}

// encLink is a link ready for a symbol-table node.
type encLink struct {
	name     string
	soft     bool
	target   string
	addr     uint64
	refCount int
	group    *groupAddrs
}

func encode(root *Group) ([]byte, error) {
	if root == nil {
		return nil, fmt.Errorf("hdf5: nil root group")
	}
	w := &writer{refs: map[Object]int{}, addrs: map[Object]uint64{}, groups: map[*Group]groupAddrs{},
		strings: map[stringKey][]heapID{}}
	if err := w.plan("/", root, map[*Group]bool{}, 0); err != nil {
		return nil, err
	}
	w.refs[root] = 1
	w.alloc(superblockSize)
	w.heap.write(w)
	rootAddr, err := w.object("/", root)
	if err != nil {
		return nil, err
	}
	ga := w.groups[root]
	copy(w.buf, encodeSuperblock(uint64(len(w.buf)), rootAddr, ga.btree, ga.heap))
	return w.buf, nil
}

// alloc reserves n bytes at the end of the file, starting on an 8-byte
// boundary, and returns their address.
func (w *writer) alloc(n int) uint64 {
	w.buf = append(w.buf, make([]byte, pad8(len(w.buf))-len(w.buf))...)
	addr := uint64(len(w.buf))
	w.buf = append(w.buf, make([]byte, n)...)
	return addr
}

func (w *writer) put(addr uint64, p []byte) { copy(w.buf[addr:], p) }

// plan validates the tree below g, counts hard links, refuses cycles, and
// queues every string for the global heap, in a fixed (sorted) order.
func (w *writer) plan(path string, g *Group, onPath map[*Group]bool, depth int) error {
	if onPath[g] {
		return fmt.Errorf("hdf5: %s: group cycle (a group contains itself)", path)
	}
	if depth > maxDepth {
		return fmt.Errorf("hdf5: %s: groups nested deeper than %d (Decode's limit)", path, maxDepth)
	}
	if _, done := w.refs[g]; done {
		return nil // a group linked twice is planned once
	}
	w.refs[g] = 0
	onPath[g] = true
	defer delete(onPath, g)
	if err := w.planAttrs(path, g, g.Attrs); err != nil {
		return err
	}
	links := sortedLinks(g.Links)
	for i, l := range links {
		p := joinPath(path, l.Name)
		if err := validName(l.Name, true); err != nil {
			return fmt.Errorf("hdf5: %s: %v", path, err)
		}
		if i > 0 && links[i-1].Name == l.Name {
			return fmt.Errorf("hdf5: %s: two links named %q", path, l.Name)
		}
		switch o := l.Object.(type) {
		case nil:
			if l.Target == "" || containsByte(l.Target, 0) || !utf8.ValidString(l.Target) {
				return fmt.Errorf("hdf5: %s: soft link with an empty or invalid target %q", p, l.Target)
			}
		case *Group:
			if o == nil {
				return fmt.Errorf("hdf5: %s: nil group", p)
			}
			if err := w.plan(p, o, onPath, depth+1); err != nil {
				return err
			}
			w.refs[o]++
		case *Dataset:
			if o == nil {
				return fmt.Errorf("hdf5: %s: nil dataset", p)
			}
			if _, done := w.refs[o]; !done {
				if err := w.planDataset(p, o); err != nil {
					return err
				}
			}
			w.refs[o]++
		default:
			return fmt.Errorf("hdf5: %s: unsupported object %T", p, o)
		}
	}
	return nil
}

func sortedLinks(links []Link) []Link {
	out := append([]Link(nil), links...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortedAttrs(attrs Attributes) Attributes {
	out := append(Attributes(nil), attrs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (w *writer) planDataset(path string, ds *Dataset) error {
	if err := ds.check(); err != nil {
		return fmt.Errorf("hdf5: %s: %v", path, err)
	}
	if err := checkStorage(ds); err != nil {
		return fmt.Errorf("hdf5: %s: %v", path, err)
	}
	if err := w.planStrings(path, stringKey{obj: ds}, ds.Array); err != nil {
		return err
	}
	return w.planAttrs(path, ds, ds.Attrs)
}

func (w *writer) planAttrs(path string, o Object, attrs Attributes) error {
	sorted := sortedAttrs(attrs)
	for i, a := range sorted {
		if err := validName(a.Name, false); err != nil {
			return fmt.Errorf("hdf5: %s: attribute: %v", path, err)
		}
		if i > 0 && sorted[i-1].Name == a.Name {
			return fmt.Errorf("hdf5: %s: two attributes named %q", path, a.Name)
		}
		if err := a.check(); err != nil {
			return fmt.Errorf("hdf5: %s: attribute %q: %v", path, a.Name, err)
		}
		if err := w.planStrings(path, stringKey{obj: o, attr: a.Name}, a.Array); err != nil {
			return err
		}
	}
	return nil
}

// planStrings checks a string array and reserves its heap objects.
func (w *writer) planStrings(path string, key stringKey, a Array) error {
	data, ok := a.Data.([]string)
	if !ok {
		return nil
	}
	ids := make([]heapID, len(data))
	for i, s := range data {
		if !utf8.ValidString(s) || containsByte(s, 0) || len(s) > 1<<31 {
			return fmt.Errorf("hdf5: %s: string %d is not NUL-free UTF-8 under 2 GiB", path, i)
		}
		ids[i] = w.heap.add(s)
	}
	w.strings[key] = ids
	return nil
}

// checkStorage validates a dataset's Storage against its data.
func checkStorage(ds *Dataset) error {
	s := ds.Storage
	if s.Layout != Chunked && (s.Chunks != nil || s.Deflate != 0 || s.Shuffle) {
		return fmt.Errorf("chunk shape, deflate and shuffle need the chunked layout")
	}
	switch s.Layout {
	case Contiguous:
		return nil
	case Compact:
		_, size := encodeDatatype(ds.Kind())
		if ds.Len()*size > maxMessage-8 {
			return fmt.Errorf("compact data of %d bytes (at most %d)", ds.Len()*size, maxMessage-8)
		}
		return nil
	case Chunked:
	default:
		return fmt.Errorf("unknown layout %v", s.Layout)
	}
	if len(ds.Shape) == 0 {
		return fmt.Errorf("a scalar dataset cannot be chunked")
	}
	if s.Deflate < 0 || s.Deflate > 9 {
		return fmt.Errorf("deflate level %d (want 0 to 9)", s.Deflate)
	}
	if s.Chunks == nil {
		return nil
	}
	if len(s.Chunks) != len(ds.Shape) {
		return fmt.Errorf("chunk shape %v for data of shape %v", s.Chunks, ds.Shape)
	}
	_, size := encodeDatatype(ds.Kind())
	bytes := uint64(size)
	for i, c := range s.Chunks {
		if c < 1 || c > max(ds.Shape[i], 1) {
			return fmt.Errorf("chunk shape %v for data of shape %v (each chunk dimension from 1 to the data's)", s.Chunks, ds.Shape)
		}
		bytes *= uint64(c)
		if bytes >= 1<<32 {
			return fmt.Errorf("chunks of shape %v reach 4 GiB", s.Chunks)
		}
	}
	return nil
}

// autoChunks picks a chunk shape for data of the given shape: all of it if
// it fits in 1 MiB, else halving dimensions in turn (first axis first).
func autoChunks(shape []int, elemSize int) []int {
	c := make([]int, len(shape))
	for i, d := range shape {
		c[i] = max(d, 1)
	}
	for axis := 0; ; axis = (axis + 1) % len(c) {
		bytes := elemSize
		for _, d := range c {
			bytes *= d
		}
		if bytes <= 1<<20 {
			return c
		}
		c[axis] = max((c[axis]+1)/2, 1)
	}
}

// object writes o (once) and returns its object header address.
func (w *writer) object(path string, o Object) (uint64, error) {
	if addr, ok := w.addrs[o]; ok {
		return addr, nil
	}
	var msgs []encMessage
	var err error
	switch o := o.(type) {
	case *Group:
		msgs, err = w.groupMessages(path, o)
	case *Dataset:
		msgs, err = w.datasetMessages(path, o)
	}
	if err != nil {
		return 0, err
	}
	oh, err := encodeObjectHeaderV1(msgs, w.refs[o])
	if err != nil {
		return 0, fmt.Errorf("hdf5: %s: %v", path, err)
	}
	addr := w.alloc(len(oh))
	w.put(addr, oh)
	w.addrs[o] = addr
	return addr, nil
}

// groupMessages writes a group's members and symbol table and returns its
// header messages: the symbol table message, then the attributes.
func (w *writer) groupMessages(path string, g *Group) ([]encMessage, error) {
	var links []encLink
	for _, l := range sortedLinks(g.Links) {
		el := encLink{name: l.Name, soft: l.Object == nil, target: l.Target}
		if l.Object != nil {
			addr, err := w.object(joinPath(path, l.Name), l.Object)
			if err != nil {
				return nil, err
			}
			el.addr, el.refCount = addr, w.refs[l.Object]
			if sub, ok := l.Object.(*Group); ok {
				ga := w.groups[sub]
				el.group = &ga
			}
		}
		links = append(links, el)
	}
	btree, heap := w.writeSymbolTable(links)
	w.groups[g] = groupAddrs{btree: btree, heap: heap}
	var e encbuf
	e.u64(btree)
	e.u64(heap)
	msgs := []encMessage{{typ: msgSymbolTable, data: e.b}}
	attrs, err := w.attributeMessages(path, g, g.Attrs)
	return append(msgs, attrs...), err
}

// attributeMessages encodes an object's attributes, sorted by name.
func (w *writer) attributeMessages(path string, o Object, attrs Attributes) ([]encMessage, error) {
	var msgs []encMessage
	for _, a := range sortedAttrs(attrs) {
		dtype, _ := encodeDatatype(a.Kind())
		raw := w.rawElements(stringKey{obj: o, attr: a.Name}, a.Array)
		data := encodeAttribute(a.Name, dtype, a.Shape, raw)
		if len(data) > maxMessage {
			return nil, fmt.Errorf("hdf5: %s: attribute %q takes %d bytes (at most %d; dense attribute storage is not written)",
				path, a.Name, len(data), maxMessage)
		}
		msgs = append(msgs, encMessage{typ: msgAttribute, data: data})
	}
	return msgs, nil
}

// rawElements returns an array's elements as stored in the file.
func (w *writer) rawElements(key stringKey, a Array) []byte {
	if s, ok := a.Data.([]string); ok {
		return encodeVlenStrings(w.strings[key], s)
	}
	return encodeElements(a.Data)
}

// datasetMessages writes a dataset's raw data and returns its header
// messages in h5py's order: dataspace, datatype, fill value, layout,
// filter pipeline, attributes.
func (w *writer) datasetMessages(path string, ds *Dataset) ([]encMessage, error) {
	kind := ds.Kind()
	dtype, elemSize := encodeDatatype(kind)
	raw := w.rawElements(stringKey{obj: ds}, ds.Array)
	s := ds.Storage
	var layoutMsg []byte
	switch s.Layout {
	case Compact:
		layoutMsg = encodeLayout(s, nil, elemSize, 0, 0, raw)
	case Contiguous:
		addr := undef(8)
		if len(raw) > 0 {
			addr = w.alloc(len(raw))
			w.put(addr, raw)
		}
		layoutMsg = encodeLayout(s, nil, elemSize, addr, len(raw), nil)
	case Chunked:
		chunks := s.Chunks
		if chunks == nil {
			chunks = autoChunks(ds.Shape, elemSize)
		}
		addr, err := w.writeChunks(raw, ds.Shape, chunks, elemSize, s)
		if err != nil {
			return nil, fmt.Errorf("hdf5: %s: %v", path, err)
		}
		layoutMsg = encodeLayout(s, chunks, elemSize, addr, 0, nil)
	}
	msgs := []encMessage{
		{typ: msgDataspace, data: encodeDataspace(ds.Shape)},
		{typ: msgDatatype, flags: msgFlagConstant, data: padded(dtype)},
		{typ: msgFill, flags: msgFlagConstant, data: encodeFill(s.Layout, kind)},
		{typ: msgLayout, data: layoutMsg},
	}
	if s.Layout == Chunked && (s.Shuffle || s.Deflate > 0) {
		msgs = append(msgs, encMessage{typ: msgFilters, flags: msgFlagConstant, data: encodeFilters(s, elemSize)})
	}
	attrs, err := w.attributeMessages(path, ds, ds.Attrs)
	return append(msgs, attrs...), err
}
