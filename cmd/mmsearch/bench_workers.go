package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"mmsearch/bench/workers"
)

func benchWorkersCommand() *command {
	var rf runtimeFlags
	var cfg workers.Config
	var out benchOutput
	var counts string
	var asJSON bool
	return &command{
		name:    "workers",
		summary: "distributed ingest images/s with 1, 2, 4 ... cluster workers over an embedded NATS server, and per-worker efficiency",
		usage:   "--dataset DIR [--model NAME|DIR] [--workers 1,2,4] [--threads 1] [--rounds 1] [--local]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.StringVar(&cfg.Dataset, "dataset", "", "folder of images to index (make one with 'bench ingest --make-small DIR')")
			fs.StringVar(&counts, "workers", "1,2,4", fmt.Sprintf("comma-separated worker counts (each 1..%d)", workers.MaxWorkers))
			intVar(fs, &cfg.Threads, "threads", 1, 1, maxThreads, "threads per worker's inference")
			intVar(fs, &cfg.Batch, "batch", 16, 1, 256, "files a worker takes at once and images per inference")
			intVar(fs, &cfg.Rounds, "rounds", 1, 1, workers.MaxRounds, "timed ingests per worker count; the median is reported")
			fs.BoolVar(&cfg.Local, "local", false, "also time the local ingest of the same files (all cores, no NATS)")
			out.register(fs, "folder for the JSON and Markdown reports")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if cfg.Dataset == "" {
				return usagef("--dataset is required")
			}
			seen := map[int]bool{}
			for _, s := range strings.Split(counts, ",") {
				var n int
				if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d", &n); err != nil || n < 1 || n > workers.MaxWorkers {
					return usagef("--workers: bad count %q (want 1..%d)", s, workers.MaxWorkers)
				}
				if !seen[n] {
					cfg.Counts = append(cfg.Counts, n)
					seen[n] = true
				}
			}
			if len(cfg.Counts) > 8 {
				return usagef("--workers: at most 8 counts")
			}
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			cfg.Model, cfg.Models = rf.model, e.models()
			cfg.Runtime, cfg.Getenv, cfg.Log = rf.runtimeOptions(e), e.getenv, e.stderr
			r, _, err := workers.Run(ctx, cfg)
			if err != nil {
				return err
			}
			return writeReport(e, r, &out, "workers", asJSON)
		},
	}
}
