package hdf5

// Version-2 B-trees (spec §III.A.2) index dense links (record type 5: name
// hash and heap ID) and dense attributes (type 8: heap ID, message flags,
// creation order, name hash). The reader only needs every record, so it
// visits all nodes; names are sorted afterwards.

const (
	btree2LinkNames = 5
	btree2AttrNames = 8
	maxBtree2Depth  = 16
)

type btree2 struct {
	typ      uint8
	nodeSize uint64
	recSize  int
	depth    int
	root     uint64
	rootN    int
	ok       bool // root defined
	// Per depth: maximum records in a node, and the widths of the
	// "records in child" and "total records below child" fields.
	maxRec   []uint64
	cumSize  []int
	nrecSize int
}

// limitEncSize is H5VM_limit_enc_size: bytes to encode values up to v.
func limitEncSize(v uint64) int {
	if v == 0 {
		return 1
	}
	return log2(v)/8 + 1
}

func (d *decoder) btree2Header(addr uint64, typ uint8) (*btree2, error) {
	o, l := d.sb.sz.offset, d.sb.sz.length
	size := 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + o + 2 + l
	c, err := d.block(addr, uint64(size+4), "BTHD", 0, true, "v2 B-tree header")
	if err != nil {
		return nil, err
	}
	t := &btree2{typ: c.u8(), nodeSize: uint64(c.u32()), recSize: int(c.u16()), depth: int(c.u16())}
	c.skip(2) // split and merge percent
	t.root, t.ok = c.addr()
	t.rootN = int(c.u16())
	if c.err != nil {
		return nil, c.err
	}
	if t.typ != typ || t.depth > maxBtree2Depth || t.recSize < 1 || t.nodeSize < 16 || t.nodeSize > uint64(d.size) {
		return nil, formatErr(c.base, "v2 B-tree header: type %d (want %d), depth %d, record size %d, node size %d",
			t.typ, typ, t.depth, t.recSize, t.nodeSize)
	}
	// As H5B2__hdr_init: leaves hold (node size - 10) / record size
	// records; a node at depth u holds as many records as fit with one
	// child pointer more than records.
	const prefix = 10 // signature, version, type, checksum
	t.maxRec = []uint64{(t.nodeSize - prefix) / uint64(t.recSize)}
	t.cumSize = []int{0}
	cum := []uint64{t.maxRec[0]}
	t.nrecSize = limitEncSize(t.maxRec[0])
	for u := 1; u <= t.depth; u++ {
		ptr := uint64(o + t.nrecSize + t.cumSize[u-1])
		if t.nodeSize < prefix+ptr {
			return nil, formatErr(c.base, "v2 B-tree node size %d too small for depth %d", t.nodeSize, t.depth)
		}
		n := (t.nodeSize - prefix - ptr) / (uint64(t.recSize) + ptr)
		t.maxRec = append(t.maxRec, n)
		total := satMul(n+1, cum[u-1]) + n
		cum = append(cum, total)
		t.cumSize = append(t.cumSize, limitEncSize(total))
	}
	return t, nil
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}

// btree2Records returns every record of the v2 B-tree at addr, each with
// the file offset where it is stored.
func (d *decoder) btree2Records(addr uint64, typ uint8) ([][]byte, []int64, error) {
	t, err := d.btree2Header(addr, typ)
	if err != nil || !t.ok {
		return nil, nil, err
	}
	var recs [][]byte
	var offs []int64
	seen := map[uint64]bool{}
	var visit func(addr uint64, depth, n int) error
	visit = func(addr uint64, depth, n int) error {
		if seen[addr] {
			return formatErr(d.abs(addr), "v2 B-tree node reached twice")
		}
		seen[addr] = true
		if uint64(n) > t.maxRec[depth] {
			return formatErr(d.abs(addr), "v2 B-tree node with %d records (at most %d)", n, t.maxRec[depth])
		}
		sig, ptr := "BTLF", 0
		if depth > 0 {
			sig, ptr = "BTIN", d.sb.sz.offset+t.nrecSize+t.cumSize[depth-1]
		}
		used := 6 + n*t.recSize + (n+1)*ptr // ptr is 0 in leaves
		c, err := d.block(addr, uint64(used+4), sig, 0, true, "v2 B-tree node")
		if err != nil {
			return err
		}
		if got := c.u8(); got != t.typ {
			return formatErr(c.base+5, "v2 B-tree node of type %d in a type-%d tree", got, t.typ)
		}
		for range n {
			offs = append(offs, c.off())
			recs = append(recs, c.take(t.recSize))
		}
		for i := 0; depth > 0 && i <= n; i++ {
			child, _ := c.addr()
			childN := int(c.uN(t.nrecSize))
			c.skip(t.cumSize[depth-1])
			if c.err != nil {
				return c.err
			}
			if err := visit(child, depth-1, childN); err != nil {
				return err
			}
		}
		return c.err
	}
	return recs, offs, visit(t.root, t.depth, t.rootN)
}

// denseLinks returns the links of a group with dense link storage.
func (d *decoder) denseLinks(li linkInfo) ([]rawLink, error) {
	h, err := d.fractalHeap(li.heap)
	if err != nil {
		return nil, err
	}
	recs, offs, err := d.btree2Records(li.nameIndex, btree2LinkNames)
	if err != nil {
		return nil, err
	}
	links := make([]rawLink, 0, len(recs))
	for i, r := range recs {
		if len(r) < 4+7 {
			return nil, formatErr(offs[i], "link name record of %d bytes", len(r))
		}
		obj, err := d.heapObject(h, r[4:4+7], offs[i]+4)
		if err != nil {
			return nil, err
		}
		l, err := decodeLink(obj, offs[i], d.sb.sz)
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, nil
}

// denseAttributes returns the attribute messages of an object with dense
// attribute storage, from its attribute info message: version, flags,
// maximum creation index (if tracked), fractal heap, name index B-tree.
func (d *decoder) denseAttributes(m *message) ([]message, error) {
	c := newCursor(m.data, m.off, "attribute info message", d.sb.sz)
	if v := c.u8(); v != 0 && c.err == nil {
		return nil, formatErr(m.off, "attribute info message version %d", v)
	}
	if c.u8()&1 != 0 {
		c.skip(2)
	}
	heap, ok1 := c.addr()
	index, ok2 := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	if !ok1 || !ok2 {
		return nil, nil // attributes are compact
	}
	h, err := d.fractalHeap(heap)
	if err != nil {
		return nil, err
	}
	recs, offs, err := d.btree2Records(index, btree2AttrNames)
	if err != nil {
		return nil, err
	}
	var out []message
	for i, r := range recs {
		if len(r) < 8+1 {
			return nil, formatErr(offs[i], "attribute name record of %d bytes", len(r))
		}
		obj, err := d.heapObject(h, r[:8], offs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, message{typ: msgAttribute, flags: r[8], data: obj, off: offs[i]})
	}
	return out, nil
}
