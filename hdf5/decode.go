package hdf5

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits that keep a malformed file from exhausting the stack or memory.
const (
	maxDepth = 64 // nested groups below the root
	// A dataset's in-memory size is bounded by what the file can hold:
	// deflate expands at most 1032 times, so decoded data beyond
	// expansionLimit times the file size (plus slack for small files) can
	// only come from unwritten, fill-valued storage or from many references
	// to one string, and is refused.
	expansionLimit = 1100
	budgetSlack    = 1 << 20
	// Reading is bounded too: a valid file's structures are read once or
	// twice (headers first, then bodies), so reading more than rereadLimit
	// times the file size means references that overlap or repeat, which
	// would otherwise make decoding quadratic.
	rereadLimit = 32
	rereadSlack = 64 << 20
)

// Decode reads the HDF5 file held in r, which has size bytes, and returns
// its root group with every group, dataset and attribute below it.
//
// A malformed file gives a *FormatError naming the byte offset; a valid file
// using a feature this package does not implement gives an
// *UnsupportedError. Objects reachable through several hard links are
// decoded once and shared; a hard-link cycle is an *UnsupportedError.
func Decode(r io.ReaderAt, size int64) (*Group, error) {
	if size < 0 {
		return nil, errors.New("hdf5: negative size")
	}
	return newDecoder(r, size).decode()
}

func newDecoder(r io.ReaderAt, size int64) *decoder {
	return &decoder{
		r:       r,
		size:    size,
		budget:  expansionLimit*size + budgetSlack,
		reads:   rereadLimit*size + rereadSlack,
		objects: map[uint64]Object{},
		active:  map[uint64]string{},
		gheaps:  map[uint64]*globalHeap{},
	}
}

func (d *decoder) decode() (*Group, error) {
	sb, err := d.readSuperblock()
	if err != nil {
		return nil, err
	}
	d.sb = sb
	o, err := d.object(sb.root, "/", 0)
	if err != nil {
		return nil, err
	}
	root, ok := o.(*Group)
	if !ok {
		return nil, formatErr(d.abs(sb.root), "the root object is not a group")
	}
	return root, nil
}

// ReadFile decodes the HDF5 file at path. Errors name the file.
func ReadFile(path string) (*Group, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	g, err := Decode(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// decoder holds the state of one Decode call.
type decoder struct {
	r      io.ReaderAt
	size   int64
	sb     *superblock
	budget int64 // bytes of decoded data still allowed
	reads  int64 // bytes the decoder may still read

	objects map[uint64]Object      // decoded objects by object header address
	active  map[uint64]string      // groups being decoded, by address → path
	gheaps  map[uint64]*globalHeap // global heap collections by address
}

// abs converts a file address to an absolute offset (for error messages).
func (d *decoder) abs(addr uint64) int64 {
	if d.sb == nil || addr > uint64(d.size) {
		return -1
	}
	return d.sb.base + int64(addr)
}

// readAbs reads n bytes at absolute offset off, which must lie in the file.
func (d *decoder) readAbs(off, n int64, what string) ([]byte, error) {
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return nil, formatErr(off, "%s (%d bytes at %d) lies outside the %d-byte file", what, n, off, d.size)
	}
	if d.reads -= n; d.reads < 0 {
		return nil, formatErr(off, "%s: the file's structures refer to the same bytes over and over "+
			"(more than %d times the file size read)", what, rereadLimit)
	}
	b := make([]byte, n)
	if _, err := d.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("hdf5: reading %s at byte %d: %w", what, off, err)
	}
	return b, nil
}

// read reads n bytes at file address addr.
func (d *decoder) read(addr, n uint64, what string) ([]byte, error) {
	limit := uint64(d.size - d.sb.base)
	if addr > limit || n > limit-addr {
		return nil, formatErr(d.abs(addr), "%s (%d bytes at address %d) lies outside the file", what, n, addr)
	}
	return d.readAbs(d.sb.base+int64(addr), int64(n), what)
}

// cursorAt reads n bytes at addr and returns a cursor over them.
func (d *decoder) cursorAt(addr, n uint64, what string) (*cursor, error) {
	b, err := d.read(addr, n, what)
	if err != nil {
		return nil, err
	}
	return newCursor(b, d.sb.base+int64(addr), what, d.sb.sz), nil
}

