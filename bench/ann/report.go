package ann

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mmsearch/bench"
)

// Output file names under the report folder.
const (
	ReportName = "ann"                // ann.json and ann.md
	PlotName   = "ann-recall-qps.png" // recall@10 against single-thread queries/s
)

// Headline is the comparison the benchmark exists for. Zero values mean
// "not measured" or "not reached within the swept ef values".
type Headline struct {
	Target float64 `json:"target_recall_at_10"`
	High   float64 `json:"high_recall_at_10"`
	// The smallest ef reaching Target and the single-thread queries/s there.
	HnswlibEf   int     `json:"hnswlib_ef"`
	HnswlibQPS1 float64 `json:"hnswlib_qps_1_thread"`
	OursEf      int     `json:"ours_ef"`
	OursQPS1    float64 `json:"ours_qps_1_thread"`
	QPSRatio    float64 `json:"qps_ratio_ours_over_hnswlib"`
	// QPSRatioRange is QPSRatio's range over paired repetitions.
	QPSRatioRange Range `json:"qps_ratio_range"`
	// The smallest ef reaching High.
	OursHighEf    int `json:"ours_ef_high"`
	HnswlibHighEf int `json:"hnswlib_ef_high"`
	// One-thread build times and their ratio (ours / hnswlib; below 1 is faster).
	OursBuild1    float64 `json:"ours_build_seconds_1_thread"`
	HnswlibBuild1 float64 `json:"hnswlib_build_seconds_1_thread"`
	BuildRatio    float64 `json:"build_ratio_ours_over_hnswlib"`
	// BuildRatioRange is BuildRatio's range over paired repetitions.
	BuildRatioRange Range `json:"build_ratio_range"`
	// Peers holds ours against every plausible peer at both recall levels.
	Peers []PeerRatio `json:"peers,omitempty"`
	// Build speed-up on Threads threads over one thread.
	Threads             int     `json:"threads"`
	OursBuildSpeedup    float64 `json:"ours_build_speedup"`
	HnswlibBuildSpeedup float64 `json:"hnswlib_build_speedup"`
	// Lines are the sentences printed and written to the report.
	Lines []string `json:"lines"`
}

// PeerRatio is ours against one peer at one recall@10 level: single-thread
// q/s of ours over the peer's, each at its smallest ef reaching the level.
type PeerRatio struct {
	Peer    string  `json:"peer"`
	Recall  float64 `json:"recall_at_10"`
	OursEf  int     `json:"ours_ef"`
	PeerEf  int     `json:"peer_ef"`
	QPS1    Ratio   `json:"qps_1_thread_ratio"`
	Reached bool    `json:"reached"` // both reached the level within the sweep
}

// peerRatios compares ours with every plausible peer at TargetRecall and
// HighRecall.
func peerRatios(r *Result) []PeerRatio {
	ours := r.Backend(BackendHNSW)
	if ours == nil {
		return nil
	}
	var out []PeerRatio
	for i := range r.Backends {
		b := &r.Backends[i]
		if b.Name == BackendHNSW || b.Name == BackendFlat || b.Implausible() {
			continue
		}
		for _, level := range []float64{TargetRecall, HighRecall} {
			pr := PeerRatio{Peer: b.Name, Recall: level}
			po, okO := ours.firstReaching(level)
			pp, okP := b.firstReaching(level)
			if okO && okP {
				pr.Reached, pr.OursEf, pr.PeerEf = true, po.Ef, pp.Ef
				pr.QPS1 = pairedRatio(po.QPS1Reps, pp.QPS1Reps, po.QPS1, pp.QPS1)
			}
			out = append(out, pr)
		}
	}
	return out
}

