package data

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// AEDAT 3.1 (iniVation's cAER format, as DVS128 Gesture ships): after the text header,
// packets of a 28-byte little-endian header (eventType int16, eventSource int16, eventSize
// int32, eventTSOffset int32, eventTSOverflow int32, eventCapacity int32, eventNumber int32,
// eventValid int32) and eventCapacity*eventSize bytes of events, of which the first
// eventNumber are present. A polarity event (eventType 1) is 8 bytes: a uint32 whose bit 0
// is the validity mark, bit 1 the polarity (1 ON), bits 2..16 y and bits 17..31 x, then an
// int32 time stamp in microseconds whose full value is eventTSOverflow<<31 | timestamp.
const (
	aedat3PacketHeader = 28
	aedat3Polarity     = 1
	aedat3PolaritySize = 8
)

// DecodeAEDAT3 returns the valid polarity events of an AEDAT 3.x file on a sensor of the
// given size, in file order; packets of other event types (special events, frames, IMU)
// are skipped, and so are events whose validity bit is clear (as the AEDAT 3.1 format
// says; SpikingJelly's and tonic's readers keep them, which makes no difference when a
// file marks every event valid). A truncated packet, an inconsistent packet header or an
// event outside the sensor is an *EventFormatError at the packet's or event's byte offset.
func DecodeAEDAT3(b []byte, sensor Sensor) ([]Event, error) {
	version, off, err := aedatHeader(b, true)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(version, "3.") {
		return nil, eventErr(0, "AEDAT version %q, want 3.x", version)
	}
	events := make([]Event, 0, (len(b)-off)/aedat3PolaritySize)
	le := binary.LittleEndian
	for off < len(b) {
		if len(b)-off < aedat3PacketHeader {
			return nil, eventErr(off, "truncated packet header: %d of %d bytes", len(b)-off, aedat3PacketHeader)
		}
		h := b[off : off+aedat3PacketHeader]
		typ := int16(le.Uint16(h[0:]))
		size := int32(le.Uint32(h[4:]))
		tsOffset := int32(le.Uint32(h[8:]))
		overflow := int32(le.Uint32(h[12:]))
		capacity := int32(le.Uint32(h[16:]))
		number := int32(le.Uint32(h[20:]))
		valid := int32(le.Uint32(h[24:]))
		if size <= 0 || overflow < 0 || capacity < 0 || number < 0 || number > capacity || valid < 0 || valid > number {
			return nil, eventErr(off, "bad packet header: eventSize %d, eventTSOverflow %d, eventCapacity %d, eventNumber %d, eventValid %d",
				size, overflow, capacity, number, valid)
		}
		payload := int64(capacity) * int64(size)
		data := off + aedat3PacketHeader
		if payload > int64(len(b)-data) {
			return nil, eventErr(off, "truncated packet: %d events of %d bytes need %d bytes, the file has %d after the packet header",
				capacity, size, payload, len(b)-data)
		}
		if typ == aedat3Polarity {
			if size != aedat3PolaritySize || tsOffset != 4 {
				return nil, eventErr(off, "polarity packet with eventSize %d and eventTSOffset %d, want 8 and 4", size, tsOffset)
			}
			for i := range int(number) {
				eo := data + i*aedat3PolaritySize
				addr := le.Uint32(b[eo:])
				ts := int32(le.Uint32(b[eo+4:]))
				if addr&1 == 0 {
					continue
				}
				if ts < 0 {
					return nil, eventErr(eo+4, "negative time stamp %d", ts)
				}
				x, y := addr>>17&0x7fff, addr>>2&0x7fff
				if int(x) >= sensor.W || int(y) >= sensor.H {
					return nil, eventErr(eo, "event at x=%d y=%d is outside the %v sensor", x, y, sensor)
				}
				events = append(events, Event{T: int64(overflow)<<31 | int64(ts), X: uint16(x), Y: uint16(y), P: uint8(addr >> 1 & 1)})
			}
		}
		off = data + int(payload)
	}
	return events, nil
}

// dvsGestureClasses are DVS128 Gesture's classes 1..11 (gesture_mapping.csv), as 0..10.
var dvsGestureClasses = []string{"hand_clapping", "right_hand_wave", "left_hand_wave",
	"right_arm_clockwise", "right_arm_counter_clockwise", "left_arm_clockwise",
	"left_arm_counter_clockwise", "arm_roll", "air_drums", "air_guitar", "other_gestures"}

