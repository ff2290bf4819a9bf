package encoders

import (
	"errors"
	"fmt"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"
)

// ErrChecksum is returned when an ONNX file's digest differs from the manifest.
var ErrChecksum = errors.New("checksum mismatch")

// ErrGraph is returned when an ONNX graph's inputs or outputs differ from the manifest.
var ErrGraph = errors.New("graph does not match manifest")

// VerifyFiles checks the sha256 digest of both ONNX files against the manifest.
func VerifyFiles(dir string, m *Manifest) error {
	for _, f := range []struct{ tower, rel, want string }{
		{"image", m.Image.ONNX, m.Image.SHA256},
		{"text", m.Text.ONNX, m.Text.SHA256},
	} {
		got, err := FileSHA256(filepath.Join(dir, f.rel))
		if err != nil {
			return fmt.Errorf("%s tower: %w", f.tower, err)
		}
		if got != f.want {
			return fmt.Errorf("%w: %s tower %s: sha256 %s, manifest says %s", ErrChecksum, f.tower, f.rel, got, f.want)
		}
	}
	return nil
}

var dtypeNames = map[string]ort.TensorElementDataType{
	"float32": ort.TensorElementDataTypeFloat,
	"int64":   ort.TensorElementDataTypeInt64,
	"int32":   ort.TensorElementDataTypeInt32,
}

// VerifyGraphs opens both ONNX graphs and checks that every input and output
// the manifest declares exists with the declared element type, that the graphs
// need no other inputs, and that static output widths equal embedding_dim.
// The ONNX Runtime environment must be started.
func VerifyGraphs(dir string, m *Manifest) error {
	img := []TensorSpec{m.Image.Input}
	txt := []TensorSpec{m.Text.InputIDs}
	if m.Text.AttentionMask != nil {
		txt = append(txt, *m.Text.AttentionMask)
	}
	imgRank, txtRank := 2, 2
	if m.Text.Pooling == PoolingArgmaxEOT {
		txtRank = 3
	}
	if err := verifyGraph("image", filepath.Join(dir, m.Image.ONNX), img, m.Image.Output, imgRank, m.EmbeddingDim); err != nil {
		return err
	}
	textPath := filepath.Join(dir, m.Text.ONNX)
	if err := verifyGraph("text", textPath, txt, m.Text.Output, txtRank, m.EmbeddingDim); err != nil {
		return err
	}
	if m.Text.TrimPadding {
		return verifyDynamicSequence(textPath, txt)
	}
	return nil
}

// verifyDynamicSequence checks that the text inputs accept any sequence
// length, which trim_padding needs.
func verifyDynamicSequence(path string, inputs []TensorSpec) error {
	ins, _, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return fmt.Errorf("text tower: read graph %s: %w", path, err)
	}
	for _, in := range inputs {
		for _, info := range ins {
			if info.Name != in.Name {
				continue
			}
			if d := info.Dimensions; len(d) != 2 || d[1] > 0 {
				return fmt.Errorf("%w: text tower: trim_padding needs a dynamic sequence axis, input %q has shape %v", ErrGraph, in.Name, d)
			}
		}
	}
	return nil
}

func verifyGraph(tower, path string, inputs []TensorSpec, output TensorSpec, rank, dim int) error {
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return fmt.Errorf("%s tower: read graph %s: %w", tower, path, err)
	}
	byName := func(list []ort.InputOutputInfo, name string) *ort.InputOutputInfo {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
		return nil
	}
	names := func(list []ort.InputOutputInfo) []string {
		var s []string
		for _, x := range list {
			s = append(s, x.Name)
		}
		return s
	}
	for _, in := range inputs {
		info := byName(ins, in.Name)
		if info == nil {
			return fmt.Errorf("%w: %s tower: no input %q (graph inputs: %v)", ErrGraph, tower, in.Name, names(ins))
		}
		if want := dtypeNames[in.DType]; info.DataType != want {
			return fmt.Errorf("%w: %s tower: input %q is %v, manifest says %s", ErrGraph, tower, in.Name, info.DataType, in.DType)
		}
	}
	if len(ins) != len(inputs) {
		return fmt.Errorf("%w: %s tower: graph has inputs %v, manifest declares %d", ErrGraph, tower, names(ins), len(inputs))
	}
	info := byName(outs, output.Name)
	if info == nil {
		return fmt.Errorf("%w: %s tower: no output %q (graph outputs: %v)", ErrGraph, tower, output.Name, names(outs))
	}
	if want := dtypeNames[output.DType]; info.DataType != want {
		return fmt.Errorf("%w: %s tower: output %q is %v, manifest says %s", ErrGraph, tower, output.Name, info.DataType, output.DType)
	}
	if d := info.Dimensions; len(d) > 0 {
		if len(d) != rank {
			return fmt.Errorf("%w: %s tower: output %q has rank %d, want %d", ErrGraph, tower, output.Name, len(d), rank)
		}
		if last := d[len(d)-1]; last > 0 && int(last) != dim {
			return fmt.Errorf("%w: %s tower: output %q width %d, manifest embedding_dim %d", ErrGraph, tower, output.Name, last, dim)
		}
	}
	return nil
}
