package quantize

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"mmsearch/models/quantize/onnxpb"
)

// WithOutputs returns model with the named values added to its graph
// outputs (those that are not outputs already), so that one run shows their
// shapes.
func WithOutputs(model []byte, names []string) ([]byte, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, fmt.Errorf("expose values: not an ONNX model: %w", err)
	}
	g := m.GetGraph()
	have := map[string]bool{}
	for _, o := range g.GetOutput() {
		have[o.GetName()] = true
	}
	for _, n := range names {
		if !have[n] {
			g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(n)})
			have[n] = true
		}
	}
	return proto.Marshal(&m)
}

// Count is the arithmetic of one run of a graph.
type Count struct {
	// Ops is 2 × the multiply-adds of the matrix products and convolutions
	// (MatMul, Gemm, Conv and their fused and integer forms): floating-point
	// operations for float32 nodes, integer operations for quantized ones.
	Ops int64 `json:"ops"`
	// IntOps is the part of Ops done by integer (quantized) nodes.
	IntOps int64 `json:"int_ops"`
	// ByOp splits Ops by operator type.
	ByOp map[string]int64 `json:"by_op"`
}

// matrix products: input 0 is A [..., M, K], the output [..., M, N].
var matMulOps = map[string]bool{"MatMul": false, "FusedMatMul": false, "MatMulInteger": true, "MatMulIntegerToFloat": true, "DynamicQuantizeMatMul": true, "QLinearMatMul": true}

// convolutions: input 1 is W [Cout, Cin/group, k...], the output [N, Cout, ...].
var convOps = map[string]bool{"Conv": false, "FusedConv": false, "NchwcConv": false, "ConvInteger": true, "QLinearConv": true}

// Shapes lists the values whose shapes FLOPs needs: the inputs and outputs
// of the graph's matrix products and convolutions that are not constants.
// Run the graph once with them as outputs (WithOutputs) to learn them.
func Shapes(model []byte) ([]string, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, fmt.Errorf("count FLOPs: not an ONNX model: %w", err)
	}
	consts := map[string]bool{}
	for _, t := range m.GetGraph().GetInitializer() {
		consts[t.GetName()] = true
	}
	var names []string
	seen := map[string]bool{}
	for _, n := range m.GetGraph().GetNode() {
		op := n.GetOpType()
		if op != "Gemm" && !hasKey(matMulOps, op) && !hasKey(convOps, op) {
			continue
		}
		for _, v := range append(slices.Clone(n.GetInput()[:min(2, len(n.GetInput()))]), n.GetOutput()[:1]...) {
			if v != "" && !consts[v] && !seen[v] {
				seen[v] = true
				names = append(names, v)
			}
		}
	}
	return names, nil
}

// FLOPs counts the operations of the matrix products and convolutions of
// model. shapes gives the shapes of the values Shapes lists (as one run
// showed them); constant weights' shapes come from the graph. Element-wise
// work (activations, normalization, softmax) is not counted.
func FLOPs(model []byte, observed map[string][]int64) (Count, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return Count{}, fmt.Errorf("count FLOPs: not an ONNX model: %w", err)
	}
	g := m.GetGraph()
	shapes := map[string][]int64{}
	for _, t := range g.GetInitializer() {
		shapes[t.GetName()] = slices.Clone(t.GetDims())
	}
	for k, v := range observed {
		shapes[k] = v
	}
	c := Count{ByOp: map[string]int64{}}
	shape := func(n *onnxpb.NodeProto, name string) ([]int64, error) {
		s, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("count FLOPs: node %s (%s): shape of %s unknown", n.GetName(), n.GetOpType(), name)
		}
		return s, nil
	}
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		var ops int64
		var integer bool
		switch {
		case op == "Gemm":
			a, err := shape(n, n.GetInput()[0])
			if err != nil {
				return Count{}, err
			}
			out, err := shape(n, n.GetOutput()[0])
			if err != nil {
				return Count{}, err
			}
			k := a[1]
			for _, at := range n.GetAttribute() {
				if at.GetName() == "transA" && at.GetI() != 0 {
					k = a[0]
				}
			}
			ops = 2 * prod(out) * k
		case hasKey(matMulOps, op):
			integer = matMulOps[op]
			a, err := shape(n, n.GetInput()[0])
			if err != nil {
				return Count{}, err
			}
			out, err := shape(n, n.GetOutput()[0])
			if err != nil {
				return Count{}, err
			}
			if len(a) == 0 {
				return Count{}, fmt.Errorf("count FLOPs: node %s: scalar input", n.GetName())
			}
			ops = 2 * prod(out) * a[len(a)-1]
		case hasKey(convOps, op):
			integer = convOps[op]
			w, err := shape(n, n.GetInput()[1])
			if err != nil {
				return Count{}, err
			}
			out, err := shape(n, n.GetOutput()[0])
			if err != nil {
				return Count{}, err
			}
			ops = 2 * prod(out) * prod(w[1:])
		default:
			continue
		}
		c.Ops += ops
		c.ByOp[op] += ops
		if integer {
			c.IntOps += ops
		}
	}
	return c, nil
}

func hasKey(m map[string]bool, k string) bool { _, ok := m[k]; return ok }

func prod(d []int64) int64 {
	p := int64(1)
	for _, v := range d {
		p *= v
	}
	return p
}
