package ann

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"mmsearch/bench"
)

// ScaleSource is one scale report gathered into a merged one: the header
// it was measured under, so that every row of the merged report can be
// traced to its revision, date, machine load and repetitions.
type ScaleSource struct {
	// Dir is the folder the report was read from, as given.
	Dir         string    `json:"dir"`
	GitRev      string    `json:"git_revision"`
	Date        time.Time `json:"date"`
	LoadAtStart string    `json:"load_average_at_start,omitempty"`
	Reps        int       `json:"reps"`
	Unclean     []string  `json:"unclean,omitempty"`
	// Runs are the run keys ("distribution n=N") taken from this source.
	Runs []string `json:"runs"`
}

// StoredScale is a scale report as read back from its JSON file.
type StoredScale struct {
	Dir    string
	Header bench.Header
	Result ScaleResult
}

// MergeScale gathers the runs of several scale reports into one, so that
// sizes too costly for one sitting (a million vectors on a small machine)
// can be measured apart and still be drawn on the same axes. Every run
// (a distribution at a size) must come from exactly one source, all
// sources must share the dimension and describe the same kind of machine
// (CPU model and core count), and each row keeps the index of its source
// (ScaleRow.Source, 1-based) so the report can say where it came from.
// A merged report read back and merged again keeps its sources.
func MergeScale(srcs []StoredScale) (*ScaleResult, bench.Machine, error) {
	if len(srcs) == 0 {
		return nil, bench.Machine{}, fmt.Errorf("merge: no scale reports")
	}
	out := &ScaleResult{Runs: map[string]string{}}
	machine := srcs[0].Header.Machine
	owner := map[string]string{} // run key -> source dir
	for _, src := range srcs {
		s, h := &src.Result, src.Header
		if h.Benchmark != ScaleReportName {
			return nil, machine, fmt.Errorf("merge: %s: benchmark %q, want %q", src.Dir, h.Benchmark, ScaleReportName)
		}
		if out.Dim == 0 {
			out.Dim = s.Dim
		} else if s.Dim != out.Dim {
			return nil, machine, fmt.Errorf("merge: %s: dimension %d, the others %d", src.Dir, s.Dim, out.Dim)
		}
		if h.Machine.CPU != machine.CPU || h.Machine.Cores != machine.Cores {
			return nil, machine, fmt.Errorf("merge: %s was measured on %s (%d CPUs), %s on %s (%d CPUs): figures from different machines do not share axes",
				src.Dir, h.Machine.CPU, h.Machine.Cores, srcs[0].Dir, machine.CPU, machine.Cores)
		}
		// The sources of this report: its own header, or, for a report
		// that was itself merged, the sources it lists.
		own := s.Sources
		if len(own) == 0 {
			var keys []string
			for k := range s.Runs {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			own = []ScaleSource{{Dir: src.Dir, GitRev: h.GitRev, Date: h.Date, LoadAtStart: h.Machine.LoadAvg,
				Reps: s.Reps, Unclean: h.Unclean, Runs: keys}}
		}
		base := len(out.Sources)
		out.Sources = append(out.Sources, own...)
		for key, dir := range s.Runs {
			if prev, ok := owner[key]; ok {
				return nil, machine, fmt.Errorf("merge: run %q is in both %s and %s: keep one", key, prev, src.Dir)
			}
			owner[key] = src.Dir
			out.Runs[key] = dir
		}
		for _, row := range s.Rows {
			if row.Source == 0 {
				row.Source = 1
			}
			row.Source += base
			out.Rows = append(out.Rows, row)
		}
		for _, n := range s.Sizes {
			if !slices.Contains(out.Sizes, n) {
				out.Sizes = append(out.Sizes, n)
			}
		}
		for _, d := range s.Distributions {
			if !slices.Contains(out.Distributions, d) {
				out.Distributions = append(out.Distributions, d)
			}
		}
		peers := s.Peers
		if len(peers) == 0 {
			// Reports written before scale results listed their peers:
			// the names from the rows, the versions in the run reports.
			for _, row := range s.Rows {
				if row.Backend != BackendHNSW && row.Backend != BackendFlat {
					peers = append(peers, bench.Peer{Name: row.Backend, Version: "in its run report"})
				}
			}
		}
		for _, p := range peers {
			if !slices.ContainsFunc(out.Peers, func(q bench.Peer) bool { return q.Name == p.Name }) {
				out.Peers = append(out.Peers, p)
			}
		}
	}
	slices.Sort(out.Sizes)
	order := map[string]int{}
	for i, d := range out.Distributions {
		order[d] = i
	}
	slices.SortStableFunc(out.Rows, func(a, b ScaleRow) int {
		return cmp.Or(cmp.Compare(order[a.Distribution], order[b.Distribution]), cmp.Compare(a.N, b.N))
	})
	out.Reps = slices.MinFunc(out.Sources, func(a, b ScaleSource) int { return cmp.Compare(a.Reps, b.Reps) }).Reps
	out.Headline = out.headline()
	return out, machine, nil
}

// sourcesTable lists the merged sources, or nothing for a report measured
// in one run.
func (s *ScaleResult) sourcesTable() []bench.Table {
	if len(s.Sources) == 0 {
		return nil
	}
	t := bench.Table{
		Title:   "Sources (the source column of the table above)",
		Columns: []string{"source", "runs", "git revision", "date", "load average at start", "reps", "clean"},
	}
	for i, src := range s.Sources {
		clean := "yes"
		if len(src.Unclean) > 0 {
			clean = "no: " + strings.Join(src.Unclean, "; ")
		}
		rev := src.GitRev
		if len(rev) > 12 {
			rev = rev[:12]
		}
		t.AddRow(i+1, strings.Join(src.Runs, ", "), rev, src.Date.Format(time.RFC3339), src.LoadAtStart, src.Reps, clean)
	}
	return []bench.Table{t}
}
