package ann

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"mmsearch/bench/peers"
	"mmsearch/index"
	"mmsearch/index/coderhnsw"
	"mmsearch/index/flat"
	"mmsearch/index/hnsw"
)

// Backend names as they appear in flags, reports and plots.
const (
	BackendHNSW      = "mmsearch-hnsw"
	BackendFlat      = "flat"
	BackendCoderHNSW = "coderhnsw"
	BackendHnswlib   = "hnswlib"
	BackendFAISS     = "faiss"
	// BackendWeaviateHNSW is Weaviate's Go HNSW package, run as the peer
	// binary bench/peers/weaviatehnsw (built by `make setup-peers`).
	BackendWeaviateHNSW = "weaviate-hnsw"
)

// PeerNames lists the peers Config.Peers accepts.
var PeerNames = []string{BackendHnswlib, BackendFAISS, BackendCoderHNSW, BackendWeaviateHNSW}

// DefaultEfs is the ef sweep used when Config.Efs is empty.
var DefaultEfs = []int{10, 16, 24, 32, 48, 64, 96, 128, 256, 512}

// RecallLevels are the k of the recall@k figures every point reports.
var RecallLevels = []int{1, 10, 100}

// TargetRecall and HighRecall are the recall@10 levels the headline reports.
const (
	TargetRecall = 0.95
	HighRecall   = 0.99
)

// Config is one benchmark run.
type Config struct {
	Dataset *Dataset
	// Metric ranks neighbours; index.Cosine expects unit vectors (the
	// caller normalizes loaded data). Peers use inner product for Cosine and
	// InnerProduct, L2 for L2.
	Metric         index.Metric
	M              int   // HNSW links per node (layer 0 keeps 2M); 0 means 16
	EfConstruction int   // 0 means 200
	Efs            []int // search beam widths swept; nil means DefaultEfs
	K              int   // results per timed search; 0 means 10; at most 100
	Seed           int64 // HNSW level seed (ours and hnswlib)
	// Peers selects the peers: any of PeerNames. Our HNSW and flat always run.
	Peers []string
	// Python is the interpreter for the Python peers; "" means Debian's.
	Python string
	// PeerCacheDir is the mmsearch cache folder holding the Go peer
	// binaries (see GoPeerPath). A selected Go peer whose binary is absent
	// is skipped, with the reason in Result.Skipped.
	PeerCacheDir string
	// InstallPeers lets the run install missing Python peers with apt-get
	// when it runs as root.
	InstallPeers bool
	// Threads is the parallelism of "all threads" figures; 0 means GOMAXPROCS.
	Threads int
	// OneThreadBuildMaxN is the largest collection whose one-thread build
	// is timed beside the all-thread one (0: every collection). Above it
	// every backend is built once, on Threads threads: at a million
	// vectors a one-thread build of each backend adds hours.
	OneThreadBuildMaxN int
	// Runs is how many times each timed pass is repeated; the fastest
	// counts, as in ann-benchmarks. 0 means 1.
	Runs int
	// Reps is how many times the whole measurement (every backend's builds
	// and sweep) is repeated, the backends interleaved within each
	// repetition (ours, peer, ours, peer, ...) so that drift in the
	// machine's speed hits all of them; every time and q/s figure is the
	// median over the repetitions, with its range. 0 means 1.
	Reps int
	// TempDir holds the saved index and the peers' files; "" means os.TempDir.
	TempDir string
	// Progress, when set, is told what the run is doing.
	Progress func(Progress)
	// Checkpoint, when set, saves each finished step (ground truth, each
	// backend of each repetition) and reuses the steps an earlier,
	// interrupted run saved under the same key.
	Checkpoint *Checkpoint
}

// Progress is one step of a run: a stage, and a count within it when known.
type Progress struct {
	Stage string
	Done  int
	Total int // 0 when the stage has no count
}

