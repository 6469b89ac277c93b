package data

import (
	"bytes"
	"strings"
)

// aedatHeader parses the text header of an AEDAT file: lines starting with '#', the first
// one "#!AER-DAT<version>". It returns the version ("2.0", "3.1") and the offset of the
// first data byte. AEDAT 3 headers end with the line "#!END-HEADER" (endLine); AEDAT 2
// headers end before the first line that does not start with '#'.
func aedatHeader(b []byte, endLine bool) (version string, start int, err error) {
	const magic = "#!AER-DAT"
	off := 0
	for off < len(b) && b[off] == '#' {
		nl := bytes.IndexByte(b[off:], '\n')
		if nl < 0 {
			return "", 0, eventErr(off, "truncated header: the line starting here has no end")
		}
		line := strings.TrimRight(string(b[off:off+nl]), "\r")
		if off == 0 {
			if !strings.HasPrefix(line, magic) {
				return "", 0, eventErr(0, "not an AEDAT file: the first line is %.40q, want %s<version>", line, magic)
			}
			version = strings.TrimSpace(line[len(magic):])
		}
		off += nl + 1
		if endLine && line == "#!END-HEADER" {
			return version, off, nil
		}
	}
	if off == 0 {
		return "", 0, eventErr(0, "not an AEDAT file: no %s<version> header line", magic)
	}
	if endLine {
		return "", 0, eventErr(off, "the header has no #!END-HEADER line")
	}
	return version, off, nil
}
