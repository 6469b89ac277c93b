package data

import (
	"encoding/binary"
	"fmt"
	"io/fs"
)

// CIFAR10-DVS (Li et al. 2017) ships jAER AEDAT 2.0 files: '#' header lines, then 8-byte
// events, a big-endian uint32 address and a big-endian uint32 time stamp in microseconds.
// The address is the DVS128's: bit 0 the polarity (0 ON), bits 1..7 the sensor x and bits
// 8..14 the sensor y (y up). bsnnctl decodes it exactly as SpikingJelly's CIFAR10DVS does
// (which most published CIFAR10-DVS results use): X = 127 - (bits 8..14),
// Y = 127 - (bits 1..7), P = 1 - (bit 0); so frames match theirs pixel for pixel, and P is
// 1 for ON events as in the other datasets.
const cifar10DVSEvent = 8

// DecodeCIFAR10DVS decodes a CIFAR10-DVS .aedat file (AEDAT 2.0, DVS128 addresses). Time
// stamps are unsigned 32-bit; a drop of more than 2^31 between consecutive events is taken
// as a wrap-around of the counter and continues past 2^32. A header that is not AEDAT 2.0
// or a data part that is not a whole number of 8-byte events is an *EventFormatError.
func DecodeCIFAR10DVS(b []byte) ([]Event, error) {
	version, start, err := aedatHeader(b, false)
	if err != nil {
		return nil, err
	}
	if version != "2.0" {
		return nil, eventErr(0, "AEDAT version %q, CIFAR10-DVS files are AEDAT 2.0", version)
	}
	n := (len(b) - start) / cifar10DVSEvent
	events := make([]Event, n)
	be := binary.BigEndian
	var hi int64
	var prev uint32
	for i := range events {
		off := start + i*cifar10DVSEvent
		addr, ts := be.Uint32(b[off:]), be.Uint32(b[off+4:])
		if i > 0 && ts < prev && prev-ts > 1<<31 {
			hi += 1 << 32
		}
		prev = ts
		events[i] = Event{
			T: hi + int64(ts),
			X: uint16(127 - (addr >> 8 & 0x7f)),
			Y: uint16(127 - (addr >> 1 & 0x7f)),
			P: uint8(1 - addr&1),
		}
	}
	if end := start + n*cifar10DVSEvent; end != len(b) {
		return nil, eventErr(end, "truncated: the last event has %d of %d bytes", len(b)-end, cifar10DVSEvent)
	}
	return events, nil
}

// CIFAR10DVSTestFraction is the customary CIFAR10-DVS split (Temporal Effective Batch
// Normalization, Duan et al. 2022, and most later work; SpikingJelly's CIFAR10DVSTEBNSplit):
// within each class, files in natural name order (cifar10_cat_2 before cifar10_cat_10),
// the first ceil(n/10) files are the test split (cifar10_<class>_0 .. _99 of the 1000 per
// class) and the rest the training split.
const CIFAR10DVSTestFraction = 10

// planCIFAR10DVS lists a CIFAR10-DVS split: DIR/<class>/*.aedat for the ten CIFAR-10
// classes (airplane ... truck, folders named as the classes); other entries are ignored.
func planCIFAR10DVS(src source, split Split) (*eventPlan, error) {
	p := &eventPlan{sensor: CIFAR10DVSSensor, classes: append([]string(nil), cifar10Classes...), decode: DecodeCIFAR10DVS}
	for label, class := range cifar10Classes {
		if !src.isDir(class) {
			return nil, fmt.Errorf("cifar10dvs: class folder %s is missing (want the ten folders %v): %w",
				src.name(class), cifar10Classes, fs.ErrNotExist)
		}
		files, err := listFiles(src, class, ".aedat")
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("cifar10dvs: no .aedat files in %s: %w", src.name(class), fs.ErrNotExist)
		}
		sortNatural(files)
		nTest := (len(files) + CIFAR10DVSTestFraction - 1) / CIFAR10DVSTestFraction
		if split == Test {
			files = files[:nTest]
		} else {
			files = files[nTest:]
		}
		for _, f := range files {
			p.files = append(p.files, eventFile{path: f, label: label})
		}
	}
	return p, nil
}