// makeHeadline computes the headline from the backends' results.
func makeHeadline(r *Result) Headline {
	h := Headline{Target: TargetRecall, High: HighRecall, Threads: r.Threads}
	ours, hl := r.Backend(BackendHNSW), r.Backend(BackendHnswlib)
	maxEf := r.Efs[len(r.Efs)-1]
	add := func(format string, args ...any) { h.Lines = append(h.Lines, fmt.Sprintf(format, args...)) }

	reach := func(b *BackendResult, name string) {
		if p, ok := b.firstReaching(TargetRecall); ok {
			add("%s: smallest ef with recall@10 ≥ %.2f is %d (recall@10 %.4f), %s q/s on 1 thread%s",
				name, TargetRecall, p.Ef, p.Recall10, fmtQPS(p.QPS1), spread(p.QPS1Reps, "%.0f"))
		} else {
			add("%s: recall@10 ≥ %.2f not reached up to ef=%d (best %.4f)", name, TargetRecall, maxEf, bestRecall10(b))
		}
		if p, ok := b.firstReaching(HighRecall); ok {
			add("%s: recall@10 ≥ %.2f reached at ef=%d (%s q/s on 1 thread)", name, HighRecall, p.Ef, fmtQPS(p.QPS1))
		} else {
			add("%s: recall@10 ≥ %.2f not reachable up to ef=%d", name, HighRecall, maxEf)
		}
	}
	if hl != nil {
		if p, ok := hl.firstReaching(TargetRecall); ok {
			h.HnswlibEf, h.HnswlibQPS1 = p.Ef, p.QPS1
		}
		if p, ok := hl.firstReaching(HighRecall); ok {
			h.HnswlibHighEf = p.Ef
		}
		h.HnswlibBuild1 = hl.Build1Seconds
		h.HnswlibBuildSpeedup = hl.BuildSpeedup()
		reach(hl, BackendHnswlib)
	}
	if ours != nil {
		if p, ok := ours.firstReaching(TargetRecall); ok {
			h.OursEf, h.OursQPS1 = p.Ef, p.QPS1
		}
		if p, ok := ours.firstReaching(HighRecall); ok {
			h.OursHighEf = p.Ef
		}
		h.OursBuild1 = ours.Build1Seconds
		h.OursBuildSpeedup = ours.BuildSpeedup()
		reach(ours, BackendHNSW)
	}
	h.Peers = peerRatios(r)
	for _, pr := range h.Peers {
		if !pr.Reached {
			add("single-thread q/s ratio at recall@10 ≥ %.2f: ours/%s not computable (a backend did not reach it)", pr.Recall, pr.Peer)
			continue
		}
		add("single-thread q/s at recall@10 ≥ %.2f: ours/%s = %s (ef %d vs %d)", pr.Recall, pr.Peer, pr.QPS1, pr.OursEf, pr.PeerEf)
		if pr.Peer == BackendHnswlib && pr.Recall == TargetRecall {
			h.QPSRatio, h.QPSRatioRange = pr.QPS1.Median, pr.QPS1.Range
		}
	}
	if h.OursBuild1 > 0 && h.HnswlibBuild1 > 0 {
		br := pairedRatio(ours.Build1Reps, hl.Build1Reps, h.OursBuild1, h.HnswlibBuild1)
		h.BuildRatio, h.BuildRatioRange = br.Median, br.Range
		add("build on 1 thread: ours %.2f s%s, hnswlib %.2f s%s (ours/hnswlib = %s)", h.OursBuild1, spread(ours.Build1Reps, "%.2f"),
			h.HnswlibBuild1, spread(hl.Build1Reps, "%.2f"), br)
	}
	if h.OursBuildSpeedup > 0 && r.Threads > 1 {
		s := fmt.Sprintf("batch build speed-up on %d threads: ours %.2f×", r.Threads, h.OursBuildSpeedup)
		if h.HnswlibBuildSpeedup > 0 {
			s += fmt.Sprintf(", hnswlib %.2f×", h.HnswlibBuildSpeedup)
		}
		add("%s", s)
	}
	if ours != nil && ours.Memory != nil {
		m := ours.Memory
		add("memory of ours: Memory() %s, heap growth %s; vectors + layer-0 links %s; ratios %.2f and %.2f",
			fmtMiB(m.IndexBytes), fmtMiB(m.HeapDelta), fmtMiB(m.Baseline), m.Ratio, m.HeapRatio)
	}
	var peerMem []string
	for _, b := range r.Backends {
		if m := b.Memory; m != nil && m.Source != "" {
			peerMem = append(peerMem, fmt.Sprintf("%s %s (%.2f × the baseline; %s)", b.Name, fmtMiB(m.IndexBytes), m.Ratio, m.Source))
		}
	}
	if len(peerMem) > 0 {
		add("memory of the peers: %s", strings.Join(peerMem, "; "))
	}
	h.Lines = append(h.Lines, r.flagLines()...)
	if ours != nil && ours.Persist != nil {
		p := ours.Persist
		same := "identical results"
		if p.Mismatches > 0 {
			same = fmt.Sprintf("%d of %d queries DIFFER", p.Mismatches, p.Queries)
		}
		add("save %.2f s, load %.2f s, file %s; loaded index at ef=%d: %s", p.SaveSeconds, p.LoadSeconds, fmtMiB(p.FileBytes), p.CheckEf, same)
	}
	return h
}

