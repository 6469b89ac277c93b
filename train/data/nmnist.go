package data

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
)

// N-MNIST's .bin format (Orchard et al. 2015, the dataset's own Read_Ndataset.m and
// eventvision.py readers): 5 bytes per record, byte 0 the x address, byte 1 the y
// address, bit 7 of byte 2 the polarity (1 ON), bits 6..0 of byte 2 with bytes 3 and 4 a
// big-endian 23-bit time stamp in microseconds. A record with y = 240 is a time-stamp
// overflow marker, not an event: every later time stamp is 2^13 µs larger (the increment
// the dataset's readers, tonic and SpikingJelly use; N-MNIST's 0.3 s recordings never
// reach the 23-bit range, so real files hold no markers).
const (
	nmnistRecord       = 5
	nmnistOverflowY    = 240
	nmnistOverflowStep = 1 << 13
)

// DecodeNMNIST decodes an N-MNIST (or N-Caltech101-style) .bin file on the 34x34 N-MNIST
// sensor. A file whose length is not a multiple of 5, or an event outside the sensor, is
// an *EventFormatError at the offending record's byte offset.
func DecodeNMNIST(b []byte) ([]Event, error) {
	sensor := NMNISTSensor
	full := len(b) / nmnistRecord * nmnistRecord
	events := make([]Event, 0, full/nmnistRecord)
	var base int64
	for off := 0; off < full; off += nmnistRecord {
		r := b[off : off+nmnistRecord : off+nmnistRecord]
		if r[1] == nmnistOverflowY {
			base += nmnistOverflowStep
			continue
		}
		if int(r[0]) >= sensor.W || int(r[1]) >= sensor.H {
			return nil, eventErr(off, "event at x=%d y=%d is outside the %v N-MNIST sensor", r[0], r[1], sensor)
		}
		ts := int64(r[2]&0x7f)<<16 | int64(r[3])<<8 | int64(r[4])
		events = append(events, Event{T: base + ts, X: uint16(r[0]), Y: uint16(r[1]), P: r[2] >> 7})
	}
	if full != len(b) {
		return nil, eventErr(full, "truncated: the last record has %d of %d bytes", len(b)-full, nmnistRecord)
	}
	return events, nil
}

var nmnistClasses = mnistClasses

// planNMNIST lists an N-MNIST split: Train/<digit>/*.bin or Test/<digit>/*.bin (also
// lower-case train/ and test/), digits 0..9 each with at least one file, files in natural
// name order.
func planNMNIST(src source, split Split) (*eventPlan, error) {
	base := map[Split][2]string{Train: {"Train", "train"}, Test: {"Test", "test"}}[split]
	dir := base[0]
	if !src.isDir(dir) {
		if !src.isDir(base[1]) {
			return nil, fmt.Errorf("nmnist %s: no %s/ (or %s/) folder in %s: %w", split, base[0], base[1], src.name("."), fs.ErrNotExist)
		}
		dir = base[1]
	}
	p := &eventPlan{sensor: NMNISTSensor, classes: append([]string(nil), nmnistClasses...), decode: DecodeNMNIST}
	for digit := range 10 {
		cdir := path.Join(dir, strconv.Itoa(digit))
		if !src.isDir(cdir) {
			return nil, fmt.Errorf("nmnist %s: class folder %s is missing: %w", split, src.name(cdir), fs.ErrNotExist)
		}
		files, err := listFiles(src, cdir, ".bin")
		if err != nil {
			return nil, err
		}
		sortNatural(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("nmnist %s: no .bin files in %s: %w", split, src.name(cdir), fs.ErrNotExist)
		}
		for _, f := range files {
			p.files = append(p.files, eventFile{path: f, label: digit})
		}
	}
	return p, nil
}
