package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mmsearch/bench"
	"mmsearch/bench/analogy"
	"mmsearch/bench/ann"
	"mmsearch/bench/retrieval"
)

// maxReportBytes bounds a report file read by bench plot.
const maxReportBytes = 256 << 20

// replotters redraw the plots of a stored report, by benchmark name, from
// the report's data and header.
var replotters = map[string]func(dir string, data json.RawMessage, h bench.Header) ([]string, error){
	"ann": func(dir string, data json.RawMessage, h bench.Header) ([]string, error) {
		var r ann.Result
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, err
		}
		return ann.DrawPlots(dir, &r, h)
	},
	ann.ScaleReportName: func(dir string, data json.RawMessage, h bench.Header) ([]string, error) {
		var r ann.ScaleResult
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, err
		}
		return ann.DrawScalePlots(dir, &r, h)
	},
	"retrieval": func(dir string, data json.RawMessage, h bench.Header) ([]string, error) {
		var r retrieval.Result
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, err
		}
		return retrieval.DrawPlots(dir, &r, h)
	},
	"analogy": func(dir string, data json.RawMessage, h bench.Header) ([]string, error) {
		var r analogy.Result
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, err
		}
		return analogy.DrawPlots(dir, &r, h)
	},
}

func benchPlotCommand() *command {
	return &command{
		name:    "plot",
		summary: "redraw every plot of stored reports from their JSON",
		usage: `DIR...

Finds the reports (*.json) under each DIR, and for every benchmark that draws
plots (ann, ann-scale, retrieval, analogy) draws them again from the report's data and
header into the report's folder, replacing the PNG files. Nothing is measured:
the same JSON gives the same PNG.`,
		run: func(ctx context.Context, e *env, fsys *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usagef("bench plot needs at least one folder")
			}
			drawn := 0
			for _, root := range args {
				err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
					if err != nil {
						return err
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
					if d.IsDir() || !strings.HasSuffix(path, ".json") || !d.Type().IsRegular() {
						return nil
					}
					files, err := replot(path)
					if err != nil {
						return err
					}
					for _, f := range files {
						fmt.Fprintln(e.stdout, f)
					}
					drawn += len(files)
					return nil
				})
				if err != nil {
					return err
				}
			}
			if drawn == 0 {
				return fmt.Errorf("%w: no report with plots under %s", errNotFound, strings.Join(args, ", "))
			}
			return nil
		},
	}
}

// replot redraws the plots of the report at path, if its benchmark draws
// any; other JSON files are left alone.
func replot(path string) ([]string, error) {
	b, err := readReportBytes(path)
	if err != nil {
		return nil, err
	}
	var rep headerAndData
	if err := json.Unmarshal(b, &rep); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("%s: not JSON: %w", path, err)
		}
		return nil, nil // JSON of another shape: not a report
	}
	draw, ok := replotters[rep.Benchmark]
	if !ok || len(rep.Data) == 0 {
		return nil, nil
	}
	files, err := draw(filepath.Dir(path), rep.Data, rep.Header)
	if err != nil {
		return nil, fmt.Errorf("%s: redraw %s plots: %w", path, rep.Benchmark, err)
	}
	return files, nil
}

// headerAndData is a stored report's header with its data left as written.
type headerAndData struct {
	bench.Header
	Data json.RawMessage `json:"data"`
}

// readReportBytes reads a report file, refusing one over maxReportBytes.
func readReportBytes(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Size() > maxReportBytes {
		return nil, fmt.Errorf("%s: %d bytes is larger than a report may be (%d)", path, info.Size(), maxReportBytes)
	}
	return os.ReadFile(path)
}
