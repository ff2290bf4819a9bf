package quantize

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/models/quantize/onnxpb"
)

func startORT(t *testing.T) {
	t.Helper()
	if _, err := encoders.StartRuntime(encoders.RuntimeOptions{}); err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func TestQuantizeMatrix(t *testing.T) {
	w := []float32{
		1.0, -0.02, 0,
		-0.5, 0.01, 0,
		0.25, 0.04, 0,
	}
	for _, tc := range []struct {
		name       string
		perColumn  bool
		qmax       float32
		wantScales []float32
	}{
		{"per tensor", false, 127, []float32{1.0 / 127}},
		{"per column", true, 127, []float32{1.0 / 127, 0.04 / 127, 1}},
		{"per column reduced range", true, 63, []float32{1.0 / 63, 0.04 / 63, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, scales := QuantizeMatrix(w, 3, 3, tc.perColumn, tc.qmax)
			if len(scales) != len(tc.wantScales) {
				t.Fatalf("%d scales, want %d", len(scales), len(tc.wantScales))
			}
			for i := range scales {
				if math.Abs(float64(scales[i]-tc.wantScales[i])) > 1e-9 {
					t.Errorf("scale[%d] = %g, want %g", i, scales[i], tc.wantScales[i])
				}
			}
			for i, v := range w {
				s := scales[0]
				if tc.perColumn {
					s = scales[i%3]
				}
				if float32(q[i]) > tc.qmax || float32(q[i]) < -tc.qmax {
					t.Errorf("q[%d] = %d outside ±%g", i, q[i], tc.qmax)
				}
				if d := math.Abs(float64(float32(q[i])*s - v)); d > float64(s)/2+1e-7 {
					t.Errorf("w[%d] = %g comes back as %g (error %g > scale/2)", i, v, float32(q[i])*s, d)
				}
			}
			if q[0] != int8(tc.qmax) {
				t.Errorf("largest weight quantized to %d, want %g", q[0], tc.qmax)
			}
		})
	}
}

// gemmModel builds Y = Gemm(X, W, C, transB) with X [batch, k] and W stored
// as [n, k] (transB) or [k, n].
func gemmModel(t *testing.T, k, n int, transB, bias bool, opset int64) ([]byte, []float32, []float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(rng.NormFloat64()) * 0.1
	}
	c := make([]float32, n)
	for i := range c {
		c[i] = float32(rng.NormFloat64())
	}
	dims := []int64{int64(k), int64(n)}
	if transB {
		dims = []int64{int64(n), int64(k)}
	}
	wt := floatTensor("W", w, true)
	wt.Dims = dims
	node := &onnxpb.NodeProto{OpType: proto.String("Gemm"), Name: proto.String("fc"), Input: []string{"X", "W"}, Output: []string{"Y"}}
	if transB {
		node.Attribute = append(node.Attribute, &onnxpb.AttributeProto{Name: proto.String("transB"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(1)})
	}
	inits := []*onnxpb.TensorProto{wt}
	if bias {
		node.Input = append(node.Input, "C")
		inits = append(inits, floatTensor("C", c, true))
	}
	vi := func(name string, d1 int64) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
				{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}},
				{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d1}},
			}}}}}}
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(7),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(opset)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("g"), Node: []*onnxpb.NodeProto{node}, Initializer: inits,
			Input: []*onnxpb.ValueInfoProto{vi("X", int64(k))}, Output: []*onnxpb.ValueInfoProto{vi("Y", int64(n))}},
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data, w, c
}

// runGraph runs a one-input, one-output float graph in ONNX Runtime.
func runGraph(t *testing.T, model []byte, x []float32, batch, k int) []float32 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSession(path, []string{"X"}, []string{"Y"}, nil)
	if err != nil {
		t.Fatalf("load quantized graph in ONNX Runtime: %v", err)
	}
	defer s.Destroy()
	in, err := ort.NewTensor(ort.NewShape(int64(batch), int64(k)), x)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		t.Fatalf("run: %v", err)
	}
	defer outs[0].Destroy()
	return append([]float32(nil), outs[0].(*ort.Tensor[float32]).GetData()...)
}

