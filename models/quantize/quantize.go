// Package quantize rewrites ONNX graphs for dynamic INT8 inference and
// counts their arithmetic.
//
// Graph quantizes the constant weights of MatMul and Gemm nodes to int8
// (symmetric, per tensor or per output column) and computes with integer
// matrix products whose activations are quantized at run time
// (DynamicQuantizeLinear); every other node, the patch-embedding Conv
// included, stays in float32. Model does that for both towers of a model
// folder and writes a new folder with its own manifest. FLOPs counts the
// multiply-adds of a graph whose shapes are known.
//
// The package reads and writes ONNX protobuf through the types generated in
// onnxpb; it needs no Python and no ONNX Runtime (the tests load every graph
// it writes in a real ONNX Runtime session).
package quantize

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"mmsearch/models/quantize/onnxpb"
)

// Formats of the rewritten nodes (Options.Format).
const (
	// FormatFused replaces each MatMul by one com.microsoft
	// DynamicQuantizeMatMul node, the contrib operator ONNX Runtime's CPU
	// provider implements (quantize A, integer product, scale, bias).
	FormatFused = "fused"
	// FormatInteger uses standard ONNX operators only: DynamicQuantizeLinear,
	// MatMulInteger, Cast and two Mul (the scale products). ONNX Runtime
	// fuses this pattern itself when graph optimization is on; other
	// runtimes can run it as it is.
	FormatInteger = "integer"
)

// MicrosoftDomain is the operator domain of ONNX Runtime's contrib operators.
const MicrosoftDomain = "com.microsoft"

// ErrUnsupported marks a model the quantizer cannot rewrite (external
// weights, opset too old, no graph); errors.Is(err, ErrUnsupported) holds.
var ErrUnsupported = errors.New("model not supported by the quantizer")

// Options chooses how weights are quantized.
type Options struct {
	// PerChannel gives every output column of a weight matrix its own scale
	// instead of one scale per tensor.
	PerChannel bool `json:"per_channel"`
	// Format is FormatFused (default) or FormatInteger.
	Format string `json:"format"`
	// ReduceRange quantizes weights to 7 bits ([-63, 63]). On CPUs without
	// VNNI the uint8×int8 products of ONNX Runtime's AVX2 kernels are summed
	// pairwise in saturating 16-bit lanes; 7-bit weights cannot overflow
	// there.
	ReduceRange bool `json:"reduce_range,omitempty"`
	// MinElements leaves weights with fewer elements in float32 (0 = none).
	MinElements int `json:"min_elements,omitempty"`
}

// DefaultOptions are the settings `mmsearch models quantize` uses: per-channel
// scales, 7-bit weights (exact on every x86-64 CPU, VNNI or not), fused nodes.
func DefaultOptions() Options {
	return Options{PerChannel: true, ReduceRange: true, Format: FormatFused}
}

func (o Options) format() string {
	if o.Format == "" {
		return FormatFused
	}
	return o.Format
}

// Validate checks the options.
func (o Options) Validate() error {
	switch o.format() {
	case FormatFused, FormatInteger:
	default:
		return fmt.Errorf("quantize: format %q: want %s or %s", o.Format, FormatFused, FormatInteger)
	}
	if o.MinElements < 0 {
		return fmt.Errorf("quantize: min_elements %d is negative", o.MinElements)
	}
	return nil
}

// Stats says what a rewrite did.
type Stats struct {
	// Quantized counts MatMul and Gemm nodes now computing in int8.
	Quantized int `json:"quantized_nodes"`
	// Kept counts MatMul and Gemm nodes left in float32, by reason.
	Kept map[string]int `json:"kept_float32,omitempty"`
	// WeightsBefore and WeightsAfter are the bytes of the rewritten weights
	// before (float32) and after (int8 values plus scales).
	WeightsBefore int64 `json:"weight_bytes_before"`
	WeightsAfter  int64 `json:"weight_bytes_after"`
}

func (s *Stats) keep(reason string) {
	if s.Kept == nil {
		s.Kept = map[string]int{}
	}
	s.Kept[reason]++
}

// maxModelBytes bounds the protobuf the quantizer reads: ONNX files without
// external data are limited to 2 GiB by protobuf itself.
const maxModelBytes = 2<<30 - 1

