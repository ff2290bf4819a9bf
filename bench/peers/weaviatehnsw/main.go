// Command weaviatehnsw is the Weaviate HNSW peer of `mmsearch bench ann`: it
// measures github.com/weaviate/weaviate's in-process Go HNSW package
// (adapters/repos/db/vector/hnsw) on the vectors the benchmark wrote.
//
// It has the command-line contract and the stdout JSON of the Python peer
// script (bench/peers/ann_peer.py): it reads base.npy and queries.npy from
// --dir, builds the index on one goroutine and on --threads goroutines,
// sweeps ef over the second build, saves the neighbour ids of every search as
// .npy files in --dir and prints one JSON document with the timings. Progress
// goes to stderr, one line per step. Recall is scored by the Go side against
// its own ground truth.
//
// Timings follow mmsearch's own sweep: single-thread figures run the
// queries in sequence with GOMAXPROCS set to 1, all-thread figures share
// them among --threads goroutines; p50/p99 are per-query latencies of the
// fastest single-thread pass; each timed pass runs --runs times and the
// fastest counts.
//
// Memory is the live Go heap's growth over the all-thread build (after
// runtime.GC on both sides), which counts the graph and the cache's slots,
// plus the n·dim·4 bytes of the vectors themselves: Weaviate's vector cache
// keeps the slices Add was given (this program's, read before the build)
// rather than copies, so the heap's growth alone leaves them out, while
// ours and hnswlib's figures hold them. There is no save/load figure:
// the peer runs the index without a commit log, as Weaviate's own tests do.
//
// It lives in its own Go module so that Weaviate's large dependency graph
// stays out of mmsearch's go.mod; build it with `make setup-peers`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Name is the peer's name in --peers and in the output.
const Name = "weaviate-hnsw"

// weaviateModule is the module whose version the output reports.
const weaviateModule = "github.com/weaviate/weaviate"

// Upper bounds of the count flags.
const (
	maxThreads = 1024
	maxEf      = 100_000
	maxK       = 1000
	maxRuns    = 100
	maxEfs     = 64
)

// options are the parsed flags.
type options struct {
	dir            string
	peers          []string
	metric         string
	m              int
	efConstruction int
	efs            []int
	k              int
	extraK         []int
	threads        int
	skipBuild1     bool // time only the --threads build
	runs           int
	seed           int64
	checkEf        int
}

// output is the JSON document printed on stdout; its fields match the
// Python peer's (bench/ann/peer.go decodes both).
type output struct {
	Go    string       `json:"go"`
	Peers []peerResult `json:"peers"`
}

type peerResult struct {
	Name     string        `json:"name"`
	Version  string        `json:"version"`
	Build1   float64       `json:"build_seconds_1_thread"`
	BuildAll float64       `json:"build_seconds_all"`
	Threads  int           `json:"threads"`
	Note     string        `json:"note"`
	Points   []pointResult `json:"points"`
	Memory   *memoryResult `json:"memory,omitempty"`
}

type pointResult struct {
	Ef       int               `json:"ef"`
	IDs      string            `json:"ids"`
	ExtraIDs map[string]string `json:"extra_ids"`
	QPS1     float64           `json:"qps_1_thread"`
	QPSAll   float64           `json:"qps_all_threads"`
	P50Ms    float64           `json:"p50_ms"`
	P99Ms    float64           `json:"p99_ms"`
}

// memoryResult is the index's memory and how it was measured.
type memoryResult struct {
	IndexBytes int64  `json:"index_bytes"`
	Source     string `json:"source"`
}

// MemorySource says how Memory is measured.
const MemorySource = "live Go heap growth over the build (graph, cache slots) plus the n·dim·4 bytes of the vectors its cache references"

// vectorBytes is the size of the vectors' float32 data.
func vectorBytes(vs [][]float32) int64 {
	var n int64
	for _, v := range vs {
		n += int64(len(v)) * 4
	}
	return n
}

