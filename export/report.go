package export

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// A Report describes a written file: what `bsnnctl export` prints.
type Report struct {
	Profile   bsnn.Profile   `json:"profile"`
	PlainForm bsnn.PlainForm `json:"plain_form,omitempty"`
	TimeSteps int            `json:"time_steps"`
	// FileBytes is the serialized size of the model.
	FileBytes int64 `json:"file_bytes"`
	// Binary layers and their weights' storage.
	BinaryLayers []LayerReport `json:"binary_layers"`
	BinaryParams int64         `json:"binary_params"`
	// BinaryBytesStored is what the binary weights take in this file
	// (packed: the UINT8 bytes; otherwise 4 bytes per weight, latent or ±1).
	BinaryBytesStored int64 `json:"binary_bytes_stored"`
	// BinaryBytesPacked = sum over layers of ceil(n/8);
	// BinaryBytesFloat32 = 4 bytes per binary weight.
	BinaryBytesPacked  int64 `json:"binary_bytes_packed"`
	BinaryBytesFloat32 int64 `json:"binary_bytes_float32"`
	// PackedRatio = BinaryBytesPacked / BinaryBytesFloat32 (about 1/32).
	PackedRatio float64 `json:"packed_ratio"`
	// StoredPacked: the binary weights are stored 1 bit each (packed).
	StoredPacked bool `json:"stored_packed"`
	// Neurons and gates, by form.
	Neurons int `json:"lif_neurons"`
	Gates   int `json:"agmm_gates"`
	// SizeReport is bsnn.size_report as written by the converter (null if
	// absent).
	SizeReport json.RawMessage `json:"size_report"`
}

// A LayerReport is one binary layer of a Report.
type LayerReport struct {
	Name         string  `json:"name"`
	Node         string  `json:"node"`
	Weight       string  `json:"weight"`
	Source       string  `json:"source"`
	Shape        []int64 `json:"shape"`
	Params       int64   `json:"params"`
	BytesStored  int64   `json:"bytes_stored"`
	BytesPacked  int64   `json:"bytes_packed"`
	BytesFloat32 int64   `json:"bytes_float32"`
}

// Describe reports a BSNN file's profile, binary layers and sizes.
func Describe(m *onnx.Model) (*Report, error) {
	info, err := Recognize(m)
	if err != nil {
		return nil, err
	}
	r := &Report{Profile: info.Profile, PlainForm: info.PlainForm, TimeSteps: info.TimeSteps,
		FileBytes: int64(proto.MarshalOptions{Deterministic: true}.Size(m.Proto)),
		Neurons:   len(info.Neurons), Gates: len(info.Gates), BinaryLayers: []LayerReport{}}
	if s, ok := m.Metadata()[bsnn.MetaSizeReport]; ok && json.Valid([]byte(s)) {
		r.SizeReport = json.RawMessage(s)
	}
	r.StoredPacked = len(info.Layers) > 0
	for _, l := range info.Layers {
		n := l.Params()
		lr := LayerReport{Name: l.Name, Node: l.Node, Weight: l.Weight, Source: l.Source, Shape: l.Dims, Params: n,
			BytesPacked: (n + 7) / 8, BytesFloat32: 4 * n, BytesStored: 4 * n}
		if l.Source == SourcePacked {
			lr.BytesStored = lr.BytesPacked
		} else {
			r.StoredPacked = false
		}
		r.BinaryLayers = append(r.BinaryLayers, lr)
		r.BinaryParams += n
		r.BinaryBytesStored += lr.BytesStored
		r.BinaryBytesPacked += lr.BytesPacked
		r.BinaryBytesFloat32 += lr.BytesFloat32
	}
	if r.BinaryBytesFloat32 > 0 {
		r.PackedRatio = float64(r.BinaryBytesPacked) / float64(r.BinaryBytesFloat32)
	}
	return r, nil
}

// WriteText prints the report as a short table.
func (r *Report) WriteText(w io.Writer) error {
	form := ""
	if r.PlainForm != "" {
		form = " (" + string(r.PlainForm) + ")"
	}
	fmt.Fprintf(w, "profile:        %s%s\n", r.Profile, form)
	fmt.Fprintf(w, "file size:      %d bytes (%.3f MB)\n", r.FileBytes, float64(r.FileBytes)/1e6)
	fmt.Fprintf(w, "time steps:     %d\n", r.TimeSteps)
	fmt.Fprintf(w, "LIF layers:     %d, AGMM gates: %d\n", r.Neurons, r.Gates)
	fmt.Fprintf(w, "binary layers:  %d (%d weights)\n", len(r.BinaryLayers), r.BinaryParams)
	if len(r.BinaryLayers) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  layer\tshape\tweights\tstored as\tbytes in file\t1-bit bytes\tfloat32 bytes\t")
		for _, l := range r.BinaryLayers {
			dims := make([]string, len(l.Shape))
			for i, d := range l.Shape {
				dims[i] = fmt.Sprint(d)
			}
			fmt.Fprintf(tw, "  %s\t[%s]\t%d\t%s\t%d\t%d\t%d\t\n", l.Name, strings.Join(dims, ","), l.Params, l.Source,
				l.BytesStored, l.BytesPacked, l.BytesFloat32)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		where := "stored as float32 in this file; the packed profile stores 1 bit each"
		if r.StoredPacked {
			where = "stored 1 bit each in this file"
		}
		fmt.Fprintf(w, "packed ratio:   %d / %d bytes = 1/%.1f (%s)\n", r.BinaryBytesPacked, r.BinaryBytesFloat32,
			1/r.PackedRatio, where)
	}
	if r.SizeReport != nil {
		var s struct {
			Params1Bit  int64   `json:"params_1bit"`
			Params32Bit int64   `json:"params_32bit"`
			Packed      int64   `json:"model_size_bytes_packed"`
			Float32     int64   `json:"float32_equivalent_bytes"`
			Ratio       float64 `json:"compression_ratio"`
		}
		if json.Unmarshal(r.SizeReport, &s) == nil {
			fmt.Fprintf(w, "size report:    %d 1-bit + %d 32-bit parameters: %.3f MB packed vs %.3f MB float32 (%.2fx)\n",
				s.Params1Bit, s.Params32Bit, float64(s.Packed)/1e6, float64(s.Float32)/1e6, s.Ratio)
		}
	}
	return nil
}
