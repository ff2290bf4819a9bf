package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"mmsearch/bench"
	"mmsearch/bench/encoder"
	"mmsearch/bench/ingest"
	"mmsearch/bench/latency"
)

// benchCommand groups the benchmarks.
func benchCommand() *command {
	return &command{
		name:    "bench",
		summary: "benchmarks: ann, cluster, workers, ingest, query, filter, cli, batch, encoder, serve, retrieval, analogy, int8; figures, summary and plots of stored reports",
		children: []*command{
			benchANNCommand(),
			benchANNMergeCommand(),
			benchClusterCommand(),
			benchIngestCommand(),
			benchQueryCommand(),
			benchFilterCommand(),
			benchCLICommand(),
			benchBatchCommand(),
			benchEncoderCommand(),
			benchServeCommand(),
			benchRetrievalCommand(),
			benchAnalogyCommand(),
			benchInt8Command(),
			benchWorkersCommand(),
			benchFiguresCommand(),
			benchSummaryCommand(),
			benchPlotCommand(),
		},
	}
}

// writeReport prints a report's table and writes its JSON and Markdown files.
// The header records what out.begin found at the start of the run.
func writeReport(e *env, r *bench.Report, out *benchOutput, base string, asJSON bool) error {
	out.mark(r)
	if asJSON {
		return r.WriteJSON(e.stdout)
	}
	if err := r.WriteText(e.stdout); err != nil {
		return err
	}
	files, err := r.WriteFiles(out.path(e), base)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nwrote %s\n", strings.Join(files, ", "))
	return nil
}

// cpuProfile writes a Go CPU profile of a benchmark run when its flag is set.
type cpuProfile struct{ path string }

func (c *cpuProfile) register(fs *flag.FlagSet) {
	fs.StringVar(&c.path, "cpuprofile", "", "write a Go CPU profile of the run to `FILE` (for go tool pprof; time inside ONNX Runtime shows as cgo calls)")
}

