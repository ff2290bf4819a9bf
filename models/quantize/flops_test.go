package quantize

import (
	"slices"
	"testing"
)

func TestFLOPs(t *testing.T) {
	model, _, _ := gemmModel(t, 64, 24, true, true, 14)
	names, err := Shapes(model)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"X", "Y"}) {
		t.Fatalf("Shapes = %v, want [X Y] (W is a constant)", names)
	}
	c, err := FLOPs(model, map[string][]int64{"X": {5, 64}, "Y": {5, 24}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Ops != 2*5*24*64 || c.IntOps != 0 || c.ByOp["Gemm"] != c.Ops {
		t.Errorf("count %+v, want %d float ops", c, 2*5*24*64)
	}
	if _, err := FLOPs(model, map[string][]int64{"X": {5, 64}}); err == nil {
		t.Error("a missing output shape was not reported")
	}
	q, _, err := Graph(model, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	c, err = FLOPs(q, map[string][]int64{"X": {5, 64}, "Y": {5, 24}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Ops != 2*5*24*64 || c.IntOps != c.Ops {
		t.Errorf("quantized count %+v, want %d integer ops", c, 2*5*24*64)
	}
	exposed, err := WithOutputs(model, []string{"X", "Y"})
	if err != nil {
		t.Fatal(err)
	}
	m := mustModel(t, exposed)
	var outs []string
	for _, o := range m.GetGraph().GetOutput() {
		outs = append(outs, o.GetName())
	}
	if !slices.Equal(outs, []string{"Y", "X"}) {
		t.Errorf("outputs %v, want [Y X]", outs)
	}
	if _, err := WithOutputs([]byte("\xff\xff"), nil); err == nil {
		t.Error("garbage accepted")
	}
}