// block reads n bytes at addr holding a structure that starts with the
// 4-byte signature sig and a version byte (checked unless version < 0) and,
// if checksummed, ends with the lookup3 checksum of everything before it.
// The cursor is left after the version byte (or the signature).
func (d *decoder) block(addr, n uint64, sig string, version int, checksummed bool, what string) (*cursor, error) {
	c, err := d.cursorAt(addr, n, what)
	if err != nil {
		return nil, err
	}
	c.signature(sig)
	if version >= 0 {
		if v := c.u8(); c.err == nil && int(v) != version {
			return nil, formatErr(c.base+4, "%s version %d (want %d)", what, v, version)
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if checksummed {
		if err := verifyChecksum(c.b, len(c.b)-4, c.base, what); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// spend takes n bytes of decoded data from the budget.
func (d *decoder) spend(n uint64, off int64) error {
	if n > uint64(d.budget) {
		return formatErr(off, "decoded data would exceed %d bytes (%d times the file size): "+
			"unwritten or repeated data this large is refused", expansionLimit*d.size+budgetSlack, expansionLimit)
	}
	d.budget -= int64(n)
	return nil
}

// object decodes the object whose header is at addr, reached at path.
func (d *decoder) object(addr uint64, path string, depth int) (Object, error) {
	if o, ok := d.objects[addr]; ok {
		return o, nil
	}
	if first, ok := d.active[addr]; ok {
		return nil, &UnsupportedError{Offset: d.abs(addr), Path: path,
			Feature: fmt.Sprintf("hard-link cycle: this is the group %s again", first)}
	}
	if depth > maxDepth {
		return nil, &FormatError{Offset: d.abs(addr), Path: path, Msg: fmt.Sprintf("groups nested deeper than %d", maxDepth)}
	}
	oh, err := d.objectHeader(addr)
	if err != nil {
		return nil, withPath(err, path)
	}
	var o Object
	switch oh.kind() {
	case objGroup:
		d.active[addr] = path
		o, err = d.group(oh, path, depth)
		delete(d.active, addr)
	case objDataset:
		o, err = d.dataset(oh)
	case objDatatype:
		err = unsupported(d.abs(addr), "committed (named) datatype object")
	default:
		err = formatErr(d.abs(addr), "object header is neither a group nor a dataset")
	}
	if err != nil {
		return nil, withPath(err, path)
	}
	d.objects[addr] = o
	return o, nil
}

// group decodes a group's links (from whichever storage it uses), the
// objects they point to, and its attributes.
func (d *decoder) group(oh *objectHeader, path string, depth int) (*Group, error) {
	links, err := d.groupLinks(oh)
	if err != nil {
		return nil, err
	}
	g := &Group{}
	if g.Attrs, err = d.attributes(oh); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(links))
	for _, l := range links {
		if l.name == "" || l.name == "." || containsByte(l.name, '/') || seen[l.name] {
			return nil, formatErr(l.off, "link name %q is empty, \".\", contains \"/\" or is repeated", l.name)
		}
		seen[l.name] = true
		link := Link{Name: l.name, Target: l.soft}
		if !l.isSoft {
			if link.Object, err = d.object(l.addr, joinPath(path, l.name), depth+1); err != nil {
				return nil, err
			}
		}
		g.Links = append(g.Links, link)
	}
	sortLinks(g.Links)
	return g, nil
}

// rawLink is a link as stored, before its target is decoded.
type rawLink struct {
	name   string
	addr   uint64 // hard link: object header address
	isSoft bool
	soft   string // soft link: target path
	off    int64  // where the link is stored, for errors
}

// groupLinks returns a group's links from its symbol table (old-style
// groups) or its link messages, compact or dense (new-style groups).
func (d *decoder) groupLinks(oh *objectHeader) ([]rawLink, error) {
	if m := oh.find(msgSymbolTable); m != nil {
		return d.symbolTableLinks(m)
	}
	if m := oh.find(msgLinkInfo); m != nil {
		li, err := decodeLinkInfo(m, d.sb.sz)
		if err != nil {
			return nil, err
		}
		if li.dense {
			return d.denseLinks(li)
		}
	}
	var links []rawLink
	for _, m := range oh.all(msgLink) {
		l, err := decodeLink(m.data, m.off, d.sb.sz)
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, nil
}
