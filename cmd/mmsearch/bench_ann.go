package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mmsearch/bench"
	"mmsearch/bench/ann"
	"mmsearch/encoders"
	"mmsearch/index"
)

// benchANNFlags are the flags of `mmsearch bench ann`.
type benchANNFlags struct {
	n, dim, queries, clusters int
	noise                     float64
	seed                      int64
	m, efConstruction, k      int
	efs                       string
	data, queriesFile, truth  string
	limit                     int
	metric                    string
	peers                     string
	python                    string
	threads, runs, reps       int
	oneThreadMaxN             int
	distribution, sizes       string
	out                       benchOutput
	json                      bool
	resume                    bool
}

func benchANNCommand() *command {
	f := &benchANNFlags{}
	return &command{
		name:    "ann",
		summary: "measure recall@k, queries/s, build time and memory of the ANN indexes against hnswlib, FAISS and Weaviate's HNSW",
		usage: `[flags]

Builds our HNSW (on 1 thread and on all), sweeps the search beam width ef and
reports recall@1/10/100 against exact search, single- and all-thread
queries/s and latency, memory, and a save/load check; the exact index, coder/hnsw,
the Python peers (Debian's python3-hnswlib and python3-faiss) and the Go peer
weaviate-hnsw (Weaviate's HNSW package, built into the cache by
` + "`make setup-peers`" + `; skipped when not built) are measured in the same run
on the same vectors. Writes ann.json, ann.md and
ann-recall-qps.png under --out.

Every figure is the median of --reps repetitions of the whole measurement,
the backends interleaved in each, with its range printed beside it.

Data: a synthetic mixture of Gaussian clusters on the unit sphere, or
uniform on the sphere with --distribution gaussian (--n, --dim, --seed,
--queries); --sizes runs several n and reports cost against n; or vectors from --data FILE.fvecs|.npy with queries from
--queries-file (or, without it, the last --queries vectors of --data) and
optionally --groundtruth FILE.ivecs|.npy.`,
		setFlags: func(fs *flag.FlagSet) {
			intVar(fs, &f.n, "n", 100000, 1, 100_000_000, "synthetic: base vectors")
			intVar(fs, &f.dim, "dim", 512, 1, 65536, "synthetic: dimension")
			fs.Int64Var(&f.seed, "seed", 1, "seed of the synthetic data and of the HNSW levels")
			intVar(fs, &f.queries, "queries", 1000, 1, 1_000_000, "number of queries (generated, or the most read from a file)")
			intVar(fs, &f.clusters, "clusters", ann.DefaultClusters, 1, 1_000_000, "synthetic: Gaussian clusters")
			fs.Float64Var(&f.noise, "noise", ann.DefaultNoise, "synthetic: per-coordinate noise (standard deviation)")
			intVar(fs, &f.m, "m", 16, 2, 256, "HNSW links per node (layer 0 keeps 2M)")
			intVar(fs, &f.efConstruction, "ef-construction", 200, 1, maxEf, "HNSW beam width while building")
			fs.StringVar(&f.efs, "ef", joinInts(ann.DefaultEfs), "comma-separated search beam widths to sweep")
			intVar(fs, &f.k, "k", 10, 1, 100, "results per timed search")
			fs.StringVar(&f.data, "data", "", "base vectors from `FILE` (.fvecs or .npy float32) instead of synthetic data")
			fs.StringVar(&f.queriesFile, "queries-file", "", "query vectors from `FILE` (.fvecs or .npy)")
			fs.StringVar(&f.truth, "groundtruth", "", "neighbour ids from `FILE` (.ivecs or .npy, ≥ 100 per query); computed exactly when absent")
			countVar(fs, &f.limit, "limit", 0, 100_000_000, "use only the first N vectors of --data (0: all)")
			fs.StringVar(&f.metric, "metric", "cosine", "cosine (vectors normalized), ip or l2")
			fs.StringVar(&f.peers, "peers", strings.Join(ann.PeerNames, ","), "peers to measure: "+strings.Join(ann.PeerNames, ", ")+", comma-separated, or none")
			fs.StringVar(&f.python, "python", "/usr/bin/python3", "Python interpreter with hnswlib and faiss")
			countVar(fs, &f.threads, "threads", 0, maxThreads, "threads for the all-thread figures (0: GOMAXPROCS)")
			countVar(fs, &f.oneThreadMaxN, "one-thread-build-max-n", 0, 100_000_000, "time the one-thread builds only for collections of at most N vectors (0: always); larger ones are built once, on --threads threads")
			intVar(fs, &f.runs, "runs", 3, 1, 100, "repeat each timed search pass; the fastest counts")
			intVar(fs, &f.reps, "reps", 5, 1, 50, "repeat the whole measurement (every build and sweep), the backends interleaved; times and q/s are medians with their range, ratios paired")
			fs.StringVar(&f.distribution, "distribution", ann.DistClusters, "synthetic: clusters (Gaussian clusters on the sphere) or gaussian (uniform on the sphere, harder); with --sizes a comma-separated list")
			fs.StringVar(&f.sizes, "sizes", "", "comma-separated collection `SIZES` (e.g. 10000,100000,1000000): one run per size and distribution, each in its own folder, and ann-scale.json/.md with plots of cost against n")
			f.out.register(fs, "folder for ann.json, ann.md and the plot")
			fs.BoolVar(&f.json, "json", false, "print the report as JSON on stdout instead of tables")
			fs.BoolVar(&f.resume, "resume", false, "reuse the steps (ground truth, each backend of each repetition) that an interrupted run of the same binary with the same flags finished; they are kept under the cache's bench/ann-checkpoints until the report is written")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("bench ann takes no arguments (got %q)", args[0])
			}
			return runBenchANN(ctx, e, f)
		},
	}
}