// Graph returns model (ONNX protobuf bytes) with its MatMul and Gemm weights
// quantized to int8.
func Graph(model []byte, opt Options) ([]byte, Stats, error) {
	if err := opt.Validate(); err != nil {
		return nil, Stats{}, err
	}
	if len(model) > maxModelBytes {
		return nil, Stats{}, fmt.Errorf("%w: %d bytes is more than protobuf allows", ErrUnsupported, len(model))
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, Stats{}, fmt.Errorf("quantize: not an ONNX model: %w", err)
	}
	if m.GetGraph() == nil {
		return nil, Stats{}, fmt.Errorf("%w: the model has no graph", ErrUnsupported)
	}
	if v := opsetVersion(&m, ""); v < 11 {
		return nil, Stats{}, fmt.Errorf("%w: ai.onnx opset %d; DynamicQuantizeLinear needs opset 11 or later", ErrUnsupported, v)
	}
	q := newRewriter(m.GetGraph(), opt)
	if err := q.run(); err != nil {
		return nil, Stats{}, err
	}
	if q.stats.Quantized > 0 && opt.format() == FormatFused && opsetVersion(&m, MicrosoftDomain) == 0 {
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(MicrosoftDomain), Version: proto.Int64(1)})
	}
	out, err := proto.Marshal(&m)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("quantize: encode model: %w", err)
	}
	return out, q.stats, nil
}

// opsetVersion returns the model's opset of domain ("" is ai.onnx), 0 if none.
func opsetVersion(m *onnxpb.ModelProto, domain string) int64 {
	for _, o := range m.GetOpsetImport() {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain {
			return o.GetVersion()
		}
	}
	return 0
}

// quantWeight is one weight matrix in int8, [K, N] row-major.
type quantWeight struct {
	values, scale string // initializer names
}

type rewriter struct {
	g     *onnxpb.GraphProto
	opt   Options
	stats Stats

	inits  map[string]*onnxpb.TensorProto
	uses   map[string]int // consumers of each value name (nodes, subgraphs, graph outputs)
	names  map[string]bool
	quant  map[string]quantWeight // by weight name + layout
	dql    map[string][3]string   // DynamicQuantizeLinear outputs by activation name
	newIni []*onnxpb.TensorProto
}

func newRewriter(g *onnxpb.GraphProto, opt Options) *rewriter {
	r := &rewriter{g: g, opt: opt, inits: map[string]*onnxpb.TensorProto{}, uses: map[string]int{}, names: map[string]bool{},
		quant: map[string]quantWeight{}, dql: map[string][3]string{}}
	for _, t := range g.GetInitializer() {
		r.inits[t.GetName()] = t
		r.names[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		r.names[v.GetName()] = true
	}
	for _, v := range g.GetOutput() {
		r.uses[v.GetName()]++
	}
	countUses(g, r.uses, r.names)
	return r
}

// countUses counts every node input in g and its subgraphs and records every
// name, so new names never collide.
func countUses(g *onnxpb.GraphProto, uses map[string]int, names map[string]bool) {
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" {
				uses[in]++
			}
		}
		for _, out := range n.GetOutput() {
			names[out] = true
		}
		names[n.GetName()] = true
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				countUses(a.GetG(), uses, names)
			}
			for _, sg := range a.GetGraphs() {
				countUses(sg, uses, names)
			}
		}
	}
}

// unique returns base, or base with a numeric suffix, unused in the graph.
func (r *rewriter) unique(base string) string {
	name := base
	for i := 1; r.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	r.names[name] = true
	return name
}

func (r *rewriter) run() error {
	var nodes []*onnxpb.NodeProto
	for _, n := range r.g.GetNode() {
		var repl []*onnxpb.NodeProto
		var err error
		switch {
		case n.GetDomain() != "" && n.GetDomain() != "ai.onnx":
		case n.GetOpType() == "MatMul":
			repl, err = r.matMul(n)
		case n.GetOpType() == "Gemm":
			repl, err = r.gemm(n)
		}
		if err != nil {
			return err
		}
		if repl == nil {
			nodes = append(nodes, n)
			continue
		}
		nodes = append(nodes, repl...)
	}
	r.g.Node = nodes
	// Drop float32 weights nothing reads any more.
	var inits []*onnxpb.TensorProto
	dropped := map[string]bool{}
	for _, t := range r.g.GetInitializer() {
		if r.uses[t.GetName()] <= 0 {
			dropped[t.GetName()] = true
			continue
		}
		inits = append(inits, t)
	}
	r.g.Initializer = append(inits, r.newIni...)
	if len(dropped) > 0 {
		r.g.Input = slices.DeleteFunc(r.g.Input, func(v *onnxpb.ValueInfoProto) bool { return dropped[v.GetName()] })
	}
	return nil
}

// weight returns the initializer name of a node's constant float32 matrix
// input, or a reason it is not one.
func (r *rewriter) weight(name string) (*onnxpb.TensorProto, string) {
	t, ok := r.inits[name]
	if !ok {
		return nil, "weight not constant"
	}
	if t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, "weight not float32"
	}
	if len(t.GetDims()) != 2 {
		return nil, "weight not a matrix"
	}
	if t.GetDims()[0]*t.GetDims()[1] < int64(r.opt.MinElements) {
		return nil, "weight below min_elements"
	}
	return t, ""
}

