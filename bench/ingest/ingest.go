// Package ingest measures the indexing pipeline: images per second through
// mmsearch's real ingest (walk, read, hash, decode, preprocess, encode, store,
// index), the time split by stage, beside the throughput of the image encoder
// alone on the same model and batch size, and the cost of an incremental
// re-run over unchanged files.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/engine"
	"mmsearch/engine/walk"
)

// Config describes one ingest benchmark.
type Config struct {
	Dataset string // folder of images
	Model   string // model name or folder
	Batch   int    // images per inference (0 = 32)
	Workers int    // decode workers (0 = GOMAXPROCS)
	Streams int    // inferences at once during the ingest (0 = engine's choice)
	Threads int    // threads per inference (0 = all cores)
	Rerun   bool   // also time a second run over the unchanged files
	Rounds  int    // ingest + encoder-alone rounds; the median ratio is reported (0 = 1)
	Runtime encoders.RuntimeOptions
	Getenv  func(string) string
	Log     io.Writer // progress lines (nil = none)
}

// Round is one ingest into a fresh library followed by the encoder alone.
type Round struct {
	Images         int               `json:"images"`
	Failed         int               `json:"failed"`
	IngestSeconds  float64           `json:"ingest_seconds"`
	IngestPerSec   float64           `json:"ingest_images_per_s"`
	Stages         engine.StageTimes `json:"stages"`
	EncoderImages  int               `json:"encoder_only_images"`
	EncoderSeconds float64           `json:"encoder_only_seconds"`
	EncoderPerSec  float64           `json:"encoder_only_images_per_s"` // the faster setup
	EncoderSetups  []encoderSetup    `json:"encoder_only_setups"`
	Ratio          float64           `json:"ingest_to_encoder_ratio"`
}

// Result holds the measured figures: those of the round with the median
// ratio, every round, and the re-run.
type Result struct {
	Round
	Rounds        []Round `json:"rounds"`
	RerunSeconds  float64 `json:"rerun_seconds,omitempty"`
	RerunFirst    float64 `json:"rerun_first_run_seconds,omitempty"` // the ingest it re-ran
	RerunFraction float64 `json:"rerun_fraction_of_first,omitempty"`
	Model         string  `json:"model"`
	Batch         int     `json:"batch"`
}

// Run measures cfg.Rounds rounds, each indexing cfg.Dataset into a fresh
// temporary library and then timing the encoder alone, so that the two
// sides of every ratio ran back to back on the machine as it was then. The
// re-run over unchanged files is timed after the last round's ingest.
func Run(ctx context.Context, cfg Config) (*bench.Report, *Result, error) {
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 1
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	res := &Result{Batch: cfg.Batch}
	for i := range cfg.Rounds {
		logf("round %d of %d", i+1, cfg.Rounds)
		last := i == cfg.Rounds-1
		r, err := runRound(ctx, cfg, res, cfg.Rerun && last, logf)
		if err != nil {
			return nil, nil, err
		}
		res.Rounds = append(res.Rounds, r)
	}
	sorted := slices.Clone(res.Rounds)
	slices.SortFunc(sorted, func(a, b Round) int { return cmp.Compare(a.Ratio, b.Ratio) })
	res.Round = sorted[len(sorted)/2]
	return report(ctx, cfg, res), res, nil
}