// Point is one backend at one search setting.
type Point struct {
	Ef        int     `json:"ef"` // 0 for the exact index
	Recall1   float64 `json:"recall_at_1"`
	Recall10  float64 `json:"recall_at_10"`
	Recall100 float64 `json:"recall_at_100"`
	QPS1      float64 `json:"qps_1_thread"`    // one goroutine, queries in sequence
	QPSAll    float64 `json:"qps_all_threads"` // Threads goroutines sharing the queries
	P50Ms     float64 `json:"p50_ms"`          // per-query latency on one thread
	P99Ms     float64 `json:"p99_ms"`
	// With several repetitions the figures above are medians; these are
	// the single-thread and all-thread q/s of each repetition, in order,
	// for spreads and paired ratios.
	QPS1Reps   []float64 `json:"qps_1_thread_reps,omitempty"`
	QPSAllReps []float64 `json:"qps_all_threads_reps,omitempty"`
}

// setRecall sets the point's recall@k for k in RecallLevels.
func (p *Point) setRecall(k int, r float64) {
	switch k {
	case 1:
		p.Recall1 = r
	case 10:
		p.Recall10 = r
	default:
		p.Recall100 = r
	}
}

// Memory is what an index holds after its build, measured after runtime.GC.
type Memory struct {
	IndexBytes int64 `json:"index_bytes"` // Index.Memory().Total(), or a peer's figure
	// Source says how a peer measured IndexBytes (the serialized index,
	// the Go heap's growth); empty for our own indexes, whose figure is
	// their Memory() and comes with the vector/link breakdown below.
	Source       string  `json:"source,omitempty"`
	VectorBytes  int64   `json:"vector_bytes"`
	LinkBytes    int64   `json:"link_bytes"`
	OtherBytes   int64   `json:"other_bytes"`
	HeapDelta    int64   `json:"heap_delta_bytes"` // live heap after build minus before
	Baseline     int64   `json:"baseline_bytes"`   // see BaselineNote
	BaselineNote string  `json:"baseline_note"`
	Ratio        float64 `json:"ratio"`      // IndexBytes / Baseline
	HeapRatio    float64 `json:"heap_ratio"` // HeapDelta / Baseline
}

// Persist is the save/load round trip of an index (ours, or a peer's
// through its library's own save and load).
type Persist struct {
	FileBytes   int64   `json:"file_bytes"`
	SaveSeconds float64 `json:"save_seconds"`
	LoadSeconds float64 `json:"load_seconds"`
	CheckEf     int     `json:"check_ef"`
	Queries     int     `json:"queries"`
	// Mismatches counts queries whose results (ids and distances) differ
	// between the built and the loaded index; 0 means identical.
	Mismatches int `json:"mismatches"`
	// LoadReps are the load times of each repetition (LoadSeconds is then
	// their median).
	LoadReps []float64 `json:"load_seconds_reps,omitempty"`
}

// BackendResult is one backend's figures.
type BackendResult struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Build1 is the build time on one thread (0 when not measured), BuildAll
	// on Threads threads; the swept index is the BuildAll one when measured.
	Build1Seconds   float64  `json:"build_seconds_1_thread,omitempty"`
	BuildAllSeconds float64  `json:"build_seconds_all_threads,omitempty"`
	Threads         int      `json:"threads"`
	Memory          *Memory  `json:"memory,omitempty"`
	Persist         *Persist `json:"persist,omitempty"`
	Points          []Point  `json:"points"`
	Note            string   `json:"note,omitempty"`
	// The build times of each repetition, when there were several (the
	// fields above are then their medians).
	Build1Reps   []float64 `json:"build_seconds_1_thread_reps,omitempty"`
	BuildAllReps []float64 `json:"build_seconds_all_threads_reps,omitempty"`
}

// BuildSpeedup is Build1/BuildAll, or 0 when either is unknown.
func (b *BackendResult) BuildSpeedup() float64 {
	if b.Build1Seconds <= 0 || b.BuildAllSeconds <= 0 {
		return 0
	}
	return b.Build1Seconds / b.BuildAllSeconds
}

// firstReaching returns the point with the smallest ef whose recall@10 is at
// least target, and whether there is one.
func (b *BackendResult) firstReaching(target float64) (Point, bool) {
	best, ok := Point{}, false
	for _, p := range b.Points {
		if p.Recall10 >= target && (!ok || p.Ef < best.Ef) {
			best, ok = p, true
		}
	}
	return best, ok
}

