package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"

	"mmsearch/bench/cliproc"
)

func benchCLICommand() *command {
	var rf runtimeFlags
	var cfg cliproc.Config
	var out benchOutput
	var asJSON bool
	return &command{
		name:    "cli",
		summary: "wall time of whole mmsearch processes: search on a large library beside version",
		usage:   "[--items 100000] [--runs 20] [--query cat] [--library DIR] [--model NAME|DIR]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			intVar(fs, &cfg.Items, "items", 100000, 1, cliproc.MaxItems, "library size")
			intVar(fs, &cfg.Runs, "runs", 20, 1, cliproc.MaxRuns, "timed processes per command")
			fs.StringVar(&cfg.Query, "query", "cat", "search expression")
			intVar(fs, &cfg.K, "k", 10, 1, maxK, "results per search")
			fs.StringVar(&cfg.Library, "library", "", "library folder, filled on first use and reused after (default: a temporary one)")
			fs.StringVar(&cfg.Binary, "binary", "", "mmsearch executable to time (default: this one)")
			out.register(fs, "folder for the JSON and Markdown reports")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("bench cli takes no arguments")
			}
			if cfg.Items < 1 || cfg.Items > cliproc.MaxItems || cfg.Runs < 1 || cfg.Runs > cliproc.MaxRuns {
				return usagef("--items must be in [1, %d] and --runs in [1, %d]", cliproc.MaxItems, cliproc.MaxRuns)
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
			cfg.Model, cfg.Models = rf.model, e.models()
			cfg.Runtime, cfg.Getenv, cfg.Log = rf.runtimeOptions(e), e.getenv, e.stderr
			r, res, err := cliproc.Run(ctx, cfg)
			if err != nil {
				return err
			}
			name := strings.TrimSuffix(filepath.Base(res.ModelDir), filepath.Ext(res.ModelDir))
			return writeReport(e, r, &out, "cli-"+name, asJSON)
		},
	}
}
