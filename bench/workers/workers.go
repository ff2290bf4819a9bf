// Package workers measures distributed ingest: images per second through a
// coordinator and 1, 2, 4, ... cluster workers (package cluster) over an
// embedded NATS JetStream server on loopback, each worker with its own
// connection and its own ONNX Runtime session, beside the local ingest of
// the same files, and the per-worker efficiency (images/s with n workers
// over n times the images/s of one).
package workers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"mmsearch/bench"
	"mmsearch/cluster"
	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/models"
)

// Config describes one run.
type Config struct {
	Dataset string // folder of images
	Model   string // model name or folder
	Counts  []int  // worker counts, e.g. 1, 2, 4
	Threads int    // threads per worker's inference (0 = 1)
	Batch   int    // files a worker takes at once and images per inference (0 = 16)
	Rounds  int    // measured ingests per count; the median is reported (0 = 1)
	Local   bool   // also time the local ingest (all cores, no NATS)
	Runtime encoders.RuntimeOptions
	Models  models.Resolver
	Getenv  func(string) string
	Log     io.Writer // progress lines (nil = none)
}

// Limits of Config.
const (
	MaxWorkers = 64
	MaxRounds  = 20
)

// Row is the outcome for one worker count.
type Row struct {
	Workers    int       `json:"workers"` // 0: the local ingest
	Images     int       `json:"images"`
	Failed     int       `json:"failed"`
	Seconds    []float64 `json:"seconds"` // each round
	PerSec     float64   `json:"images_per_s"`
	Efficiency float64   `json:"efficiency"` // PerSec / (Workers × one worker's PerSec)
	Published  int       `json:"published"`
	Duplicates int       `json:"duplicates"`
}

// Result is the run's figures.
type Result struct {
	Model string `json:"model"`
	Files int    `json:"files"`
	Rows  []Row  `json:"rows"`
	Local *Row   `json:"local,omitempty"`
}

// Figures returns the headline's numbers by name: images/s and per-worker
// efficiency for each worker count, and the local ingest's images/s.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{"files": float64(r.Files)}
	for _, row := range r.Rows {
		f[fmt.Sprintf("images_per_s_%d_workers", row.Workers)] = row.PerSec
		f[fmt.Sprintf("efficiency_%d_workers", row.Workers)] = row.Efficiency
	}
	if r.Local != nil {
		f["images_per_s_local"] = r.Local.PerSec
	}
	return f
}

