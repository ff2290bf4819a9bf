package ann

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"mmsearch/bench"
)

// Output file names of a scale run (`bench ann --sizes`), beside one folder
// per distribution and size holding that run's ann report.
const (
	ScaleReportName = "ann-scale"
	ScaleQPSPlot    = "ann-scale-qps.png"    // q/s at recall@10 ≥ TargetRecall against n
	ScaleBuildPlot  = "ann-scale-build.png"  // all-thread build time against n (timed at every n)
	ScaleMemoryPlot = "ann-scale-memory.png" // bytes per vector against n
)

// ScaleRow is one backend at one collection size and distribution.
type ScaleRow struct {
	Distribution string `json:"distribution"`
	N            int    `json:"n"`
	Backend      string `json:"backend"`
	// Build times (medians over the repetitions) and their ranges.
	Build1Seconds   float64 `json:"build_seconds_1_thread,omitempty"`
	Build1Range     Range   `json:"build_seconds_1_thread_range"`
	BuildAllSeconds float64 `json:"build_seconds_all_threads,omitempty"`
	// The smallest ef reaching TargetRecall and HighRecall and the
	// single-thread q/s there (0 when not reached), with the q/s range.
	Ef95       int     `json:"ef_at_recall10_0.95,omitempty"`
	QPS95      float64 `json:"qps_1_thread_at_recall10_0.95,omitempty"`
	QPS95Range Range   `json:"qps_1_thread_at_recall10_0.95_range"`
	Ef99       int     `json:"ef_at_recall10_0.99,omitempty"`
	QPS99      float64 `json:"qps_1_thread_at_recall10_0.99,omitempty"`
	// BytesPerVector is the index's Memory() over n (0 when the backend
	// does not report its memory, as the Python peers do not).
	BytesPerVector float64 `json:"bytes_per_vector,omitempty"`
	// MemorySource says how a peer measured its memory (empty for our own
	// indexes, whose figure is their Memory()).
	MemorySource string  `json:"memory_source,omitempty"`
	LoadSeconds  float64 `json:"load_seconds,omitempty"`
	Implausible  bool    `json:"implausible,omitempty"`
	// Ratio95 is ours over this backend at TargetRecall (paired
	// repetitions), for peers that reached it.
	Ratio95 *Ratio `json:"qps_ratio_ours_over_this_at_recall10_0.95,omitempty"`
	// Source is the 1-based index in ScaleResult.Sources of the report
	// this row was measured in (0 in a report measured in one run).
	Source int `json:"source,omitempty"`
}

// ScaleResult gathers the runs of a scale benchmark.
type ScaleResult struct {
	Sizes         []int      `json:"sizes"`
	Distributions []string   `json:"distributions"`
	Dim           int        `json:"dim"`
	Reps          int        `json:"reps"`
	Rows          []ScaleRow `json:"rows"`
	// Runs names each run's folder (relative to the scale report) by
	// "distribution n=N".
	Runs     map[string]string `json:"runs"`
	Headline []string          `json:"headline"`
	// Peers are the peers measured in any run, with their versions.
	Peers []bench.Peer `json:"peers,omitempty"`
	// Sources are the reports a merged result was gathered from
	// (MergeScale); empty for a result measured in one run. Reps is then
	// the smallest of their repetitions.
	Sources []ScaleSource `json:"sources,omitempty"`
}

// ScaleRunDir is the folder of one run of a scale benchmark.
func ScaleRunDir(distribution string, n int) string {
	return fmt.Sprintf("%s-n%d", distribution, n)
}