// parseInts parses a comma-separated list of positive integers, each at
// most maxEf (the lists are beam widths and cut-offs k), and at most 64 of them.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := strconv.Atoi(part)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", part)
		}
		if v > maxEf {
			return nil, fmt.Errorf("%d out of range 1..%d", v, maxEf)
		}
		if len(out) == 64 {
			return nil, fmt.Errorf("more than 64 values")
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// parsePeers parses --peers: names from ann.PeerNames, or "none".
func parsePeers(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "none" || s == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		ok := false
		for _, known := range ann.PeerNames {
			ok = ok || p == known
		}
		if !ok {
			return nil, fmt.Errorf("unknown peer %q (want %s, or none)", p, strings.Join(ann.PeerNames, ", "))
		}
		out = append(out, p)
	}
	return out, nil
}

func runBenchANN(ctx context.Context, e *env, f *benchANNFlags) error {
	efs, err := parseInts(f.efs)
	if err != nil {
		return usagef("--ef: %v", err)
	}
	peers, err := parsePeers(f.peers)
	if err != nil {
		return usagef("--peers: %v", err)
	}
	metric, err := index.ParseMetric(f.metric)
	if err != nil {
		return usagef("--metric: %v", err)
	}
	switch {
	case f.k < 1 || f.k > 100:
		return usagef("--k %d: want 1..100", f.k)
	case f.m < 2:
		return usagef("--m %d: want at least 2", f.m)
	case f.efConstruction < 1:
		return usagef("--ef-construction %d: want at least 1", f.efConstruction)
	case f.queries < 1:
		return usagef("--queries %d: want at least 1", f.queries)
	case f.limit < 0:
		return usagef("--limit %d: want 0 (all) or more", f.limit)
	case f.runs < 1:
		return usagef("--runs %d: want at least 1", f.runs)
	case f.threads < 0:
		return usagef("--threads %d: want 0 (GOMAXPROCS) or more", f.threads)
	case f.data == "" && (f.queriesFile != "" || f.truth != "" || f.limit != 0):
		return usagef("--queries-file, --groundtruth and --limit apply to --data")
	case f.data != "" && f.truth != "" && f.limit != 0:
		return usagef("--groundtruth describes the whole of --data; drop --limit or --groundtruth")
	case f.data != "" && f.truth != "" && f.queriesFile == "":
		return usagef("--groundtruth needs the --queries-file it was computed for")
	case f.data == "" && (f.n < 100 || f.dim < 1):
		return usagef("--n %d --dim %d: want n ≥ 100 (recall@100) and dim ≥ 1", f.n, f.dim)
	case f.clusters < 1:
		return usagef("--clusters %d: want at least 1", f.clusters)
	case !(f.noise > 0) || f.noise > 1e6:
		return usagef("--noise %v: want a positive number", f.noise)
	}

	dists := strings.Split(f.distribution, ",")
	for i, d := range dists {
		dists[i] = strings.TrimSpace(d)
		if !slices.Contains(ann.Distributions, dists[i]) {
			return usagef("--distribution %q: want %s", d, strings.Join(ann.Distributions, " or "))
		}
	}
	var sizes []int
	if f.sizes != "" {
		if f.data != "" {
			return usagef("--sizes generates synthetic data; it does not apply to --data")
		}
		var err error
		if sizes, err = parseSizes(f.sizes); err != nil {
			return usagef("--sizes: %v", err)
		}
	} else if len(dists) > 1 {
		return usagef("--distribution takes one value without --sizes")
	}

	if err := f.out.begin(ctx, e); err != nil {
		return err
	}
	// The header is taken first: its date and load average describe the start.
	header := bench.NewHeader(ctx, "ann", "")
	prog := newProgressLine(e)
	defer prog.finish()
	// The checkpoints of every run are removed once the last report is
	// written: a scale run killed at its last size resumes with the
	// earlier sizes read back whole.
	var checkpoints []*ann.Checkpoint
	binarySum, err := runningBinarySHA256()
	if err != nil {
		return err
	}
	removeCheckpoints := func() {
		for _, cp := range checkpoints {
			if err := cp.Remove(); err != nil {
				fmt.Fprintf(e.stderr, "mmsearch: bench ann: %v\n", err)
			}
		}
	}
	run := func(n int, dist, dir string) (*ann.Result, *bench.Report, []string, error) {
		f.n, f.distribution = n, dist
		ds, err := loadANNDataset(ctx, f, metric, prog)
		if err != nil {
			return nil, nil, nil, err
		}
		cp, err := openANNCheckpoint(e, f, binarySum)
		if err != nil {
			return nil, nil, nil, err
		}
		checkpoints = append(checkpoints, cp)
		cfg := ann.Config{
			Dataset: ds, Metric: metric, M: f.m, EfConstruction: f.efConstruction, Efs: efs,
			K: f.k, Seed: f.seed, Peers: peers, Python: f.python, InstallPeers: true,
			Threads: f.threads, OneThreadBuildMaxN: f.oneThreadMaxN, Runs: f.runs, Reps: f.reps, Progress: prog.update,
			PeerCacheDir: encoders.CacheDir(e.getenv), Checkpoint: cp,
		}
		res, err := ann.Run(ctx, cfg)
		if err != nil {
			return nil, nil, nil, err
		}
		prog.finish()
		for _, sk := range res.Skipped {
			fmt.Fprintf(e.stderr, "mmsearch: bench ann: SKIPPED %s\n", sk)
		}
		prog.update(ann.Progress{Stage: "writing report"})
		rep := res.Report(header)
		f.out.mark(rep)
		files, err := ann.WriteOutputs(dir, res, rep)
		return res, rep, files, err
	}
	if sizes == nil {
		_, rep, files, err := run(f.n, dists[0], f.out.path(e))
		if err != nil {
			return err
		}
		removeCheckpoints()
		prog.finish()
		return printBenchReport(e, rep, files, f.json)
	}
	scale := &ann.ScaleResult{}
	for _, dist := range dists {
		for _, n := range sizes {
			res, _, _, err := run(n, dist, filepath.Join(f.out.path(e), ann.ScaleRunDir(dist, n)))
			if err != nil {
				return fmt.Errorf("%s n=%d: %w", dist, n, err)
			}
			scale.AddRun(dist, res)
		}
	}
	header.Benchmark = ann.ScaleReportName
	rep := scale.Report(header)
	f.out.mark(rep)
	files, err := ann.WriteScaleOutputs(f.out.path(e), scale, rep)
	if err != nil {
		return err
	}
	removeCheckpoints()
	prog.finish()
	return printBenchReport(e, rep, files, f.json)
}

