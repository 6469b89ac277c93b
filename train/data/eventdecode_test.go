package data

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

// wantEventError checks that err is an *EventFormatError at offset whose message holds
// each fragment.
func wantEventError(t *testing.T, err error, offset int64, fragments ...string) {
	t.Helper()
	var fe *EventFormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not an *EventFormatError", err, err)
	}
	if fe.Offset != offset {
		t.Errorf("error %q at offset %d, want %d", err, fe.Offset, offset)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}

func TestDecodeNMNIST(t *testing.T) {
	b := []byte{
		0x05, 0x07, 0x81, 0x02, 0x03, // x 5, y 7, ON, t = 0x010203 = 66051
		0x21, 0x21, 0x7f, 0xff, 0xff, // x 33, y 33, OFF, t = 0x7fffff = 8388607
		0x00, 0xf0, 0x00, 0x00, 0x00, // overflow marker: +8192 from here on
		0x00, 0x00, 0x80, 0x00, 0x01, // x 0, y 0, ON, t = 1 + 8192
		0x09, 0xf0, 0x12, 0x34, 0x56, // another marker (x, p, t ignored): +8192
		0x01, 0x02, 0x00, 0x00, 0x00, // x 1, y 2, OFF, t = 0 + 16384
	}
	got, err := DecodeNMNIST(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{T: 66051, X: 5, Y: 7, P: 1},
		{T: 8388607, X: 33, Y: 33, P: 0},
		{T: 8193, X: 0, Y: 0, P: 1},
		{T: 16384, X: 1, Y: 2, P: 0},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if ev, err := DecodeNMNIST(nil); err != nil || len(ev) != 0 {
		t.Fatalf("empty file: %v %v", ev, err)
	}

	_, err = DecodeNMNIST(b[:12])
	wantEventError(t, err, 10, "truncated", "2 of 5 bytes")
	bad := slices.Clone(b)
	bad[5] = 34 // x of the second event
	_, err = DecodeNMNIST(bad[:12])
	wantEventError(t, err, 5, "x=34 y=33", "outside the 34x34")
	err = &EventFormatError{File: "Train/3/00012.bin", Offset: 5, Msg: "m"}
	if err.Error() != "Train/3/00012.bin: byte offset 5: m" {
		t.Errorf("Error() = %q", err)
	}
}

// aedat3Packet encodes one AEDAT 3 packet header by hand.
func aedat3Packet(typ, size, tsOffset, overflow, capacity, number, valid uint32) []byte {
	h := make([]byte, 28)
	le := binary.LittleEndian
	le.PutUint16(h[0:], uint16(typ))
	le.PutUint16(h[2:], 1)
	for i, v := range []uint32{size, tsOffset, overflow, capacity, number, valid} {
		le.PutUint32(h[4+4*i:], v)
	}
	return h
}

func le32(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

const aedat3Head = "#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"

func TestDecodeAEDAT3(t *testing.T) {
	s := DVSGestureSensor
	var b []byte
	b = append(b, aedat3Head...)
	// A special-event packet (type 0): skipped.
	b = append(b, aedat3Packet(0, 8, 4, 0, 1, 1, 1)...)
	b = append(b, le32(2<<1|1, 0)...)
	// Polarity packet, overflow 0, capacity 3 with 2 events present: the third slot is
	// not read. data = x<<17 | y<<2 | p<<1 | valid.
	b = append(b, aedat3Packet(1, 8, 4, 0, 3, 2, 1)...)
	b = append(b, le32(5<<17|7<<2|1<<1|1, 1000)...) // x 5, y 7, ON, t 1000
	b = append(b, le32(6<<17|8<<2|0<<1|0, 1001)...) // invalid: skipped
	b = append(b, le32(0xffffffff, 0xffffffff)...)  // beyond eventNumber: ignored
	// Polarity packet, overflow 1: t = 1<<31 | ts.
	b = append(b, aedat3Packet(1, 8, 4, 1, 2, 2, 2)...)
	b = append(b, le32(127<<17|127<<2|0<<1|1, 5)...)      // x 127, y 127, OFF
	b = append(b, le32(0<<17|0<<2|1<<1|1, 0x7fffffff)...) // x 0, y 0, ON
	got, err := DecodeAEDAT3(b, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{T: 1000, X: 5, Y: 7, P: 1},
		{T: 1<<31 | 5, X: 127, Y: 127, P: 0},
		{T: 1<<31 | 0x7fffffff, X: 0, Y: 0, P: 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	h := len(aedat3Head)
	p1 := h + 28 + 8 // the first polarity packet
	p2 := p1 + 28 + 3*8
	_, err = DecodeAEDAT3(b[:p1+10], s)
	wantEventError(t, err, int64(p1), "truncated packet header", "10 of 28")
	_, err = DecodeAEDAT3(b[:p2-1], s)
	wantEventError(t, err, int64(p1), "truncated packet", "3 events of 8 bytes need 24 bytes, the file has 23")
	bad := slices.Clone(b)
	copy(bad[p1:], aedat3Packet(1, 8, 4, 0, 1, 2, 1))
	_, err = DecodeAEDAT3(bad, s)
	wantEventError(t, err, int64(p1), "bad packet header", "eventCapacity 1, eventNumber 2")
	bad = slices.Clone(b)
	copy(bad[p1:], aedat3Packet(1, 12, 4, 0, 2, 2, 1))
	_, err = DecodeAEDAT3(bad, s)
	wantEventError(t, err, int64(p1), "eventSize 12")
	bad = slices.Clone(b)
	copy(bad[p2+28:], le32(128<<17|1))
	_, err = DecodeAEDAT3(bad, s)
	wantEventError(t, err, int64(p2+28), "x=128 y=0", "outside the 128x128 sensor")
	bad = slices.Clone(b)
	copy(bad[p2+28+4:], le32(0x80000000))
	_, err = DecodeAEDAT3(bad, s)
	wantEventError(t, err, int64(p2+28+4), "negative time stamp")

	_, err = DecodeAEDAT3([]byte("#!AER-DAT3.1\r\n#no end\r\n"), s)
	wantEventError(t, err, 23, "no #!END-HEADER")
	_, err = DecodeAEDAT3([]byte("#!AER-DAT3.1\r\n#cut"), s)
	wantEventError(t, err, 14, "truncated header")
	_, err = DecodeAEDAT3([]byte("#!AER-DAT2.0\r\n#!END-HEADER\r\n"), s)
	wantEventError(t, err, 0, `AEDAT version "2.0", want 3.x`)
	_, err = DecodeAEDAT3([]byte("\x01\x00\x08\x00"), s)
	wantEventError(t, err, 0, "not an AEDAT file")
	_, err = DecodeAEDAT3([]byte("# hello\r\n"), s)
	wantEventError(t, err, 0, "not an AEDAT file", `"# hello"`)
}

func TestDecodeCIFAR10DVS(t *testing.T) {
	head := "#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n"
	be := func(vs ...uint32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.BigEndian.PutUint32(b[4*i:], v)
		}
		return b
	}
	b := []byte(head)
	// address: sensor y in bits 8..14, sensor x in bits 1..7, bit 0 = 1 - polarity.
	b = append(b, be(10<<8|5<<1|0, 100)...)          // X 127-10, Y 127-5, ON
	b = append(b, be(127<<8|0<<1|1, 0xfffffff0)...)  // X 0, Y 127, OFF
	b = append(b, be(0<<8|127<<1|0, 0x10)...)        // wrapped: t = 2^32 + 16
	b = append(b, be(0xffff8000|3<<8|4<<1, 0x20)...) // bits above 14 are ignored (as SpikingJelly does)
	got, err := DecodeCIFAR10DVS(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{T: 100, X: 117, Y: 122, P: 1},
		{T: 0xfffffff0, X: 0, Y: 127, P: 0},
		{T: 1<<32 | 0x10, X: 127, Y: 0, P: 1},
		{T: 1<<32 | 0x20, X: 124, Y: 123, P: 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	_, err = DecodeCIFAR10DVS(b[:len(b)-3])
	wantEventError(t, err, int64(len(head)+24), "truncated", "5 of 8 bytes")
	_, err = DecodeCIFAR10DVS([]byte("#!AER-DAT3.1\r\n"))
	wantEventError(t, err, 0, `AEDAT version "3.1"`, "AEDAT 2.0")
	_, err = DecodeCIFAR10DVS(be(1, 2))
	wantEventError(t, err, 0, "not an AEDAT file")
	if ev, err := DecodeCIFAR10DVS([]byte(head)); err != nil || len(ev) != 0 {
		t.Fatalf("header only: %v %v", ev, err)
	}
}

func TestParseGestureLabels(t *testing.T) {
	got, err := parseGestureLabels([]byte("class,startTime_usec,endTime_usec\r\n1,80048239,85092709\r\n\r\n11, 180675853 ,187389051\r\n"), "u_labels.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []labelRow{{Row: 0, Class: 0, Start: 80048239, End: 85092709}, {Row: 1, Class: 10, Start: 180675853, End: 187389051}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v want %+v", got, want)
	}
	for _, c := range []struct {
		in   string
		row  int
		want string
	}{
		{"class,a,b\n12,1,2\n", 0, "line 2: class 12 out of range 1..11"},
		{"class,a,b\n1,1,2\n3,5,5\n", 1, "line 3: start time 5 is not before end time 5"},
		{"class,a,b\n1,x,2\n", 0, `line 2: field 2 is "x"`},
		{"class,a,b\n1,-4,2\n", 0, `field 2 is "-4"`},
		{"class,a,b\n1,2\n", 0, "line 2 has 2 fields, want 3"},
		{"class,a,b\n", -1, "no label rows"},
		{"class,a,b\n1,\"2,3\n", 0, "malformed CSV"},
	} {
		_, err := parseGestureLabels([]byte(c.in), "u_labels.csv")
		wantFormatError(t, err, "u_labels.csv", c.row, c.want)
	}
}