// TestGraphGemm quantizes a Gemm in every layout and format, runs the result
// in ONNX Runtime and compares it with the float32 graph.
func TestGraphGemm(t *testing.T) {
	startORT(t)
	const k, n, batch = 64, 24, 5
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*k)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, tc := range []struct {
		name          string
		transB, bias  bool
		opt           Options
		wantOps       []string
		wantInitBytes int64
	}{
		{"fused per tensor transB bias", true, true, Options{}, []string{"DynamicQuantizeMatMul"}, k*n + 4},
		{"fused per channel no bias", false, false, Options{PerChannel: true}, []string{"DynamicQuantizeMatMul"}, k*n + 4*n},
		{"integer per channel transB bias", true, true, Options{PerChannel: true, Format: FormatInteger},
			[]string{"DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul", "Add"}, k*n + 4*n},
		{"integer reduced range", false, true, Options{Format: FormatInteger, ReduceRange: true},
			[]string{"DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul", "Add"}, k*n + 4},
		{"fused per channel reduced range transB bias", true, true, Options{PerChannel: true, ReduceRange: true}, []string{"DynamicQuantizeMatMul"}, k*n + 4*n},
		{"integer per channel reduced range", false, false, Options{PerChannel: true, ReduceRange: true, Format: FormatInteger},
			[]string{"DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul"}, k*n + 4*n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model, w, c := gemmModel(t, k, n, tc.transB, tc.bias, 14)
			q, stats, err := Graph(model, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Quantized != 1 || stats.WeightsBefore != 4*k*n || stats.WeightsAfter != tc.wantInitBytes {
				t.Errorf("stats %+v, want 1 node, %d -> %d weight bytes", stats, 4*k*n, tc.wantInitBytes)
			}
			var m onnxpb.ModelProto
			if err := proto.Unmarshal(q, &m); err != nil {
				t.Fatal(err)
			}
			var ops []string
			for _, nd := range m.GetGraph().GetNode() {
				ops = append(ops, nd.GetOpType())
			}
			if len(ops) != len(tc.wantOps) {
				t.Fatalf("ops %v, want %v", ops, tc.wantOps)
			}
			for i := range ops {
				if ops[i] != tc.wantOps[i] {
					t.Fatalf("ops %v, want %v", ops, tc.wantOps)
				}
			}
			for _, ini := range m.GetGraph().GetInitializer() {
				if ini.GetName() == "W" {
					t.Errorf("the float32 weight W is still in the graph")
				}
			}
			want := runGraph(t, model, x, batch, k)
			got := runGraph(t, q, x, batch, k)
			if len(got) != len(want) {
				t.Fatalf("%d outputs, want %d", len(got), len(want))
			}
			for r := range batch {
				if c := cosine(want[r*n:(r+1)*n], got[r*n:(r+1)*n]); c < 0.995 {
					t.Errorf("row %d: cosine(float32, int8) = %.5f, want ≥ 0.995", r, c)
				}
			}
			// ONNX Runtime computes exactly the integer arithmetic intended:
			// always with 7-bit weights; with 8-bit weights only where the
			// CPU has VNNI (AVX2's vpmaddubsw sums uint8×int8 pairs in
			// saturating 16-bit lanes, which 255×127×2 overflows).
			if !tc.opt.ReduceRange && !cpuHasVNNI() {
				return
			}
			ref := int8Reference(x, w, c, batch, k, n, tc.transB, tc.bias, tc.opt)
			for i := range ref {
				if d := math.Abs(float64(got[i] - ref[i])); d > 1e-4*(1+math.Abs(float64(ref[i]))) {
					t.Fatalf("output %d = %g, the int8 arithmetic gives %g", i, got[i], ref[i])
				}
			}
		})
	}
}