// printBenchReport prints a written report as JSON or text, and the files.
func printBenchReport(e *env, rep *bench.Report, files []string, asJSON bool) error {
	if asJSON {
		return rep.WriteJSON(e.stdout)
	}
	if err := rep.WriteText(e.stdout); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nwrote %s\n", strings.Join(files, ", "))
	return nil
}

// parseSizes parses --sizes: collection sizes of 100 (recall@100 needs
// them) to 100,000,000, at most 8 of them.
func parseSizes(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		v, err := strconv.Atoi(part)
		if err != nil || v < 100 || v > 100_000_000 {
			return nil, fmt.Errorf("%q: want a size from 100 to 100000000", part)
		}
		if len(out) == 8 {
			return nil, fmt.Errorf("more than 8 sizes")
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// loadANNDataset generates or reads the benchmark's vectors.
func loadANNDataset(ctx context.Context, f *benchANNFlags, metric index.Metric, prog *progressLine) (*ann.Dataset, error) {
	if f.data == "" {
		prog.update(ann.Progress{Stage: fmt.Sprintf("generating %d×%d synthetic vectors", f.n, f.dim)})
		ds, err := ann.Synthetic(ctx, ann.SyntheticConfig{
			Distribution: f.distribution, N: f.n, Dim: f.dim, Queries: f.queries, Clusters: f.clusters, Noise: f.noise, Seed: f.seed,
		})
		if err != nil {
			return nil, err
		}
		return ds, nil
	}
	prog.update(ann.Progress{Stage: "reading " + f.data})
	limit := f.limit
	if limit > 0 && f.queriesFile == "" {
		limit += f.queries // the queries come off the end
	}
	base, err := ann.LoadVectors(f.data, limit)
	if err != nil {
		return nil, err
	}
	var queries [][]float32
	if f.queriesFile != "" {
		prog.update(ann.Progress{Stage: "reading " + f.queriesFile})
		if queries, err = ann.LoadVectors(f.queriesFile, f.queries); err != nil {
			return nil, err
		}
	} else {
		if len(base) <= f.queries {
			return nil, fmt.Errorf("%s holds %d vectors; cannot keep %d of them as queries", f.data, len(base), f.queries)
		}
		queries = base[len(base)-f.queries:]
		base = base[:len(base)-f.queries]
	}
	name := fmt.Sprintf("%s (%d vectors", f.data, len(base))
	if f.queriesFile != "" {
		name += ", queries " + f.queriesFile
	} else {
		name += fmt.Sprintf(", last %d held out as queries", len(queries))
	}
	ds := &ann.Dataset{Name: name, Dim: len(base[0]), Base: base, Queries: queries}
	if f.truth != "" {
		if ds.Truth, err = ann.LoadTruth(f.truth, len(queries)); err != nil {
			return nil, err
		}
		ds.Name += ", ground truth " + f.truth
	}
	if metric == index.Cosine {
		ds.Normalize()
		ds.Name += ", normalized"
	}
	ds.Name += ")"
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	return ds, nil
}

// progressLine shows the current stage on stderr: rewritten in place on a
// terminal, one line per new stage otherwise.
type progressLine struct {
	mu      sync.Mutex
	w       io.Writer
	term    bool
	start   time.Time
	last    string
	pending bool // a terminal line is showing
}

func newProgressLine(e *env) *progressLine {
	return &progressLine{w: e.stderr, term: e.isTerminal, start: time.Now()}
}

func (p *progressLine) update(pr ann.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := pr.Stage
	if pr.Total > 0 {
		line = fmt.Sprintf("%s [%d/%d]", pr.Stage, pr.Done, pr.Total)
	}
	elapsed := time.Since(p.start).Round(time.Second)
	if p.term {
		fmt.Fprintf(p.w, "\r\033[K%6s  %s", elapsed, line)
		p.pending = true
		return
	}
	if pr.Stage == p.last {
		return
	}
	p.last = pr.Stage
	fmt.Fprintf(p.w, "%6s  %s\n", elapsed, line)
}

// finish ends a terminal progress line so later output starts on a new line.
func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending {
		fmt.Fprint(p.w, "\r\033[K")
		p.pending = false
	}
}

// annCheckpointDir is the cache folder holding the checkpoints of
// interrupted bench ann runs.
const annCheckpointDir = "ann-checkpoints"

// runningBinarySHA256 is the SHA-256 of the running program's file, which
// names the code that measures in a checkpoint's key.
func runningBinarySHA256() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	sum, err := encoders.FileSHA256(exe)
	if err != nil {
		return "", fmt.Errorf("checkpoint: hash the running binary: %w", err)
	}
	return sum, nil
}