// start begins profiling; the returned function ends it.
func (c *cpuProfile) start() (stop func() error, err error) {
	if c.path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(c.path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

func benchIngestCommand() *command {
	var rf runtimeFlags
	var prof cpuProfile
	var cfg ingest.Config
	var out benchOutput
	var makePhotos, makeSmall string
	var asJSON bool
	var photos, small int
	var fc ingest.FormatsConfig
	return &command{
		name:    "ingest",
		summary: "images/s through the indexing pipeline, by stage, beside the encoder alone; or HEIC against JPEG",
		usage:   "--dataset DIR [--model NAME|DIR] [--batch N] [--rerun] | --heic-vs-jpeg N [--model NAME|DIR] | --make-photos DIR [--photos N] | --make-small DIR [--small N]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			rf.registerThreads(fs)
			fs.StringVar(&cfg.Dataset, "dataset", "", "folder of images to index")
			intVar(fs, &cfg.Batch, "batch", 32, 1, maxBatch, "images per inference")
			countVar(fs, &cfg.Workers, "workers", 0, maxWorkers, "decode workers (0 = all cores)")
			countVar(fs, &cfg.Streams, "streams", 0, maxStreams, "inferences run at once during the ingest (0 = chosen from the cores and --threads)")
			prof.register(fs)
			fs.BoolVar(&cfg.Rerun, "rerun", false, "also time a re-run over the unchanged files")
			intVar(fs, &cfg.Rounds, "rounds", 5, 1, 100, "rounds of ingest then encoder alone; the round with the median ratio is reported")
			out.register(fs, "folder for the JSON and Markdown reports")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
			fs.StringVar(&makePhotos, "make-photos", "", "write a collection of 4000x3000 JPEGs made from ../shared/images/formats into DIR, then exit")
			intVar(fs, &photos, "photos", 64, 1, 100000, "number of photos for --make-photos")
			fs.StringVar(&makeSmall, "make-small", "", "write a collection of 64x64 PNGs made from ../shared/images/formats into DIR (500 a sub-folder), then exit")
			intVar(fs, &small, "small", 10000, 1, 1000000, "number of pictures for --make-small")
			countVar(fs, &fc.N, "heic-vs-jpeg", 0, 100000, "instead of --dataset: make N 4032x3024 photos as JPEG and, from them, as HEIC (cached, made once), ingest each set and time one decode of each on one core")
			fs.StringVar(&fc.Dir, "photos-dir", "", "cache folder of the --heic-vs-jpeg photos (default: bench/photos-4032x3024-N under the cache folder)")
			intVar(fs, &fc.HEICQuality, "heic-quality", 85, 1, 100, "heif-enc quality of the HEIC copies")
			fs.StringVar(&fc.HEICPreset, "heic-preset", "ultrafast", "x265 speed preset of the HEIC copies (ultrafast ... placebo; \"\" for heif-enc's default, ~7x slower to make)")
			countVar(fs, &fc.Parallel, "heic-jobs", 0, 256, "heif-enc processes at once when making the HEIC copies (0 = the cores)")
			intVar(fs, &fc.DecodeRuns, "decode-runs", 5, 1, 1000, "timed decodes of one photo per format on one core (--heic-vs-jpeg)")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if makeSmall != "" {
				n, err := bench.MakeCollection(ctx, bench.Collection{Src: "../shared/images/formats", Out: makeSmall, N: small, Width: 64, Height: 64, Format: "png", PerFolder: 500})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "wrote %d 64x64 PNGs to %s\n", n, makeSmall)
				return nil
			}
			if makePhotos != "" {
				n, err := bench.MakeBigJPEGs(ctx, "../shared/images/formats", makePhotos, photos, 4000, 3000)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "wrote %d 4000x3000 JPEGs to %s\n", n, makePhotos)
				return nil
			}
			if fc.N > 0 {
				if cfg.Dataset != "" {
					return usagef("--heic-vs-jpeg makes its own photos: leave out --dataset")
				}
				if err := out.begin(ctx, e); err != nil {
					return err
				}
				if fc.Dir == "" {
					fc.Dir = filepath.Join(benchOut(e, ""), fmt.Sprintf("photos-%dx%d-%d", ingest.PhotoWidth, ingest.PhotoHeight, fc.N))
				}
				fc.Src, fc.Model, fc.Threads, fc.Batch, fc.Workers, fc.Streams, fc.Rounds = "../shared/images/formats", rf.model, rf.threads, cfg.Batch, cfg.Workers, cfg.Streams, cfg.Rounds
				fc.Runtime, fc.Getenv, fc.Log = rf.runtimeOptions(e), e.getenv, e.stderr
				r, _, err := ingest.RunFormats(ctx, fc)
				if err != nil {
					return err
				}
				return writeReport(e, r, &out, "ingest-heic-vs-jpeg-"+r.Header.Params[0].Value, asJSON)
			}
			if cfg.Dataset == "" {
				return usagef("--dataset (or --heic-vs-jpeg N) is required")
			}
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			cfg.Model, cfg.Threads = rf.model, rf.threads
			cfg.Runtime, cfg.Getenv, cfg.Log = rf.runtimeOptions(e), e.getenv, e.stderr
			stopProfile, err := prof.start()
			if err != nil {
				return err
			}
			r, _, err := ingest.Run(ctx, cfg)
			if perr := stopProfile(); err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
			return writeReport(e, r, &out, "ingest-"+r.Header.Params[0].Value, asJSON)
		},
	}
}