// DatasetInfo describes the dataset in the result.
type DatasetInfo struct {
	Name       string `json:"name"`
	N          int    `json:"n"`
	Dim        int    `json:"dim"`
	Queries    int    `json:"queries"`
	Metric     string `json:"metric"`
	TruthGiven bool   `json:"ground_truth_from_file"`
}

// Result is a whole run.
type Result struct {
	Dataset        DatasetInfo     `json:"dataset"`
	M              int             `json:"m"`
	EfConstruction int             `json:"ef_construction"`
	Efs            []int           `json:"efs"`
	K              int             `json:"k"`
	Seed           int64           `json:"seed"`
	Threads        int             `json:"threads"`
	Runs           int             `json:"runs"`
	Reps           int             `json:"reps,omitempty"`
	TruthSeconds   float64         `json:"ground_truth_seconds"`
	Backends       []BackendResult `json:"backends"`
	Python         string          `json:"python,omitempty"`  // interpreter version when peers ran
	Skipped        []string        `json:"skipped,omitempty"` // backends not run, with the reason
	// Resumed lists the steps read back from a checkpoint: measured by an
	// earlier, interrupted process of the same run.
	Resumed  []string `json:"resumed_steps,omitempty"`
	Headline Headline `json:"headline"`
}

// Backend returns the named backend's result, or nil.
func (r *Result) Backend(name string) *BackendResult {
	for i := range r.Backends {
		if r.Backends[i].Name == name {
			return &r.Backends[i]
		}
	}
	return nil
}

