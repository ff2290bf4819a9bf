package ann

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mmsearch/bench"
)

// scaleSource is a stored scale report with one row per run of ours and
// hnswlib, made by hand (nothing measured).
func scaleSource(dir, rev string, dim, reps int, runs ...string) StoredScale {
	h := bench.Header{Benchmark: ScaleReportName, GitRev: rev, Date: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC),
		Machine: bench.Machine{CPU: "cpu", Cores: 2, LoadAvg: "0.5 0.5 0.5"}}
	s := ScaleResult{Dim: dim, Reps: reps, Runs: map[string]string{}}
	for _, r := range runs {
		var dist string
		var n int
		if _, err := fmt.Sscan(r, &dist, &n); err != nil {
			panic(err)
		}
		s.Runs[dist+" n="+strconv.Itoa(n)] = ScaleRunDir(dist, n)
		if !slices.Contains(s.Sizes, n) {
			s.Sizes = append(s.Sizes, n)
		}
		if !slices.Contains(s.Distributions, dist) {
			s.Distributions = append(s.Distributions, dist)
		}
		ratio := &Ratio{Median: 1.3, Range: Range{Min: 1.2, Max: 1.4}, Pairs: reps}
		s.Rows = append(s.Rows,
			ScaleRow{Distribution: dist, N: n, Backend: BackendHNSW, QPS95: 1000, BuildAllSeconds: 1},
			ScaleRow{Distribution: dist, N: n, Backend: BackendHnswlib, QPS95: 770, BuildAllSeconds: 2, Ratio95: ratio})
	}
	s.Peers = []bench.Peer{{Name: BackendHnswlib, Version: "0.8"}}
	return StoredScale{Dir: dir, Header: h, Result: s}
}

func TestMergeScale(t *testing.T) {
	small := scaleSource("small", "aaaa", 512, 5, "clusters 10000", "gaussian 10000")
	big := scaleSource("big", "bbbb", 512, 1, "clusters 1000000")
	big.Header.Unclean = []string{"load 1.5 at start"}
	m, machine, err := MergeScale([]StoredScale{big, small})
	if err != nil {
		t.Fatal(err)
	}
	if machine.CPU != "cpu" || len(m.Sources) != 2 || m.Reps != 1 || len(m.Rows) != 6 || len(m.Runs) != 3 {
		t.Fatalf("merged %+v", m)
	}
	if got := m.Sizes; len(got) != 2 || got[0] != 10000 || got[1] != 1000000 {
		t.Errorf("sizes %v, want sorted", got)
	}
	// Rows are ordered by distribution (first seen first), then n, and
	// each names its source.
	for i, want := range []struct {
		dist   string
		n      int
		source int
	}{{"clusters", 10000, 2}, {"clusters", 10000, 2}, {"clusters", 1000000, 1}, {"clusters", 1000000, 1}, {"gaussian", 10000, 2}, {"gaussian", 10000, 2}} {
		r := m.Rows[i]
		if r.Distribution != want.dist || r.N != want.n || r.Source != want.source {
			t.Errorf("row %d: %s n=%d source %d, want %+v", i, r.Distribution, r.N, r.Source, want)
		}
	}
	if s := m.Sources[0]; s.GitRev != "bbbb" || s.Reps != 1 || len(s.Unclean) != 1 || s.LoadAtStart != "0.5 0.5 0.5" || len(s.Runs) != 1 {
		t.Errorf("source 1 %+v", s)
	}
	if len(m.Headline) != 3 || !strings.Contains(strings.Join(m.Headline, "\n"), "clusters, n=1000000: ours ahead") {
		t.Errorf("headline %q", m.Headline)
	}
	var md strings.Builder
	if err := m.Report(bench.Header{}).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Sources", "| 1 | clusters n=1000000 | bbbb |", "no: load 1.5 at start", "1 to 5, by source"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}

	// A merged report merged again keeps its sources and their rows.
	third := scaleSource("third", "cccc", 512, 3, "gaussian 1000000")
	again, _, err := MergeScale([]StoredScale{{Dir: "merged", Header: big.Header, Result: *m}, third})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Sources) != 3 || again.Sources[2].GitRev != "cccc" || len(again.Rows) != 8 {
		t.Fatalf("re-merged: %d sources, %d rows", len(again.Sources), len(again.Rows))
	}
	for _, r := range again.Rows {
		if r.Distribution == "gaussian" && r.N == 1000000 && r.Source != 3 {
			t.Errorf("row %+v: want source 3", r)
		}
	}
}