// runRound ingests into a fresh library, optionally times a re-run over the
// unchanged files (into res), and times the encoder alone.
func runRound(ctx context.Context, cfg Config, res *Result, rerun bool, logf func(string, ...any)) (Round, error) {
	var r Round
	tmp, err := os.MkdirTemp("", "mmsearch-bench-ingest-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	lib, err := engine.Open(ctx, tmp, engine.Options{Model: cfg.Model, Runtime: cfg.Runtime, Threads: cfg.Threads, BatchSize: cfg.Batch, Getenv: cfg.Getenv})
	if err != nil {
		return r, err
	}
	defer lib.Close()
	res.Model = lib.Model().Manifest.Name

	logf("ingest: indexing %s with %s (batch %d) ...", cfg.Dataset, res.Model, cfg.Batch)
	opt := engine.IngestOptions{Workers: cfg.Workers, BatchSize: cfg.Batch, Streams: cfg.Streams}
	rep, err := lib.Ingest(ctx, []string{cfg.Dataset}, opt)
	if err != nil {
		return r, fmt.Errorf("ingest: %w", err)
	}
	r.Images, r.Failed = rep.Indexed, rep.Failed
	r.IngestSeconds = rep.Elapsed.Seconds()
	r.IngestPerSec = float64(rep.Indexed) / rep.Elapsed.Seconds()
	r.Stages = rep.Stages
	logf("ingest: %d images in %.2fs (%.1f images/s), %d failed", rep.Indexed, r.IngestSeconds, r.IngestPerSec, rep.Failed)

	if rerun {
		rr, err := lib.Ingest(ctx, []string{cfg.Dataset}, opt)
		if err != nil {
			return r, fmt.Errorf("re-run: %w", err)
		}
		res.RerunSeconds, res.RerunFirst = rr.Elapsed.Seconds(), r.IngestSeconds
		res.RerunFraction = res.RerunSeconds / r.IngestSeconds
		logf("ingest: re-run over %d unchanged files in %.3fs (%.2f%% of the first run)", rr.Unchanged, res.RerunSeconds, 100*res.RerunFraction)
	}

	if err := encoderOnly(ctx, cfg, lib.Model(), &r, logf); err != nil {
		return r, err
	}
	r.Ratio = r.IngestPerSec / r.EncoderPerSec
	return r, nil
}

// encoderSetup is one way of running the image encoder alone.
type encoderSetup struct {
	Streams   int               `json:"streams"`
	Threads   int               `json:"threads_per_inference"`
	Spin      encoders.SpinMode `json:"spin"`
	Images    int               `json:"images"`
	Seconds   float64           `json:"seconds"`
	PerSecond float64           `json:"images_per_s"`
}

// encoderOnly preprocesses up to 256 of the dataset's images into memory
// (not timed) and times the image encoder alone over as many images as were
// ingested (at least one full pass over the preprocessed set), in the same
// batch size, two ways: one inference at a time on all cores with ONNX
// Runtime's own spinning (SpinAlways), and the ingest's own layout of
// concurrent inferences with the encoder's default spinning. The faster is
// the peer.
func encoderOnly(ctx context.Context, cfg Config, m *encoders.Model, res *Round, logf func(string, ...any)) error {
	cores := runtime.GOMAXPROCS(0)
	streams, threads := engine.EncodeStreams(cores, cfg.Threads, cfg.Streams)
	setups := []encoderSetup{{Streams: 1, Threads: max(cfg.Threads, 0), Spin: encoders.SpinAlways}}
	if setups[0].Threads == 0 {
		setups[0].Threads = cores
	}
	if streams != 1 || threads != setups[0].Threads {
		setups = append(setups, encoderSetup{Streams: streams, Threads: threads})
	}
	var tensors []float32
	n := 0
	for i := range setups {
		su := &setups[i]
		enc, err := encoders.NewImageEncoder(m, encoders.SessionOptions{IntraOpThreads: su.Threads, MaxBatch: cfg.Batch, Spin: su.Spin})
		if err != nil {
			return err
		}
		if tensors == nil {
			tensors, n, err = loadTensors(ctx, cfg.Dataset, enc)
			if err != nil {
				enc.Close()
				return err
			}
		}
		total := max(res.Images, n)
		logf("encoder only: %d images in batches of %d, %d at once on %d threads each ...", total, cfg.Batch, su.Streams, su.Threads)
		el, err := timeEncoder(ctx, enc, tensors, n, total, cfg.Batch, su.Streams)
		enc.Close()
		if err != nil {
			return err
		}
		su.Images, su.Seconds = total, el.Seconds()
		su.PerSecond = float64(total) / el.Seconds()
		logf("encoder only: %.1f images/s", su.PerSecond)
		if su.PerSecond > res.EncoderPerSec {
			res.EncoderImages, res.EncoderSeconds, res.EncoderPerSec = su.Images, su.Seconds, su.PerSecond
		}
	}
	res.EncoderSetups = setups
	return nil
}

// loadTensors preprocesses up to 256 images of dir for enc.
func loadTensors(ctx context.Context, dir string, enc *encoders.ImageEncoder) ([]float32, int, error) {
	per := enc.TensorLen()
	p := enc.Tower().Preprocess()
	var tensors []float32
	n := 0
	err := walk.Walk(ctx, []string{dir}, walk.Options{}, func(f walk.File) error {
		if n == 256 {
			return filepath.SkipAll
		}
		dst := make([]float32, per)
		if _, err := imageproc.LoadTensor(f.Path, imageproc.Options{}, p, dst); err == nil {
			tensors = append(tensors, dst...)
			n++
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("no images in %s", dir)
	}
	return tensors, n, nil
}

// timeEncoder embeds total images cycled from the n in tensors, in batches
// of batch, with streams inferences at once, and returns the wall time.
func timeEncoder(ctx context.Context, enc *encoders.ImageEncoder, tensors []float32, n, total, batch, streams int) (time.Duration, error) {
	per := enc.TensorLen()
	next := make(chan [2]int) // offset and size of a batch
	errs := make(chan error, streams)
	start := time.Now()
	for range streams {
		go func() {
			var err error
			for b := range next {
				if err == nil {
					_, err = enc.EncodeTensors(ctx, tensors[b[0]*per:(b[0]+b[1])*per], b[1])
				}
			}
			errs <- err
		}()
	}
	for done := 0; done < total; {
		b := min(batch, total-done)
		off := done % n
		if off+b > n {
			b = n - off
		}
		next <- [2]int{off, b}
		done += b
	}
	close(next)
	var err error
	for range streams {
		err = errors.Join(err, <-errs)
	}
	return time.Since(start), err
}

func report(ctx context.Context, cfg Config, res *Result) *bench.Report {
	h := bench.NewHeader(ctx, "ingest", cfg.Dataset)
	h.AddParam("model", res.Model)
	h.AddParam("batch", res.Batch)
	h.AddParam("workers", max(cfg.Workers, 0))
	h.AddParam("threads per inference", cfg.Threads)
	h.AddParam("streams", cfg.Streams)
	h.AddParam("GOMAXPROCS", runtime.GOMAXPROCS(0))
	h.Peers = []bench.Peer{{Name: "ONNX Runtime alone (same model, same batch)", Version: encoders.RunningVersion()}}
	r := &bench.Report{Header: h, Figures: res.Figures(), Data: res}
	h.AddParam("rounds", len(res.Rounds))
	median := ""
	if len(res.Rounds) > 1 {
		lo, hi := res.Rounds[0].Ratio, res.Rounds[0].Ratio
		for _, rd := range res.Rounds {
			lo, hi = min(lo, rd.Ratio), max(hi, rd.Ratio)
		}
		median = fmt.Sprintf(" (median of %d rounds, range %.2f-%.2f)", len(res.Rounds), lo, hi)
	}
	r.Headline = append(r.Headline,
		fmt.Sprintf("ingest %.1f images/s vs encoder alone %.1f images/s: ratio %.2f%s", res.IngestPerSec, res.EncoderPerSec, res.Ratio, median))
	if cfg.Rerun {
		r.Headline = append(r.Headline, fmt.Sprintf("re-run over unchanged files: %.3f s = %.2f%% of the first run (%.2f s)", res.RerunSeconds, 100*res.RerunFraction, res.RerunFirst))
	}
	rt := bench.Table{Title: "Rounds (ingest into a fresh library, then the encoder alone)", Columns: []string{"round", "images", "ingest images/s", "encoder alone images/s", "ratio"}}
	for i, rd := range res.Rounds {
		rt.AddRow(fmt.Sprint(i+1), fmt.Sprint(rd.Images), fmt.Sprintf("%.1f", rd.IngestPerSec), fmt.Sprintf("%.1f", rd.EncoderPerSec), fmt.Sprintf("%.2f", rd.Ratio))
	}
	r.Tables = append(r.Tables, rt)
	t := bench.Table{Title: "Time by stage (the median round)", Columns: []string{"stage", "seconds", "note"}}
	s := res.Stages
	for _, row := range []struct {
		name string
		d    time.Duration
		note string
	}{
		{"walk", s.Walk, "one goroutine, overlaps the rest"},
		{"read", s.Read, "summed over decode workers"},
		{"hash", s.Hash, "summed over decode workers"},
		{"decode+preprocess", s.Preprocess, "summed over decode workers"},
		{"encode (ONNX Runtime)", s.Encode, "summed over concurrent inferences"},
		{"store (SQLite)", s.Store, "overlaps encoding"},
		{"index (HNSW)", s.Index, "overlaps encoding"},
		{"save index", s.Save, "at the end"},
	} {
		t.AddRow(row.name, fmt.Sprintf("%.3f", row.d.Seconds()), row.note)
	}
	t.AddRow("wall", fmt.Sprintf("%.3f", res.IngestSeconds), fmt.Sprintf("%d images", res.Images))
	r.Tables = append(r.Tables, t)
	et := bench.Table{Title: "Encoder alone in the median round (the faster is the peer)", Columns: []string{"inferences at once", "threads each", "spinning", "images", "seconds", "images/s"}}
	for _, su := range res.EncoderSetups {
		et.AddRow(fmt.Sprint(su.Streams), fmt.Sprint(su.Threads), su.Spin.String(), fmt.Sprint(su.Images), fmt.Sprintf("%.2f", su.Seconds), fmt.Sprintf("%.1f", su.PerSecond))
	}
	r.Tables = append(r.Tables, et)
	return r
}