// fill applies defaults and validates the configuration.
func (c *Config) fill() error {
	if c.Dataset == nil {
		return errors.New("ann benchmark: no dataset")
	}
	if err := c.Dataset.Validate(); err != nil {
		return fmt.Errorf("ann benchmark: %w", err)
	}
	maxK := RecallLevels[len(RecallLevels)-1]
	if n := len(c.Dataset.Base); n < maxK {
		return fmt.Errorf("ann benchmark: %d base vectors; recall@%d needs at least %d", n, maxK, maxK)
	}
	if c.Dataset.Truth != nil {
		for i, r := range c.Dataset.Truth {
			if len(r) < maxK {
				return fmt.Errorf("ann benchmark: ground truth row %d has %d neighbours; recall@%d needs %d", i, len(r), maxK, maxK)
			}
		}
	}
	if c.M == 0 {
		c.M = hnsw.DefaultM
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = hnsw.DefaultEfConstruction
	}
	if c.M < 2 || c.EfConstruction < 1 {
		return fmt.Errorf("ann benchmark: m=%d ef-construction=%d, want m ≥ 2 and ef-construction ≥ 1", c.M, c.EfConstruction)
	}
	if len(c.Efs) == 0 {
		c.Efs = DefaultEfs
	}
	efs := slices.Clone(c.Efs)
	slices.Sort(efs)
	c.Efs = slices.Compact(efs)
	if c.Efs[0] < 1 {
		return fmt.Errorf("ann benchmark: ef %d, want ≥ 1", c.Efs[0])
	}
	if c.K == 0 {
		c.K = 10
	}
	if c.K < 1 || c.K > maxK {
		return fmt.Errorf("ann benchmark: k=%d, want 1..%d", c.K, maxK)
	}
	for _, p := range c.Peers {
		if !slices.Contains(PeerNames, p) {
			return fmt.Errorf("ann benchmark: unknown peer %q (want %s, or none)", p, strings.Join(PeerNames, ", "))
		}
	}
	if c.Threads <= 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	if c.Runs <= 0 {
		c.Runs = 1
	}
	if c.Reps <= 0 {
		c.Reps = 1
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	return nil
}

func (s *sweeper) progress(stage string, done, total int) {
	s.cfg.progress(s.stage(stage), done, total)
}

func (c *Config) progress(stage string, done, total int) {
	if c.Progress != nil {
		c.Progress(Progress{Stage: stage, Done: done, Total: total})
	}
}

func (c *Config) wants(peer string) bool { return slices.Contains(c.Peers, peer) }

// Run performs the benchmark: ground truth, our HNSW (two builds, the sweep,
// memory, save/load), the flat index, coder/hnsw, the Python peers and the
// Go peers when selected. It stops with ctx.Err() when ctx is done.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	ds := cfg.Dataset
	res := &Result{
		Dataset: DatasetInfo{
			Name: ds.Name, N: len(ds.Base), Dim: ds.Dim, Queries: len(ds.Queries),
			Metric: cfg.Metric.String(), TruthGiven: ds.Truth != nil,
		},
		M: cfg.M, EfConstruction: cfg.EfConstruction, Efs: cfg.Efs, K: cfg.K,
		Seed: cfg.Seed, Threads: cfg.Threads, Runs: cfg.Runs,
	}
	// Python peers are checked first, so a missing package fails in seconds,
	// not after the Go builds.
	var py []string
	for _, p := range []string{BackendHnswlib, BackendFAISS} {
		if cfg.wants(p) {
			py = append(py, p)
		}
	}
	if len(py) > 0 {
		cfg.progress("checking Python peers", 0, 0)
		if err := pythonRequirement(cfg.Python, py).Ensure(ctx, cfg.InstallPeers, progressWriter(&cfg)); err != nil {
			return nil, fmt.Errorf("ann benchmark: %w (or pass --peers without them)", err)
		}
	}

	// Go peers are looked up first too; a missing binary skips the peer
	// (it takes a build from source, not a package install).
	goPeers := map[string]string{}
	var goSkipped []string
	for _, p := range cfg.Peers {
		if !isGoPeer(p) {
			continue
		}
		bin, err := cfg.goPeerBinary(p)
		if errors.Is(err, peers.ErrMissing) {
			goSkipped = append(goSkipped, err.Error())
			cfg.progress("SKIPPING "+err.Error(), 0, 0)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ann benchmark: %w", err)
		}
		goPeers[p] = bin
	}

	truth := ds.Truth
	if truth == nil {
		if st, ok := cfg.Checkpoint.load(truthStep); ok && len(st.Truth) == len(ds.Queries) {
			truth, res.TruthSeconds = st.Truth, st.Seconds
		}
	}
	if truth == nil {
		cfg.progress("ground truth (exact search)", 0, 0)
		start := time.Now()
		var err error
		truth, err = ExactNeighbours(ctx, ds.Base, ds.Queries, cfg.Metric, RecallLevels[len(RecallLevels)-1], cfg.Threads)
		if err != nil {
			return nil, fmt.Errorf("ann benchmark: %w", err)
		}
		res.TruthSeconds = time.Since(start).Seconds()
		if err := cfg.Checkpoint.save(truthStep, checkpointStep{Truth: truth, Seconds: res.TruthSeconds}); err != nil {
			return nil, fmt.Errorf("ann benchmark: %w", err)
		}
	}
	s := sweeper{cfg: &cfg, truth: truth, goPeers: goPeers}
	reps := make([][]BackendResult, 0, cfg.Reps)
	for rep := range cfg.Reps {
		s.rep = rep
		backends, skipped, python, err := s.runAll(ctx, py)
		if err != nil {
			return nil, err
		}
		res.Skipped, res.Python = append(slices.Clone(goSkipped), skipped...), python
		reps = append(reps, backends)
	}
	if cfg.Reps > 1 {
		res.Reps = cfg.Reps
	}
	var err error
	if res.Backends, err = medianOfReps(reps); err != nil {
		return nil, fmt.Errorf("ann benchmark: %w", err)
	}
	res.Headline = makeHeadline(res)
	res.Resumed = cfg.Checkpoint.Resumed()
	cfg.progress("done", 0, 0)
	return res, nil
}