func TestMergeScaleRefuses(t *testing.T) {
	other := scaleSource("other", "b", 512, 1, "clusters 1000000")
	other.Header.Machine.Cores = 16
	notScale := scaleSource("ann", "b", 512, 1, "clusters 1000000")
	notScale.Header.Benchmark = "ann"
	for _, tc := range []struct {
		name string
		srcs []StoredScale
		want string
	}{
		{"none", nil, "no scale reports"},
		{"same run twice", []StoredScale{scaleSource("a", "a", 512, 5, "clusters 10000"), scaleSource("b", "b", 512, 1, "clusters 10000")}, `run "clusters n=10000" is in both a and b`},
		{"dimensions", []StoredScale{scaleSource("a", "a", 512, 5, "clusters 10000"), scaleSource("b", "b", 128, 1, "clusters 1000000")}, "dimension 128"},
		{"machines", []StoredScale{scaleSource("a", "a", 512, 5, "clusters 10000"), other}, "different machines"},
		{"not a scale report", []StoredScale{notScale}, `benchmark "ann"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := MergeScale(tc.srcs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestScaleMemoryNote: the report says how each backend's bytes/vector was
// measured, names the runs when one backend was measured in two ways, and
// warns where an old Weaviate peer left its vectors out.
func TestScaleMemoryNote(t *testing.T) {
	row := func(backend string, n int, source string) ScaleRow {
		return ScaleRow{Distribution: DistClusters, N: n, Backend: backend, BytesPerVector: 100, MemorySource: source}
	}
	tests := []struct {
		name      string
		rows      []ScaleRow
		want, not []string
	}{
		{"ours only", []ScaleRow{row(BackendHNSW, 1000, "")},
			[]string{"ours and flat from the index's own Memory()"}, []string{";"}},
		{"one source per peer", []ScaleRow{row(BackendHnswlib, 1000, "serialized index size"), row(BackendHnswlib, 2000, "serialized index size")},
			[]string{"; hnswlib: serialized index size"}, []string{"n=1000"}},
		{"a peer measured two ways", []ScaleRow{row(BackendWeaviateHNSW, 1000, "new way"), row(BackendWeaviateHNSW, 2000, weaviateHeapOnlySource)},
			[]string{"weaviate-hnsw: new way (clusters n=1000)", "weaviate-hnsw: " + weaviateHeapOnlySource + " (this figure leaves out", "(clusters n=2000)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&ScaleResult{Rows: tt.rows}).memoryNote()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("note %q lacks %q", got, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("note %q has %q", got, n)
				}
			}
		})
	}
}

// TestScaleMemoryPlotLeavesOutHeapOnlyFigures: a Weaviate memory figure
// that counts no vectors is not drawn beside figures that do.
func TestScaleMemoryPlotLeavesOutHeapOnlyFigures(t *testing.T) {
	rows := []ScaleRow{
		{Distribution: DistClusters, N: 1000, Backend: BackendHNSW, BytesPerVector: 2300, QPS95: 100, BuildAllSeconds: 1},
		{Distribution: DistClusters, N: 2000, Backend: BackendHNSW, BytesPerVector: 2300, QPS95: 90, BuildAllSeconds: 2},
		{Distribution: DistClusters, N: 1000, Backend: BackendWeaviateHNSW, BytesPerVector: 256, MemorySource: weaviateHeapOnlySource, QPS95: 50, BuildAllSeconds: 3},
	}
	draw := func(rows []ScaleRow) []byte {
		dir := t.TempDir()
		if _, err := DrawScalePlots(dir, &ScaleResult{Dim: 8, Rows: rows}, bench.Header{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, ScaleMemoryPlot))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withOld, without := draw(rows), draw(rows[:2])
	if !bytes.Equal(withOld, without) {
		t.Error("the memory plot changed when a heap-only Weaviate figure was added")
	}
	rows[2].MemorySource = "another source"
	if bytes.Equal(draw(rows), without) {
		t.Error("a comparable Weaviate figure was not drawn")
	}
}
