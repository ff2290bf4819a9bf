package retrieval

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mmsearch/bench"
)

// Output file names under the report folder.
const (
	ReportName = "retrieval"            // retrieval.json and retrieval.md
	PlotName   = "retrieval-recall.png" // recall@k bars, exact against HNSW
)

// Report turns the result into a bench.Report under header h (made by
// bench.NewHeader before the run), adding the run's parameters.
func (r *Result) Report(h bench.Header) *bench.Report {
	h.Dataset = fmt.Sprintf("%s (%d images, %d caption candidates", r.DatasetFile, r.Images, r.Captions)
	if r.Queries != "" {
		h.Dataset += fmt.Sprintf("; %d query images from %s", r.QueryImages, r.Queries)
	}
	h.Dataset += ")"
	h.AddParam("model", fmt.Sprintf("%s %s (dim %d, %s, fingerprint %.12s)", r.Model, r.ModelVersion, r.Dim, r.ModelDir, r.Fingerprint))
	lib := r.Library
	if lib == "" {
		lib = "temporary"
	}
	h.AddParam("library", lib)
	h.AddParam("limit", r.Limit)
	h.AddParam("k", joinInts(r.Ks))
	ef := "engine default"
	if r.Ef > 0 {
		ef = fmt.Sprint(r.Ef)
	}
	h.AddParam("ef", ef)
	h.AddParam("all_captions", r.AllCaptions)
	rep := &bench.Report{Header: h, Figures: r.Figures(), Data: r}

	depth := r.Ks[len(r.Ks)-1]
	cols := []string{"task", "queries", "search", "n"}
	for _, k := range r.Ks {
		cols = append(cols, fmt.Sprintf("R@%d", k))
	}
	cols = append(cols, "R@1 ties", fmt.Sprintf("MRR@%d", depth), "q/s")
	t := bench.Table{Title: "Retrieval quality", Columns: cols}
	for _, row := range r.Rows {
		cells := []any{row.Task, row.Subset, row.Search, row.Queries}
		for _, k := range r.Ks {
			cells = append(cells, fmt.Sprintf("%.4f", row.At(k)))
		}
		cells = append(cells, fmt.Sprintf("%.4f", row.R1Ties), fmt.Sprintf("%.4f", row.MRR), fmt.Sprintf("%.0f", row.QPS))
		t.AddRow(cells...)
	}
	rep.Tables = append(rep.Tables, t)

	for _, task := range []string{TextToImage, ImageToText, ImageToImage} {
		ex, ok1 := r.Find(task, SubsetAll, SearchExact)
		hn, ok2 := r.Find(task, SubsetAll, SearchHNSW)
		if !ok1 || !ok2 {
			continue
		}
		var parts []string
		for _, k := range r.Ks {
			parts = append(parts, fmt.Sprintf("R@%d %.4f exact / %.4f HNSW (%+.4f)", k, ex.At(k), hn.At(k), hn.At(k)-ex.At(k)))
		}
		rep.Headline = append(rep.Headline, fmt.Sprintf("%s, %d queries: %s; MRR@%d %.4f / %.4f; R@1 counting ties %.4f / %.4f",
			task, ex.Queries, strings.Join(parts, ", "), depth, ex.MRR, hn.MRR, ex.R1Ties, hn.R1Ties))
		if w, ok := r.Find(task, SubsetWithheld, SearchExact); ok {
			rep.Headline = append(rep.Headline, fmt.Sprintf("%s, withheld items only (%d queries): R@%d %.4f, R@%d %.4f (exact)",
				task, w.Queries, r.Ks[0], w.At(r.Ks[0]), depth, w.At(depth)))
		}
	}

	rep.Notes = append(rep.Notes,
		"a result is a hit when its first label equals the query's first label (the same image when the query has no labels)",
		fmt.Sprintf("%d results are retrieved per query; MRR@%d counts a query without a hit among them as 0", depth, depth),
		"R@1 ties also counts a query whose first hit scores the same as the first result (identical embeddings, such as one picture under two labels, come in no defined order), as an evaluation ranking by \"scores strictly greater\" does",
		"exact: index/flat over the candidates; HNSW: text→image and image→image through Library.SearchTerms (the library's index and search path), image→text through an HNSW index (default parameters) of the caption vectors built for the benchmark",
		"text queries are embedded through the model's templates (TextEncoder.EncodeQuery), images through the engine's ingest pipeline; q/s counts searches with vectors already embedded (HNSW through the library includes its store look-ups of the results)",
		fmt.Sprintf("indexing took %.1f s (%d images embedded in this run); %d distinct texts embedded in %.1f s", r.IndexSeconds, r.Embedded, r.Texts, r.TextSeconds),
	)
	if r.Withheld > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d items are flagged withheld (kept out of training)", r.Withheld))
	}
	for _, task := range []string{TextToImage, ImageToText, ImageToImage} {
		n := r.Skipped[task]
		if n == 0 {
			continue
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %d queries skipped, no candidate could be a hit for them", task, n))
	}
	if len(r.Failed) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d images failed to index and are not candidates (first: %s: %s)", len(r.Failed), r.Failed[0].Image, r.Failed[0].Reason))
	}
	if len(r.QueryFailed) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d query images failed to index (first: %s: %s)", len(r.QueryFailed), r.QueryFailed[0].Image, r.QueryFailed[0].Reason))
	}
	return rep
}

// Chart returns the recall@k bars of every task over all queries, exact
// search beside HNSW.
func (r *Result) Chart() bench.BarChart {
	bc := bench.BarChart{Title: "Retrieval recall@k: exact vs HNSW", YLabel: "recall"}
	var ex, hn []float64
	for _, task := range []string{TextToImage, ImageToText, ImageToImage} {
		e, ok1 := r.Find(task, SubsetAll, SearchExact)
		h, ok2 := r.Find(task, SubsetAll, SearchHNSW)
		if !ok1 || !ok2 {
			continue
		}
		for _, k := range r.Ks {
			bc.Groups = append(bc.Groups, fmt.Sprintf("%s R@%d", task, k))
			ex = append(ex, e.At(k))
			hn = append(hn, h.At(k))
		}
	}
	bc.Series = []bench.BarSeries{{Name: "exact", Values: ex}, {Name: "HNSW", Values: hn}}
	lo, hi := 0.0, 1.15
	bc.YMin, bc.YMax = &lo, &hi
	if w := 1.6 * float64(len(bc.Groups)); w > 8 {
		bc.Width = w
	}
	return bc
}

// DrawPlots draws the report's chart into dir from the result and the
// report's header (for the footer), when there is anything to draw, and
// returns the paths written; `bench plot` calls it on a stored report.
func DrawPlots(dir string, r *Result, h bench.Header) ([]string, error) {
	bc := r.Chart()
	if len(bc.Groups) == 0 {
		return nil, nil
	}
	bc.Footer = bench.PlotFooter(h)
	p := filepath.Join(dir, PlotName)
	if err := bc.SavePNG(p); err != nil {
		return nil, err
	}
	return []string{p}, nil
}

// WriteOutputs writes the plot and the report's JSON and Markdown into dir
// and returns the paths written.
func WriteOutputs(dir string, r *Result, rep *bench.Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create report folder: %w", err)
	}
	written, err := DrawPlots(dir, r, rep.Header)
	if err != nil {
		return nil, err
	}
	if len(written) > 0 {
		rep.Plots = []string{PlotName}
	}
	files, err := rep.WriteFiles(dir, ReportName)
	if err != nil {
		return nil, err
	}
	return append(files, written...), nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