func (r *rewriter) matMul(n *onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	in := n.GetInput()
	if len(in) != 2 || len(n.GetOutput()) != 1 {
		r.stats.keep("malformed")
		return nil, nil
	}
	if _, isConst := r.inits[in[0]]; isConst {
		r.stats.keep("input A constant")
		return nil, nil
	}
	w, why := r.weight(in[1])
	if w == nil {
		r.stats.keep(why)
		return nil, nil
	}
	return r.emit(n, in[0], w, false, "", n.GetOutput()[0])
}

func (r *rewriter) gemm(n *onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	in := n.GetInput()
	if len(in) < 2 || len(in) > 3 || len(n.GetOutput()) != 1 {
		r.stats.keep("malformed")
		return nil, nil
	}
	alpha, beta := float32(1), float32(1)
	var transA, transB int64
	for _, a := range n.GetAttribute() {
		switch a.GetName() {
		case "alpha":
			alpha = a.GetF()
		case "beta":
			beta = a.GetF()
		case "transA":
			transA = a.GetI()
		case "transB":
			transB = a.GetI()
		}
	}
	if alpha != 1 || transA != 0 || (len(in) == 3 && in[2] != "" && beta != 1) {
		r.stats.keep("Gemm with alpha, beta or transA")
		return nil, nil
	}
	if _, isConst := r.inits[in[0]]; isConst {
		r.stats.keep("input A constant")
		return nil, nil
	}
	w, why := r.weight(in[1])
	if w == nil {
		r.stats.keep(why)
		return nil, nil
	}
	bias := ""
	if len(in) == 3 {
		bias = in[2]
	}
	return r.emit(n, in[0], w, transB != 0, bias, n.GetOutput()[0])
}

// emit writes the integer nodes computing out = a·w (+ bias).
func (r *rewriter) emit(n *onnxpb.NodeProto, a string, w *onnxpb.TensorProto, transposed bool, bias, out string) ([]*onnxpb.NodeProto, error) {
	qw, err := r.quantizeWeight(w, transposed)
	if err != nil {
		return nil, err
	}
	r.uses[w.GetName()]--
	r.stats.Quantized++
	base := n.GetName()
	if base == "" {
		base = out
	}
	node := func(op, domain string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		nd := &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(r.unique(base + "_" + op)), Input: inputs, Output: outputs, Attribute: attrs}
		if domain != "" {
			nd.Domain = proto.String(domain)
		}
		return nd
	}
	var nodes []*onnxpb.NodeProto
	if r.opt.format() == FormatFused {
		inputs := []string{a, qw.values, qw.scale}
		if bias != "" && r.isVector(bias, w, transposed) {
			inputs = append(inputs, "", bias)
			bias = ""
		}
		mmOut := out
		if bias != "" {
			mmOut = r.unique(out + "_nobias")
		}
		nodes = append(nodes, node("DynamicQuantizeMatMul", MicrosoftDomain, inputs, []string{mmOut}))
		if bias != "" {
			nodes = append(nodes, node("Add", "", []string{mmOut, bias}, []string{out}))
		}
		return nodes, nil
	}
	dq, ok := r.dql[a]
	if !ok {
		dq = [3]string{r.unique(a + "_quantized"), r.unique(a + "_scale"), r.unique(a + "_zero_point")}
		r.dql[a] = dq
		nodes = append(nodes, node("DynamicQuantizeLinear", "", []string{a}, dq[:]))
	}
	prod := r.unique(out + "_int32")
	asFloat := r.unique(out + "_int32_float")
	scale := r.unique(out + "_scale")
	mmOut := out
	if bias != "" {
		mmOut = r.unique(out + "_nobias")
	}
	to := &onnxpb.AttributeProto{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(onnxpb.TensorProto_FLOAT))}
	nodes = append(nodes,
		node("MatMulInteger", "", []string{dq[0], qw.values, dq[2]}, []string{prod}),
		node("Cast", "", []string{prod}, []string{asFloat}, to),
		node("Mul", "", []string{dq[1], qw.scale}, []string{scale}),
		node("Mul", "", []string{asFloat, scale}, []string{mmOut}),
	)
	if bias != "" {
		nodes = append(nodes, node("Add", "", []string{mmOut, bias}, []string{out}))
	}
	return nodes, nil
}

// isVector says whether name is a constant float32 vector of the weight's
// output width, which DynamicQuantizeMatMul takes as its bias.
func (r *rewriter) isVector(name string, w *onnxpb.TensorProto, transposed bool) bool {
	t, ok := r.inits[name]
	if !ok || t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) || len(t.GetDims()) != 1 {
		return false
	}
	cols := w.GetDims()[1]
	if transposed {
		cols = w.GetDims()[0]
	}
	return t.GetDims()[0] == cols
}