// heapLive is the live heap after a collection.
func heapLive() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "weaviatehnsw: %v\n", err)
		os.Exit(2)
	}
	out, err := run(ctx, opts, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "weaviatehnsw: %v\n", err)
		if ctx.Err() != nil {
			os.Exit(130)
		}
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "weaviatehnsw: write output: %v\n", err)
		os.Exit(1)
	}
}

// parseFlags parses and checks the command line.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("weaviatehnsw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var peers, efs, extraK string
	fs.StringVar(&o.dir, "dir", "", "folder with base.npy and queries.npy; outputs go here (required)")
	fs.StringVar(&peers, "peers", Name, "peers to run: only "+Name)
	fs.StringVar(&o.metric, "metric", "ip", "ip or l2")
	fs.IntVar(&o.m, "m", 16, "links per node (Weaviate's maxConnections; layer 0 keeps 2M)")
	fs.IntVar(&o.efConstruction, "ef-construction", 200, "beam width while building")
	fs.StringVar(&efs, "efs", "10,16,24,32,48,64,96,128,256,512", "comma-separated search beam widths")
	fs.IntVar(&o.k, "k", 10, "results per timed search")
	fs.StringVar(&extraK, "extra-k", "100", "untimed searches with these k, for recall@k above --k")
	fs.IntVar(&o.threads, "threads", 1, "goroutines for the all-thread build and searches")
	fs.BoolVar(&o.skipBuild1, "skip-one-thread-build", false, "time only the --threads build (for collections where a one-goroutine build takes too long)")
	fs.Int64Var(&o.seed, "seed", 100, "accepted for the peer contract; Weaviate draws levels from math/rand's global source, which cannot be seeded")
	fs.IntVar(&o.runs, "runs", 1, "repeat each timed pass; the fastest counts")
	fs.IntVar(&o.checkEf, "check-ef", 64, "accepted for the peer contract (ef of the save/load check); this peer keeps no commit log, so it has no save/load figure")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	switch {
	case o.dir == "":
		return nil, errors.New("--dir is required")
	case o.metric != "ip" && o.metric != "l2":
		return nil, fmt.Errorf("--metric %q: want ip or l2", o.metric)
	case o.m < 2 || o.m > 256:
		return nil, fmt.Errorf("--m %d: want 2..256", o.m)
	case o.efConstruction < 1 || o.efConstruction > maxEf:
		return nil, fmt.Errorf("--ef-construction %d: want 1..%d", o.efConstruction, maxEf)
	case o.k < 1 || o.k > maxK:
		return nil, fmt.Errorf("--k %d: want 1..%d", o.k, maxK)
	case o.threads < 1 || o.threads > maxThreads:
		return nil, fmt.Errorf("--threads %d: want 1..%d", o.threads, maxThreads)
	case o.runs < 1 || o.runs > maxRuns:
		return nil, fmt.Errorf("--runs %d: want 1..%d", o.runs, maxRuns)
	}
	for _, p := range strings.Split(peers, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if p != Name {
			return nil, fmt.Errorf("--peers: unknown peer %q (want %s)", p, Name)
		}
		if !slices.Contains(o.peers, p) {
			o.peers = append(o.peers, p)
		}
	}
	if o.efs, err = parseInts(efs, maxEf, false); err != nil {
		return nil, fmt.Errorf("--efs: %w", err)
	}
	if o.extraK, err = parseInts(extraK, maxK, true); err != nil {
		return nil, fmt.Errorf("--extra-k: %w", err)
	}
	return o, nil
}

