// Package ingest measures the indexing pipeline: images per second through
// mmsearch's real ingest (walk, read, hash, decode, preprocess, encode, store,
// index), the time split by stage, beside the throughput of the image encoder
// alone on the same model and batch size, and the cost of an incremental
// re-run over unchanged files.
package ingest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
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
	Threads int    // threads per inference (0 = all cores)
	Rerun   bool   // also time a second run over the unchanged files
	Runtime encoders.RuntimeOptions
	Getenv  func(string) string
	Log     io.Writer // progress lines (nil = none)
}

// Result holds the measured figures.
type Result struct {
	Images         int               `json:"images"`
	Failed         int               `json:"failed"`
	IngestSeconds  float64           `json:"ingest_seconds"`
	IngestPerSec   float64           `json:"ingest_images_per_s"`
	Stages         engine.StageTimes `json:"stages"`
	EncoderImages  int               `json:"encoder_only_images"`
	EncoderSeconds float64           `json:"encoder_only_seconds"`
	EncoderPerSec  float64           `json:"encoder_only_images_per_s"`
	Ratio          float64           `json:"ingest_to_encoder_ratio"`
	RerunSeconds   float64           `json:"rerun_seconds,omitempty"`
	RerunFraction  float64           `json:"rerun_fraction_of_first,omitempty"`
	Model          string            `json:"model"`
	Batch          int               `json:"batch"`
}

// Run indexes cfg.Dataset into a fresh temporary library, then measures the
// encoder alone, and returns the report.
func Run(ctx context.Context, cfg Config) (*bench.Report, *Result, error) {
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	tmp, err := os.MkdirTemp("", "mmsearch-bench-ingest-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	lib, err := engine.Open(ctx, tmp, engine.Options{Model: cfg.Model, Runtime: cfg.Runtime, Threads: cfg.Threads, BatchSize: cfg.Batch, Getenv: cfg.Getenv})
	if err != nil {
		return nil, nil, err
	}
	defer lib.Close()
	res := &Result{Model: lib.Model().Manifest.Name, Batch: cfg.Batch}

	logf("ingest: indexing %s with %s (batch %d) ...", cfg.Dataset, res.Model, cfg.Batch)
	rep, err := lib.Index(ctx, []string{cfg.Dataset}, engine.IngestOptions{Workers: cfg.Workers, BatchSize: cfg.Batch})
	if err != nil {
		return nil, nil, fmt.Errorf("ingest: %w", err)
	}
	res.Images, res.Failed = rep.Indexed, rep.Failed
	res.IngestSeconds = rep.Elapsed.Seconds()
	res.IngestPerSec = float64(rep.Indexed) / rep.Elapsed.Seconds()
	res.Stages = rep.Stages
	logf("ingest: %d images in %.2fs (%.1f images/s), %d failed", rep.Indexed, res.IngestSeconds, res.IngestPerSec, rep.Failed)

	if cfg.Rerun {
		rr, err := lib.Index(ctx, []string{cfg.Dataset}, engine.IngestOptions{Workers: cfg.Workers, BatchSize: cfg.Batch})
		if err != nil {
			return nil, nil, fmt.Errorf("re-run: %w", err)
		}
		res.RerunSeconds = rr.Elapsed.Seconds()
		res.RerunFraction = res.RerunSeconds / res.IngestSeconds
		logf("ingest: re-run over %d unchanged files in %.3fs (%.2f%% of the first run)", rr.Unchanged, res.RerunSeconds, 100*res.RerunFraction)
	}

	if err := encoderOnly(ctx, cfg, lib.Model(), res, logf); err != nil {
		return nil, nil, err
	}
	res.Ratio = res.IngestPerSec / res.EncoderPerSec
	return report(ctx, cfg, res), res, nil
}

// encoderOnly preprocesses up to 256 of the dataset's images into memory
// (not timed) and times the image encoder over as many images as were
// ingested (at least one full pass over the preprocessed set), in the same
// batch size.
func encoderOnly(ctx context.Context, cfg Config, m *encoders.Model, res *Result, logf func(string, ...any)) error {
	enc, err := encoders.NewImageEncoder(m, encoders.SessionOptions{IntraOpThreads: cfg.Threads, MaxBatch: cfg.Batch, Spin: true})
	if err != nil {
		return err
	}
	defer enc.Close()
	per := enc.TensorLen()
	var tensors []float32
	n := 0
	p := enc.Tower().Preprocess()
	err = walk.Walk(ctx, []string{cfg.Dataset}, walk.Options{}, func(f walk.File) error {
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
		return err
	}
	if n == 0 {
		return fmt.Errorf("no images in %s", cfg.Dataset)
	}
	total := max(res.Images, n)
	logf("encoder only: %d images in batches of %d ...", total, cfg.Batch)
	start := time.Now()
	done := 0
	for done < total {
		b := min(cfg.Batch, total-done)
		off := done % n
		if off+b > n {
			b = n - off
		}
		if _, err := enc.EncodeTensors(ctx, tensors[off*per:(off+b)*per], b); err != nil {
			return err
		}
		done += b
	}
	el := time.Since(start)
	res.EncoderImages, res.EncoderSeconds = done, el.Seconds()
	res.EncoderPerSec = float64(done) / el.Seconds()
	logf("encoder only: %.1f images/s", res.EncoderPerSec)
	return nil
}

func report(ctx context.Context, cfg Config, res *Result) *bench.Report {
	h := bench.NewHeader(ctx, "ingest", cfg.Dataset)
	h.AddParam("model", res.Model)
	h.AddParam("batch", res.Batch)
	h.AddParam("workers", max(cfg.Workers, 0))
	h.AddParam("threads per inference", cfg.Threads)
	h.AddParam("GOMAXPROCS", runtime.GOMAXPROCS(0))
	h.Peers = []bench.Peer{{Name: "ONNX Runtime alone (same model, same batch)", Version: encoders.ORTVersion}}
	r := &bench.Report{Header: h, Data: res}
	r.Headline = append(r.Headline,
		fmt.Sprintf("ingest %.1f images/s vs encoder alone %.1f images/s: ratio %.2f", res.IngestPerSec, res.EncoderPerSec, res.Ratio))
	if cfg.Rerun {
		r.Headline = append(r.Headline, fmt.Sprintf("re-run over unchanged files: %.3f s = %.2f%% of the first run (%.2f s)", res.RerunSeconds, 100*res.RerunFraction, res.IngestSeconds))
	}
	t := bench.Table{Title: "Time by stage", Columns: []string{"stage", "seconds", "note"}}
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
		{"encode (ONNX Runtime)", s.Encode, "the encoder goroutine"},
		{"store (SQLite)", s.Store, "overlaps encoding"},
		{"index (HNSW)", s.Index, "overlaps encoding"},
		{"save index", s.Save, "at the end"},
	} {
		t.AddRow(row.name, fmt.Sprintf("%.3f", row.d.Seconds()), row.note)
	}
	t.AddRow("wall", fmt.Sprintf("%.3f", res.IngestSeconds), fmt.Sprintf("%d images", res.Images))
	r.Tables = append(r.Tables, t)
	return r
}
