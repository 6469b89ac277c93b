package hdf5

// The superblock (spec §II.A) starts the file: its signature, the widths of
// addresses and lengths, and the way to the root group. Versions 0 and 1
// hold the root group's symbol-table entry; versions 2 and 3 hold the
// address of its object header and a checksum.

const signature = "\x89HDF\r\n\x1a\n"

// superblock is what the reader needs from the superblock.
type superblock struct {
	version int
	base    int64 // absolute offset of address 0: where the signature was found
	sz      sizes
	eof     uint64 // end-of-file address
	root    uint64 // root group object header address
}

// findSignature looks for the signature at 0, 512, 1024, 2048, ... as the
// spec says (a user block may precede the superblock).
func (d *decoder) findSignature() (int64, error) {
	for off := int64(0); off+int64(len(signature)) <= d.size; {
		b, err := d.readAbs(off, int64(len(signature)), "file signature")
		if err != nil {
			return 0, err
		}
		if string(b) == signature {
			return off, nil
		}
		if off == 0 {
			off = 512
		} else {
			off *= 2
		}
	}
	return 0, formatErr(0, "no HDF5 signature (not an HDF5 file)")
}

func (d *decoder) readSuperblock() (*superblock, error) {
	base, err := d.findSignature()
	if err != nil {
		return nil, err
	}
	// The longest superblock (version 1 with 8-byte fields) has 112 bytes;
	// a smaller file is checked field by field by the cursor.
	n := min(d.size-base, 128)
	b, err := d.readAbs(base, n, "superblock")
	if err != nil {
		return nil, err
	}
	c := newCursor(b, base, "superblock", sizes{})
	c.skip(len(signature))
	sb := &superblock{base: base, version: int(c.u8())}
	switch sb.version {
	case 0, 1:
		err = sb.decodeV01(c)
	case 2, 3:
		err = sb.decodeV23(c)
	default:
		return nil, unsupported(base+8, "superblock version %d", sb.version)
	}
	if err != nil {
		return nil, err
	}
	if sb.eof > uint64(d.size-base) {
		return nil, formatErr(base, "file truncated: the superblock says %d bytes, the file has %d", sb.eof, d.size-base)
	}
	return sb, nil
}

func checkWidths(c *cursor, off, length int, at int64) error {
	ok := func(n int) bool { return n == 2 || n == 4 || n == 8 }
	if !ok(off) || !ok(length) {
		return formatErr(at, "superblock: size of offsets %d, size of lengths %d (want 2, 4 or 8)", off, length)
	}
	c.sz = sizes{offset: off, length: length}
	return nil
}

func (sb *superblock) decodeV01(c *cursor) error {
	c.skip(3) // free-space, root-entry versions, reserved
	if v := c.u8(); v != 0 && c.err == nil {
		return unsupported(c.off()-1, "shared header message format version %d", v)
	}
	at := c.off()
	off, length := int(c.u8()), int(c.u8())
	c.skip(1)
	if c.err != nil {
		return c.err
	}
	if err := checkWidths(c, off, length, at); err != nil {
		return err
	}
	c.skip(2 + 2 + 4) // group leaf/internal node K, consistency flags
	if sb.version == 1 {
		c.skip(4) // indexed storage internal node K, reserved
	}
	c.addr() // base address: we use where the signature is, like the library
	c.addr() // free-space info: always undefined
	sb.eof = c.length()
	c.addr() // driver information block: only for multi/family drivers
	// Root group symbol-table entry: link name offset, object header
	// address, cache type, reserved, scratch pad.
	c.addr()
	root, ok := c.addr()
	c.skip(4 + 4 + 16)
	if c.err != nil {
		return c.err
	}
	if !ok {
		return formatErr(c.off()-40, "superblock: undefined root group address")
	}
	sb.sz, sb.root = c.sz, root
	return nil
}

func (sb *superblock) decodeV23(c *cursor) error {
	at := c.off()
	off, length := int(c.u8()), int(c.u8())
	c.skip(1) // file consistency flags
	if c.err != nil {
		return c.err
	}
	if err := checkWidths(c, off, length, at); err != nil {
		return err
	}
	c.addr() // base address
	c.addr() // superblock extension: holds nothing the reader needs
	sb.eof = c.length()
	root, ok := c.addr()
	n := c.pos
	c.skip(4)
	if c.err != nil {
		return c.err
	}
	if err := verifyChecksum(c.b, n, c.base, "superblock"); err != nil {
		return err
	}
	if !ok {
		return formatErr(c.base, "superblock: undefined root group address")
	}
	sb.sz, sb.root = c.sz, root
	return nil
}

// Superblock version 0 as written by this package (and by h5py by
// default): 8-byte addresses and lengths, group leaf node K 4, group
// internal node K 16; the indexed-storage (chunk B-tree) K is then the
// default 32.
const (
	superblockSize = 96
	groupLeafK     = 4
	groupInternalK = 16
	chunkK         = 32
)

// encodeSuperblock returns a version-0 superblock whose root symbol-table
// entry caches the root group's B-tree and local heap addresses, as the
// library writes it.
func encodeSuperblock(eof, rootHeader, rootBtree, rootHeap uint64) []byte {
	var e encbuf
	e.raw([]byte(signature))
	e.raw([]byte{0, 0, 0, 0}) // superblock, free-space, root-entry versions, reserved
	e.raw([]byte{0, 8, 8, 0}) // shared-header version, size of offsets, of lengths, reserved
	e.u16(groupLeafK)
	e.u16(groupInternalK)
	e.u32(0)          // file consistency flags
	e.u64(0)          // base address
	e.u64(undef(8))   // free-space info
	e.u64(eof)        // end-of-file address
	e.u64(undef(8))   // driver information block
	e.u64(0)          // root entry: link name offset
	e.u64(rootHeader) // root entry: object header address
	e.u32(1)          // cache type 1: group B-tree and heap cached
	e.u32(0)
	e.u64(rootBtree)
	e.u64(rootHeap)
	return e.b
}