// parseInts parses a comma-separated list of integers in 1..limit, at most
// maxEfs of them; an empty list is an error unless allowEmpty.
func parseInts(s string, limit int, allowEmpty bool) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 || v > limit {
			return nil, fmt.Errorf("%q: want an integer in 1..%d", p, limit)
		}
		if len(out) == maxEfs {
			return nil, fmt.Errorf("more than %d values", maxEfs)
		}
		out = append(out, v)
	}
	if len(out) == 0 && !allowEmpty {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// run reads the vectors and measures every requested peer.
func run(ctx context.Context, o *options, log io.Writer) (*output, error) {
	base, err := readNpyFloat32(filepath.Join(o.dir, "base.npy"))
	if err != nil {
		return nil, err
	}
	queries, err := readNpyFloat32(filepath.Join(o.dir, "queries.npy"))
	if err != nil {
		return nil, err
	}
	if len(queries[0]) != len(base[0]) {
		return nil, fmt.Errorf("queries.npy has dimension %d, base.npy %d", len(queries[0]), len(base[0]))
	}
	out := &output{Go: runtime.Version(), Peers: []peerResult{}}
	for range o.peers {
		r, err := runWeaviate(ctx, o, base, queries, log)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
		out.Peers = append(out.Peers, *r)
	}
	return out, nil
}

// weaviateVersion is the version of the Weaviate module in this binary.
func weaviateVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == weaviateModule {
				if m.Replace != nil {
					return m.Replace.Version
				}
				return m.Version
			}
		}
	}
	return "unknown"
}

// runWeaviate builds the index on one goroutine (timed, then dropped;
// skipped with --skip-one-thread-build) and on --threads goroutines, and
// sweeps ef over the second.
func runWeaviate(ctx context.Context, o *options, base, queries [][]float32, log io.Writer) (*peerResult, error) {
	cfg := indexConfig{Metric: o.metric, M: o.m, EfConstruction: o.efConstruction, Dir: o.dir, Log: log}
	res := &peerResult{
		Name: Name, Version: weaviateVersion(), Threads: o.threads,
		Note: "Weaviate's Go HNSW package in process (no server, no commit log, vectors held in its cache); " +
			"built by Add from goroutines; ef set through its user config; levels drawn from an unseeded source",
	}
	build := func(threads int) (*weaviateIndex, float64, error) {
		fmt.Fprintf(log, "%s: build, %d thread(s)\n", Name, threads)
		before := heapLive()
		idx, err := newWeaviateIndex(cfg, base)
		if err != nil {
			return nil, 0, err
		}
		start := time.Now()
		if err := idx.build(ctx, threads); err != nil {
			idx.close()
			return nil, 0, fmt.Errorf("build on %d threads: %w", threads, err)
		}
		secs := time.Since(start).Seconds()
		res.Memory = &memoryResult{IndexBytes: heapLive() - before + vectorBytes(base), Source: MemorySource}
		return idx, secs, nil
	}
	if o.skipBuild1 && o.threads > 1 {
		idx, secs, err := build(o.threads)
		if err != nil {
			return nil, err
		}
		res.BuildAll = secs
		defer idx.close()
		return res, sweepWeaviate(ctx, o, idx, queries, res, log)
	}
	one, secs, err := build(1)
	if err != nil {
		return nil, err
	}
	res.Build1 = secs
	idx := one
	if o.threads > 1 {
		if err := one.close(); err != nil {
			return nil, err
		}
		// Unreachable before the second build, whose heap growth is the memory figure.
		one, idx = nil, nil
		if idx, res.BuildAll, err = build(o.threads); err != nil {
			return nil, err
		}
	} else {
		res.BuildAll = res.Build1
	}
	defer idx.close()
	return res, sweepWeaviate(ctx, o, idx, queries, res, log)
}

// sweepWeaviate measures idx at every --efs value into res.Points.
func sweepWeaviate(ctx context.Context, o *options, idx *weaviateIndex, queries [][]float32, res *peerResult, log io.Writer) error {
	for _, ef := range o.efs {
		fmt.Fprintf(log, "%s: ef=%d\n", Name, ef)
		p, err := measure(ctx, o, idx, queries, ef)
		if err != nil {
			return fmt.Errorf("ef=%d: %w", ef, err)
		}
		res.Points = append(res.Points, *p)
	}
	return nil
}

