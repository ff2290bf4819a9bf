package ann

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/bench"
	"mmsearch/index"
)

// checkPoints asserts that every figure of b is a plausible measurement.
func checkPoints(t *testing.T, b *BackendResult, efs int) {
	t.Helper()
	if len(b.Points) != efs {
		t.Fatalf("%s: %d points, want %d", b.Name, len(b.Points), efs)
	}
	for _, p := range b.Points {
		for _, r := range []float64{p.Recall1, p.Recall10, p.Recall100} {
			if r < 0 || r > 1 || math.IsNaN(r) {
				t.Errorf("%s ef=%d: recall %v outside [0,1]", b.Name, p.Ef, r)
			}
		}
		if p.QPS1 <= 0 || p.QPSAll <= 0 || p.P50Ms <= 0 || p.P99Ms < p.P50Ms {
			t.Errorf("%s ef=%d: q/s %v/%v, p50 %v p99 %v", b.Name, p.Ef, p.QPS1, p.QPSAll, p.P50Ms, p.P99Ms)
		}
	}
}

func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds indexes; skipped with -short")
	}
	ctx := context.Background()
	ds, err := Synthetic(ctx, SyntheticConfig{N: 2000, Dim: 32, Queries: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	cfg := Config{
		Dataset: ds, Metric: index.Cosine, M: 8, EfConstruction: 64,
		Efs: []int{64, 8, 16}, K: 10, Seed: 1, Threads: 2, Runs: 2, TempDir: t.TempDir(),
		Peers:    []string{BackendCoderHNSW},
		Progress: func(p Progress) { stages = append(stages, p.Stage) },
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Backends) != 3 {
		t.Fatalf("backends %d, want ours, coderhnsw and flat", len(res.Backends))
	}
	if got := res.Efs; len(got) != 3 || got[0] != 8 || got[2] != 64 {
		t.Errorf("efs = %v, want sorted 8,16,64", got)
	}
	ours, fl := res.Backend(BackendHNSW), res.Backend(BackendFlat)
	checkPoints(t, ours, 3)
	checkPoints(t, fl, 1)
	coder := res.Backend(BackendCoderHNSW)
	checkPoints(t, coder, 3)
	if coder.BuildAllSeconds <= 0 || coder.Version == "" {
		t.Errorf("coderhnsw: build %v, version %q", coder.BuildAllSeconds, coder.Version)
	}
	if p := fl.Points[0]; p.Recall1 != 1 || p.Recall10 != 1 || p.Recall100 != 1 {
		t.Errorf("flat against its own ground truth: recall %v %v %v, want exactly 1", p.Recall1, p.Recall10, p.Recall100)
	}
	// A larger beam cannot find fewer true neighbours by much; at ef=64 on
	// 2000 clustered points HNSW is close to exact.
	if last := ours.Points[2]; last.Recall10 < 0.9 || last.Recall10 < ours.Points[0].Recall10 {
		t.Errorf("ours: recall@10 %v at ef=8, %v at ef=64", ours.Points[0].Recall10, last.Recall10)
	}
	if ours.Build1Seconds <= 0 || ours.BuildAllSeconds <= 0 {
		t.Errorf("build times %v %v", ours.Build1Seconds, ours.BuildAllSeconds)
	}
	m := ours.Memory
	wantBase := int64(2000*32*4 + 2000*16*4)
	if m == nil || m.Baseline != wantBase || m.IndexBytes <= 0 || m.Ratio != float64(m.IndexBytes)/float64(wantBase) {
		t.Errorf("memory %+v, want baseline %d", m, wantBase)
	}
	// The live heap grows by about what the index reports holding (the
	// dataset was allocated before the build; the index copies the vectors).
	for _, b := range []*BackendResult{ours, fl} {
		if m := b.Memory; m.HeapDelta < m.IndexBytes/2 || m.HeapDelta > 3*m.IndexBytes {
			t.Errorf("%s: heap growth %d for Memory() %d", b.Name, m.HeapDelta, m.IndexBytes)
		}
	}
	if p := ours.Persist; p == nil || p.Mismatches != 0 || p.FileBytes <= 0 || p.Queries != 100 {
		t.Errorf("persist %+v, want identical results", p)
	}
	if res.Runs != 2 {
		t.Errorf("runs %d, want 2", res.Runs)
	}
	if len(stages) == 0 || stages[len(stages)-1] != "done" {
		t.Errorf("progress stages %v", stages)
	}
	if len(res.Headline.Lines) == 0 || res.Headline.HnswlibEf != 0 {
		t.Errorf("headline %+v", res.Headline)
	}

	h := bench.NewHeader(ctx, "", "")
	rep := res.Report(h)
	dir := filepath.Join(t.TempDir(), "results")
	files, err := WriteOutputs(dir, res, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	pf, err := os.Open(filepath.Join(dir, PlotName))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if _, err := png.Decode(pf); err != nil {
		t.Errorf("plot does not decode: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ReportName+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		bench.Header
		Data Result `json:"data"`
	}
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Benchmark != "ann" || back.Data.Dataset.N != 2000 || len(back.Data.Backends) != 3 ||
		back.Data.Backends[0].Points[2].Recall10 != ours.Points[2].Recall10 {
		t.Errorf("report JSON round trip: %+v", back.Header)
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportName+".md"))
	for _, want := range []string{"synthetic-clusters", "M=8", "coderhnsw", "ef_construction=64", "| mmsearch-hnsw | 64 |", "| flat | exact | 1.0000 | 1.0000 | 1.0000 |", PlotName} {
		if !strings.Contains(string(md), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "q/s 2 threads") {
		t.Errorf("text report:\n%s", text.String())
	}
}

func TestRunInnerProductSkipsCoder(t *testing.T) {
	ctx := context.Background()
	ds, err := Synthetic(ctx, SyntheticConfig{N: 300, Dim: 8, Queries: 20, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, Config{Dataset: ds, Metric: index.InnerProduct, M: 8, EfConstruction: 32, Efs: []int{32},
		Peers: []string{BackendCoderHNSW}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend(BackendCoderHNSW) != nil || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "inner-product") {
		t.Errorf("backends %d, skipped %v; want coderhnsw skipped for ip", len(res.Backends), res.Skipped)
	}
	if p := res.Backend(BackendFlat).Points[0]; p.Recall10 != 1 {
		t.Errorf("flat recall@10 under ip = %v, want 1", p.Recall10)
	}
}

func TestRunConfigErrors(t *testing.T) {
	ctx := context.Background()
	ds, err := Synthetic(ctx, SyntheticConfig{N: 150, Dim: 4, Queries: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	small, err := Synthetic(ctx, SyntheticConfig{N: 50, Dim: 4, Queries: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	short := *ds
	short.Truth = make([][]uint64, 5)
	for i := range short.Truth {
		short.Truth[i] = []uint64{1, 2}
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dataset", Config{}, "no dataset"},
		{"too few vectors", Config{Dataset: small}, "recall@100 needs at least 100"},
		{"short truth", Config{Dataset: &short}, "ground truth row 0 has 2 neighbours"},
		{"k too large", Config{Dataset: ds, K: 101}, "k=101"},
		{"bad ef", Config{Dataset: ds, Efs: []int{0, 5}}, "ef 0"},
		{"bad m", Config{Dataset: ds, M: 1}, "m=1"},
		{"unknown peer", Config{Dataset: ds, Peers: []string{"annoy"}}, `unknown peer "annoy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(ctx, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestHeadline(t *testing.T) {
	pts := func(vals ...float64) []Point { // pairs of (ef, recall@10), q/s = 10000/ef
		var out []Point
		for i := 0; i < len(vals); i += 2 {
			out = append(out, Point{Ef: int(vals[i]), Recall10: vals[i+1], QPS1: 10000 / vals[i]})
		}
		return out
	}
	r := &Result{
		Efs: []int{10, 20, 40, 80}, Threads: 4,
		Backends: []BackendResult{
			{Name: BackendHNSW, Build1Seconds: 8, BuildAllSeconds: 2, Points: pts(10, 0.9, 20, 0.96, 40, 0.985, 80, 0.98)},
			{Name: BackendHnswlib, Build1Seconds: 10, BuildAllSeconds: 4, Points: pts(10, 0.91, 20, 0.94, 40, 0.97, 80, 0.995)},
		},
	}
	h := makeHeadline(r)
	if h.OursEf != 20 || h.HnswlibEf != 40 || h.OursQPS1 != 500 || h.HnswlibQPS1 != 250 || h.QPSRatio != 2 {
		t.Errorf("target: %+v", h)
	}
	if h.OursHighEf != 0 || h.HnswlibHighEf != 80 {
		t.Errorf("high recall: ours %d hnswlib %d, want 0 and 80", h.OursHighEf, h.HnswlibHighEf)
	}
	if h.BuildRatio != 0.8 || h.OursBuildSpeedup != 4 || h.HnswlibBuildSpeedup != 2.5 {
		t.Errorf("build: %+v", h)
	}
	all := strings.Join(h.Lines, "\n")
	for _, want := range []string{"ours/hnswlib = 2.00", "mmsearch-hnsw: recall@10 ≥ 0.99 not reachable up to ef=80", "hnswlib: recall@10 ≥ 0.99 reached at ef=80", "speed-up on 4 threads: ours 4.00×, hnswlib 2.50×"} {
		if !strings.Contains(all, want) {
			t.Errorf("headline lacks %q:\n%s", want, all)
		}
	}
}
