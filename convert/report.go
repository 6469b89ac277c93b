package convert

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/bsnnctl/bsnnctl/bsnn"
)

// A LayerRow is one line of the per-layer table.
type LayerRow struct {
	Layer string `json:"layer"`
	// Node is the compute node in the converted graph, Source the node it
	// came from in the source graph.
	Node   string `json:"node"`
	Source string `json:"source"`
	// Op is the source op type (Conv, Gemm, MatMul).
	Op     string `json:"op"`
	Binary bool   `json:"binary"`
	// Role is "first", "last", "first+last" or "hidden" (spec §3.1).
	Role string `json:"role"`
	// KeptFloat says why a float layer is float: first, last, depthwise,
	// shortcuts, all, named.
	KeptFloat []string `json:"kept_float,omitempty"`
	// Params counts the layer's parameters: weight, bias, the γ and β of
	// its BatchNormalization (the tdBN of a binary layer) and its AGMM
	// alpha. Params1Bit of them are binary weights.
	Params     int64 `json:"params"`
	Params1Bit int64 `json:"params_1bit"`
	// MACs are multiply-accumulates per sample and time step.
	MACs int64 `json:"macs"`
}

// A SizeReport is the Larq-style size summary (agmm-paper notes §5.3:
// binary weights 1 bit, every other parameter 32 bits, MB = 10^6 bytes).
// Parameters are what training updates: weights, biases, BatchNormalization
// γ and β, AGMM alpha. BatchNormalization running statistics are buffers
// (reported, not counted in the model size, as in the published tables);
// shape constants, Clip bounds and the unit weight scales are neither.
type SizeReport struct {
	Params1Bit  int64 `json:"params_1bit"`
	Params32Bit int64 `json:"params_32bit"`
	// ModelSizeBytesPacked = ceil(Params1Bit/8) + 4*Params32Bit.
	ModelSizeBytesPacked int64 `json:"model_size_bytes_packed"`
	// Float32EquivalentBytes = 4*(Params1Bit + Params32Bit).
	Float32EquivalentBytes int64   `json:"float32_equivalent_bytes"`
	CompressionRatio       float64 `json:"compression_ratio"`
	// MACs per sample and time step in binary and float layers.
	MACsBinary     int64   `json:"macs_binary"`
	MACsFloat      int64   `json:"macs_float"`
	BinaryMACShare float64 `json:"binary_mac_share"`
	Buffers32Bit   int64   `json:"buffers_32bit"`
	TimeSteps      int64   `json:"time_steps"`
}

// A Report is printed by `bsnnctl import`.
type Report struct {
	Layers []LayerRow `json:"layers"`
	// OtherParams are 32-bit parameters outside the compute layers'
	// blocks (a BatchNormalization after an Add, constants of elementwise
	// ops).
	OtherParams int64      `json:"other_params"`
	Size        SizeReport `json:"size"`
}

func (w *writer) report(layers []bsnn.Layer) *Report {
	r := &Report{}
	rows := map[*layer]int{}
	for i, l := range w.a.layers {
		role := "hidden"
		switch {
		case l.first && l.last:
			role = "first+last"
		case l.first:
			role = "first"
		case l.last:
			role = "last"
		}
		row := LayerRow{Layer: l.name, Node: layers[i].Node, Source: l.node.src.Label(), Op: l.op, Binary: l.binary, Role: role, MACs: l.macs}
		if !l.binary {
			row.KeptFloat = append([]string{}, l.floatWhy...)
		}
		rows[l] = len(r.Layers)
		r.Layers = append(r.Layers, row)
		if l.binary {
			r.Size.MACsBinary += l.macs
		} else {
			r.Size.MACsFloat += l.macs
		}
	}
	for _, in := range w.info {
		switch in.kind {
		case kindParam1:
			r.Size.Params1Bit += in.n
		case kindParam32:
			r.Size.Params32Bit += in.n
		case kindBuffer:
			r.Size.Buffers32Bit += in.n
		}
		if in.kind != kindParam1 && in.kind != kindParam32 {
			continue
		}
		if in.owner == nil {
			r.OtherParams += in.n
			continue
		}
		row := &r.Layers[rows[in.owner]]
		row.Params += in.n
		if in.kind == kindParam1 {
			row.Params1Bit += in.n
		}
	}
	s := &r.Size
	s.TimeSteps = w.o.T
	s.ModelSizeBytesPacked = (s.Params1Bit+7)/8 + 4*s.Params32Bit
	s.Float32EquivalentBytes = 4 * (s.Params1Bit + s.Params32Bit)
	if s.ModelSizeBytesPacked > 0 {
		s.CompressionRatio = float64(s.Float32EquivalentBytes) / float64(s.ModelSizeBytesPacked)
	}
	if t := s.MACsBinary + s.MACsFloat; t > 0 {
		s.BinaryMACShare = float64(s.MACsBinary) / float64(t)
	}
	return r
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Write prints the per-layer table and the size report.
func (r *Report) Write(out io.Writer) error {
	rows := [][]string{{"layer", "op", "kind", "role", "params", "1-bit params", "MACs/step"}}
	var tp, t1, tm int64
	for _, l := range r.Layers {
		kind := "binary"
		if !l.Binary {
			kind = "float (" + strings.Join(l.KeptFloat, ",") + ")"
		}
		rows = append(rows, []string{l.Layer, l.Op, kind, l.Role, group(l.Params), group(l.Params1Bit), group(l.MACs)})
		tp += l.Params
		t1 += l.Params1Bit
		tm += l.MACs
	}
	if r.OtherParams > 0 {
		rows = append(rows, []string{"(other)", "", "", "", group(r.OtherParams), "0", "0"})
		tp += r.OtherParams
	}
	rows = append(rows, []string{"total", "", "", "", group(tp), group(t1), group(tm)})
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, c := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			if i < 4 {
				fmt.Fprintf(&b, "%-*s", width[i], c)
			} else {
				fmt.Fprintf(&b, "%*s", width[i], c)
			}
		}
		b.WriteString("\n")
	}
	s := r.Size
	fmt.Fprintf(&b, `
parameters:         %s 1-bit + %s 32-bit (BN running statistics: %s, not counted)
packed size:        %.3f MB (%s bytes: 1 bit per binary weight, 4 bytes per other parameter)
float32 equivalent: %.3f MB (%s bytes)
compression:        %.2fx
MACs/step/sample:   %s binary + %s float (binary share %.1f%%), T = %d
`, group(s.Params1Bit), group(s.Params32Bit), group(s.Buffers32Bit),
		float64(s.ModelSizeBytesPacked)/1e6, group(s.ModelSizeBytesPacked),
		float64(s.Float32EquivalentBytes)/1e6, group(s.Float32EquivalentBytes),
		s.CompressionRatio, group(s.MACsBinary), group(s.MACsFloat), 100*s.BinaryMACShare, s.TimeSteps)
	_, err := io.WriteString(out, b.String())
	return err
}

// group prints an integer with thousands separators.
func group(v int64) string {
	s := fmt.Sprint(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
