package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"mmsearch/bench"
	"mmsearch/bench/analogy"
	"mmsearch/bench/ann"
	"mmsearch/bench/retrieval"
	"mmsearch/engine"
)

// qualityFlags are the flags the retrieval and analogy benchmarks share.
type qualityFlags struct {
	runtimeFlags
	dataset string
	library string
	limit   int
	ks      string
	ef      efFlag
	out     benchOutput
	json    bool
	verbose bool
}

func (f *qualityFlags) register(fs *flag.FlagSet, defaultKs string) {
	f.runtimeFlags.register(fs)
	f.runtimeFlags.registerThreads(fs)
	fs.StringVar(&f.dataset, "dataset", "", "dataset `DIR` (with captions.jsonl or captions.csv) or its captions file")
	fs.StringVar(&f.library, "library", "", "index into this library `DIR` and keep it (default: a temporary library)")
	countVar(fs, &f.limit, "limit", 0, 100_000_000, "use only the first N items (0: all), for quick runs")
	fs.StringVar(&f.ks, "k", defaultKs, "comma-separated cut-offs for recall@k")
	registerEf(fs, &f.ef)
	f.out.register(fs, "folder for the JSON and Markdown reports and the plot")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON on stdout instead of tables")
	fs.BoolVar(&f.verbose, "v", false, "log the engine's diagnostics to stderr")
}

// engine checks the shared flags and returns how to open the library.
func (f *qualityFlags) engine(e *env, args []string, name string) (retrieval.Engine, []int, error) {
	if len(args) > 0 {
		return retrieval.Engine{}, nil, usagef("bench %s takes no arguments (got %q)", name, args[0])
	}
	if f.dataset == "" {
		return retrieval.Engine{}, nil, usagef("--dataset is required")
	}
	if f.limit < 0 {
		return retrieval.Engine{}, nil, usagef("--limit %d: want 0 (all) or more", f.limit)
	}
	if f.threads < 0 {
		return retrieval.Engine{}, nil, usagef("--threads %d: want 0 (all cores) or more", f.threads)
	}
	ks, err := parseInts(f.ks)
	if err != nil {
		return retrieval.Engine{}, nil, usagef("--k: %v", err)
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	return retrieval.Engine{
		Model: f.model, Models: e.models(), Library: f.library,
		Runtime: f.runtimeOptions(e), Threads: f.threads, Getenv: e.getenv,
		Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})),
	}, ks, nil
}

// progressFunc adapts the progress line to the quality benchmarks' progress.
func progressFunc(p *progressLine) func(retrieval.Progress) {
	return func(pr retrieval.Progress) {
		p.update(ann.Progress{Stage: pr.Stage, Done: pr.Done, Total: pr.Total})
	}
}

// finishReport prints the report (tables, or JSON with --json) after its
// files were written.
func finishReport(e *env, rep *bench.Report, files []string, asJSON bool) error {
	if asJSON {
		return rep.WriteJSON(e.stdout)
	}
	if err := rep.WriteText(e.stdout); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nwrote %s\n", strings.Join(files, ", "))
	return nil
}

