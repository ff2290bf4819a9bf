package encoder

import (
	"fmt"
	"os"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"

	"mmsearch/models/quantize"
)

// maxGraphBytes bounds an ONNX file read for counting.
const maxGraphBytes = 2 << 30

// ImageFLOPs counts the operations of one image through the image graph at
// path (input name, size×size pixels): the matrix products and
// convolutions of the graph, with the shapes of their inputs and outputs
// seen in one run of the graph on one image (those values are added to the
// graph's outputs for that run). ONNX Runtime must be started.
func ImageFLOPs(path, input string, size int) (quantize.Count, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return quantize.Count{}, err
	}
	if len(data) > maxGraphBytes {
		return quantize.Count{}, fmt.Errorf("count FLOPs: %s is larger than %d bytes", path, maxGraphBytes)
	}
	names, err := quantize.Shapes(data)
	if err != nil {
		return quantize.Count{}, err
	}
	if len(names) == 0 {
		return quantize.FLOPs(data, nil)
	}
	exposed, err := quantize.WithOutputs(data, names)
	if err != nil {
		return quantize.Count{}, err
	}
	dir, err := os.MkdirTemp("", "mmsearch-flops-")
	if err != nil {
		return quantize.Count{}, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "exposed.onnx")
	if err := os.WriteFile(tmp, exposed, 0o644); err != nil {
		return quantize.Count{}, err
	}
	s, err := ort.NewDynamicAdvancedSession(tmp, []string{input}, names, nil)
	if err != nil {
		return quantize.Count{}, fmt.Errorf("count FLOPs of %s: %w", path, err)
	}
	defer s.Destroy()
	in, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 3, int64(size), int64(size)))
	if err != nil {
		return quantize.Count{}, err
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(names))
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		return quantize.Count{}, fmt.Errorf("count FLOPs of %s: %w", path, err)
	}
	shapes := map[string][]int64{}
	for i, v := range outs {
		if v != nil {
			shapes[names[i]] = []int64(v.GetShape())
			v.Destroy()
		}
	}
	return quantize.FLOPs(data, shapes)
}