// AddRun adds the rows of one run (a distribution at one size).
func (s *ScaleResult) AddRun(distribution string, r *Result) {
	if s.Runs == nil {
		s.Runs = map[string]string{}
	}
	n := r.Dataset.N
	s.Runs[fmt.Sprintf("%s n=%d", distribution, n)] = ScaleRunDir(distribution, n)
	if !slices.Contains(s.Sizes, n) {
		s.Sizes = append(s.Sizes, n)
		slices.Sort(s.Sizes)
	}
	if !slices.Contains(s.Distributions, distribution) {
		s.Distributions = append(s.Distributions, distribution)
	}
	s.Dim, s.Reps = r.Dataset.Dim, max(r.Reps, 1)
	ratios := map[string]Ratio{}
	for _, pr := range r.Headline.Peers {
		if pr.Reached && pr.Recall == TargetRecall {
			ratios[pr.Peer] = pr.QPS1
		}
	}
	for i := range r.Backends {
		b := &r.Backends[i]
		if b.Name != BackendHNSW && b.Name != BackendFlat && !slices.ContainsFunc(s.Peers, func(p bench.Peer) bool { return p.Name == b.Name }) {
			s.Peers = append(s.Peers, bench.Peer{Name: b.Name, Version: b.Version})
		}
		row := ScaleRow{Distribution: distribution, N: n, Backend: b.Name,
			Build1Seconds: b.Build1Seconds, Build1Range: rangeOf(b.Build1Reps), BuildAllSeconds: b.BuildAllSeconds,
			Implausible: b.Implausible()}
		if row.Build1Range == (Range{}) && b.Build1Seconds > 0 {
			row.Build1Range = Range{b.Build1Seconds, b.Build1Seconds}
		}
		if b.Name == BackendFlat {
			p := b.Points[0]
			row.QPS95, row.QPS95Range = p.QPS1, rangeOf(p.QPS1Reps)
		} else {
			if p, ok := b.firstReaching(TargetRecall); ok {
				row.Ef95, row.QPS95, row.QPS95Range = p.Ef, p.QPS1, rangeOf(p.QPS1Reps)
			}
			if p, ok := b.firstReaching(HighRecall); ok {
				row.Ef99, row.QPS99 = p.Ef, p.QPS1
			}
		}
		if m := b.Memory; m != nil && n > 0 {
			row.BytesPerVector, row.MemorySource = float64(m.IndexBytes)/float64(n), m.Source
		}
		if p := b.Persist; p != nil {
			row.LoadSeconds = p.LoadSeconds
		}
		if r, ok := ratios[b.Name]; ok {
			row.Ratio95 = &r
		}
		s.Rows = append(s.Rows, row)
	}
	s.Headline = s.headline()
}

// headline says, for every distribution and size, whether ours led every
// plausible peer at recall@10 ≥ TargetRecall, and by what ratio.
func (s *ScaleResult) headline() []string {
	var lines []string
	for _, dist := range s.Distributions {
		for _, n := range s.Sizes {
			var parts []string
			lead, compared := true, 0
			for _, row := range s.Rows {
				if row.Distribution != dist || row.N != n || row.Ratio95 == nil {
					continue
				}
				compared++
				lead = lead && row.Ratio95.Median > 1
				parts = append(parts, fmt.Sprintf("ours/%s = %s", row.Backend, row.Ratio95))
			}
			if compared == 0 {
				continue
			}
			verdict := "ours ahead of every peer"
			if !lead {
				verdict = "ours NOT ahead of every peer"
			}
			lines = append(lines, fmt.Sprintf("%s, n=%d: %s at recall@10 ≥ %.2f (single-thread q/s): %s", dist, n, verdict, TargetRecall, joinComma(parts)))
		}
	}
	return lines
}

func joinComma(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += "; "
		}
		out += p
	}
	return out
}

// Figures returns the ratios by name:
// "DIST.nN.qps_ratio_ours_over_PEER_at_recall10_0.95".
func (s *ScaleResult) Figures() map[string]float64 {
	f := map[string]float64{}
	for _, row := range s.Rows {
		if row.Ratio95 != nil {
			f[fmt.Sprintf("%s.n%d.qps_ratio_ours_over_%s_at_recall10_%.2f", row.Distribution, row.N, row.Backend, TargetRecall)] = row.Ratio95.Median
		}
		if row.Backend == BackendHNSW && row.QPS95 > 0 {
			f[fmt.Sprintf("%s.n%d.%s.qps_1_thread_at_recall10_%.2f", row.Distribution, row.N, row.Backend, TargetRecall)] = row.QPS95
		}
	}
	return f
}

