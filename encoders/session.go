package encoders

import (
	"fmt"
	"runtime"

	ort "github.com/yalue/onnxruntime_go"
)

// SessionOptions tunes the ONNX Runtime sessions of an encoder.
type SessionOptions struct {
	// IntraOpThreads is the number of threads one inference may use
	// (0 = ONNX Runtime's default, one per core).
	IntraOpThreads int
	// MaxBatch caps how many inputs go into one inference; larger requests are
	// split (0 = 32).
	MaxBatch int
	// Spin lets ONNX Runtime's worker threads busy-wait between parallel
	// sections. It can shave latency off a lone inference, but it takes the
	// cores away from the decode workers of an ingest, so it is off by default.
	Spin bool
	// Device is DeviceCPU (""), DeviceCUDA or DeviceAuto.
	Device string
}

func (o SessionOptions) maxBatch() int {
	if o.MaxBatch <= 0 {
		return 32
	}
	return o.MaxBatch
}

// session is one ONNX graph ready to run with dynamic shapes. ONNX Runtime
// allows concurrent Run calls on one session, so a session is shared by all
// callers of an encoder.
type session struct {
	path    string
	threads int    // intra-op threads of one inference
	device  string // DeviceCPU or DeviceCUDA: where it runs
	inputs  []string
	outputs []string
	s       *ort.DynamicAdvancedSession
}

func newSession(path string, inputs, outputs []string, opt SessionOptions) (*session, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options for %s: %w", path, err)
	}
	defer so.Destroy()
	threads := opt.IntraOpThreads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("session options for %s: %w", path, err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("session options for %s: %w", path, err)
	}
	if !opt.Spin {
		if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return nil, fmt.Errorf("session options for %s: %w", path, err)
		}
	}
	device, err := useDevice(so, opt.Device)
	if err != nil {
		return nil, fmt.Errorf("session for %s: %w", path, err)
	}
	s, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, so)
	if err != nil {
		return nil, fmt.Errorf("load ONNX graph %s: %w", path, err)
	}
	return &session{path: path, threads: threads, device: device, inputs: inputs, outputs: outputs, s: s}, nil
}

// run runs the graph on inputs and returns the first output, which the
// caller must Destroy.
func (s *session) run(inputs []ort.Value) (*ort.Tensor[float32], error) {
	outs := make([]ort.Value, len(s.outputs))
	if err := s.s.Run(inputs, outs); err != nil {
		return nil, fmt.Errorf("run %s: %w", s.path, err)
	}
	for _, o := range outs[1:] {
		if o != nil {
			o.Destroy()
		}
	}
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		if outs[0] != nil {
			outs[0].Destroy()
		}
		return nil, fmt.Errorf("run %s: output %s is not a float32 tensor", s.path, s.outputs[0])
	}
	return t, nil
}

func (s *session) close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}
