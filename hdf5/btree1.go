package hdf5

// Version-1 B-trees (spec §III.A.1) index an old-style group's symbol-table
// nodes (node type 0, keys are local-heap offsets of names) and a chunked
// dataset's chunks (node type 1, keys are chunk offsets). A node is "TREE",
// type, level, entries used, left and right siblings, then key[0],
// child[0], key[1], ..., child[n-1], key[n].

const (
	btreeGroup = 0
	btreeChunk = 1
)

// btreeEntry is one child of a level-0 node with the keys around it.
type btreeEntry struct {
	left, right []byte // key[i] and key[i+1]
	child       uint64
	keyOff      int64 // file offset of the left key, for errors
}

// walkBtree1 calls visit for every level-0 entry of the B-tree rooted at
// addr, in key order. Each child must be one level below its parent and no
// node may be reached twice, which bounds the walk by the file size.
func (d *decoder) walkBtree1(addr uint64, typ uint8, keySize int, visit func(btreeEntry) error) error {
	seen := map[uint64]bool{}
	var walk func(addr uint64, level int) error
	walk = func(addr uint64, level int) error {
		if seen[addr] {
			return formatErr(d.abs(addr), "B-tree node reached twice")
		}
		seen[addr] = true
		head := 8 + 2*d.sb.sz.offset
		c, err := d.block(addr, uint64(head), "TREE", -1, false, "B-tree node")
		if err != nil {
			return err
		}
		nodeType, nodeLevel, n := c.u8(), int(c.u8()), int(c.u16())
		if c.err != nil {
			return c.err
		}
		if nodeType != typ {
			return formatErr(c.base, "B-tree node of type %d in a type-%d tree", nodeType, typ)
		}
		if level >= 0 && nodeLevel != level {
			return formatErr(c.base, "B-tree node at level %d, want %d", nodeLevel, level)
		}
		body := uint64(n)*uint64(keySize+d.sb.sz.offset) + uint64(keySize)
		c, err = d.cursorAt(addr+uint64(head), body, "B-tree node")
		if err != nil {
			return err
		}
		for range n {
			e := btreeEntry{keyOff: c.off(), left: c.take(keySize)}
			var ok bool
			e.child, ok = c.addr()
			e.right = c.b[c.pos:min(c.pos+keySize, len(c.b))]
			if c.err != nil {
				return c.err
			}
			if !ok {
				return formatErr(e.keyOff, "B-tree child at an undefined address")
			}
			if nodeLevel > 0 {
				err = walk(e.child, nodeLevel-1)
			} else {
				err = visit(e)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return walk(addr, -1)
}

// btreeNodeSize is the on-disk size of a node that can hold 2K children:
// the library always reads and writes nodes at full capacity.
func btreeNodeSize(keySize, k int) int {
	return 8 + 2*8 + (2*k+1)*keySize + 2*k*8
}

// buildBtree1 writes a B-tree over children (in key order) and returns the
// root address. keys holds len(children)+1 encoded keys, keys[i] and
// keys[i+1] bracketing child i. Nodes hold up to 2K children, siblings are
// linked, and every node is allocated at full size, as the library reads
// them.
func buildBtree1(w *writer, typ uint8, k int, keys [][]byte, children []uint64) uint64 {
	keySize := len(keys[0])
	level := 0
	for {
		var nodeAddrs []uint64
		var nextKeys [][]byte
		nodes := (len(children) + 2*k - 1) / (2 * k)
		if nodes == 0 {
			nodes = 1 // an empty group still has a root node
		}
		for i := range nodes {
			nodeAddrs = append(nodeAddrs, w.alloc(btreeNodeSize(keySize, k)))
			if i == 0 {
				nextKeys = append(nextKeys, keys[0])
			}
		}
		for i, addr := range nodeAddrs {
			lo, hi := i*2*k, min((i+1)*2*k, len(children))
			var e encbuf
			e.raw([]byte("TREE"))
			e.u8(typ)
			e.u8(byte(level))
			e.u16(uint16(hi - lo))
			e.u64(sibling(nodeAddrs, i-1))
			e.u64(sibling(nodeAddrs, i+1))
			for j := lo; j < hi; j++ {
				e.raw(keys[j])
				e.u64(children[j])
			}
			e.raw(keys[hi])
			w.put(addr, e.b)
			nextKeys = append(nextKeys, keys[hi])
		}
		if len(nodeAddrs) == 1 {
			return nodeAddrs[0]
		}
		keys, children = nextKeys, nodeAddrs
		level++
	}
}

func sibling(addrs []uint64, i int) uint64 {
	if i < 0 || i >= len(addrs) {
		return undef(8)
	}
	return addrs[i]
}
