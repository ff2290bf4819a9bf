package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// randomVectors returns n vectors of dim with N(0,1) coordinates, unit
// length when normalize.
func randomVectors(rng *rand.Rand, n, dim int, normalize bool) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		var ss float64
		for j := range v {
			x := rng.NormFloat64()
			v[j] = float32(x)
			ss += x * x
		}
		if normalize {
			for j := range v {
				v[j] = float32(float64(v[j]) / math.Sqrt(ss))
			}
		}
		out[i] = v
	}
	return out
}

// bruteForce returns the ids of the k nearest base vectors to q.
func bruteForce(base [][]float32, q []float32, k int, metric string) []uint64 {
	type hit struct {
		id uint64
		d  float64
	}
	hits := make([]hit, len(base))
	for i, b := range base {
		var d float64
		for j := range b {
			if metric == "ip" {
				d -= float64(b[j]) * float64(q[j])
			} else {
				x := float64(b[j]) - float64(q[j])
				d += x * x
			}
		}
		hits[i] = hit{uint64(i), d}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].d < hits[j].d })
	ids := make([]uint64, k)
	for i := range ids {
		ids[i] = hits[i].id
	}
	return ids
}

func recallAt(got [][]uint64, truth [][]uint64, k int) float64 {
	found := 0
	for i, row := range got {
		for _, id := range row[:min(k, len(row))] {
			if slices.Contains(truth[i][:k], id) {
				found++
			}
		}
	}
	return float64(found) / float64(k*len(got))
}

// TestWeaviateRecall builds the real Weaviate index over 3,000 random
// vectors for both metrics, on one goroutine and on four, and checks
// recall@10 against brute force at ef 128 — and that a tiny ef finds less,
// so the ef set through the user config really reaches the search.
func TestWeaviateRecall(t *testing.T) {
	const n, dim, nq, k = 3000, 32, 100, 10
	for _, tc := range []struct {
		metric  string
		threads int
	}{{"ip", 1}, {"ip", 4}, {"l2", 4}} {
		t.Run(fmt.Sprintf("%s/threads=%d", tc.metric, tc.threads), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.threads)))
			base := randomVectors(rng, n, dim, tc.metric == "ip")
			queries := randomVectors(rng, nq, dim, tc.metric == "ip")
			truth := make([][]uint64, nq)
			for i, q := range queries {
				truth[i] = bruteForce(base, q, k, tc.metric)
			}
			idx, err := newWeaviateIndex(indexConfig{Metric: tc.metric, M: 16, EfConstruction: 128, Dir: t.TempDir()}, base)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := idx.close(); err != nil {
					t.Error(err)
				}
			}()
			ctx := context.Background()
			if err := idx.build(ctx, tc.threads); err != nil {
				t.Fatal(err)
			}
			recall := func(ef int) float64 {
				if err := idx.setEf(ef); err != nil {
					t.Fatal(err)
				}
				got := make([][]uint64, nq)
				if _, err := parallelPass(ctx, idx, queries, k, 2, got); err != nil {
					t.Fatal(err)
				}
				for i, row := range got {
					if len(row) != k {
						t.Fatalf("query %d: %d results, want %d", i, len(row), k)
					}
				}
				return recallAt(got, truth, k)
			}
			high := recall(128)
			if high < 0.9 {
				t.Errorf("recall@10 at ef=128 = %.3f, want ≥ 0.9", high)
			}
			low := recall(1) // widened to k=10 by Weaviate
			if low >= high {
				t.Errorf("recall@10 at ef=1 (%.3f) not below ef=128 (%.3f): ef does not reach the search", low, high)
			}
			t.Logf("recall@10: ef=128 %.3f, ef=1 %.3f", high, low)
		})
	}
}

