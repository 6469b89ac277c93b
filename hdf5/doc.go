// Package hdf5 reads and writes the subset of HDF5 that NIR (the
// Neuromorphic Intermediate Representation, github.com/neuromorphs/NIR)
// uses: nested groups, hard and soft links, numeric, bool and string
// datasets of any rank, and attributes. It is pure Go, follows the HDF5
// File Format Specification version 3.0, and is tested against h5py and
// h5dump in both directions.
//
// # Model
//
// A file is a tree (strictly, a DAG) of objects under a root *Group:
//
//	root := hdf5.NewGroup()
//	root.Set("version", hdf5.ScalarDataset("0.5.0"))
//	node := root.CreateGroup("node")
//	node.Set("edges", hdf5.NewDataset([]int{2, 2}, []string{"in", "lif", "lif", "out"}))
//	w := hdf5.NewDataset([]int{3, 4}, weights) // []float32, row-major
//	w.Storage = hdf5.Storage{Layout: hdf5.Chunked, Deflate: 4}
//	node.CreateGroup("nodes").CreateGroup("fc").Set("weight", w)
//	err := hdf5.WriteFile("model.nir", root)
//
//	root, err := hdf5.ReadFile("model.nir")
//	typ, err := root.Dataset("node/nodes/fc/type")
//	s, err := typ.StringValue()
//
// A Dataset is an Array (a Shape and a typed Data slice in C order) with
// Attributes and a Storage. Element kinds map to HDF5 as h5py maps numpy
// dtypes: Int8…Uint64 are little-endian fixed-point types, Float32 and
// Float64 IEEE floats, Bool h5py's 8-bit enum {FALSE 0, TRUE 1}, String a
// variable-length UTF-8 string (h5py.string_dtype()) in the global heap.
// The same object linked twice is one Go pointer after Decode and is
// written once by Encode.
//
// # What Encode writes, and why
//
// Encode writes the layout h5py writes by default (libver='earliest'):
// superblock version 0 with 8-byte addresses, version-1 object headers,
// "old-style" groups (a version-1 B-tree of symbol-table nodes and a local
// heap of names), strings in global heap collections, version-3 layout
// messages (contiguous, compact, or chunked with a version-1 B-tree chunk
// index) and a version-1 filter pipeline (shuffle, deflate). This is the
// most widely readable form of HDF5 — every HDF5 library since 1.6.3 and
// independent readers such as pyfive and jhdf read it — and it is the form
// NIR's nir.write produces, so the reader's main path and the writer's
// output are the same structures, tested against each other and against
// h5py. It needs no checksums and carries no timestamps: the same tree
// gives the same bytes. The cost is a few fixed-size structures (a 2 KiB
// B-tree node per chunked dataset, a 4 KiB minimum per global heap
// collection), as in h5py's files. Superblock 2/3 with compact link
// messages would save little and would shut out readers of the older
// format.
//
// Encode sorts links and attributes by name and writes them in that order.
// Chunked datasets get an automatic chunk shape (the whole array if it
// fits in 1 MiB, else halves of it) unless Storage.Chunks is set.
// Attributes must fit in an object header message (64 KiB); dense
// attribute storage is not written.
//
// # What Decode reads
//
//   - Superblock versions 0–3, a user block before the superblock, 2-, 4-
//     or 8-byte addresses and lengths.
//   - Object headers version 1 and 2 with continuation chunks; checksums of
//     version-2 structures are verified.
//   - Old-style groups (symbol tables), new-style groups with compact link
//     messages, and dense link storage (fractal heap with a v2 B-tree name
//     index), which h5py uses under libver='latest' for groups of more than
//     8 links and with track_order=True. Hard and soft links.
//   - Attributes (message versions 1–3), compact or dense.
//   - Fixed-point integers of 1, 2, 4, 8 bytes and IEEE float32/float64 in
//     either byte order; h5py's bool enum; fixed-length strings (read into
//     []string, padding removed); variable-length strings; datatypes
//     shared through a committed datatype object.
//   - Layout messages version 3 and 4: compact, contiguous (also
//     unallocated: fill value), and chunked with the version-1 B-tree,
//     single-chunk, implicit and fixed-array (paged too) chunk indexes;
//     partial edge chunks and unwritten chunks (fill value).
//   - Filters: deflate (gzip), shuffle, fletcher32 (verified); per-chunk
//     filter masks.
//
// Refused with an *UnsupportedError naming the feature and the object:
// external links, external raw data, virtual datasets, the extensible-array
// and v2 B-tree chunk indexes (datasets with an unlimited dimension under
// libver='latest'), compound, array, reference, opaque, bitfield, time,
// complex and non-bool enum datatypes, variable-length sequences,
// floating-point formats other than IEEE float32/float64, null dataspaces
// (h5py.Empty), filters other than deflate, shuffle and fletcher32 (szip,
// lzf, blosc, …), huge fractal heap objects, filtered fractal heaps,
// messages in the shared-message table, committed datatype objects as
// group members, and layout messages older than version 3 (HDF5 before
// 1.6.3). A hard-link cycle is also an *UnsupportedError: HDF5 allows it,
// but it cannot become a tree.
//
// # Malformed files
//
// Decode never panics on bad input. Every size, count and address is
// checked against the file size before anything is allocated or read; a
// violation is a *FormatError carrying the byte offset, and the HDF5 path
// of the object being read when known. Groups may nest 64 deep, B-tree
// nodes and object header chunks are never visited twice, decoded data may
// not exceed 1100 times the file size plus 1 MiB (deflate expands at most
// 1032 times, so only unwritten fill-valued storage or one string
// referenced over and over could exceed it), and the decoder reads at most
// 32 times the file size plus 64 MiB (a valid file needs about one pass),
// which keeps decoding time linear in the file size. The fuzz test
// FuzzDecode checks these properties.
package hdf5
