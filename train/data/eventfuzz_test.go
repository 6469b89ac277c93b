package data_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// checkDecoded checks what every decoder promises: on success, events inside the sensor
// with polarity 0 or 1; on failure, an *EventFormatError at an offset inside the input.
func checkDecoded(t *testing.T, b []byte, ev []data.Event, err error, s data.Sensor) {
	t.Helper()
	if err != nil {
		var fe *data.EventFormatError
		if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(len(b)) {
			t.Fatalf("error %v (%T) is not an EventFormatError inside the %d bytes", err, err, len(b))
		}
		return
	}
	for i, e := range ev {
		if int(e.X) >= s.W || int(e.Y) >= s.H || e.P > 1 {
			t.Fatalf("event %d %+v outside the %v sensor", i, e, s)
		}
	}
	// Whatever decodes also bins.
	if err := data.BinEvents(make([]uint16, 3*2*s.H*s.W), ev, s, 3, data.BinByTime, data.FrameSize{}); err != nil {
		t.Fatal(err)
	}
}

func seedEvents(s data.Sensor, n int) []data.Event {
	return eventtest.ClassEvents(1, 4, s, n, 100_000, rand.New(rand.NewPCG(1, 2)))
}

func FuzzDecodeNMNIST(f *testing.F) {
	good, err := eventtest.EncodeNMNIST(seedEvents(data.NMNISTSensor, 20))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:13])
	f.Add([]byte{0, 240, 0, 0, 0, 1, 2, 0x80, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := data.DecodeNMNIST(b)
		checkDecoded(t, b, ev, err, data.NMNISTSensor)
		if err != nil {
			return
		}
		if len(b)%5 != 0 || len(ev) > len(b)/5 {
			t.Fatalf("%d events from %d bytes", len(ev), len(b))
		}
		// Time-ordered streams survive an encode/decode round trip.
		if slices.IsSortedFunc(ev, func(a, b data.Event) int { return int(a.T - b.T) }) {
			re, err := eventtest.EncodeNMNIST(ev)
			if err != nil {
				t.Fatal(err)
			}
			back, err := data.DecodeNMNIST(re)
			if err != nil || !slices.Equal(back, ev) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

func FuzzDecodeAEDAT3(f *testing.F) {
	ev := seedEvents(data.DVSGestureSensor, 12)
	ev[10].T += 1 << 31
	ev[11].T += 1 << 31
	good, err := eventtest.EncodeAEDAT3(ev, 5)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-9])
	f.Add([]byte(eventtest.AEDAT3Header))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := data.DecodeAEDAT3(b, data.DVSGestureSensor)
		checkDecoded(t, b, ev, err, data.DVSGestureSensor)
	})
}

func FuzzDecodeCIFAR10DVS(f *testing.F) {
	good, err := eventtest.EncodeCIFAR10DVS(seedEvents(data.CIFAR10DVSSensor, 12))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte("#!AER-DAT2.0\n\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := data.DecodeCIFAR10DVS(b)
		checkDecoded(t, b, ev, err, data.CIFAR10DVSSensor)
		if err != nil {
			return
		}
		// Streams that do not wrap the 32-bit clock survive an encode/decode round trip.
		if len(ev) > 0 && ev[len(ev)-1].T < 1<<32 {
			re, err := eventtest.EncodeCIFAR10DVS(ev)
			if err != nil {
				t.Fatal(err)
			}
			back, err := data.DecodeCIFAR10DVS(re)
			if err != nil || !slices.Equal(back, ev) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