func bestRecall10(b *BackendResult) float64 {
	best := 0.0
	for _, p := range b.Points {
		best = max(best, p.Recall10)
	}
	return best
}

func fmtQPS(q float64) string {
	switch {
	case q >= 100:
		return strconv.FormatFloat(q, 'f', 0, 64)
	case q >= 10:
		return strconv.FormatFloat(q, 'f', 1, 64)
	}
	return strconv.FormatFloat(q, 'f', 2, 64)
}

func fmtMiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func fmtSec(s float64) string {
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", s)
}

// Report turns the result into a bench.Report under header h, whose
// benchmark name, dataset, parameters and peers it fills in.
func (r *Result) Report(h bench.Header) *bench.Report {
	h.Benchmark = "ann"
	h.Dataset = fmt.Sprintf("%s: %d base vectors, %d queries, dim %d, metric %s", r.Dataset.Name, r.Dataset.N, r.Dataset.Queries, r.Dataset.Dim, r.Dataset.Metric)
	if r.Dataset.TruthGiven {
		h.Dataset += ", ground truth from file"
	}
	h.AddParam("M", r.M)
	h.AddParam("ef_construction", r.EfConstruction)
	efs := make([]string, len(r.Efs))
	for i, e := range r.Efs {
		efs[i] = strconv.Itoa(e)
	}
	h.AddParam("ef", strings.Join(efs, ","))
	h.AddParam("k", r.K)
	h.AddParam("seed", r.Seed)
	h.AddParam("threads", r.Threads)
	h.AddParam("runs", r.Runs)
	if r.Reps > 1 {
		h.AddParam("reps", r.Reps)
	}
	for _, b := range r.Backends {
		if b.Name == BackendHNSW || b.Name == BackendFlat {
			continue
		}
		h.Peers = append(h.Peers, bench.Peer{Name: b.Name, Version: b.Version})
	}
	if r.Python != "" {
		h.Peers = append(h.Peers, bench.Peer{Name: "python", Version: r.Python})
	}

	sweep := bench.Table{
		Title: "Search sweep",
		Columns: []string{"backend", "ef", "recall@1", "recall@10", "recall@100",
			"q/s 1 thread", fmt.Sprintf("q/s %d threads", r.Threads), "p50 ms", "p99 ms", "flag"},
	}
	for i := range r.Backends {
		b := &r.Backends[i]
		bad := map[int]bool{}
		for _, ef := range b.NonMonotonic() {
			bad[ef] = true
		}
		for _, p := range b.Points {
			flag := ""
			switch {
			case b.Implausible():
				flag = "implausible"
			case bad[p.Ef]:
				flag = "non-monotonic"
			}
			ef := "exact"
			if p.Ef > 0 {
				ef = strconv.Itoa(p.Ef)
			}
			sweep.AddRow(b.Name, ef, fmt.Sprintf("%.4f", p.Recall1), fmt.Sprintf("%.4f", p.Recall10),
				fmt.Sprintf("%.4f", p.Recall100), fmtQPS(p.QPS1)+spread(p.QPS1Reps, "%.0f"), fmtQPS(p.QPSAll)+spread(p.QPSAllReps, "%.0f"),
				fmt.Sprintf("%.3f", p.P50Ms), fmt.Sprintf("%.3f", p.P99Ms), flag)
		}
	}
	build := bench.Table{
		Title:   "Build",
		Columns: []string{"backend", "1 thread s", fmt.Sprintf("%d threads s", r.Threads), "speed-up"},
	}
	for _, b := range r.Backends {
		sp := "-"
		if s := b.BuildSpeedup(); s > 0 {
			sp = fmt.Sprintf("%.2f×", s)
		}
		build.AddRow(b.Name, fmtSec(b.Build1Seconds)+spread(b.Build1Reps, "%.2f"), fmtSec(b.BuildAllSeconds)+spread(b.BuildAllReps, "%.2f"), sp)
	}
	mem := bench.Table{
		Title:   "Memory (after runtime.GC)",
		Columns: []string{"backend", "index", "measured as", "vectors", "links", "other", "heap growth", "baseline", "index/baseline", "heap/baseline"},
	}
	for _, b := range r.Backends {
		m := b.Memory
		if m == nil {
			continue
		}
		if m.Source != "" { // a peer: one figure, no breakdown
			mem.AddRow(b.Name, fmtMiB(m.IndexBytes), m.Source, "-", "-", "-", "-", fmtMiB(m.Baseline), fmt.Sprintf("%.2f", m.Ratio), "-")
			continue
		}
		mem.AddRow(b.Name, fmtMiB(m.IndexBytes), "Memory()", fmtMiB(m.VectorBytes), fmtMiB(m.LinkBytes), fmtMiB(m.OtherBytes),
			fmtMiB(m.HeapDelta), fmtMiB(m.Baseline), fmt.Sprintf("%.2f", m.Ratio), fmt.Sprintf("%.2f", m.HeapRatio))
	}
	rep := &bench.Report{Header: h, Headline: r.Headline.Lines, Tables: []bench.Table{sweep, build, mem}, Figures: r.Figures(), Data: r}
	persist := bench.Table{Title: "Persistence: save, load, and the loaded index's answers", Columns: []string{"backend", "file", "save s", "load s", "check ef", "queries differing"}}
	for _, b := range r.Backends {
		if p := b.Persist; p != nil {
			persist.AddRow(b.Name, fmtMiB(p.FileBytes), fmt.Sprintf("%.3f", p.SaveSeconds), fmt.Sprintf("%.3f", p.LoadSeconds)+spread(p.LoadReps, "%.3f"), p.CheckEf, fmt.Sprintf("%d of %d", p.Mismatches, p.Queries))
		}
	}
	if len(persist.Rows) > 0 {
		rep.Tables = append(rep.Tables, persist)
	}
	for _, b := range r.Backends {
		if b.Memory != nil && b.Memory.Source == "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s memory baseline: %s", b.Name, b.Memory.BaselineNote))
		}
		if b.Note != "" {
			rep.Notes = append(rep.Notes, b.Name+": "+b.Note)
		}
	}
	if r.Dataset.TruthGiven {
		rep.Notes = append(rep.Notes, "ground truth read from file")
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("ground truth: exact search (flat) of the %d queries for their 100 nearest took %.1f s", r.Dataset.Queries, r.TruthSeconds))
	}
	for _, sk := range r.Skipped {
		rep.Notes = append(rep.Notes, "skipped "+sk)
	}
	if len(r.Resumed) > 0 {
		rep.Notes = append(rep.Notes, "resumed after an interruption (--resume): these steps were measured by an earlier process of the same binary on the same data and parameters, and read back from its checkpoint: "+strings.Join(r.Resumed, ", "))
	}
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("recall@k is |found ∩ true| / k over the first k results, averaged over queries; recall at levels ≤ k=%d comes from the timed searches, higher levels from untimed searches with k = the level (ef raised to k where smaller)", r.K),
		"Go single-thread figures: one goroutine with GOMAXPROCS=1, queries in sequence; all-thread figures: that many goroutines sharing the queries",
		fmt.Sprintf("each timed pass ran %d time(s); the fastest counts (latency percentiles come from that pass)", r.Runs),
	)
	if r.Reps > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the whole run (every build and sweep) was repeated %d times, the backends interleaved within each repetition; "+
			"times and q/s are medians over the repetitions with [min–max] beside them, recall the median; ratios are medians of the paired repetitions' ratios with their range; "+
			"memory and the save/load identity check come from the first repetition", r.Reps))
	}
	return rep
}

