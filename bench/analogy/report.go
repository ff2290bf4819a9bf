package analogy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mmsearch/bench"
	"mmsearch/engine"
)

// Output file names under the report folder.
const (
	ReportName   = "analogy"                // analogy.json and analogy.md
	PlotName     = "analogy-recall.png"     // recall@k bars per family and mode
	FailuresName = "analogy-failures.jsonl" // one line per miss at rank 1
)

// Report turns the result into a bench.Report under header h (made by
// bench.NewHeader before the run), adding the run's parameters.
func (r *Result) Report(h bench.Header) *bench.Report {
	h.Dataset = r.describe()
	h.AddParam("model", fmt.Sprintf("%s %s (%s, fingerprint %.12s)", r.Model, r.ModelVersion, r.ModelDir, r.Fingerprint))
	lib := r.Library
	if lib == "" {
		lib = "temporary"
	}
	h.AddParam("library", lib)
	h.AddParam("limit", r.Limit)
	h.AddParam("k", joinInts(r.Ks))
	h.AddParam("modes", joinModes(r.Modes))
	ef := "engine default"
	if r.Ef > 0 {
		ef = fmt.Sprint(r.Ef)
	}
	h.AddParam("ef", ef)
	rep := &bench.Report{Header: h, Figures: r.Figures(), Data: r}

	depth := r.Ks[len(r.Ks)-1]
	cols := []string{"family", "mode", "n"}
	for _, k := range r.Ks {
		cols = append(cols, fmt.Sprintf("R@%d", k))
	}
	cols = append(cols, "R@1 ties", fmt.Sprintf("MRR@%d", depth))
	t := bench.Table{Title: "Analogy recall", Columns: cols}
	for _, fam := range append(append([]string(nil), r.Families...), FamilyAll, FamilyMean) {
		for _, mode := range r.Modes {
			s, ok := r.Find(fam, mode)
			if !ok {
				continue
			}
			cells := []any{fam, mode, s.Queries}
			for _, k := range r.Ks {
				cells = append(cells, fmt.Sprintf("%.4f", s.At(k)))
			}
			cells = append(cells, fmt.Sprintf("%.4f", s.R1Ties), fmt.Sprintf("%.4f", s.MRR))
			t.AddRow(cells...)
		}
	}
	rep.Tables = append(rep.Tables, t)

	for _, mode := range r.Modes {
		all, ok1 := r.Find(FamilyAll, mode)
		mean, ok2 := r.Find(FamilyMean, mode)
		if !ok1 || !ok2 {
			continue
		}
		var parts, mparts []string
		for _, k := range r.Ks {
			parts = append(parts, fmt.Sprintf("R@%d %.4f", k, all.At(k)))
			mparts = append(mparts, fmt.Sprintf("R@%d %.4f", k, mean.At(k)))
		}
		fams := "families"
		if len(r.Families) == 1 {
			fams = "family"
		}
		line := fmt.Sprintf("%s mode, %d analogies: %s, R@1 counting ties %.4f (mean over %d %s: %s)",
			mode, all.Queries, strings.Join(parts, ", "), all.R1Ties, len(r.Families), fams, strings.Join(mparts, ", "))
		for _, mt := range r.Times {
			if mt.Mode == mode {
				line += fmt.Sprintf("; %.0f queries/s", mt.QPS)
			}
		}
		rep.Headline = append(rep.Headline, line)
	}

	rep.Notes = append(rep.Notes,
		"each analogy runs as a query-language expression (source - w:\"text\" + w:\"text\") through Library.Search: the source, an indexed item, is excluded from the results",
		"a result is a hit when it is one of the expected images or its first label is one of the expected labels",
		"R@1 ties also counts an analogy whose expected result scores the same as the first result (identical embeddings, such as one picture under two labels, come in no defined order); such misses are marked tied_with_first in the failures file",
		fmt.Sprintf("%s lists every analogy and mode not answered at rank 1: the rank of the first expected result among the %d asked for (0: not among them) and the top %d results", FailuresName, depth, TopShown),
		fmt.Sprintf("indexing took %.1f s (%d images embedded in this run; byte-identical files reuse one embedding)", r.IndexSeconds, r.Embedded),
		"queries/s covers the whole query path: parsing, embedding the texts, the HNSW search, re-ranking (mul) and the store look-ups",
	)
	if len(r.Skipped) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d analogies skipped (first: line %d, %s)", len(r.Skipped), r.Skipped[0].Line, r.Skipped[0].Reason))
	}
	if len(r.Failed) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d images failed to index (first: %s: %s)", len(r.Failed), r.Failed[0].Image, r.Failed[0].Reason))
	}
	return rep
}

// Chart returns recall@k bars: a group per family (and all analogies), a
// bar per mode and k.
func (r *Result) Chart() bench.BarChart {
	bc := bench.BarChart{Title: "Analogy recall@k by family", YLabel: "recall"}
	bc.Groups = append(append([]string(nil), r.Families...), FamilyAll)
	for _, mode := range r.Modes {
		for _, k := range r.Ks {
			s := bench.BarSeries{Name: fmt.Sprintf("%s R@%d", mode, k)}
			for _, fam := range bc.Groups {
				f, _ := r.Find(fam, mode)
				s.Values = append(s.Values, max(f.At(k), 0))
			}
			bc.Series = append(bc.Series, s)
		}
	}
	lo, hi := 0.0, 1.15
	bc.YMin, bc.YMax = &lo, &hi
	if w := 1.8 * float64(len(bc.Groups)); w > 8 {
		bc.Width = w
	}
	return bc
}

// WriteFailures writes the failures as JSON Lines to path.
func (r *Result) WriteFailures(path string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, f := range r.Failures {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("encode failure: %w", err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write failures: %w", err)
	}
	return nil
}

// DrawPlots draws the report's chart into dir from the result and the
// report's header (for the footer) and returns its path; `bench plot` calls
// it on a stored analogy.json to redraw the same PNG.
func DrawPlots(dir string, r *Result, h bench.Header) ([]string, error) {
	bc := r.Chart()
	bc.Footer = bench.PlotFooter(h)
	plot := filepath.Join(dir, PlotName)
	if err := bc.SavePNG(plot); err != nil {
		return nil, err
	}
	return []string{plot}, nil
}

// WriteOutputs writes the plot, the failures and the report's JSON and
// Markdown into dir and returns the paths written.
func WriteOutputs(dir string, r *Result, rep *bench.Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create report folder: %w", err)
	}
	plots, err := DrawPlots(dir, r, rep.Header)
	if err != nil {
		return nil, err
	}
	rep.Plots = []string{PlotName}
	fails := filepath.Join(dir, FailuresName)
	if err := r.WriteFailures(fails); err != nil {
		return nil, err
	}
	files, err := rep.WriteFiles(dir, ReportName)
	if err != nil {
		return nil, err
	}
	return append(append(files, plots...), fails), nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

// joinModes writes modes comma-separated.
func joinModes(modes []engine.Mode) string {
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}
