package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"

	"mmsearch/bench/cliproc"
)

// benchBatchCommand is bench batch: search --batch against one process per
// query.
func benchBatchCommand() *command {
	var rf runtimeFlags
	var cfg cliproc.BatchConfig
	var out benchOutput
	var asJSON bool
	return &command{
		name:    "batch",
		summary: "wall time of N text queries in one search --batch process against one search process per query, and the speed-up",
		usage:   "[--queries 100] [--items 10000] [--rounds 3] [-k 10] [--library DIR] [--model NAME|DIR] [--out DIR] [--force]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			intVar(fs, &cfg.Queries, "queries", 100, 1, cliproc.MaxBatchQueries, "distinct text queries")
			intVar(fs, &cfg.Items, "items", 10000, 1, cliproc.MaxItems, "library size")
			intVar(fs, &cfg.Runs, "rounds", 3, 1, 100, "timed rounds of both ways (after one untimed round)")
			intVar(fs, &cfg.K, "k", 10, 1, maxK, "results per query")
			fs.StringVar(&cfg.Library, "library", "", "library folder, filled on first use and reused after (default: a temporary one)")
			fs.StringVar(&cfg.Binary, "binary", "", "mmsearch executable to time (default: this one)")
			out.register(fs, "folder for the JSON and Markdown reports")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("bench batch takes no arguments")
			}
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			if cfg.Binary == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				cfg.Binary = exe
			}
			cfg.Query = "cat"
			cfg.Model, cfg.Models = rf.model, e.models()
			cfg.Runtime, cfg.Getenv, cfg.Log = rf.runtimeOptions(e), e.getenv, e.stderr
			r, res, err := cliproc.RunBatch(ctx, cfg)
			if err != nil {
				return err
			}
			name := strings.TrimSuffix(filepath.Base(res.ModelDir), filepath.Ext(res.ModelDir))
			return writeReport(e, r, &out, "batch-"+name, asJSON)
		},
	}
}
