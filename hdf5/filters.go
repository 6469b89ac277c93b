package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
)

// The filter pipeline (spec §IV.A.2.l) transforms each chunk of a chunked
// dataset. On write filter 0 runs first; on read the pipeline runs
// backwards. This package reads deflate (gzip, with the zlib wrapper as the
// library writes it), shuffle and fletcher32, and writes shuffle and
// deflate.

var filterNames = map[uint16]string{4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf",
	32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 32013: "zfp", 32015: "zstd"}

// unfilter undoes the filters of one stored chunk (those not skipped by
// mask) and checks that the result has exactly want bytes.
func unfilter(stored []byte, filters []filter, mask uint32, want uint64, elemSize int, off int64) ([]byte, error) {
	buf := stored
	for i := len(filters) - 1; i >= 0; i-- {
		if mask&(1<<uint(i)) != 0 {
			continue
		}
		var err error
		switch f := filters[i]; f.id {
		case filterDeflate:
			buf, err = inflate(buf, want, off)
		case filterShuffle:
			size := elemSize
			if len(f.client) > 0 {
				size = int(f.client[0])
			}
			buf = unshuffle(buf, size)
		case filterFletcher32:
			buf, err = checkFletcher32(buf, off)
		default:
			name := filterNames[f.id]
			if name == "" {
				return nil, unsupported(off, "filter %d", f.id)
			}
			return nil, unsupported(off, "%s filter (%d)", name, f.id)
		}
		if err != nil {
			return nil, err
		}
	}
	if uint64(len(buf)) != want {
		return nil, formatErr(off, "chunk holds %d bytes after filtering, want %d", len(buf), want)
	}
	return buf, nil
}

// inflate decompresses a zlib stream of at most limit bytes of output.
func inflate(p []byte, limit uint64, off int64) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(p))
	if err != nil {
		return nil, formatErr(off, "deflate chunk: %v", err)
	}
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, formatErr(off, "deflate chunk: %v", err)
	}
	if uint64(n) > limit {
		return nil, formatErr(off, "deflate chunk expands beyond %d bytes", limit)
	}
	return out.Bytes(), nil
}

// unshuffle reverses the byte shuffle: the file holds byte 0 of every
// element, then byte 1 of every element, and so on; trailing bytes that do
// not fill an element are left in place.
func unshuffle(p []byte, size int) []byte {
	if size <= 1 || len(p) < size {
		return p
	}
	n := len(p) / size
	out := make([]byte, len(p))
	for j := range size {
		src := p[j*n : (j+1)*n]
		for i, b := range src {
			out[i*size+j] = b
		}
	}
	copy(out[n*size:], p[n*size:])
	return out
}

func shuffle(p []byte, size int) []byte {
	if size <= 1 || len(p) < size {
		return p
	}
	n := len(p) / size
	out := make([]byte, len(p))
	for j := range size {
		dst := out[j*n : (j+1)*n]
		for i := range dst {
			dst[i] = p[i*size+j]
		}
	}
	copy(out[n*size:], p[n*size:])
	return out
}

// checkFletcher32 verifies and strips the checksum the fletcher32 filter
// appends. Like the library it also accepts the byte-swapped checksum that
// HDF5 1.6.0–1.6.2 wrote on little-endian machines.
func checkFletcher32(p []byte, off int64) ([]byte, error) {
	if len(p) < 4 {
		return nil, formatErr(off, "fletcher32 chunk of %d bytes", len(p))
	}
	data, stored := p[:len(p)-4], p[len(p)-4:]
	sum := fletcher32(data)
	s := stored
	reversed := uint32(s[1])<<24 | uint32(s[0])<<16 | uint32(s[3])<<8 | uint32(s[2])
	if v := binary.LittleEndian.Uint32(s); v != sum && reversed != sum {
		return nil, formatErr(off, "fletcher32 checksum mismatch (stored %#08x, computed %#08x)", v, sum)
	}
	return data, nil
}

// fletcher32 is HDF5's H5_checksum_fletcher32: big-endian 16-bit words, an
// odd last byte as the high half of a word.
func fletcher32(p []byte) uint32 {
	var sum1, sum2 uint32
	for len(p) >= 2 {
		n := min(len(p)/2, 360)
		for range n {
			sum1 += uint32(p[0])<<8 | uint32(p[1])
			sum2 += sum1
			p = p[2:]
		}
		sum1 = sum1&0xffff + sum1>>16
		sum2 = sum2&0xffff + sum2>>16
	}
	if len(p) == 1 {
		sum1 += uint32(p[0]) << 8
		sum2 += sum1
		sum1 = sum1&0xffff + sum1>>16
		sum2 = sum2&0xffff + sum2>>16
	}
	sum1 = sum1&0xffff + sum1>>16
	sum2 = sum2&0xffff + sum2>>16
	return sum2<<16 | sum1
}

// chunkFilter applies the writer's pipeline (shuffle, then deflate),
// reusing one compressor: its state is large, and datasets have many
// chunks.
type chunkFilter struct {
	zw    *zlib.Writer
	level int
	buf   bytes.Buffer
}

func (f *chunkFilter) apply(p []byte, s Storage, elemSize int) ([]byte, error) {
	if s.Shuffle {
		p = shuffle(p, elemSize)
	}
	if s.Deflate == 0 {
		return p, nil
	}
	f.buf.Reset()
	if f.zw == nil || f.level != s.Deflate {
		zw, err := zlib.NewWriterLevel(&f.buf, s.Deflate)
		if err != nil {
			return nil, err
		}
		f.zw, f.level = zw, s.Deflate
	} else {
		f.zw.Reset(&f.buf)
	}
	if _, err := f.zw.Write(p); err != nil {
		return nil, err
	}
	if err := f.zw.Close(); err != nil {
		return nil, err
	}
	return f.buf.Bytes(), nil
}
