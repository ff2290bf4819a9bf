package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"strings"

	"mmsearch/bench"
	"mmsearch/bench/quantquality"
	"mmsearch/bench/retrieval"
)

// errGateFailed is returned (exit status 1) after the report of a failed quality gate.
var errGateFailed = errors.New("quality gate failed: see the report")

func benchInt8Command() *command {
	var rf runtimeFlags
	var int8Model, dataset, queries, spec, libraries, name string
	var out benchOutput
	var limit int
	var asJSON bool
	return &command{
		name:    "int8",
		summary: "quality gate of an INT8 model: retrieval, analogies and per-image cosine against float32",
		usage: `--int8 NAME|DIR --dataset DIR [--queries DIR] [--spec FILE] [--model NAME|DIR] [--libraries DIR] [--out DIR] [--name NAME] [--json]

Runs bench retrieval and bench analogy with the float32 model (--model) and
with its INT8 copy (--int8, from 'models quantize') on the same dataset, and
checks text→image R@10, image→image R@10 (with --queries) and the analogies'
mean R@10 (add scoring) each drop at most 0.01, and that the mean cosine
between the two models' vectors of each image is at least 0.99. Writes
NAME.json and NAME.md (--name, default quantize-quality) under --out; exits
1 when the gate fails. With --libraries, the libraries are kept there, one per
model, so the float32 one serves later runs.`,
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			rf.registerThreads(fs)
			fs.StringVar(&int8Model, "int8", "", "the INT8 model (name or folder)")
			fs.StringVar(&dataset, "dataset", "", "dataset `DIR` (as for bench retrieval)")
			fs.StringVar(&queries, "queries", "", "second dataset `DIR` whose images query the first (image→image)")
			fs.StringVar(&spec, "spec", "", "analogy spec `FILE` (default: analogies.jsonl in the model's folder)")
			fs.StringVar(&libraries, "libraries", "", "keep one library per model in this `DIR` (default: temporary)")
			countVar(fs, &limit, "limit", 0, 100_000_000, "use only the first N items and analogies (0: all)")
			out.register(fs, "folder for the JSON and Markdown reports")
			fs.StringVar(&name, "name", "quantize-quality", "base `NAME` of the report files")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			switch {
			case len(args) > 0:
				return usagef("bench int8 takes no arguments (got %q)", args[0])
			case int8Model == "":
				return usagef("--int8 is required")
			case dataset == "":
				return usagef("--dataset is required")
			case limit < 0:
				return usagef("--limit %d: want 0 (all) or more", limit)
			case name == "" || strings.ContainsAny(name, `/\`):
				return usagef("--name %q: want a file name without a folder", name)
			}
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			chosen, err := rf.resolveModel(e)
			if err != nil {
				return err
			}
			model := chosen.Dir
			eng := retrieval.Engine{Models: e.models(), Runtime: rf.runtimeOptions(e), Threads: rf.threads, Getenv: e.getenv,
				Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
			header := bench.NewHeader(ctx, "quantize-quality", "")
			prog := newProgressLine(e)
			res, err := quantquality.Run(ctx, quantquality.Config{Engine: eng, Model: model, Int8: int8Model, Libraries: libraries,
				Dataset: dataset, Queries: queries, Spec: spec, Limit: limit, Progress: progressFunc(prog)})
			prog.finish()
			if err != nil {
				return err
			}
			if err := writeReport(e, res.Report(header), &out, name, asJSON); err != nil {
				return err
			}
			if !res.Pass {
				return errGateFailed
			}
			return nil
		},
	}
}