// Report turns the scale result into a report under header h.
func (s *ScaleResult) Report(h bench.Header) *bench.Report {
	h.Benchmark = ScaleReportName
	h.Dataset = fmt.Sprintf("synthetic, dim %d, distributions %v, sizes %v (each size's own report is in its folder)", s.Dim, s.Distributions, s.Sizes)
	if len(s.Sources) > 0 {
		h.AddParam("reps", fmt.Sprintf("%d to %d, by source (see Sources)", s.Reps, slices.MaxFunc(s.Sources, func(a, b ScaleSource) int { return a.Reps - b.Reps }).Reps))
	} else {
		h.AddParam("reps", s.Reps)
	}
	h.Peers = s.Peers
	t := bench.Table{
		Title: "Cost against collection size",
		Columns: []string{"distribution", "n", "backend", "build 1 thread s", "build all threads s",
			"ef@0.95", "q/s@0.95 (1 thread)", "ef@0.99", "q/s@0.99", "bytes/vector", "load s", "ours/this q/s@0.95", "flag"},
	}
	if len(s.Sources) > 0 {
		t.Columns = append(t.Columns, "source")
	}
	for _, row := range s.Rows {
		ratio, flag := "-", ""
		if row.Ratio95 != nil {
			ratio = row.Ratio95.String()
		}
		if row.Implausible {
			flag = "implausible"
		}
		qps95 := "-"
		if row.QPS95 > 0 {
			qps95 = fmtQPS(row.QPS95)
			if row.QPS95Range.Max > row.QPS95Range.Min {
				qps95 += fmt.Sprintf(" [%.0f–%.0f]", row.QPS95Range.Min, row.QPS95Range.Max)
			}
		}
		build1 := fmtSec(row.Build1Seconds)
		if row.Build1Range.Max > row.Build1Range.Min {
			build1 += fmt.Sprintf(" [%.2f–%.2f]", row.Build1Range.Min, row.Build1Range.Max)
		}
		bpv := "-"
		if row.BytesPerVector > 0 {
			bpv = strconv.FormatFloat(row.BytesPerVector, 'f', 0, 64)
		}
		cells := []any{row.Distribution, row.N, row.Backend, build1, fmtSec(row.BuildAllSeconds), efOrDash(row.Ef95), qps95,
			efOrDash(row.Ef99), qpsOrDash(row.QPS99), bpv, fmtSec(row.LoadSeconds), ratio, flag}
		if len(s.Sources) > 0 {
			cells = append(cells, row.Source)
		}
		t.AddRow(cells...)
	}
	rep := &bench.Report{Header: h, Headline: s.Headline, Tables: append([]bench.Table{t}, s.sourcesTable()...), Figures: s.Figures(), Data: s}
	rep.Notes = append(rep.Notes,
		"the flat (exact) index has no ef: its q/s is listed under q/s@0.95",
		s.memoryNote(),
		"load s: loading the saved index (weaviate-hnsw runs without a commit log and has none)",
		"each size's full sweep, build, memory and persistence tables are in the run folders: "+joinComma(sortedValues(s.Runs)))
	return rep
}

// weaviateHeapOnlySource is how the Weaviate peer described its memory
// figure before it added the vectors its cache references (it keeps the
// caller's slices, not copies): reports measured then carry it.
const weaviateHeapOnlySource = "live Go heap growth over the build"

// memoryNote says how each backend's bytes/vector was measured, naming the
// runs of a backend whose figures were measured in different ways (as in a
// merged report whose sources ran different peer versions).
func (s *ScaleResult) memoryNote() string {
	type key struct{ backend, source string }
	runs := map[key][]string{}
	sources := map[string][]string{}
	var backends []string
	for _, row := range s.Rows {
		if row.BytesPerVector <= 0 || row.MemorySource == "" {
			continue
		}
		k := key{row.Backend, row.MemorySource}
		if !slices.Contains(backends, row.Backend) {
			backends = append(backends, row.Backend)
		}
		if !slices.Contains(sources[row.Backend], row.MemorySource) {
			sources[row.Backend] = append(sources[row.Backend], row.MemorySource)
		}
		runs[k] = append(runs[k], fmt.Sprintf("%s n=%d", row.Distribution, row.N))
	}
	note := "bytes/vector: ours and flat from the index's own Memory()"
	for _, b := range backends {
		for _, src := range sources[b] {
			note += "; " + b + ": " + src
			if src == weaviateHeapOnlySource {
				note += " (this figure leaves out the n·dim·4 bytes of vectors its cache references: the peer before the fix counted the heap's growth alone; it is left out of the memory plot)"
			}
			if len(sources[b]) > 1 {
				note += " (" + joinComma(runs[key{b, src}]) + ")"
			}
		}
	}
	return note
}

