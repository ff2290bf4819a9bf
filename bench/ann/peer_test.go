package ann

import (
	"context"
	"strings"
	"testing"

	"mmsearch/bench"
	"mmsearch/index"
)

// TestPeersSmoke runs the Python peer script at a tiny scale when Debian's
// Python with hnswlib and FAISS is installed.
func TestPeersSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python peers; skipped with -short")
	}
	ctx := context.Background()
	if err := PythonPeersAvailable(ctx, "", BackendHnswlib, BackendFAISS); err != nil {
		t.Skipf("Python peers unavailable, skipping: %v", err)
	}
	ds, err := Synthetic(ctx, SyntheticConfig{N: 1000, Dim: 16, Queries: 50, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	res, err := Run(ctx, Config{
		Dataset: ds, Metric: index.Cosine, M: 8, EfConstruction: 64, Efs: []int{10, 128}, K: 10,
		Seed: 2, Threads: 2, TempDir: t.TempDir(), Peers: []string{BackendHnswlib, BackendFAISS},
		Progress: func(p Progress) { lines = append(lines, p.Stage) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{BackendHnswlib, BackendFAISS} {
		b := res.Backend(name)
		if b == nil {
			t.Fatalf("no %s result", name)
		}
		checkPoints(t, b, 2)
		if b.Version == "" || b.Version == "unknown" {
			t.Errorf("%s version %q", name, b.Version)
		}
		if b.BuildAllSeconds <= 0 {
			t.Errorf("%s build time %v", name, b.BuildAllSeconds)
		}
		// At ef=128 on 1000 vectors both peers are near exact; a low figure
		// would mean their ids were misread or misaligned with the truth.
		if p := b.Points[1]; p.Recall10 < 0.9 || p.Recall100 < 0.8 {
			t.Errorf("%s ef=128: recall@10 %v recall@100 %v", name, p.Recall10, p.Recall100)
		}
	}
	// Memory and the save/load round trip: hnswlib and FAISS measured by
	// their own save and load; the loaded index answers as the built one.
	vectorBytes := int64(1000 * 16 * 4)
	var md strings.Builder
	if err := res.Report(bench.Header{}).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{BackendHnswlib, BackendFAISS} {
		b := res.Backend(name)
		m, p := b.Memory, b.Persist
		if m == nil || p == nil {
			t.Fatalf("%s: memory %+v, persist %+v: want both", name, m, p)
		}
		if m.IndexBytes < vectorBytes || m.IndexBytes > 20*vectorBytes || m.Source == "" || m.Ratio <= 0 {
			t.Errorf("%s memory %+v: want at least the vectors' %d bytes, a source and a ratio", name, m, vectorBytes)
		}
		if p.FileBytes != m.IndexBytes || p.LoadSeconds <= 0 || p.SaveSeconds <= 0 || p.CheckEf != 128 || p.Queries != 50 || p.Mismatches != 0 {
			t.Errorf("%s persist %+v: want the file's size as memory, timings, ef 128, 50 queries, none differing", name, p)
		}
		if !strings.Contains(md.String(), "| "+name+" | "+fmtMiB(p.FileBytes)+" |") {
			t.Errorf("the report's persistence table has no %s row", name)
		}
	}
	if res.Backend(BackendHnswlib).Build1Seconds <= 0 {
		t.Error("hnswlib one-thread build not timed")
	}
	if res.Python == "" {
		t.Error("python version not reported")
	}
	if !strings.Contains(strings.Join(lines, "\n"), "python peers: hnswlib: ef=128") {
		t.Errorf("script progress not relayed: %v", lines)
	}
	if res.Headline.HnswlibEf == 0 && res.Backend(BackendHnswlib).Points[1].Recall10 >= TargetRecall {
		t.Errorf("headline misses hnswlib: %+v", res.Headline)
	}
}

func TestPythonPeersMissing(t *testing.T) {
	err := PythonPeersAvailable(context.Background(), "/nonexistent/python3", BackendHnswlib, BackendFAISS)
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y python3-hnswlib python3-faiss") {
		t.Errorf("error = %v, want one naming the install command", err)
	}
}

// TestOneThreadBuildMaxN: above Config.OneThreadBuildMaxN neither our HNSW
// nor hnswlib spends a one-thread build; at or below it both do.
func TestOneThreadBuildMaxN(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python peers; skipped with -short")
	}
	ctx := context.Background()
	if err := PythonPeersAvailable(ctx, "", BackendHnswlib); err != nil {
		t.Skipf("Python peers unavailable, skipping: %v", err)
	}
	ds, err := Synthetic(ctx, SyntheticConfig{N: 600, Dim: 16, Queries: 20, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		maxN     int
		oneTimed bool
	}{
		{0, true},    // no limit
		{600, true},  // at the limit
		{599, false}, // above it
	} {
		var stages []string
		res, err := Run(ctx, Config{
			Dataset: ds, Metric: index.Cosine, M: 8, EfConstruction: 32, Efs: []int{16}, K: 10,
			Seed: 3, Threads: 2, OneThreadBuildMaxN: tc.maxN, TempDir: t.TempDir(), Peers: []string{BackendHnswlib},
			Progress: func(p Progress) { stages = append(stages, p.Stage) },
		})
		if err != nil {
			t.Fatalf("max n %d: %v", tc.maxN, err)
		}
		for _, name := range []string{BackendHNSW, BackendHnswlib} {
			b := res.Backend(name)
			if b == nil {
				t.Fatalf("max n %d: no %s result", tc.maxN, name)
			}
			if got := b.Build1Seconds > 0; got != tc.oneTimed {
				t.Errorf("max n %d: %s one-thread build %v s, want timed=%v", tc.maxN, name, b.Build1Seconds, tc.oneTimed)
			}
			if b.BuildAllSeconds <= 0 {
				t.Errorf("max n %d: %s all-thread build %v s", tc.maxN, name, b.BuildAllSeconds)
			}
		}
		log := strings.Join(stages, "\n")
		if got := strings.Contains(log, "hnswlib: build, 1 thread"); got != tc.oneTimed {
			t.Errorf("max n %d: hnswlib one-thread build in the progress = %v, want %v", tc.maxN, got, tc.oneTimed)
		}
	}
}