// labelRow is one row of a DVS128 Gesture <recording>_labels.csv: a gesture of class
// Class (0-based) between Start (inclusive) and End (exclusive), in microseconds on the
// recording's clock.
type labelRow struct {
	Row        int // 0-based data row (line Row+2 of the file, after the header)
	Class      int
	Start, End int64
}

// parseGestureLabels reads a <recording>_labels.csv: a header line
// "class,startTime_usec,endTime_usec", then one row per gesture with the class in 1..11
// and startTime_usec < endTime_usec. Errors are *FormatError naming the row.
func parseGestureLabels(b []byte, file string) ([]labelRow, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var rows []labelRow
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		row := len(rows)
		if err != nil {
			return nil, &FormatError{File: file, Record: row, Msg: "malformed CSV", Err: err}
		}
		line, _ := r.FieldPos(0)
		if first && strings.HasPrefix(strings.TrimSpace(rec[0]), "class") {
			continue // the header
		}
		if len(rec) != 3 {
			return nil, formatErr(file, row, "line %d has %d fields, want 3 (class, startTime_usec, endTime_usec)", line, len(rec))
		}
		var v [3]int64
		for k, f := range rec {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || n < 0 {
				return nil, formatErr(file, row, "line %d: field %d is %q, want a non-negative integer", line, k+1, f)
			}
			v[k] = n
		}
		if v[0] < 1 || v[0] > int64(len(dvsGestureClasses)) {
			return nil, formatErr(file, row, "line %d: class %d out of range 1..%d", line, v[0], len(dvsGestureClasses))
		}
		if v[1] >= v[2] {
			return nil, formatErr(file, row, "line %d: start time %d is not before end time %d", line, v[1], v[2])
		}
		rows = append(rows, labelRow{Row: row, Class: int(v[0] - 1), Start: v[1], End: v[2]})
	}
	if len(rows) == 0 {
		return nil, formatErr(file, -1, "no label rows")
	}
	return rows, nil
}

// planDVSGesture lists a DVS128 Gesture split: the recordings named in
// trials_to_train.txt or trials_to_test.txt (one per line, "user01_fluorescent.aedat"),
// each with its user01_fluorescent_labels.csv, in DIR or DIR/DvsGesture.
func planDVSGesture(src source, split Split) (*eventPlan, error) {
	list := "trials_to_train.txt"
	if split == Test {
		list = "trials_to_test.txt"
	}
	dir := "."
	if _, ok := src.find(list); !ok {
		if _, ok := src.find(path.Join("DvsGesture", list)); !ok {
			return nil, fmt.Errorf("dvsgesture %s: no %s in %s or its DvsGesture/: %w", split, list, src.name("."), fs.ErrNotExist)
		}
		dir = "DvsGesture"
	}
	listPath := path.Join(dir, list)
	b, err := fs.ReadFile(src.fsys, listPath)
	if err != nil {
		return nil, ioErr(src.name(listPath), err)
	}
	p := &eventPlan{
		sensor:  DVSGestureSensor,
		classes: append([]string(nil), dvsGestureClasses...),
		decode:  func(b []byte) ([]Event, error) { return DecodeAEDAT3(b, DVSGestureSensor) },
		deps:    []string{listPath},
	}
	for line := range strings.Lines(string(b)) {
		name := strings.TrimSpace(line)
		if name == "" {
			continue
		}
		rec := path.Join(dir, name)
		if !fs.ValidPath(rec) || strings.Contains(name, "/") {
			return nil, formatErr(src.name(listPath), -1, "recording %q is not a file name", name)
		}
		if !strings.HasSuffix(strings.ToLower(name), ".aedat") {
			rec += ".aedat"
		}
		if _, ok := src.find(rec); !ok {
			return nil, fmt.Errorf("dvsgesture %s: %s lists %s, which is missing: %w", split, src.name(listPath), src.name(rec), fs.ErrNotExist)
		}
		labels := strings.TrimSuffix(rec, path.Ext(rec)) + "_labels.csv"
		lb, err := fs.ReadFile(src.fsys, labels)
		if err != nil {
			return nil, ioErr(src.name(labels), err)
		}
		rows, err := parseGestureLabels(lb, src.name(labels))
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, eventFile{path: rec, labels: labels, cuts: rows})
		p.deps = append(p.deps, labels)
	}
	if len(p.files) == 0 {
		return nil, formatErr(src.name(listPath), -1, "lists no recordings")
	}
	return p, nil
}