func benchQueryCommand() *command {
	var rf runtimeFlags
	var prof cpuProfile
	var cfg latency.Config
	var out benchOutput
	var queries string
	var asJSON bool
	return &command{
		name:    "query",
		summary: "text-query latency (p50/p99) on a large library",
		usage:   "[--items 100000] [--runs 1000] [--model NAME|DIR]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			intVar(fs, &cfg.Items, "items", 100000, 1, 10_000_000, "library size")
			intVar(fs, &cfg.Runs, "runs", 1000, 1, 1_000_000, "timed queries")
			intVar(fs, &cfg.K, "k", 10, 1, maxK, "results per query")
			prof.register(fs)
			fs.StringVar(&queries, "queries", "dog face,red heart,cat,woman cook,blue circle,smiling face with sunglasses,pizza,rocket", "comma-separated text queries")
			out.register(fs, "folder for the JSON and Markdown reports")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if cfg.Items < 1 || cfg.Runs < 1 {
				return usagef("--items and --runs must be positive")
			}
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			cfg.Queries = strings.Split(queries, ",")
			cfg.Model, cfg.Seed = rf.model, 1
			cfg.Runtime, cfg.Getenv, cfg.Log = rf.runtimeOptions(e), e.getenv, e.stderr
			stopProfile, err := prof.start()
			if err != nil {
				return err
			}
			r, _, err := latency.Run(ctx, cfg)
			if perr := stopProfile(); err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
			return writeReport(e, r, &out, "query-latency", asJSON)
		},
	}
}

func benchEncoderCommand() *command {
	var rf runtimeFlags
	var cfg encoder.Config
	var out benchOutput
	var batches string
	var asJSON bool
	return &command{
		name:    "encoder",
		summary: "image encoder images/s and text query latency, beside plain ONNX Runtime",
		usage:   "[--model NAME|DIR] [--int8 auto|NAME|DIR] [--batches 1,8,32] [--images 64] [--rounds 3] [--ort-variants]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			rf.registerThreads(fs)
			fs.StringVar(&batches, "batches", "1,8,32", "comma-separated batch sizes")
			intVar(fs, &cfg.Images, "images", 64, 1, 1<<16, "images timed per batch size and round")
			fs.StringVar(&cfg.Int8, "int8", "", "also time this INT8 model in the same rounds; auto quantizes --model into a temporary folder")
			intVar(fs, &cfg.Rounds, "rounds", 3, 1, 20, "rounds of every measurement, interleaved; medians are reported")
			fs.BoolVar(&cfg.Variants, "ort-variants", false, "also time plain ONNX Runtime under other session options at the largest batch")
			fs.Float64Var(&cfg.ClockMHz, "clock-mhz", 0, "clock for the peak (default: the highest 'cpu MHz' in /proc/cpuinfo)")
			intVar(fs, &cfg.Texts, "texts", 50, 1, 100000, "text queries timed")
			out.register(fs, "folder for the JSON and Markdown reports")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if cfg.Rounds < 1 || cfg.Rounds > 20 {
				return usagef("--rounds %d: want 1..20", cfg.Rounds)
			}
			if cfg.Images < 1 || cfg.Images > 1<<16 {
				return usagef("--images %d: want 1..65536", cfg.Images)
			}
			if cfg.ClockMHz < 0 || cfg.ClockMHz > 10000 {
				return usagef("--clock-mhz %g: want 0..10000", cfg.ClockMHz)
			}
			for _, s := range strings.Split(batches, ",") {
				var b int
				if _, err := fmt.Sscanf(s, "%d", &b); err != nil || b < 1 || b > 4096 {
					return usagef("bad batch size %q", s)
				}
				cfg.Batches = append(cfg.Batches, b)
			}
			chosen, err := rf.resolveModel(e)
			if err != nil {
				return err
			}
			cfg.Model, cfg.Threads = chosen.Dir, rf.threads
			cfg.Runtime, cfg.Getenv, cfg.Log = rf.runtimeOptions(e), e.getenv, e.stderr
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			r, res, err := encoder.Run(ctx, cfg)
			if err != nil {
				return err
			}
			return writeReport(e, r, &out, "encoder-"+res.Model, asJSON)
		},
	}
}
