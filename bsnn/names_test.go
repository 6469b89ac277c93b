package bsnn_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// oldStyle is a graph as bsnnctl wrote it before the naming rules: the
// input repeated by a Concat of T copies, a LIF whose V_T output is "",
// and a source op reading one tensor twice.
func oldStyle() *onnxpb.GraphProto {
	return &onnxpb.GraphProto{
		Input: []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("x", onnx.Float, onnx.Shape{{Value: -1, Param: "N"}, {Value: 3}})},
		Node: []*onnxpb.NodeProto{
			onnx.NewNode("encode/repeat", "Concat", "", []string{"x", "x", "x"}, []string{"x.repeat"}, onnx.AttrInt("axis", 0)),
			onnx.NewNode("to_tn", "Reshape", "", []string{"x.repeat", "shape"}, []string{"tn"}),
			onnx.NewNode("lif", "LIF", bsnn.DomainSNN, []string{"tn"}, []string{"s", ""}, bsnn.LIFAttributes(spiking.DefaultLIF())...),
			onnx.NewNode("sq", "Mul", "", []string{"s", "s"}, []string{"y"}),
			onnx.NewNode("drop", "Dropout", "", []string{"y"}, []string{"z", ""}),
		},
	}
}

func TestCheckNames(t *testing.T) {
	g := oldStyle()
	var ne *bsnn.NameError
	err := bsnn.CheckNames(g)
	if !errors.As(err, &ne) || ne.Node != "encode/repeat" || ne.Tensor != "x" || !strings.Contains(err.Error(), `"x" twice`) {
		t.Fatalf("CheckNames = %v, want the repeated input of encode/repeat", err)
	}
	g.Node = g.Node[1:]
	if err := bsnn.CheckNames(g); !errors.As(err, &ne) || ne.Node != "lif" || ne.Tensor != "" || ne.Output != 1 {
		t.Fatalf("CheckNames = %v, want LIF's unnamed output 1", err)
	}
	g.Node[1].Output[1] = "lif.V_T"
	if err := bsnn.CheckNames(g); !errors.As(err, &ne) || ne.Node != "sq" || ne.Tensor != "s" {
		t.Fatalf("CheckNames = %v, want Mul(s, s)", err)
	}
}

// TestLegalize: an old-style graph obeys the rules afterwards and computes
// the same (copies and names only), and a legal graph is left alone.
func TestLegalize(t *testing.T) {
	g := oldStyle()
	if !bsnn.Legalize(g) {
		t.Fatal("Legalize changed nothing")
	}
	if err := bsnn.CheckNames(g); err != nil {
		t.Fatalf("after Legalize: %v", err)
	}
	ops := func(g *onnxpb.GraphProto) []string {
		var s []string
		for _, n := range g.Node {
			s = append(s, n.GetOpType()+"("+strings.Join(n.Input, ",")+")->"+strings.Join(n.Output, ","))
		}
		return s
	}
	want := []string{
		"Identity(x)->x.copy", "Identity(x)->x.copy_2",
		"Concat(x,x.copy,x.copy_2)->x.repeat",
		"Reshape(x.repeat,shape)->tn",
		"LIF(tn)->s,lif.V_T",
		"Identity(s)->s.copy",
		"Mul(s,s.copy)->y",
		"Dropout(y)->z",
	}
	if got := ops(g); !slices.Equal(got, want) {
		t.Errorf("legalized graph\n got %q\nwant %q", got, want)
	}
	before := proto.Clone(g)
	if bsnn.Legalize(g) || !proto.Equal(before, g) {
		t.Error("Legalize changed a legal graph")
	}
	// A LIF listing only its spikes gets a named V_T: onnx 1.12's function
	// inference indexes every declared output.
	one := &onnxpb.GraphProto{Node: []*onnxpb.NodeProto{onnx.NewNode("l", "LIF", bsnn.DomainSNN, []string{"a"}, []string{"b"})}}
	bsnn.Legalize(one)
	if got := one.Node[0].Output; !slices.Equal(got, []string{"b", "l.V_T"}) {
		t.Errorf("one-output LIF: outputs %q", got)
	}
}