// openANNCheckpoint opens the checkpoint of the run f describes (one size
// and distribution). Its key names the running binary by binarySum (see
// runningBinarySHA256), every flag that decides a figure, and the size and
// time of the data files, so that steps are reused only by the same
// program measuring the same thing; --resume keeps them, a run without it
// starts afresh.
func openANNCheckpoint(e *env, f *benchANNFlags, binarySum string) (*ann.Checkpoint, error) {
	key := fmt.Sprintf("binary sha256 %s\nn %d dim %d seed %d queries %d clusters %d noise %v distribution %s\n"+
		"m %d ef-construction %d ef %s k %d metric %s peers %s python %s threads %d runs %d reps %d one-thread-build-max-n %d limit %d\n",
		binarySum, f.n, f.dim, f.seed, f.queries, f.clusters, f.noise, f.distribution,
		f.m, f.efConstruction, f.efs, f.k, f.metric, f.peers, f.python, f.threads, f.runs, f.reps, f.oneThreadMaxN, f.limit)
	for _, p := range []string{f.data, f.queriesFile, f.truth} {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		abs, _ := filepath.Abs(p)
		key += fmt.Sprintf("file %s size %d modified %s\n", abs, st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano))
	}
	h := sha256.Sum256([]byte(key))
	name := fmt.Sprintf("%s-n%d-%s", f.distribution, f.n, hex.EncodeToString(h[:6]))
	if f.data != "" {
		name = fmt.Sprintf("data-%s", hex.EncodeToString(h[:6]))
	}
	return ann.OpenCheckpoint(filepath.Join(encoders.CacheDir(e.getenv), "bench", annCheckpointDir, name), key, f.resume)
}
