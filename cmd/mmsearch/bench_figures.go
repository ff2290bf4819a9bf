package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"mmsearch/bench"
	"mmsearch/bench/analogy"
	"mmsearch/bench/ann"
	"mmsearch/bench/cliproc"
	"mmsearch/bench/cluster"
	"mmsearch/bench/encoder"
	"mmsearch/bench/evalsum"
	"mmsearch/bench/filter"
	"mmsearch/bench/ingest"
	"mmsearch/bench/latency"
	"mmsearch/bench/quantquality"
	"mmsearch/bench/retrieval"
	benchserve "mmsearch/bench/serve"
	"mmsearch/bench/workers"
	"mmsearch/internal/atomicfile"
)

// figurers makes an empty result of each benchmark, to decode a report's
// data into and ask for its figures.
var figurers = map[string]func() bench.Figurer{
	"ann":                 func() bench.Figurer { return &ann.Result{} },
	ann.ScaleReportName:   func() bench.Figurer { return &ann.ScaleResult{} },
	"batch":               func() bench.Figurer { return &cliproc.BatchResult{} },
	"cli":                 func() bench.Figurer { return &cliproc.Result{} },
	"cluster":             func() bench.Figurer { return &cluster.Result{} },
	"encoder":             func() bench.Figurer { return &encoder.Result{} },
	"filter":              func() bench.Figurer { return &filter.Result{} },
	"ingest":              func() bench.Figurer { return &ingest.Result{} },
	"ingest-heic-vs-jpeg": func() bench.Figurer { return &ingest.FormatsResult{} },
	"query-latency":       func() bench.Figurer { return &latency.Result{} },
	"retrieval":           func() bench.Figurer { return &retrieval.Result{} },
	"analogy":             func() bench.Figurer { return &analogy.Result{} },
	"quantize-quality":    func() bench.Figurer { return &quantquality.Result{} },
	"serve":               func() bench.Figurer { return &benchserve.Data{} },
	"workers":             func() bench.Figurer { return &workers.Result{} },
}

// storedReport is a report read back from its JSON file, its data kept as
// written.
type storedReport struct {
	bench.Report
	Data json.RawMessage `json:"data,omitempty"`
}

// refigure recomputes the figures of the report in b from its data and
// returns the report with them; nothing else changes.
func refigure(b []byte) ([]byte, error) {
	var r storedReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	mk, ok := figurers[r.Benchmark]
	if !ok {
		return nil, fmt.Errorf("unknown benchmark %q", r.Benchmark)
	}
	res := mk()
	if err := json.Unmarshal(r.Data, res); err != nil {
		return nil, fmt.Errorf("%s data: %w", r.Benchmark, err)
	}
	r.Figures = res.Figures()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func benchFiguresCommand() *command {
	var check bool
	return &command{
		name:    "figures",
		summary: "add the figures (headline numbers as data) to stored report JSON files, from their data",
		usage: `[--check] REPORT.json...

Reads each report written by a bench command, recomputes its "figures" (the
headline's numbers by name) from its "data", and writes the file back with
nothing else changed. No benchmark runs. With --check, only reports the
files whose figures are missing or stale (exit 1 when there are any).`,
		setFlags: func(fs *flag.FlagSet) {
			fs.BoolVar(&check, "check", false, "change nothing; fail when a file's figures are missing or stale")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usagef("no REPORT.json given")
			}
			stale := 0
			for _, p := range args {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				out, err := refigure(b)
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				if bytes.Equal(out, b) {
					continue
				}
				stale++
				if check {
					fmt.Fprintf(e.stdout, "%s: figures missing or stale\n", p)
					continue
				}
				if err := writeFileAtomic(p, out); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s: figures written\n", p)
			}
			if check && stale > 0 {
				return fmt.Errorf("%d of %d reports need 'mmsearch bench figures'", stale, len(args))
			}
			return nil
		},
	}
}

func benchSummaryCommand() *command {
	var out string
	return &command{
		name:    "summary",
		summary: "write a model's eval.json from its retrieval and analogy reports",
		usage: `--out EVAL.json DIR

Reads DIR/retrieval.json and DIR/analogy.json (written by 'bench retrieval'
and 'bench analogy' with --out DIR) and writes their figures as data: per
task and family n, R@1, R@5, R@10, MRR@10, exact and HNSW, as JSON numbers,
with the prose headlines beside them.`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&out, "out", "", "eval.json to write (default: print it)")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want one report folder DIR")
			}
			rj, err := os.ReadFile(filepath.Join(args[0], "retrieval.json"))
			if err != nil {
				return err
			}
			aj, err := os.ReadFile(filepath.Join(args[0], "analogy.json"))
			if err != nil {
				return err
			}
			s, err := evalsum.FromReports(rj, aj)
			if err != nil {
				return err
			}
			b, err := s.Marshal()
			if err != nil {
				return err
			}
			if out == "" {
				_, err = e.stdout.Write(b)
				return err
			}
			return writeFileAtomic(out, b)
		},
	}
}

// writeFileAtomic replaces path with data.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}
