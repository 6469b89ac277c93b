// Package eventtest writes event-camera files in the exact formats the event datasets ship
// in (N-MNIST .bin, AEDAT 3.1 for DVS128 Gesture, AEDAT 2.0 for CIFAR10-DVS) and
// synthetic datasets in their folder layouts, whose classes are encoded in the events so
// that a network can learn them. It exists for tests: no dataset can be downloaded there.
//
// The encoders are written from the format descriptions, independently of the decoders in
// package data (which tests also check against hand-computed bytes).
package eventtest

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/bsnnctl/bsnnctl/train/data"
)

// EncodeNMNIST returns events as an N-MNIST .bin file: 5 bytes per event (x, y, polarity
// in bit 7 of byte 2, 23-bit big-endian µs time stamp). Events need x, y < 34, P <= 1 and
// non-decreasing times >= 0; a time stamp beyond the 23-bit range is written with
// overflow records (y = 240), each of which adds 2^13 µs for the dataset's readers.
func EncodeNMNIST(events []data.Event) ([]byte, error) {
	const step, field = 1 << 13, 1 << 23
	var b bytes.Buffer
	var base int64
	for i, e := range events {
		if e.X >= 34 || e.Y >= 34 || e.P > 1 || e.T < 0 || (i > 0 && e.T < events[i-1].T) {
			return nil, fmt.Errorf("eventtest: N-MNIST event %d %+v: want x, y < 34, p <= 1, non-decreasing t >= 0", i, e)
		}
		for e.T-base >= field {
			b.Write([]byte{0, 240, 0, 0, 0})
			base += step
		}
		ts := e.T - base
		b.Write([]byte{byte(e.X), byte(e.Y), e.P<<7 | byte(ts>>16), byte(ts >> 8), byte(ts)})
	}
	return b.Bytes(), nil
}

// AEDAT3Header is the text header EncodeAEDAT3 writes, as cAER writes it for DVS128
// Gesture's recordings (lines end in CR LF).
const AEDAT3Header = "#!AER-DAT3.1\r\n" +
	"#Format: RAW\r\n" +
	"#Source 1: DVS128\r\n" +
	"#Start-Time: 2017-01-01 12:00:00 (TZ+0000)\r\n" +
	"#!END-HEADER\r\n"

// EncodeAEDAT3 returns events (on a sensor of at most 32768 x 32768 pixels, times >= 0)
// as an AEDAT 3.1 file: AEDAT3Header, a special-event packet (as real recordings start
// with a timestamp-reset event, which readers skip), then polarity packets of at most
// perPacket events, a new packet wherever the time-stamp overflow (t >> 31) changes. Every
// event is marked valid.
func EncodeAEDAT3(events []data.Event, perPacket int) ([]byte, error) {
	if perPacket <= 0 {
		return nil, fmt.Errorf("eventtest: %d events per packet", perPacket)
	}
	var b bytes.Buffer
	b.WriteString(AEDAT3Header)
	le := binary.LittleEndian
	header := func(typ, size, overflow, n int) {
		var h [28]byte
		le.PutUint16(h[0:], uint16(typ))
		le.PutUint16(h[2:], 1) // eventSource
		le.PutUint32(h[4:], uint32(size))
		le.PutUint32(h[8:], 4) // eventTSOffset
		le.PutUint32(h[12:], uint32(overflow))
		le.PutUint32(h[16:], uint32(n)) // eventCapacity
		le.PutUint32(h[20:], uint32(n)) // eventNumber
		le.PutUint32(h[24:], uint32(n)) // eventValid
		b.Write(h[:])
	}
	var ev [8]byte
	header(0, 8, 0, 1)
	le.PutUint32(ev[0:], 2<<1|1) // special event type 2 (timestamp reset), valid
	le.PutUint32(ev[4:], 0)
	b.Write(ev[:])
	for lo := 0; lo < len(events); {
		overflow := events[lo].T >> 31
		hi := lo
		for hi < len(events) && hi-lo < perPacket && events[hi].T>>31 == overflow {
			hi++
		}
		header(1, 8, int(overflow), hi-lo)
		for i, e := range events[lo:hi] {
			if e.X >= 1<<15 || e.Y >= 1<<15 || e.P > 1 || e.T < 0 {
				return nil, fmt.Errorf("eventtest: AEDAT 3 event %d %+v out of range", lo+i, e)
			}
			le.PutUint32(ev[0:], uint32(e.X)<<17|uint32(e.Y)<<2|uint32(e.P)<<1|1)
			le.PutUint32(ev[4:], uint32(e.T&(1<<31-1)))
			b.Write(ev[:])
		}
		lo = hi
	}
	return b.Bytes(), nil
}

// AEDAT2Header is the text header EncodeCIFAR10DVS writes, as jAER writes it.
const AEDAT2Header = "#!AER-DAT2.0\r\n" +
	"# This is a raw AE data file - do not edit\r\n" +
	"# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n" +
	"# Timestamps tick is 1 us\r\n" +
	"# created Mon Jan 01 12:00:00 CST 2017\r\n"

// EncodeCIFAR10DVS returns events on the 128x128 sensor as a CIFAR10-DVS .aedat file:
// AEDAT2Header, then per event a big-endian DVS128 address and a big-endian uint32 time
// stamp (t mod 2^32). The address inverts CIFAR10-DVS's decoding (X = 127 - sensor y,
// Y = 127 - sensor x, P = 1 - polarity bit): sensor x = 127 - Y in bits 1..7, sensor y =
// 127 - X in bits 8..14, bit 0 = 1 - P.
func EncodeCIFAR10DVS(events []data.Event) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(AEDAT2Header)
	var ev [8]byte
	for i, e := range events {
		if e.X >= 128 || e.Y >= 128 || e.P > 1 || e.T < 0 {
			return nil, fmt.Errorf("eventtest: CIFAR10-DVS event %d %+v out of range", i, e)
		}
		addr := uint32(127-e.X)<<8 | uint32(127-e.Y)<<1 | uint32(1-e.P)
		binary.BigEndian.PutUint32(ev[0:], addr)
		binary.BigEndian.PutUint32(ev[4:], uint32(e.T))
		b.Write(ev[:])
	}
	return b.Bytes(), nil
}