// int8Reference computes x·w (+c) the way the quantized graph should:
// x by DynamicQuantizeLinear (uint8, one scale for the whole tensor), w by
// QuantizeMatrix, an exact integer product, then the scales.
func int8Reference(x, w, c []float32, batch, k, n int, transB, bias bool, opt Options) []float32 {
	if transB {
		t := make([]float32, len(w))
		for i := range n {
			for j := range k {
				t[j*n+i] = w[i*k+j]
			}
		}
		w = t
	}
	qmax := float32(127)
	if opt.ReduceRange {
		qmax = 63
	}
	qw, ws := QuantizeMatrix(w, k, n, opt.PerChannel, qmax)
	lo, hi := float32(0), float32(0)
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	xs := (hi - lo) / 255
	zp := float32(math.RoundToEven(float64(-lo / xs)))
	qx := make([]int32, len(x))
	for i, v := range x {
		qx[i] = int32(max(0, min(255, float32(math.RoundToEven(float64(v/xs)))+zp)))
	}
	out := make([]float32, batch*n)
	for r := range batch {
		for j := range n {
			var acc int32
			for i := range k {
				acc += (qx[r*k+i] - int32(zp)) * int32(qw[i*n+j])
			}
			s := ws[0]
			if opt.PerChannel {
				s = ws[j]
			}
			out[r*n+j] = float32(acc) * (xs * s)
			if bias {
				out[r*n+j] += c[j]
			}
		}
	}
	return out
}

// cpuHasVNNI reports whether /proc/cpuinfo lists AVX-512 VNNI or AVX-VNNI.
func cpuHasVNNI() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(b)) {
		if f == "avx512_vnni" || f == "avx_vnni" {
			return true
		}
	}
	return false
}