// Plot draws recall@10 against single-thread queries/s, one curve per
// backend, on a log q/s axis with the recall axis zoomed to where the
// plausible curves are; footer (machine, date, revision) goes under it.
func (r *Result) Plot(path, footer string) error {
	lp := bench.LinePlot{
		Title:  fmt.Sprintf("%s (n=%d, dim=%d): recall@10 vs queries/s, 1 thread", shortName(r.Dataset.Name), r.Dataset.N, r.Dataset.Dim),
		XLabel: "recall@10",
		YLabel: "queries per second (1 thread, log scale)",
		LogY:   true,
		Footer: footer,
	}
	lo := r.recallAxisMin()
	hi := 1.005 // room for the markers at recall 1
	lp.XMin, lp.XMax = &lo, &hi
	lp.XLabel = fmt.Sprintf("recall@10 (axis from %.2f; points left of it not drawn)", lo)
	var off []string
	for i := range r.Backends {
		b := &r.Backends[i]
		if b.Implausible() {
			off = append(off, fmt.Sprintf("%s (best recall@10 %.2f: implausible)", b.Name, bestRecall10(b)))
			continue
		}
		s := bench.Series{Name: b.Name}
		for _, p := range b.Points {
			if p.QPS1 <= 0 || p.Recall10 < lo {
				continue
			}
			s.Points = append(s.Points, bench.Point{X: p.Recall10, Y: p.QPS1, Label: "ef=" + strconv.Itoa(p.Ef)})
		}
		lp.Series = append(lp.Series, s)
	}
	if len(off) > 0 {
		lp.Title += "\nnot drawn: " + strings.Join(off, ", ")
	}
	return lp.SavePNG(path)
}

