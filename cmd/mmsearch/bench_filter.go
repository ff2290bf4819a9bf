package main

import (
	"context"
	"flag"
	"strconv"
	"strings"

	"mmsearch/bench/filter"
)

func benchFilterCommand() *command {
	var rf runtimeFlags
	var cfg filter.Config
	var fractions, sweep string
	var out benchOutput
	var asJSON bool
	return &command{
		name:    "filter",
		summary: "filtered search: latency and recall@k at given filter selectivities, and the exact-scan switch point",
		usage:   "[--items 100000] [--queries 200] [--fractions 0.5,0.05,0.005] [--sweep 0.5,...,0.0005] [--model NAME|DIR]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			intVar(fs, &cfg.Items, "items", 100000, 1, filter.MaxItems, "library size")
			intVar(fs, &cfg.Queries, "queries", 200, 1, filter.MaxQueries, "timed queries per filter")
			intVar(fs, &cfg.K, "k", 10, 1, maxK, "results per query")
			fs.StringVar(&fractions, "fractions", "0.5,0.05,0.005", "comma-separated `FRACTIONS` of the items the measured filters match")
			fs.StringVar(&sweep, "sweep", "0.5,0.2,0.1,0.05,0.02,0.01,0.005,0.002,0.001,0.0005", "comma-separated `FRACTIONS` at which the graph walk and the exact scan are both timed")
			out.register(fs, "folder for the JSON and Markdown reports")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("bench filter takes no arguments")
			}
			var err error
			if cfg.Fractions, err = parseFractions("fractions", fractions); err != nil {
				return err
			}
			if cfg.Sweep, err = parseFractions("sweep", sweep); err != nil {
				return err
			}
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			cfg.Model, cfg.Seed = rf.model, 1
			cfg.Runtime, cfg.Getenv, cfg.Log = rf.runtimeOptions(e), e.getenv, e.stderr
			r, _, err := filter.Run(ctx, cfg)
			if err != nil {
				return err
			}
			return writeReport(e, r, &out, "filter", asJSON)
		},
	}
}

// maxFractions bounds the lists of --fractions and --sweep.
const maxFractions = 64

// parseFractions reads a comma-separated list of fractions in (0, 1].
func parseFractions(flagName, s string) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxFractions {
		return nil, usagef("--%s: at most %d fractions", flagName, maxFractions)
	}
	out := make([]float64, 0, len(parts))
	for _, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(x > 0 && x <= 1) {
			return nil, usagef("--%s: %q is not a fraction in (0, 1]", flagName, p)
		}
		out = append(out, x)
	}
	return out, nil
}