func TestGraphErrors(t *testing.T) {
	good, _, _ := gemmModel(t, 8, 4, false, false, 14)
	old, _, _ := gemmModel(t, 8, 4, false, false, 10)
	var ext onnxpb.ModelProto
	if err := proto.Unmarshal(good, &ext); err != nil {
		t.Fatal(err)
	}
	w := ext.Graph.Initializer[0]
	w.RawData = nil
	w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("weights.bin")}}
	external, _ := proto.Marshal(&ext)
	noGraph, _ := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(7)})
	for _, tc := range []struct {
		name  string
		model []byte
		opt   Options
		is    error
	}{
		{"not protobuf", []byte("this is not an ONNX model \xff\xff\xff"), Options{}, nil},
		{"no graph", noGraph, Options{}, ErrUnsupported},
		{"opset 10", old, Options{}, ErrUnsupported},
		{"external weights", external, Options{}, ErrUnsupported},
		{"unknown format", good, Options{Format: "qdq"}, nil},
		{"negative min elements", good, Options{MinElements: -1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Graph(tc.model, tc.opt)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

// TestGraphKeepsSmallAndActivationProducts checks what stays float32: a
// weight below MinElements, and a MatMul of two activations.
func TestGraphKeepsSmallWeights(t *testing.T) {
	model, _, _ := gemmModel(t, 8, 4, false, false, 14)
	out, stats, err := Graph(model, Options{MinElements: 33})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Quantized != 0 || stats.Kept["weight below min_elements"] != 1 {
		t.Errorf("stats %+v, want the 32-element weight kept", stats)
	}
	if !proto.Equal(mustModel(t, out), mustModel(t, model)) {
		t.Error("a graph with nothing to quantize changed")
	}
}

func mustModel(t *testing.T, b []byte) *onnxpb.ModelProto {
	t.Helper()
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// tinyModels are the test models of encoders/testdata: real ONNX exports
// with one MatMul per tower.
var tinyModels = []string{"../../encoders/testdata/tiny", "../../encoders/testdata/tiny2"}

// TestModelTiny quantizes the tiny test models, checks the new folder
// verifies (digests, graphs) and loads in ONNX Runtime, and that its
// embeddings stay within tolerance of the float32 model's.
func TestModelTiny(t *testing.T) {
	startORT(t)
	ctx := context.Background()
	for _, src := range tinyModels {
		for _, opt := range []Options{{}, {PerChannel: true}, {Format: FormatInteger, PerChannel: true}} {
			t.Run(filepath.Base(src)+"/"+opt.Describe(), func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "tiny-int8")
				res, err := Model(ctx, src, dst, ModelOptions{Options: opt, Name: "tiny-int8"})
				if err != nil {
					t.Fatal(err)
				}
				if res.Image.Quantized != 1 || res.Text.Quantized != 1 {
					t.Errorf("quantized image %d, text %d nodes; want 1 each", res.Image.Quantized, res.Text.Quantized)
				}
				m, err := encoders.ReadManifest(dst)
				if err != nil {
					t.Fatal(err)
				}
				if err := encoders.VerifyFiles(dst, m); err != nil {
					t.Error(err)
				}
				if err := encoders.VerifyGraphs(dst, m); err != nil {
					t.Error(err)
				}
				srcM, _ := encoders.ReadManifest(src)
				q := m.Quantization
				if m.Name != "tiny-int8" || q == nil || q.SourceModel != srcM.Name || q.SourceFingerprint != srcM.Fingerprint() ||
					q.PerChannel != opt.PerChannel || q.Format != opt.format() || m.Fingerprint() == srcM.Fingerprint() {
					t.Errorf("manifest name %q quantization %+v does not record source %s and options %+v", m.Name, q, srcM.Name, opt)
				}
				// The tiny text towers feed raw token ids (0..4095) to their
				// MatMul as float activations: uint8 activation quantization
				// steps 16 ids there, so text vectors move more than image ones.
				compareModels(t, src, dst, 0.99, 0.85)
			})
		}
	}
}

// compareModels encodes the same pixels and phrases with both models and
// requires every cosine(float32, int8) ≥ minCos; it returns the mean image
// and text cosines.
func compareModels(t *testing.T, fp32Dir, int8Dir string, minImageCos, minTextCos float64) (imageMean, textMean float64) {
	t.Helper()
	ctx := context.Background()
	encode := func(dir string, pixels []float32, n int, phrases []string) ([][]float32, [][]float32) {
		m, err := encoders.OpenModel(dir, encoders.RuntimeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ie, err := encoders.NewImageEncoder(m, encoders.SessionOptions{IntraOpThreads: 1})
		if err != nil {
			t.Fatalf("open %s image tower in ONNX Runtime: %v", dir, err)
		}
		defer ie.Close()
		iv, err := ie.EncodeTensors(ctx, pixels, n)
		if err != nil {
			t.Fatal(err)
		}
		te, err := encoders.NewTextEncoder(m, encoders.SessionOptions{IntraOpThreads: 1})
		if err != nil {
			t.Fatalf("open %s text tower in ONNX Runtime: %v", dir, err)
		}
		defer te.Close()
		tv, err := te.EncodeTexts(ctx, phrases)
		if err != nil {
			t.Fatal(err)
		}
		return iv, tv
	}
	m, err := encoders.ReadManifest(fp32Dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	size := m.Image.Size
	rng := rand.New(rand.NewPCG(3, 4))
	pixels := make([]float32, n*3*size*size)
	for i := range pixels {
		pixels[i] = float32(rng.NormFloat64())
	}
	phrases := []string{"dog", "a red heart", "woman cook", "cat face", "sunset over the sea", "blue car", "thumbs up", "pizza"}
	fi, ft := encode(fp32Dir, pixels, n, phrases)
	qi, qt := encode(int8Dir, pixels, n, phrases)
	mean := func(kind string, a, b [][]float32, minCos float64) float64 {
		s := 0.0
		for i := range a {
			c := cosine(a[i], b[i])
			if c < minCos {
				t.Errorf("%s %d: cosine(float32, int8) = %.5f, want ≥ %.3f", kind, i, c, minCos)
			}
			s += c
		}
		return s / float64(len(a))
	}
	return mean("image", fi, qi, minImageCos), mean("text", ft, qt, minTextCos)
}

func TestModelRefusals(t *testing.T) {
	startORT(t)
	ctx := context.Background()
	src := tinyModels[0]
	dir := t.TempDir()
	dst := filepath.Join(dir, "q")
	if _, err := Model(ctx, src, dst, ModelOptions{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dst, encoders.ManifestFile))

	if _, err := Model(ctx, src, dst, ModelOptions{Name: "q"}); !errors.Is(err, ErrExists) {
		t.Errorf("second quantize into %s: %v, want ErrExists", dst, err)
	}
	if after, _ := os.ReadFile(filepath.Join(dst, encoders.ManifestFile)); string(after) != string(before) {
		t.Error("a refused quantize changed the existing model")
	}
	if _, err := Model(ctx, dst, filepath.Join(dir, "qq"), ModelOptions{Name: "qq"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("quantizing a quantized model: %v, want ErrUnsupported", err)
	}
	if _, err := Model(ctx, src, filepath.Join(dir, "noname"), ModelOptions{}); err == nil {
		t.Error("a model without a name was written")
	}
	// A source whose ONNX file differs from its manifest is refused.
	bad := filepath.Join(dir, "bad")
	if _, err := Model(ctx, src, bad, ModelOptions{Name: "bad"}); err != nil {
		t.Fatal(err)
	}
	m, _ := encoders.ReadManifest(bad)
	m.Quantization = nil
	if err := encoders.WriteManifest(bad, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, m.Image.ONNX), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Model(ctx, bad, filepath.Join(dir, "out"), ModelOptions{Name: "out"}); !errors.Is(err, encoders.ErrChecksum) {
		t.Errorf("tampered source: %v, want ErrChecksum", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Error("a failed quantize left an output folder")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) != "" || len(e.Name()) > 8 {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

// TestModelBundledParity quantizes the bundled model (trained weights) with
// the default settings and with 8-bit weights, and checks its embeddings
// against the float32 model: random pixels, the reference emoji pictures
// and phrases; every cosine ≥ 0.98, the means ≥ 0.99 (the gate of
// bench int8, which measures the whole held-out set).
func TestModelBundledParity(t *testing.T) {
	startORT(t)
	const bundled = "../../onnx-models/emoji-clip"
	pictures, err := filepath.Glob(filepath.Join(bundled, "reference", "*.png"))
	if err != nil || len(pictures) < 4 {
		t.Fatalf("reference pictures: %v %v", pictures, err)
	}
	full := DefaultOptions()
	full.ReduceRange = false
	for _, opt := range []Options{DefaultOptions(), full} {
		t.Run(opt.Describe(), func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "emoji-clip-int8")
			res, err := Model(context.Background(), bundled, dst, ModelOptions{Name: "emoji-clip-int8", Options: opt})
			if err != nil {
				t.Fatal(err)
			}
			// The image tower is a CNN: only its projection is a MatMul. The
			// text tower has 25 MatMuls: 17 by weight matrices, 8 attention
			// products of two activations, which stay float32.
			if res.Image.Quantized != 1 || res.Text.Quantized != 17 || res.Text.Kept["weight not constant"] != 8 {
				t.Fatalf("quantized image %d, text %d nodes", res.Image.Quantized, res.Text.Quantized)
			}
			img, txt := compareModels(t, bundled, dst, 0.98, 0.98)
			pics := compareFiles(t, bundled, dst, pictures)
			t.Logf("mean cosine(float32, int8): random pixels %.5f, pictures %.5f, text %.5f; ONNX bytes %d -> %d", img, pics, txt, res.SourceBytes, res.Bytes)
			if img < 0.99 || txt < 0.99 || pics < 0.99 {
				t.Errorf("mean cosine(float32, int8): random pixels %.5f, pictures %.5f, text %.5f; want ≥ 0.99", img, pics, txt)
			}
		})
	}
}

// compareFiles encodes picture files with both models and returns the mean
// cosine; every one must be ≥ 0.98.
func compareFiles(t *testing.T, fp32Dir, int8Dir string, files []string) float64 {
	t.Helper()
	var vecs [2][][]float32
	for i, dir := range []string{fp32Dir, int8Dir} {
		m, err := encoders.OpenModel(dir, encoders.RuntimeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := encoders.NewImageEncoder(m, encoders.SessionOptions{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		v, errs, err := enc.EncodeFiles(context.Background(), files, imageproc.Options{})
		enc.Close()
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range errs {
			if e != nil {
				t.Fatalf("%s: %v", files[j], e)
			}
		}
		vecs[i] = v
	}
	sum := 0.0
	for j := range files {
		c := cosine(vecs[0][j], vecs[1][j])
		if c < 0.98 {
			t.Errorf("%s: cosine(float32, int8) = %.5f, want ≥ 0.98", files[j], c)
		}
		sum += c
	}
	return sum / float64(len(files))
}