// runPeer runs the peer with the command-line args and returns its output
// and its progress log.
func runPeer(t *testing.T, args ...string) (*output, *bytes.Buffer) {
	t.Helper()
	o, err := parseFlags(args, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	out, err := run(context.Background(), o, &log)
	if err != nil {
		t.Fatal(err)
	}
	return out, &log
}

// TestRunWritesPeerOutput runs the whole peer on .npy files as `bench ann`
// writes them and checks the output document and the saved ids.
func TestRunWritesPeerOutput(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	base := randomVectors(rng, 1500, 16, true)
	queries := randomVectors(rng, 40, 16, true)
	writeFloatNpy(t, filepath.Join(dir, "base.npy"), base)
	writeFloatNpy(t, filepath.Join(dir, "queries.npy"), queries)
	out, log := runPeer(t, "--dir", dir, "--peers", Name, "--metric", "ip", "--m", "8",
		"--ef-construction", "64", "--efs", "10,200", "--k", "10", "--extra-k", "100", "--threads", "2", "--runs", "2")
	if len(out.Peers) != 1 {
		t.Fatalf("%d peers, want 1", len(out.Peers))
	}
	p := out.Peers[0]
	if p.Name != Name || p.Threads != 2 || p.Build1 <= 0 || p.BuildAll <= 0 || len(p.Points) != 2 {
		t.Fatalf("peer result %+v", p)
	}
	if !strings.HasPrefix(p.Version, "v1.") {
		t.Errorf("version %q, want the Weaviate module version", p.Version)
	}
	truth := make([][]uint64, len(queries))
	for i, q := range queries {
		truth[i] = bruteForce(base, q, 100, "ip")
	}
	for _, pt := range p.Points {
		if pt.QPS1 <= 0 || pt.QPSAll <= 0 || pt.P50Ms <= 0 || pt.P99Ms < pt.P50Ms {
			t.Errorf("ef=%d timings %+v", pt.Ef, pt)
		}
		ids := readInt64Npy(t, filepath.Join(dir, pt.IDs), len(queries), 10)
		extra := readInt64Npy(t, filepath.Join(dir, pt.ExtraIDs["100"]), len(queries), 100)
		if pt.Ef == 200 {
			if r := recallAt(ids, truth, 10); r < 0.9 {
				t.Errorf("ef=200 recall@10 %.3f from the saved ids, want ≥ 0.9", r)
			}
			if r := recallAt(extra, truth, 100); r < 0.8 {
				t.Errorf("ef=200 recall@100 %.3f from the saved ids, want ≥ 0.8", r)
			}
		}
	}
	for _, want := range []string{"build, 1 thread", "build, 2 thread", "ef=10", "ef=200"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, log.String())
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "weaviate-index-*")); len(left) != 0 {
		t.Errorf("index folders left behind: %v", left)
	}
}

// TestRunSkipsOneThreadBuild: with --skip-one-thread-build the peer builds
// once, on --threads goroutines, reports no one-thread figure and still
// sweeps the index it built.
func TestRunSkipsOneThreadBuild(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(8, 8))
	writeFloatNpy(t, filepath.Join(dir, "base.npy"), randomVectors(rng, 400, 512, true))
	writeFloatNpy(t, filepath.Join(dir, "queries.npy"), randomVectors(rng, 10, 512, true))
	out, log := runPeer(t, "--dir", dir, "--m", "8", "--ef-construction", "32", "--efs", "16",
		"--threads", "2", "--skip-one-thread-build")
	p := out.Peers[0]
	if p.Build1 != 0 || p.BuildAll <= 0 || len(p.Points) != 1 || p.Points[0].QPS1 <= 0 {
		t.Fatalf("peer result %+v: want no one-thread build, an all-thread build and one point", p)
	}
	// The memory figure holds the vectors the cache references (400·512·4
	// bytes, many times the graph at this dimension) and the graph on top.
	if vec := int64(400 * 512 * 4); p.Memory == nil || p.Memory.IndexBytes <= vec || p.Memory.Source != MemorySource {
		t.Errorf("memory %+v: want more than the %d bytes of vectors, source %q", p.Memory, vec, MemorySource)
	}
	if strings.Contains(log.String(), "build, 1 thread") || !strings.Contains(log.String(), "build, 2 thread") {
		t.Errorf("progress:\n%s", log.String())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "weaviate-index-*")); len(left) != 0 {
		t.Errorf("index folders left behind: %v", left)
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--dir is required"},
		{[]string{"--dir", "x", "--metric", "cosine"}, "want ip or l2"},
		{[]string{"--dir", "x", "--peers", "hnswlib"}, `unknown peer "hnswlib"`},
		{[]string{"--dir", "x", "--threads", "0"}, "--threads 0"},
		{[]string{"--dir", "x", "--threads", "5000"}, "--threads 5000"},
		{[]string{"--dir", "x", "--m", "1"}, "--m 1"},
		{[]string{"--dir", "x", "--runs", "1000"}, "--runs 1000"},
		{[]string{"--dir", "x", "--efs", "10,abc"}, `"abc"`},
		{[]string{"--dir", "x", "--efs", ""}, "empty list"},
		{[]string{"--dir", "x", "--efs", "1000000"}, "1..100000"},
		{[]string{"--dir", "x", "--k", "0"}, "--k 0"},
		{[]string{"--dir", "x", "stray"}, "unexpected argument"},
	} {
		_, err := parseFlags(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	o := &options{dir: dir, peers: []string{Name}, metric: "ip", m: 8, efConstruction: 16, efs: []int{10}, k: 10, threads: 1, runs: 1}
	if _, err := run(context.Background(), o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "base.npy") {
		t.Errorf("missing base.npy: %v", err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	writeFloatNpy(t, filepath.Join(dir, "base.npy"), randomVectors(rng, 200, 8, true))
	writeFloatNpy(t, filepath.Join(dir, "queries.npy"), randomVectors(rng, 5, 4, true))
	if _, err := run(context.Background(), o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "dimension 4") {
		t.Errorf("dimension mismatch: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "queries.npy"), []byte("not numpy"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "queries.npy") {
		t.Errorf("corrupt queries.npy: %v", err)
	}
}