// runAll measures every backend once, in a fixed order: one repetition.
// Each step is saved to (or, on resume, read from) the checkpoint.
func (s *sweeper) runAll(ctx context.Context, py []string) (backends []BackendResult, skipped []string, python string, err error) {
	cfg := s.cfg
	one := func(measure func(context.Context) (*BackendResult, error)) func() ([]BackendResult, string, error) {
		return func() ([]BackendResult, string, error) {
			b, err := measure(ctx)
			if err != nil {
				return nil, "", err
			}
			return []BackendResult{*b}, "", nil
		}
	}
	type step struct {
		name    string
		measure func() ([]BackendResult, string, error)
	}
	steps := []step{{BackendHNSW, one(s.runOurs)}}
	if cfg.wants(BackendCoderHNSW) && cfg.Metric == index.InnerProduct {
		skipped = append(skipped, BackendCoderHNSW+": github.com/coder/hnsw offers no inner-product metric")
	} else if cfg.wants(BackendCoderHNSW) {
		steps = append(steps, step{BackendCoderHNSW, one(s.runCoder)})
	}
	steps = append(steps, step{BackendFlat, one(s.runFlat)})
	if len(py) > 0 {
		steps = append(steps, step{"python-peers", func() ([]BackendResult, string, error) { return s.runPython(ctx, py) }})
	}
	for _, p := range cfg.Peers {
		if bin, ok := s.goPeers[p]; ok {
			steps = append(steps, step{p, one(func(ctx context.Context) (*BackendResult, error) { return s.runGoPeer(ctx, p, bin) })})
		}
	}
	for _, st := range steps {
		b, version, err := s.checkpointed(st.name, st.measure)
		if err != nil {
			return nil, nil, "", err
		}
		if version != "" {
			python = version
		}
		backends = append(backends, b...)
	}
	return backends, skipped, python, nil
}

// truthStep names the ground truth in a checkpoint.
const truthStep = "ground-truth"

// checkpointed returns the step name of the current repetition from the
// checkpoint when an earlier run saved it, and otherwise measures it and
// saves it there.
func (s *sweeper) checkpointed(name string, measure func() ([]BackendResult, string, error)) ([]BackendResult, string, error) {
	full := fmt.Sprintf("rep%d-%s", s.rep+1, name)
	if st, ok := s.cfg.Checkpoint.load(full); ok && len(st.Backends) > 0 {
		return st.Backends, st.Python, nil
	}
	b, version, err := measure()
	if err != nil {
		return nil, "", err
	}
	if err := s.cfg.Checkpoint.save(full, checkpointStep{Backends: b, Python: version}); err != nil {
		return nil, "", fmt.Errorf("ann benchmark: %w", err)
	}
	return b, version, nil
}

// sweeper measures backends against one ground truth.
type sweeper struct {
	cfg   *Config
	truth [][]uint64
	rep   int // the repetition being measured, from 0
	// goPeers maps each selected Go peer whose binary was found to it.
	goPeers map[string]string
}

// stage prefixes a progress stage with the repetition when there are several.
func (s *sweeper) stage(st string) string {
	if s.cfg.Reps > 1 {
		return fmt.Sprintf("rep %d/%d: %s", s.rep+1, s.cfg.Reps, st)
	}
	return st
}

// heapLive returns the live heap after full collections. One collection is
// not enough: a sync.Pool inside a dropped index keeps the index reachable
// (the runtime's pool list points into it) until the second or third cycle.
// It collects until the heap stops shrinking, at most five times.
func heapLive() int64 {
	var ms runtime.MemStats
	last := int64(-1)
	for range 5 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		cur := int64(ms.HeapAlloc)
		if last >= 0 && cur >= last {
			break
		}
		last = cur
	}
	return int64(ms.HeapAlloc)
}

// build adds the dataset to idx with AddBatch and returns the wall time.
func (s *sweeper) build(ctx context.Context, idx index.Index) (time.Duration, error) {
	ds := s.cfg.Dataset
	start := time.Now()
	if err := idx.AddBatch(ctx, sequentialIDs(len(ds.Base)), ds.Base); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if idx.Len() != len(ds.Base) {
		return 0, fmt.Errorf("index holds %d vectors after adding %d", idx.Len(), len(ds.Base))
	}
	return d, nil
}

// timeOneThreadBuild reports whether the backends' one-thread builds are
// timed for this collection (see OneThreadBuildMaxN).
func (c *Config) timeOneThreadBuild() bool {
	return c.OneThreadBuildMaxN <= 0 || len(c.Dataset.Base) <= c.OneThreadBuildMaxN
}

