package encoder

import (
	"fmt"
	"os"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"
)

// variant is one set of plain ONNX Runtime session options.
type variant struct {
	name string
	tune func(so *ort.SessionOptions) error
}

func level(l ort.GraphOptimizationLevel) func(*ort.SessionOptions) error {
	return func(so *ort.SessionOptions) error { return so.SetGraphOptimizationLevel(l) }
}

// variants times plain ONNX Runtime on t's image graph under the session
// options ONNX Runtime offers: graph optimization levels, a graph optimized
// once and saved (then loaded without optimizing), spinning off, spinning
// stopped when a run returns, memory
// arena off, one intra-op thread. Rounds are interleaved; medians reported.
func variants(t *tower, pixels []float32, b, n, threads, rounds int) ([]Variant, error) {
	dir, err := os.MkdirTemp("", "mmsearch-ort-variants-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	saved := filepath.Join(dir, "optimized.onnx")
	// Save the fully optimized graph once (layouts for this CPU included).
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	err = so.SetOptimizedModelFilePath(saved)
	if err == nil {
		var s *ort.DynamicAdvancedSession
		s, err = ort.NewDynamicAdvancedSession(t.path, []string{t.m.Manifest.Image.Input.Name}, []string{t.m.Manifest.Image.Output.Name}, so)
		if err == nil {
			s.Destroy()
		}
	}
	so.Destroy()
	if err != nil {
		return nil, fmt.Errorf("save optimized graph of %s: %w", t.path, err)
	}
	vs := []variant{
		{"default (optimization all, spinning on, arena on)", nil},
		{"optimization extended", level(ort.GraphOptimizationLevelEnableExtended)},
		{"optimization basic", level(ort.GraphOptimizationLevelEnableBasic)},
		{"optimization off", level(ort.GraphOptimizationLevelDisableAll)},
		{"spinning off", func(so *ort.SessionOptions) error {
			return so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0")
		}},
		{"spinning stopped when a run returns", func(so *ort.SessionOptions) error {
			return so.AddSessionConfigEntry("session.force_spinning_stop", "1")
		}},
		{"memory arena off", func(so *ort.SessionOptions) error { return so.SetCpuMemArena(false) }},
		{"1 intra-op thread", func(so *ort.SessionOptions) error { return so.SetIntraOpNumThreads(1) }},
		{"saved optimized graph, loaded with optimization off", level(ort.GraphOptimizationLevelDisableAll)},
	}
	perSec := make([][]rate, len(vs))
	loads := make([][]float64, len(vs))
	for r := 0; r < rounds; r++ {
		for i, v := range vs {
			path := t.path
			if i == len(vs)-1 {
				path = saved
			}
			p, load, err := plainImage(path, t.m.Manifest, pixels, b, n, threads, v.tune)
			if err != nil {
				return nil, fmt.Errorf("plain ONNX Runtime, %s: %w", v.name, err)
			}
			perSec[i], loads[i] = append(perSec[i], p), append(loads[i], load)
		}
	}
	out := make([]Variant, len(vs))
	for i, v := range vs {
		r, r0 := medianRate(perSec[i]), medianRate(perSec[0])
		out[i] = Variant{Model: t.label, Name: v.name, Batch: b, PerSec: r.wall, PerCPUSec: r.cpu, LoadMs: median(loads[i]), VsDefault: r.wall / r0.wall, CPUVsDefault: ratio(r.cpu, r0.cpu)}
	}
	return out, nil
}