// measure takes one point: untimed searches for each --extra-k (saved),
// --runs single-thread passes (ids of the first saved, latencies of the
// fastest kept) and --runs all-thread passes.
func measure(ctx context.Context, o *options, idx *weaviateIndex, queries [][]float32, ef int) (*pointResult, error) {
	if err := idx.setEf(ef); err != nil {
		return nil, err
	}
	p := &pointResult{Ef: ef, ExtraIDs: map[string]string{}}
	for _, k := range o.extraK {
		ids := make([][]uint64, len(queries))
		if _, err := parallelPass(ctx, idx, queries, k, o.threads, ids); err != nil {
			return nil, err
		}
		f := fmt.Sprintf("%s-ef%d-k%d.npy", Name, ef, k)
		if err := writeNpyInt64(filepath.Join(o.dir, f), ids, k); err != nil {
			return nil, err
		}
		p.ExtraIDs[strconv.Itoa(k)] = f
	}
	ids := make([][]uint64, len(queries))
	lat := make([]time.Duration, len(queries))
	best := time.Duration(math.MaxInt64)
	var bestLat []time.Duration
	for run := range o.runs {
		d, err := singlePass(ctx, idx, queries, o.k, ids, lat)
		if err != nil {
			return nil, err
		}
		if run == 0 {
			p.IDs = fmt.Sprintf("%s-ef%d-k%d.npy", Name, ef, o.k)
			if err := writeNpyInt64(filepath.Join(o.dir, p.IDs), ids, o.k); err != nil {
				return nil, err
			}
		}
		if d < best {
			best, bestLat = d, slices.Clone(lat)
		}
	}
	p.QPS1 = float64(len(queries)) / best.Seconds()
	p.P50Ms, p.P99Ms = percentileMs(bestLat, 50), percentileMs(bestLat, 99)
	best = time.Duration(math.MaxInt64)
	for range o.runs {
		d, err := parallelPass(ctx, idx, queries, o.k, o.threads, nil)
		if err != nil {
			return nil, err
		}
		best = min(best, d)
	}
	p.QPSAll = float64(len(queries)) / best.Seconds()
	return p, nil
}

// singlePass runs the queries in sequence with GOMAXPROCS set to 1, storing
// ids and per-query latencies, and returns the pass's wall time.
func singlePass(ctx context.Context, idx *weaviateIndex, queries [][]float32, k int, ids [][]uint64, lat []time.Duration) (time.Duration, error) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	start := time.Now()
	for i, q := range queries {
		if i%256 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		t0 := time.Now()
		r, err := idx.search(ctx, q, k)
		lat[i] = time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("query %d: %w", i, err)
		}
		ids[i] = r
	}
	return time.Since(start), nil
}

// parallelPass shares the queries among threads goroutines and returns the
// wall time; ids, when not nil, receives the results.
func parallelPass(ctx context.Context, idx *weaviateIndex, queries [][]float32, k, threads int, ids [][]uint64) (time.Duration, error) {
	var next, found atomic.Int64
	errs := make([]error, threads)
	var wg sync.WaitGroup
	start := time.Now()
	for t := range threads {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(queries) {
					return
				}
				if i%256 == 0 && ctx.Err() != nil {
					errs[t] = ctx.Err()
					return
				}
				r, err := idx.search(ctx, queries[i], k)
				if err != nil {
					errs[t] = fmt.Errorf("query %d (k=%d): %w", i, k, err)
					return
				}
				found.Add(int64(len(r)))
				if ids != nil {
					ids[i] = r
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	if found.Load() == 0 {
		return 0, errors.New("searches returned no results")
	}
	return d, nil
}

// percentileMs is the nearest-rank p-th percentile of d in milliseconds.
func percentileMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := max(1, int(math.Ceil(p/100*float64(len(s)))))
	return float64(s[rank-1]) / float64(time.Millisecond)
}