// memory measures idx's memory against baseline (bytes, described by note).
func memoryOf(idx index.Index, heapDelta, baseline int64, note string) *Memory {
	ms := idx.Memory()
	m := &Memory{
		IndexBytes: ms.Total(), VectorBytes: ms.Vectors, LinkBytes: ms.Links, OtherBytes: ms.Other,
		HeapDelta: heapDelta, Baseline: baseline, BaselineNote: note,
	}
	if baseline > 0 {
		m.Ratio = float64(m.IndexBytes) / float64(baseline)
		m.HeapRatio = float64(heapDelta) / float64(baseline)
	}
	return m
}

// graphBaseline is the memory of the vectors plus layer-0 links (2M uint32
// per node): what an HNSW index cannot do without.
func (s *sweeper) graphBaseline() (int64, string) {
	n, d := int64(len(s.cfg.Dataset.Base)), int64(s.cfg.Dataset.Dim)
	return n*d*4 + n*int64(2*s.cfg.M)*4, "vectors + layer-0 links: n·dim·4 + n·2M·4 bytes"
}

func (s *sweeper) newOurs(workers int) (*hnsw.Index, error) {
	return hnsw.New(s.cfg.Dataset.Dim, hnsw.Config{
		M: s.cfg.M, EfConstruction: s.cfg.EfConstruction, Metric: s.cfg.Metric,
		Seed: s.cfg.Seed, Workers: workers,
	})
}

// runOurs builds our HNSW on one thread and on all, sweeps ef over the
// all-thread build, measures its memory and its save/load round trip.
func (s *sweeper) runOurs(ctx context.Context) (*BackendResult, error) {
	cfg := s.cfg
	b := &BackendResult{Name: BackendHNSW, Version: "this revision", Threads: cfg.Threads}
	fail := func(err error) (*BackendResult, error) {
		return nil, fmt.Errorf("ann benchmark: %s: %w", BackendHNSW, err)
	}

	if cfg.Threads > 1 && cfg.timeOneThreadBuild() {
		s.progress(BackendHNSW+": build, 1 thread", 0, 0)
		one, err := s.newOurs(1)
		if err != nil {
			return fail(err)
		}
		d, err := s.build(ctx, one)
		if err != nil {
			return fail(fmt.Errorf("build on 1 thread: %w", err))
		}
		b.Build1Seconds = d.Seconds()
	}
	// The one-thread index is garbage now; heapLive collects it first.
	before := heapLive()
	s.progress(fmt.Sprintf("%s: build, %d threads", BackendHNSW, cfg.Threads), 0, 0)
	idx, err := s.newOurs(cfg.Threads)
	if err != nil {
		return fail(err)
	}
	d, err := s.build(ctx, idx)
	if err != nil {
		return fail(fmt.Errorf("build on %d threads: %w", cfg.Threads, err))
	}
	b.BuildAllSeconds = d.Seconds()
	if cfg.Threads == 1 {
		b.Build1Seconds = b.BuildAllSeconds
	}
	base, note := s.graphBaseline()
	b.Memory = memoryOf(idx, heapLive()-before, base, note)

	b.Points, err = s.sweep(ctx, BackendHNSW, idx, cfg.Efs)
	if err != nil {
		return fail(err)
	}
	checkEf := cfg.Efs[len(cfg.Efs)-1]
	if p, ok := b.firstReaching(TargetRecall); ok {
		checkEf = p.Ef
	}
	b.Persist, err = s.persist(ctx, idx, checkEf)
	if err != nil {
		return fail(err)
	}
	return b, nil
}

