package encoders

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

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
	// Spin says when ONNX Runtime's worker threads may busy-wait for work
	// (default SpinDuringRun).
	Spin SpinMode
	// Device is DeviceCPU (""), DeviceCUDA or DeviceAuto.
	Device string
	// GraphCache is a folder where each tower's graph is kept once ONNX
	// Runtime has optimized it, in ONNX Runtime's own format, so later
	// sessions load it instead of parsing and optimizing the .onnx file
	// again ("" = no cache). Files are named by the tower's sha256, the ONNX
	// Runtime version and the architecture; only hardware-independent
	// (extended) optimizations are saved. The cache serves CPU sessions
	// only: a session on DeviceCUDA or DeviceAuto loads the .onnx file.
	GraphCache string
	// NoPrepack skips ONNX Runtime's prepacking of weights into its
	// kernels' layouts when the session opens. The session opens sooner
	// (the bundled text tower: about 60 ms instead of 77 here) and each run
	// is slower (its first run 6 ms instead of 3.5): the better trade for a
	// process that encodes a query or two and exits, the worse for anything
	// that runs the graph many times.
	NoPrepack bool
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
	mapped  []byte // the memory-mapped ORT-format graph the session reads its weights from, or nil
}

// newSession opens the graph at path, whose sha256 is digest (verified by
// the caller), through opt.GraphCache when one is set.
func newSession(path, digest string, inputs, outputs []string, opt SessionOptions) (*session, error) {
	if opt.GraphCache == "" || len(digest) < 32 || !cpuOnly(opt.Device) {
		return openSession(path, "", inputs, outputs, opt)
	}
	cached := filepath.Join(opt.GraphCache, fmt.Sprintf("%s-ort%s-%s.ort", digest[:32], ort.GetVersion(), runtime.GOARCH))
	if _, err := os.Stat(cached); err == nil {
		s, err := openMapped(cached, inputs, outputs, opt)
		if err == nil {
			s.path = path
			return s, nil
		}
		os.Remove(cached) // unreadable: make it again below
	}
	if err := os.MkdirAll(opt.GraphCache, 0o755); err != nil {
		return openSession(path, "", inputs, outputs, opt)
	}
	f, err := os.CreateTemp(opt.GraphCache, "."+filepath.Base(cached)+".tmp-*.ort")
	if err != nil {
		return openSession(path, "", inputs, outputs, opt)
	}
	tmp := f.Name()
	f.Close()
	s, err := openSession(path, tmp, inputs, outputs, opt)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if os.Rename(tmp, cached) != nil {
		os.Remove(tmp) // a cache that cannot be written costs only time
	}
	return s, nil
}

// openMapped opens a cached ORT-format graph by mapping it into memory: the
// session reads its weights from the mapping instead of copying them, which
// for a large tower saves most of the start-up. The mapping lives as long as
// the session.
func openMapped(path string, inputs, outputs []string, opt SessionOptions) (*session, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() <= 0 || fi.Size() > maxMappedGraph {
		return nil, fmt.Errorf("graph cache %s: size %d", path, fi.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	s, err := openSessionFrom(path, data, "", inputs, outputs, opt)
	if err != nil {
		syscall.Munmap(data)
		return nil, err
	}
	s.mapped = data
	return s, nil
}

// cpuOnly reports whether device names the CPU alone, the one device the
// graph cache serves: a graph optimized with the CUDA provider present may
// hold nodes assigned to it, and auto decides only when the session opens.
func cpuOnly(device string) bool {
	d, err := ParseDevice(device)
	return err == nil && d == DeviceCPU
}

// maxMappedGraph bounds a cached graph (the largest CLIP towers are ~1.3 GB).
const maxMappedGraph = 8 << 30

// openSession creates the ONNX Runtime session of the graph at path; with
// saveTo set it also writes the graph, optimized to the hardware-independent
// (extended) level, in ONNX Runtime format to saveTo.
func openSession(path, saveTo string, inputs, outputs []string, opt SessionOptions) (*session, error) {
	return openSessionFrom(path, nil, saveTo, inputs, outputs, opt)
}

// openSessionFrom is openSession reading the graph from ortBytes (an
// ORT-format graph the session may keep pointers into) when it is not nil.
func openSessionFrom(path string, ortBytes []byte, saveTo string, inputs, outputs []string, opt SessionOptions) (*session, error) {
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
	for _, kv := range opt.Spin.configEntries() {
		if err := so.AddSessionConfigEntry(kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("session options for %s: %w", path, err)
		}
	}
	if opt.NoPrepack {
		if err := so.AddSessionConfigEntry("session.disable_prepacking", "1"); err != nil {
			return nil, fmt.Errorf("session options for %s: %w", path, err)
		}
	}
	device, err := useDevice(so, opt.Device)
	if err != nil {
		return nil, fmt.Errorf("session for %s: %w", path, err)
	}
	if saveTo != "" {
		if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableExtended); err != nil {
			return nil, fmt.Errorf("session options for %s: %w", path, err)
		}
		if err := so.SetOptimizedModelFilePath(saveTo); err != nil {
			return nil, fmt.Errorf("session options for %s: %w", path, err)
		}
	}
	var s *ort.DynamicAdvancedSession
	if ortBytes != nil {
		for _, kv := range [][2]string{
			{"session.load_model_format", "ORT"},
			{"session.use_ort_model_bytes_directly", "1"},
			{"session.use_ort_model_bytes_for_initializers", "1"},
		} {
			if err := so.AddSessionConfigEntry(kv[0], kv[1]); err != nil {
				return nil, fmt.Errorf("session options for %s: %w", path, err)
			}
		}
		s, err = ort.NewDynamicAdvancedSessionWithONNXData(ortBytes, inputs, outputs, so)
	} else {
		s, err = ort.NewDynamicAdvancedSession(path, inputs, outputs, so)
	}
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
	if s.mapped != nil {
		if merr := syscall.Munmap(s.mapped); err == nil {
			err = merr
		}
		s.mapped = nil
	}
	return err
}