// quantizeWeight adds the int8 values and scales of w, as [K, N] (w
// transposed first when transposed is set), once per weight and layout.
func (r *rewriter) quantizeWeight(w *onnxpb.TensorProto, transposed bool) (quantWeight, error) {
	key := fmt.Sprintf("%s\x00%t", w.GetName(), transposed)
	if qw, ok := r.quant[key]; ok {
		return qw, nil
	}
	vals, err := floats(w)
	if err != nil {
		return quantWeight{}, err
	}
	rows, cols := int(w.GetDims()[0]), int(w.GetDims()[1])
	if transposed {
		t := make([]float32, len(vals))
		for i := range rows {
			for j := range cols {
				t[j*rows+i] = vals[i*cols+j]
			}
		}
		vals, rows, cols = t, cols, rows
	}
	qmax := float32(127)
	if r.opt.ReduceRange {
		qmax = 63
	}
	q, scales := QuantizeMatrix(vals, rows, cols, r.opt.PerChannel, qmax)
	raw := make([]byte, len(q))
	for i, v := range q {
		raw[i] = byte(v)
	}
	qw := quantWeight{values: r.unique(w.GetName() + "_quantized"), scale: r.unique(w.GetName() + "_scale")}
	r.newIni = append(r.newIni,
		&onnxpb.TensorProto{Name: proto.String(qw.values), DataType: proto.Int32(int32(onnxpb.TensorProto_INT8)), Dims: []int64{int64(rows), int64(cols)}, RawData: raw},
		floatTensor(qw.scale, scales, r.opt.PerChannel),
	)
	r.quant[key] = qw
	r.stats.WeightsBefore += int64(4 * len(vals))
	r.stats.WeightsAfter += int64(len(raw) + 4*len(scales))
	return qw, nil
}

// QuantizeMatrix quantizes a row-major [rows, cols] matrix symmetrically to
// integers in [-qmax, qmax]: w ≈ q × scale, with one scale for the whole
// matrix or, with perColumn, one per column. An all-zero matrix or column
// gets scale 1.
func QuantizeMatrix(w []float32, rows, cols int, perColumn bool, qmax float32) ([]int8, []float32) {
	nScales := 1
	if perColumn {
		nScales = cols
	}
	absMax := make([]float32, nScales)
	for i, v := range w {
		k := 0
		if perColumn {
			k = i % cols
		}
		absMax[k] = max(absMax[k], float32(math.Abs(float64(v))))
	}
	scales := make([]float32, nScales)
	for k, m := range absMax {
		scales[k] = 1
		if m > 0 && !math.IsInf(float64(m), 0) {
			scales[k] = m / qmax
		}
	}
	q := make([]int8, len(w))
	for i, v := range w {
		k := 0
		if perColumn {
			k = i % cols
		}
		x := math.RoundToEven(float64(v / scales[k]))
		q[i] = int8(max(-float64(qmax), min(float64(qmax), x)))
	}
	_ = rows
	return q, scales
}

// floats returns a float32 tensor's values.
func floats(t *onnxpb.TensorProto) ([]float32, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("%w: weight %s is stored in an external file", ErrUnsupported, t.GetName())
	}
	n := int64(1)
	for _, d := range t.GetDims() {
		if d < 0 {
			return nil, fmt.Errorf("quantize: weight %s has negative dimension %d", t.GetName(), d)
		}
		n *= d
	}
	if raw := t.GetRawData(); raw != nil {
		if int64(len(raw)) != 4*n {
			return nil, fmt.Errorf("quantize: weight %s: %d raw bytes for %d float32 values", t.GetName(), len(raw), n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	}
	if int64(len(t.GetFloatData())) != n {
		return nil, fmt.Errorf("quantize: weight %s: %d values for shape %v", t.GetName(), len(t.GetFloatData()), t.GetDims())
	}
	return slices.Clone(t.GetFloatData()), nil
}

// floatTensor makes a float32 initializer: a scalar, or a vector when vector
// is set.
func floatTensor(name string, vals []float32, vector bool) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
	if vector {
		t.Dims = []int64{int64(len(vals))}
	}
	return t
}

// Describe is a one-line summary of the options, for manifests and logs.
func (o Options) Describe() string {
	parts := []string{"int8 weights", "uint8 dynamic activations"}
	if o.PerChannel {
		parts = append(parts, "per-channel scales")
	} else {
		parts = append(parts, "per-tensor scales")
	}
	if o.ReduceRange {
		parts = append(parts, "7-bit weight range")
	}
	parts = append(parts, o.format()+" ops")
	return strings.Join(parts, ", ")
}