func benchRetrievalCommand() *command {
	var f qualityFlags
	var queries string
	var allCaptions bool
	return &command{
		name:    "retrieval",
		summary: "text→image, image→text and image→image recall@k and MRR on a labelled dataset, exact vs HNSW",
		usage: `--dataset DIR [--queries DIR] [--model NAME|DIR] [--limit N] [--k 1,5,10] [--out DIR] [--json]

Indexes the dataset's images through the engine (into a temporary library, or
--library), embeds each item's first caption (--all-captions: every caption)
through the model's text templates, and reports recall@k and MRR for
text→image and image→text, with exact search and through HNSW. With
--queries, the images of a second dataset query the first (image→image
across sets). A hit shares the query's first label (or is the same image
when there are no labels). Items flagged "withheld" are also scored apart.

A dataset is a folder with captions.jsonl, one item a line:
  {"image": "rel/path.png", "captions": ["..."], "labels": ["..."], "withheld": false}
or captions.csv with the columns image,caption[,label].
Writes retrieval.json, retrieval.md and retrieval-recall.png under --out.`,
		setFlags: func(fs *flag.FlagSet) {
			f.register(fs, "1,5,10")
			fs.StringVar(&queries, "queries", "", "second dataset `DIR` whose images query the first (image→image)")
			fs.BoolVar(&allCaptions, "all-captions", false, "use every caption, not only the first, as query and candidate")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			eng, ks, err := f.engine(e, args, "retrieval")
			if err != nil {
				return err
			}
			if err := f.out.begin(ctx, e); err != nil {
				return err
			}
			header := bench.NewHeader(ctx, "retrieval", "")
			prog := newProgressLine(e)
			defer prog.finish()
			res, err := retrieval.Run(ctx, retrieval.Config{
				Engine: eng, Dataset: f.dataset, Queries: queries, Limit: f.limit, Ks: ks,
				AllCaptions: allCaptions, Ef: f.ef.n, Progress: progressFunc(prog),
			})
			if err != nil {
				return err
			}
			rep := res.Report(header)
			f.out.mark(rep)
			files, err := retrieval.WriteOutputs(f.out.path(e), res, rep)
			if err != nil {
				return err
			}
			prog.finish()
			return finishReport(e, rep, files, f.json)
		},
	}
}

func benchAnalogyCommand() *command {
	var f qualityFlags
	var spec, modes string
	return &command{
		name:    "analogy",
		summary: "recall@k of analogy queries (image - \"text\" + \"text\") per family, add and mul scoring",
		usage: `--dataset DIR [--spec FILE] [--model NAME|DIR] [--limit N] [--modes add,mul] [--out DIR] [--json]

Indexes the dataset's images through the engine, runs each analogy of the
spec as a query ("/dataset/src.png - 1:\"red\" + 1:\"blue\"") through the
library's search in each scoring mode, and reports recall@k per family and
overall. Spec lines (JSON Lines; paths relative to the dataset folder, source
may be @ITEM; default: the model's analogies.jsonl):
  {"family": "colour", "source": "img/a.png", "subtract": [{"text": "red", "weight": 1}],
   "add": [{"text": "blue", "weight": 1}], "expected": ["img/b.png"], "expected_labels": ["..."]}
--limit keeps the first N analogies. Writes analogy.json, analogy.md,
analogy-recall.png and analogy-failures.jsonl (every miss at rank 1, with
the query and the top results) under --out.`,
		setFlags: func(fs *flag.FlagSet) {
			f.register(fs, "1,10")
			fs.StringVar(&spec, "spec", "", "analogy spec `FILE` (default: analogies.jsonl in the model's folder)")
			fs.StringVar(&modes, "modes", "add,mul", "comma-separated scoring modes: add, mul")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			eng, ks, err := f.engine(e, args, "analogy")
			if err != nil {
				return err
			}
			if err := f.out.begin(ctx, e); err != nil {
				return err
			}
			var ms []engine.Mode
			for _, m := range strings.Split(modes, ",") {
				mode, err := engine.ParseMode(strings.TrimSpace(m))
				if err != nil || strings.TrimSpace(m) == "" {
					return usagef("--modes: unknown mode %q (want %s or %s)", m, engine.ModeAdd, engine.ModeMul)
				}
				ms = append(ms, mode)
			}
			header := bench.NewHeader(ctx, "analogy", "")
			prog := newProgressLine(e)
			defer prog.finish()
			res, err := analogy.Run(ctx, analogy.Config{
				Engine: eng, Dataset: f.dataset, Spec: spec, Limit: f.limit, Ks: ks,
				Modes: ms, Ef: f.ef.n, Progress: progressFunc(prog),
			})
			if err != nil {
				return err
			}
			rep := res.Report(header)
			f.out.mark(rep)
			files, err := analogy.WriteOutputs(f.out.path(e), res, rep)
			if err != nil {
				return err
			}
			prog.finish()
			return finishReport(e, rep, files, f.json)
		},
	}
}