// Run measures the configured worker counts and returns the report.
func Run(ctx context.Context, cfg Config) (*bench.Report, *Result, error) {
	if cfg.Dataset == "" {
		return nil, nil, errors.New("no dataset")
	}
	if len(cfg.Counts) == 0 {
		cfg.Counts = []int{1, 2, 4}
	}
	for _, n := range cfg.Counts {
		if n < 1 || n > MaxWorkers {
			return nil, nil, fmt.Errorf("worker count %d: use 1 to %d", n, MaxWorkers)
		}
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 16
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 1
	}
	if cfg.Rounds > MaxRounds {
		return nil, nil, fmt.Errorf("rounds %d: at most %d", cfg.Rounds, MaxRounds)
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	tmp, err := os.MkdirTemp("", "mmsearch-bench-workers-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	srv, err := cluster.StartServer(cluster.ServerOptions{Name: "bench", Listen: "127.0.0.1:0", StoreDir: tmp + "/nats"})
	if err != nil {
		return nil, nil, err
	}
	defer srv.Shutdown()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = cluster.WaitJetStream(wctx, srv)
	cancel()
	if err != nil {
		return nil, nil, err
	}

	res := &Result{}
	for _, n := range cfg.Counts {
		row, err := measure(ctx, cfg, srv.ClientURL(), tmp, n, res, logf)
		if err != nil {
			return nil, nil, fmt.Errorf("%d workers: %w", n, err)
		}
		res.Rows = append(res.Rows, row)
	}
	var one float64
	for _, r := range res.Rows {
		if r.Workers == 1 {
			one = r.PerSec
		}
	}
	for i := range res.Rows {
		if one > 0 {
			res.Rows[i].Efficiency = res.Rows[i].PerSec / (float64(res.Rows[i].Workers) * one)
		}
	}
	if cfg.Local {
		row, err := measureLocal(ctx, cfg, tmp, logf)
		if err != nil {
			return nil, nil, fmt.Errorf("local ingest: %w", err)
		}
		res.Local = &row
	}
	return report(ctx, cfg, res), res, nil
}

// measure starts n workers, warms them up on a small ingest (model load and
// session start are not timed), then times Rounds ingests of the dataset,
// each into a fresh library.
func measure(ctx context.Context, cfg Config, url, tmp string, n int, res *Result, logf func(string, ...any)) (Row, error) {
	row := Row{Workers: n}
	wctx, stop := context.WithCancel(ctx)
	errs := make(chan error, n)
	var ws []*cluster.Worker
	defer func() {
		stop()
		for range ws {
			<-errs
		}
		for _, w := range ws {
			w.Close()
		}
	}()
	for i := range n {
		nc, err := cluster.Connect(url, cluster.Credentials{}, fmt.Sprintf("bench-worker-%d", i), nil)
		if err != nil {
			return row, err
		}
		defer nc.Close()
		w, err := cluster.NewWorker(nc, cluster.WorkerOptions{Model: cfg.Model, Models: cfg.Models, Runtime: cfg.Runtime,
			Threads: cfg.Threads, Streams: 1, Batch: cfg.Batch, Decoders: 1, Name: fmt.Sprintf("w%d", i), Getenv: cfg.Getenv})
		if err != nil {
			return row, err
		}
		ws = append(ws, w)
		go func() { errs <- w.Run(wctx) }()
	}
	nc, err := cluster.Connect(url, cluster.Credentials{}, "bench-coordinator", nil)
	if err != nil {
		return row, err
	}
	defer nc.Close()

	ingest := func(name string, warm bool) (engine.IngestReport, cluster.CoordinatorStats, error) {
		lib, err := engine.Open(ctx, fmt.Sprintf("%s/%s", tmp, name), engine.Options{Model: cfg.Model, Models: cfg.Models,
			Runtime: cfg.Runtime, Threads: 1, Getenv: cfg.Getenv})
		if err != nil {
			return engine.IngestReport{}, cluster.CoordinatorStats{}, err
		}
		defer lib.Close()
		res.Model = lib.Model().Manifest.Name
		coord, err := cluster.NewCoordinator(ctx, nc, cluster.CoordinatorOptions{Model: cluster.LibraryModel(lib.Model())})
		if err != nil {
			return engine.IngestReport{}, cluster.CoordinatorStats{}, err
		}
		opt := engine.IngestOptions{Remote: coord, BatchSize: 64}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var rep engine.IngestReport
		done := make(chan struct{})
		go func() {
			defer close(done)
			rep, err = lib.Ingest(rctx, []string{cfg.Dataset}, opt)
		}()
		if warm {
			// Stop once every worker has answered something: each has
			// loaded its model and started its session.
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
		wait:
			for {
				select {
				case <-done:
					break wait
				case <-t.C:
					ready := true
					for _, w := range ws {
						ready = ready && w.Stats().Items > 0
					}
					if ready {
						cancel()
						<-done
						return rep, coord.Stats(), nil
					}
				}
			}
		} else {
			<-done
		}
		return rep, coord.Stats(), err
	}
	logf("%d workers: warming up ...", n)
	if _, _, err := ingest(fmt.Sprintf("warm-%d", n), true); err != nil && !errors.Is(err, context.Canceled) {
		return row, fmt.Errorf("warm-up: %w", err)
	}
	var secs []float64
	for r := range cfg.Rounds {
		rep, st, err := ingest(fmt.Sprintf("lib-%d-%d", n, r), false)
		if err != nil {
			return row, err
		}
		row.Images, row.Failed, row.Published, row.Duplicates = rep.Indexed, rep.Failed, st.Published, st.Duplicates
		res.Files = rep.Found
		secs = append(secs, rep.Elapsed.Seconds())
		logf("%d workers, round %d: %d images in %.2fs (%.1f images/s)", n, r+1, rep.Indexed, rep.Elapsed.Seconds(), float64(rep.Indexed)/rep.Elapsed.Seconds())
	}
	row.Seconds = secs
	row.PerSec = float64(row.Images) / median(secs)
	return row, nil
}

// measureLocal times the engine's own ingest of the dataset on all cores.
func measureLocal(ctx context.Context, cfg Config, tmp string, logf func(string, ...any)) (Row, error) {
	row := Row{}
	var secs []float64
	for r := range cfg.Rounds {
		lib, err := engine.Open(ctx, fmt.Sprintf("%s/local-%d", tmp, r), engine.Options{Model: cfg.Model, Models: cfg.Models,
			Runtime: cfg.Runtime, BatchSize: cfg.Batch, Getenv: cfg.Getenv})
		if err != nil {
			return row, err
		}
		rep, err := lib.Ingest(ctx, []string{cfg.Dataset}, engine.IngestOptions{BatchSize: cfg.Batch})
		lib.Close()
		if err != nil {
			return row, err
		}
		row.Images, row.Failed = rep.Indexed, rep.Failed
		secs = append(secs, rep.Elapsed.Seconds())
		logf("local ingest, round %d: %d images in %.2fs", r+1, rep.Indexed, rep.Elapsed.Seconds())
	}
	row.Seconds = secs
	row.PerSec = float64(row.Images) / median(secs)
	return row, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func report(ctx context.Context, cfg Config, res *Result) *bench.Report {
	h := bench.NewHeader(ctx, "workers", cfg.Dataset)
	h.AddParam("model", res.Model)
	h.AddParam("files", res.Files)
	h.AddParam("threads_per_worker", cfg.Threads)
	h.AddParam("batch", cfg.Batch)
	h.AddParam("rounds", cfg.Rounds)
	h.AddParam("cores", runtime.NumCPU())
	h.Peers = []bench.Peer{{Name: "nats-server (embedded, JetStream)", Version: cluster.ServerVersion()}}
	r := &bench.Report{Header: h, Data: res, Figures: res.Figures()}
	t := bench.Table{Title: "ingest through cluster workers (one process, loopback NATS)",
		Columns: []string{"workers", "images", "failed", "seconds (median)", "images/s", "per-worker efficiency"}}
	var parts []string
	for _, row := range res.Rows {
		t.AddRow(row.Workers, row.Images, row.Failed, fmt.Sprintf("%.2f", median(row.Seconds)), fmt.Sprintf("%.1f", row.PerSec), fmt.Sprintf("%.0f%%", 100*row.Efficiency))
		parts = append(parts, fmt.Sprintf("%d worker(s) %.1f images/s (%.0f%% per-worker efficiency)", row.Workers, row.PerSec, 100*row.Efficiency))
	}
	if l := res.Local; l != nil {
		t.AddRow("local ingest", l.Images, l.Failed, fmt.Sprintf("%.2f", median(l.Seconds)), fmt.Sprintf("%.1f", l.PerSec), "-")
		parts = append(parts, fmt.Sprintf("the local ingest %.1f images/s", l.PerSec))
	}
	r.Tables = []bench.Table{t}
	r.Headline = []string{fmt.Sprintf("%s on %d cores, %d thread(s) per worker: %s.", res.Model, runtime.NumCPU(), cfg.Threads, strings.Join(parts, "; "))}
	r.Notes = []string{
		"Each worker has its own NATS connection and ONNX Runtime session, one batch in hand at a time; all run in this process beside the coordinator and the embedded server, so with more workers than cores they share the cores: efficiency below 100% there measures the CPU, not the queue.",
		"Per-worker efficiency = images/s with n workers / (n × images/s with 1 worker).",
		"Model load and session start are not timed: every worker answers a warm-up ingest first. Each timed ingest goes into a fresh library (walk, publish, embed, commit, index).",
	}
	return r
}