// recallAxisMin is the left end of the plot's recall axis: 0.8, so that
// the region where the curves differ (0.9 to 1) fills the plot, or lower
// where a plausible backend's best recall@10 stays below that (rounded down
// to 0.05, never below ImplausibleRecall), so that every plausible curve
// shows. Points left of it are not drawn.
func (r *Result) recallAxisMin() float64 {
	lo := 0.8
	for i := range r.Backends {
		b := &r.Backends[i]
		if b.Name == BackendFlat || b.Implausible() || len(b.Points) == 0 {
			continue
		}
		lo = min(lo, bestRecall10(b))
	}
	return max(math.Floor(lo*20)/20, ImplausibleRecall)
}

// shortName cuts a dataset name at its parameter list, for plot titles.
func shortName(s string) string {
	if i := strings.IndexByte(s, '('); i > 0 {
		return s[:i]
	}
	return s
}

// DrawPlots draws the report's plot into dir from the result and the
// report's header (for the footer) and returns its path; `bench plot` calls
// it on a stored ann.json to redraw the same PNG.
func DrawPlots(dir string, r *Result, h bench.Header) ([]string, error) {
	plot := filepath.Join(dir, PlotName)
	if err := r.Plot(plot, bench.PlotFooter(h)); err != nil {
		return nil, err
	}
	return []string{plot}, nil
}

// WriteOutputs draws the plot and writes the report (JSON and Markdown) into
// dir, returning the paths written.
func WriteOutputs(dir string, r *Result, rep *bench.Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create report folder: %w", err)
	}
	plots, err := DrawPlots(dir, r, rep.Header)
	if err != nil {
		return nil, err
	}
	rep.Plots = []string{PlotName}
	files, err := rep.WriteFiles(dir, ReportName)
	if err != nil {
		return nil, err
	}
	return append(files, plots...), nil
}
