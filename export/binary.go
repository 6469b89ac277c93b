package export

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Recognizing binary layers: BipolarQuant on a latent weight, a folded
// ±1 initializer (BIPOLAR annotation or bsnn.layers weight_bin), or the
// packed profile's unpack chain.

func isComputeOp(op string) bool {
	return op == "Conv" || op == "MatMul" || op == "Gemm" || op == "ConvTranspose"
}

func findLayers(ix *index, meta []bsnn.Layer) ([]*Layer, error) {
	byWeight := map[string]*bsnn.Layer{}
	byNode := map[string]*bsnn.Layer{}
	for i := range meta {
		if meta[i].WeightBin != "" {
			byWeight[meta[i].WeightBin] = &meta[i]
		}
		byNode[meta[i].Node] = &meta[i]
	}
	var out []*Layer
	seen := map[string]bool{}
	for _, n := range ix.g.Node {
		if !isONNXDomain(n.GetDomain()) || !isComputeOp(n.GetOpType()) || len(n.Input) < 2 {
			continue
		}
		w := n.Input[1]
		if seen[w] {
			// A binary weight read by two layers: the first one names it.
			continue
		}
		l, err := matchWeight(ix, w, byWeight[w] != nil)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", n.GetName(), err)
		}
		if l == nil {
			continue
		}
		seen[w] = true
		l.Node, l.Op, l.Weight = n.GetName(), n.GetOpType(), w
		switch {
		case byWeight[w] != nil && byWeight[w].Name != "":
			l.Name = byWeight[w].Name
		case byNode[n.GetName()] != nil && byNode[n.GetName()].Binary && byNode[n.GetName()].Name != "":
			l.Name = byNode[n.GetName()].Name
		default:
			l.Name = baseName(w)
			if l.Name == "" {
				l.Name = n.GetName()
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// baseName strips the weight suffixes the toolkit writes.
func baseName(w string) string {
	for _, s := range []string{".weight_bin", ".weight_latent", ".weight"} {
		if strings.HasSuffix(w, s) && len(w) > len(s) {
			return strings.TrimSuffix(w, s)
		}
	}
	return w
}

// matchWeight recognises a binary weight tensor w; nil when w is not one.
func matchWeight(ix *index, w string, listed bool) (*Layer, error) {
	if p := ix.producer[w]; p != nil {
		if p.GetOpType() == "BipolarQuant" && bsnn.IsBipolarDomain(p.GetDomain()) && len(p.Input) == 2 {
			lt, ok1 := ix.value(p.Input[0])
			st, ok2 := ix.value(p.Input[1])
			if !ok1 || !ok2 {
				return nil, nil // not on a constant path: not a weight
			}
			y, err := bsnn.FoldBipolarQuant(lt, st)
			if err != nil {
				return nil, fmt.Errorf("BipolarQuant %q: %w", p.GetName(), err)
			}
			vals, unit := y.Float32, !slices.ContainsFunc(st.Floats(), func(v float32) bool { return v != 1 })
			return &Layer{Source: SourceBipolarQuant, Latent: p.Input[0], Scale: p.Input[1], UnitScale: unit,
				Values: vals, Dims: append([]int64(nil), lt.Dims...), nodes: []*onnxpb.NodeProto{p}}, nil
		}
		if l := matchUnpack(ix, w); l != nil {
			return l, nil
		}
		return nil, nil
	}
	t, ok := ix.value(w)
	if !ok {
		return nil, nil
	}
	annotated := ix.ann[w][bsnn.AnnotationDatatype] == bsnn.DatatypeBipolar
	if !annotated && !listed {
		return nil, nil
	}
	if t.Type != onnx.Float {
		if annotated {
			return nil, fmt.Errorf("weight %q is annotated BIPOLAR but is %s, not float32", w, t.Type)
		}
		return nil, nil
	}
	vals := t.Floats()
	for _, v := range vals {
		if v != 1 && v != -1 {
			if annotated {
				return nil, fmt.Errorf("weight %q is annotated BIPOLAR but holds %g", w, v)
			}
			return nil, nil
		}
	}
	return &Layer{Source: SourceFolded, UnitScale: true, Values: append([]float32(nil), vals...),
		Dims: append([]int64(nil), t.Dims...)}, nil
}

// matchUnpack recognises the packed profile's unpack chain ending in w:
//
//	P (uint8) -Unsqueeze[1]-> -BitShift(RIGHT, 0..7)-> -Mod 2-> -Cast float->
//	-Mul 2-> -Sub from 1-> -Reshape[-1]-> -Slice[0:n]-> -Reshape dims-> w
func matchUnpack(ix *index, w string) *Layer {
	set := map[*onnxpb.NodeProto]bool{}
	var chain []*onnxpb.NodeProto
	step := func(n *onnxpb.NodeProto) *onnxpb.NodeProto {
		if n != nil {
			set[n] = true
			chain = append(chain, n)
		}
		return n
	}
	rs := step(ix.prod(w, "Reshape"))
	if rs == nil || len(rs.Input) != 2 {
		return nil
	}
	dims, ok := ix.ints(rs.Input[1])
	if !ok {
		return nil
	}
	sl := step(ix.prod(rs.Input[0], "Slice"))
	if sl == nil || len(sl.Input) < 4 {
		return nil
	}
	st, ok1 := ix.ints(sl.Input[1])
	en, ok2 := ix.ints(sl.Input[2])
	ax, ok3 := ix.ints(sl.Input[3])
	if !ok1 || !ok2 || !ok3 || !slices.Equal(st, []int64{0}) || len(en) != 1 || !slices.Equal(ax, []int64{0}) {
		return nil
	}
	if len(sl.Input) > 4 && sl.Input[4] != "" {
		if s, ok := ix.ints(sl.Input[4]); !ok || !slices.Equal(s, []int64{1}) {
			return nil
		}
	}
	numel := en[0]
	fl := step(ix.prod(sl.Input[0], "Reshape"))
	if fl == nil {
		return nil
	}
	if t, ok := ix.ints(fl.Input[1]); !ok || !slices.Equal(t, []int64{-1}) {
		return nil
	}
	sub := step(ix.prod(fl.Input[0], "Sub"))
	if sub == nil {
		return nil
	}
	if v, ok := ix.scalar(sub.Input[0]); !ok || v != 1 {
		return nil
	}
	mul := step(ix.prod(sub.Input[1], "Mul"))
	if mul == nil {
		return nil
	}
	if v, ok := ix.scalar(mul.Input[1]); !ok || v != 2 {
		return nil
	}
	cast := step(ix.prod(mul.Input[0], "Cast"))
	if cast == nil || onnx.NodeOf(cast).Int("to", 0) != int64(onnx.Float) {
		return nil
	}
	mod := step(ix.prod(cast.Input[0], "Mod"))
	if mod == nil || onnx.NodeOf(mod).Int("fmod", 0) != 0 {
		return nil
	}
	if t, ok := ix.value(mod.Input[1]); !ok || t.Type != onnx.Uint8 || t.Len() != 1 || t.Int64[0] != 2 {
		return nil
	}
	sh := step(ix.prod(mod.Input[0], "BitShift"))
	if sh == nil || onnx.NodeOf(sh).String("direction", "") != "RIGHT" {
		return nil
	}
	if t, ok := ix.value(sh.Input[1]); !ok || t.Type != onnx.Uint8 || !slices.Equal(t.Int64, []int64{0, 1, 2, 3, 4, 5, 6, 7}) {
		return nil
	}
	un := step(ix.prod(sh.Input[0], "Unsqueeze"))
	if un == nil || len(un.Input) != 2 {
		return nil
	}
	if a, ok := ix.ints(un.Input[1]); !ok || !slices.Equal(a, []int64{1}) {
		return nil
	}
	pt, ok := ix.value(un.Input[0])
	if !ok || pt.Type != onnx.Uint8 || len(pt.Dims) != 1 {
		return nil
	}
	n, err := onnx.NumElements(dims)
	if err != nil || n != numel || int64(pt.Len()) != (numel+7)/8 {
		return nil
	}
	for _, c := range chain[1:] {
		if !ix.onlyUsedBy(c.Output[0], set) {
			return nil
		}
	}
	vals := unpackBits(pt.Int64, int(numel))
	// Chain nodes in file order.
	sort.Slice(chain, func(i, j int) bool { return ix.pos[chain[i]] < ix.pos[chain[j]] })
	return &Layer{Source: SourcePacked, Packed: un.Input[0], UnitScale: true, Values: vals,
		Dims: append([]int64(nil), dims...), nodes: chain}
}

// packBits stores ±1 values 1 bit each, LSB-first, bit 1 = -1 (sign(0) =
// +1, so any value >= 0 is bit 0).
func packBits(vals []float32) []int64 {
	out := make([]int64, (len(vals)+7)/8)
	for i, v := range vals {
		if !(v >= 0) {
			out[i/8] |= 1 << (i % 8)
		}
	}
	return out
}

// unpackBits is packBits' inverse: 1 - 2*bit.
func unpackBits(packed []int64, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		b := (packed[i/8] >> (i % 8)) & 1
		out[i] = float32(1 - 2*b)
	}
	return out
}
