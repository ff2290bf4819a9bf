package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	benchserve "mmsearch/bench/serve"
	"mmsearch/engine"
	"mmsearch/server"
)

func benchServeCommand() *command {
	var lf libraryFlags
	cfg := benchserve.Config{}
	var images int
	var out benchOutput
	var asJSON bool
	return &command{
		name:    "serve",
		summary: "requests/s, p50/p99 latency and memory of the HTTP API under concurrent clients on loopback",
		usage: `[--library DIR | --images N] [--model NAME|DIR] [--clients 16] [--duration 10s] [--max-requests N]

Starts the server on 127.0.0.1 (a free port) over --library, or over a
library generated in a temporary folder from --images synthetic pictures,
then runs --clients concurrent clients for --duration (or until
--max-requests answers). Each client sends GET /api/search with a mix of
queries: 50% text ("dog"), 30% indexed items ("@12"), 20% analogies
("@12 - \"dog\" + \"cat\""). Prints requests/s, latency percentiles, the
error count and the process's resident memory (RSS) before and after the
load, and writes serve.json and serve.md under --out.`,
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			lf.registerThreads(fs)
			lf.registerBatch(fs)
			intVar(fs, &cfg.Clients, "clients", 16, 1, benchserve.MaxClients, "concurrent clients")
			fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the load")
			intVar(fs, &cfg.MaxRequests, "max-requests", 1_000_000, 1, 1_000_000_000, "stop after this many requests")
			intVar(fs, &cfg.K, "k", 10, 1, server.DefaultMaxK, "results per query")
			intVar(fs, &images, "images", 200, 2, benchserve.MaxImages, "pictures in the generated library (without --library)")
			fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the query mix")
			out.register(fs, "folder for serve.json and serve.md")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("bench serve takes no arguments (got %q)", args[0])
			}
			if err := cfg.Check(); err != nil {
				return usageError{err}
			}
			if lf.library == "" && (images < 2 || images > benchserve.MaxImages) {
				return usagef("--images %d: want 2..%d", images, benchserve.MaxImages)
			}
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			cfg.Log = e.stderr
			var lib *engine.Library
			dataset := ""
			if lf.library == "" {
				tmp, err := os.MkdirTemp("", "mmsearch-bench-serve-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				open := func(ctx context.Context, dir string) (*engine.Library, error) {
					f := lf
					f.library = dir
					return f.open(ctx, e)
				}
				if lib, dataset, err = benchserve.GenerateLibrary(ctx, tmp, images, open, e.stderr); err != nil {
					return err
				}
			} else {
				var err error
				if lib, err = lf.open(ctx, e); err != nil {
					return err
				}
			}
			defer lib.Close()
			r, err := benchserve.Run(ctx, lib, cfg, dataset)
			if errors.Is(err, engine.ErrEmptyLibrary) {
				return fmt.Errorf("%w: %w", errNotFound, err)
			}
			if err != nil {
				return err
			}
			return writeReport(e, r, &out, "serve", asJSON)
		},
	}
}