func efOrDash(ef int) string {
	if ef == 0 {
		return "-"
	}
	return strconv.Itoa(ef)
}

func qpsOrDash(q float64) string {
	if q <= 0 {
		return "-"
	}
	return fmtQPS(q)
}

func sortedValues(m map[string]string) []string {
	var v []string
	for _, x := range m {
		v = append(v, x)
	}
	slices.Sort(v)
	return v
}

// DrawScalePlots draws the scale plots into dir: q/s at recall ≥
// TargetRecall against n (log–log), one-thread build time against n
// (log–log) and bytes per vector against n (log n), one series per backend
// and distribution; implausible backends are left out.
func DrawScalePlots(dir string, s *ScaleResult, h bench.Header) ([]string, error) {
	footer := bench.PlotFooter(h)
	type plotSpec struct {
		file, title, ylabel string
		logY                bool
		value               func(ScaleRow) float64
	}
	specs := []plotSpec{
		{ScaleQPSPlot, fmt.Sprintf("queries/s at recall@10 ≥ %.2f against n (dim %d)", TargetRecall, s.Dim), "queries per second, 1 thread (log)", true,
			func(r ScaleRow) float64 { return r.QPS95 }},
		{ScaleBuildPlot, fmt.Sprintf("build time on all threads against n (dim %d)", s.Dim), "seconds (log)", true,
			func(r ScaleRow) float64 { return r.BuildAllSeconds }},
		{ScaleMemoryPlot, fmt.Sprintf("index memory per vector against n (dim %d)", s.Dim), "bytes per vector", false,
			func(r ScaleRow) float64 {
				if r.MemorySource == weaviateHeapOnlySource {
					return 0 // counts no vectors: not comparable with the rest
				}
				return r.BytesPerVector
			}},
	}
	var files []string
	for _, sp := range specs {
		lp := bench.LinePlot{Title: sp.title, XLabel: "vectors in the index, n (log)", YLabel: sp.ylabel, LogX: true, LogY: sp.logY, Footer: footer}
		series := map[string]*bench.Series{}
		var order []string
		for _, row := range s.Rows {
			v := sp.value(row)
			if row.Implausible || v <= 0 {
				continue
			}
			key := row.Backend + " (" + row.Distribution + ")"
			if series[key] == nil {
				series[key] = &bench.Series{Name: key}
				order = append(order, key)
			}
			series[key].Points = append(series[key].Points, bench.Point{X: float64(row.N), Y: v})
		}
		if len(order) == 0 {
			continue
		}
		for _, k := range order {
			pts := series[k].Points
			slices.SortFunc(pts, func(a, b bench.Point) int { return int(a.X - b.X) })
			lp.Series = append(lp.Series, *series[k])
		}
		path := filepath.Join(dir, sp.file)
		if err := lp.SavePNG(path); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}

// WriteScaleOutputs draws the scale plots and writes the scale report into
// dir, returning the paths written.
func WriteScaleOutputs(dir string, s *ScaleResult, rep *bench.Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create report folder: %w", err)
	}
	plots, err := DrawScalePlots(dir, s, rep.Header)
	if err != nil {
		return nil, err
	}
	for _, p := range plots {
		rep.Plots = append(rep.Plots, filepath.Base(p))
	}
	files, err := rep.WriteFiles(dir, ScaleReportName)
	if err != nil {
		return nil, err
	}
	return append(files, plots...), nil
}
