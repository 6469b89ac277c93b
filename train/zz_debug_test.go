package train

import (
	"fmt"
	"testing"

	"github.com/bsnnctl/bsnnctl/ops"
)

func TestZZListOps(t *testing.T) {
	m := fixtureBSNN(t, "resnet20_op11_keepbn_dynamic", 4)
	cfg := Config{Batch: 2, Out: "-", Data: "-", ModelProto: m}.Defaults()
	ni, _ := analyze(m)
	tp, err := compileTrain(m, ni, cfg)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, n := range tp.b.G.AllNodes() {
		if n.Op() == nil {
			continue
		}
		if ops.KernelOf(n) != nil {
			continue
		}
		counts[fmt.Sprintf("%T %v", n.Op(), n.Op())]++
	}
	t.Log(counts)
	t.Log(tp.prog)
}