// persist saves idx to a file, loads it back and compares the results of
// every query at ef.
func (s *sweeper) persist(ctx context.Context, idx *hnsw.Index, ef int) (*Persist, error) {
	cfg := s.cfg
	s.progress(BackendHNSW+": save and load", 0, 0)
	f, err := os.CreateTemp(cfg.TempDir, "mmsearch-ann-*.hnsw")
	if err != nil {
		return nil, fmt.Errorf("save: %w", err)
	}
	path := f.Name()
	defer os.Remove(path)
	start := time.Now()
	bw := bufio.NewWriterSize(f, 1<<20)
	err = idx.Save(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("save: %w", err)
	}
	p := &Persist{SaveSeconds: time.Since(start).Seconds(), CheckEf: ef, Queries: len(cfg.Dataset.Queries)}
	if st, err := os.Stat(path); err == nil {
		p.FileBytes = st.Size()
	}
	start = time.Now()
	rf, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	loaded, err := hnsw.Load(bufio.NewReaderSize(rf, 1<<20))
	rf.Close()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	p.LoadSeconds = time.Since(start).Seconds()
	if loaded.Len() != idx.Len() {
		return nil, fmt.Errorf("loaded index holds %d vectors, saved one %d", loaded.Len(), idx.Len())
	}
	mismatch := make([]bool, len(cfg.Dataset.Queries))
	opts := index.SearchOptions{Ef: ef}
	err = forEachQuery(ctx, len(mismatch), cfg.Threads, func(i int) error {
		q := cfg.Dataset.Queries[i]
		a, err := idx.Search(q, cfg.K, opts)
		if err != nil {
			return err
		}
		b, err := loaded.Search(q, cfg.K, opts)
		if err != nil {
			return fmt.Errorf("loaded index: %w", err)
		}
		mismatch[i] = !slices.Equal(a, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("compare loaded index: %w", err)
	}
	for _, m := range mismatch {
		if m {
			p.Mismatches++
		}
	}
	return p, nil
}

// runCoder builds github.com/coder/hnsw through its adapter and sweeps ef.
func (s *sweeper) runCoder(ctx context.Context) (*BackendResult, error) {
	cfg := s.cfg
	fail := func(err error) (*BackendResult, error) {
		return nil, fmt.Errorf("ann benchmark: %s: %w", BackendCoderHNSW, err)
	}
	b := &BackendResult{Name: BackendCoderHNSW, Version: coderVersion(), Threads: cfg.Threads}
	before := heapLive()
	s.progress(BackendCoderHNSW+": build", 0, 0)
	// The library inserts with its EfSearch as the beam: set it to
	// EfConstruction for the build; searches then pass their own ef.
	idx, err := coderhnsw.New(cfg.Dataset.Dim, coderhnsw.Config{
		M: cfg.M, EfSearch: cfg.EfConstruction, Metric: cfg.Metric, Seed: cfg.Seed,
	})
	if err != nil {
		return fail(err)
	}
	d, err := s.build(ctx, idx)
	if err != nil {
		return fail(fmt.Errorf("build: %w", err))
	}
	b.BuildAllSeconds = d.Seconds()
	b.Note = "built one vector at a time (the library has no parallel insert) with its EfSearch set to ef_construction; " +
		"the library keeps M links on every layer (ours and hnswlib keep 2M on layer 0); " +
		"a search with an ef takes the adapter's write lock, so all-thread searches run one at a time"
	base, note := s.graphBaseline()
	b.Memory = memoryOf(idx, heapLive()-before, base, note)
	b.Points, err = s.sweep(ctx, BackendCoderHNSW, idx, cfg.Efs)
	if err != nil {
		return fail(err)
	}
	return b, nil
}

// runFlat measures the exact index: one point.
func (s *sweeper) runFlat(ctx context.Context) (*BackendResult, error) {
	cfg := s.cfg
	fail := func(err error) (*BackendResult, error) {
		return nil, fmt.Errorf("ann benchmark: %s: %w", BackendFlat, err)
	}
	b := &BackendResult{Name: BackendFlat, Version: "this revision", Threads: cfg.Threads}
	before := heapLive()
	s.progress(BackendFlat+": build", 0, 0)
	idx, err := flat.New(cfg.Dataset.Dim, cfg.Metric)
	if err != nil {
		return fail(err)
	}
	d, err := s.build(ctx, idx)
	if err != nil {
		return fail(fmt.Errorf("build: %w", err))
	}
	b.BuildAllSeconds = d.Seconds()
	n, dim := int64(len(cfg.Dataset.Base)), int64(cfg.Dataset.Dim)
	b.Memory = memoryOf(idx, heapLive()-before, n*dim*4, "vectors: n·dim·4 bytes")
	b.Points, err = s.sweep(ctx, BackendFlat, idx, []int{0})
	if err != nil {
		return fail(err)
	}
	return b, nil
}

// coderVersion is the module version of github.com/coder/hnsw in the binary.
func coderVersion() string {
	if v := moduleVersion("github.com/coder/hnsw"); v != "" {
		return v
	}
	return "unknown"
}
