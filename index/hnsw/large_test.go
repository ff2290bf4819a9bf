package hnsw

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/internal/testdata"
)

// TestLarge is the self-check against the ANN targets, skipped unless
// MMSEARCH_LARGE=1: it builds MMSEARCH_LARGE_N (default 100,000) vectors of
// dimension 512 (200 Gaussian clusters, noise 0.06, M=16, efConstruction=200)
// with one and with two workers and prints build times, recall@10 and
// single-thread queries/s at several ef (MMSEARCH_LARGE_EFS=16,32,... to
// choose), the memory ratio and the load time.
// MMSEARCH_LARGE_DUMP=DIR also writes base.f32, queries.f32 and gt.i32 there
// for a peer library to be measured on the same data, and
// MMSEARCH_LARGE_SAVE=FILE keeps the one-worker index there.
func TestLarge(t *testing.T) {
	if os.Getenv("MMSEARCH_LARGE") != "1" {
		t.Skip("set MMSEARCH_LARGE=1 to run the 100k × 512 self-check (minutes of CPU)")
	}
	n := 100000
	if s := os.Getenv("MMSEARCH_LARGE_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("MMSEARCH_LARGE_N: %v", err)
		}
		n = v
	}
	const dim, nq, k = 512, 1000, 10
	base, queries := testdata.MixtureWithQueries(100, n, nq, dim, 200, 0.06)
	ids := seqIDs(n)
	ctx := context.Background()

	t.Logf("machine: %s, %d CPUs, GOMAXPROCS %d (a shared machine: timings are noisy)", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	gt := make([][]uint64, nq)
	{
		f, err := flat.New(dim, index.Cosine)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.AddBatch(ctx, ids, base); err != nil {
			t.Fatal(err)
		}
		for i, q := range queries {
			res, err := f.Search(q, k, index.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				gt[i] = append(gt[i], r.ID)
			}
		}
	}
	if dir := os.Getenv("MMSEARCH_LARGE_DUMP"); dir != "" {
		dumpLarge(t, dir, base, queries, gt)
	}

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc

	x, err := New(dim, Config{Workers: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	start, cpuStart := time.Now(), cpuSeconds()
	if err := x.AddBatch(ctx, ids, base); err != nil {
		t.Fatal(err)
	}
	build1, cpu1 := time.Since(start), cpuSeconds()-cpuStart
	t.Logf("build 1 worker: %.1f s wall, %.1f s CPU (%.0f inserts/s)", build1.Seconds(), cpu1, float64(n)/build1.Seconds())

	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap := float64(ms.HeapAlloc) - float64(heapBefore)
	ideal := float64(n) * (dim*4 + float64(2*x.m+1)*4)
	mem := x.Memory()
	t.Logf("memory after GC: heap grew %.1f MB; vectors+layer-0 links %.1f MB; ratio %.3f; Memory() total %.1f MB",
		heap/1e6, ideal/1e6, heap/ideal, float64(mem.Total())/1e6)

	efs := []int{10, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 2048}
	if s := os.Getenv("MMSEARCH_LARGE_EFS"); s != "" {
		efs = efs[:0]
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("MMSEARCH_LARGE_EFS: %v", err)
			}
			efs = append(efs, v)
		}
	}
	for _, ef := range efs {
		hits := 0
		start, cpuStart := time.Now(), cpuSeconds()
		for i, q := range queries {
			res, err := x.Search(q, k, index.SearchOptions{Ef: ef})
			if err != nil {
				t.Fatal(err)
			}
			hits += overlap(res, gt[i])
		}
		el, cpu := time.Since(start), cpuSeconds()-cpuStart
		t.Logf("ef=%4d recall@10=%.4f qps(1 thread)=%.0f per CPU second=%.0f", ef, float64(hits)/float64(nq*k), float64(nq)/el.Seconds(), float64(nq)/cpu)
	}

	path := filepath.Join(t.TempDir(), "large.hnsw")
	if p := os.Getenv("MMSEARCH_LARGE_SAVE"); p != "" {
		path = p // keep the index for further measurements
	}
	start = time.Now()
	if err := x.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	t.Logf("save: %.2f s", time.Since(start).Seconds())
	start = time.Now()
	y, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %.3f s", time.Since(start).Seconds())
	for _, q := range queries[:100] {
		a, _ := x.Search(q, k, index.SearchOptions{})
		b, _ := y.Search(q, k, index.SearchOptions{})
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("loaded index answers differently:\n%v\n%v", a, b)
		}
	}
	x, y = nil, nil

	if os.Getenv("MMSEARCH_LARGE_SKIP2") == "" {
		x2, err := New(dim, Config{Workers: 2, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		start, cpuStart = time.Now(), cpuSeconds()
		if err := x2.AddBatch(ctx, ids, base); err != nil {
			t.Fatal(err)
		}
		build2, cpu2 := time.Since(start), cpuSeconds()-cpuStart
		hits := 0
		for i, q := range queries {
			res, _ := x2.Search(q, k, index.SearchOptions{Ef: 64})
			hits += overlap(res, gt[i])
		}
		// On a shared machine the wall-clock speed-up says how much CPU the
		// others left us; the CPU time says what parallel building costs.
		t.Logf("build 2 workers: %.1f s wall, %.1f s CPU; wall speed-up %.2f×, CPU time vs 1 worker %.2f×; recall@10 at ef=64 %.4f",
			build2.Seconds(), cpu2, build1.Seconds()/build2.Seconds(), cpu2/cpu1, float64(hits)/float64(nq*k))
	}
}

func overlap(res []index.Result, want []uint64) int {
	hits := 0
	for _, r := range res {
		for _, w := range want {
			if r.ID == w {
				hits++
				break
			}
		}
	}
	return hits
}

func dumpLarge(t *testing.T, dir string, base, queries [][]float32, gt [][]uint64) {
	t.Helper()
	write := func(name string, fill func(f *os.File) error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := fill(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	vecs := func(vs [][]float32) func(f *os.File) error {
		return func(f *os.File) error {
			for _, v := range vs {
				if err := binary.Write(f, binary.LittleEndian, v); err != nil {
					return err
				}
			}
			return nil
		}
	}
	write("base.f32", vecs(base))
	write("queries.f32", vecs(queries))
	write("gt.i32", func(f *os.File) error {
		for _, g := range gt {
			for _, id := range g {
				if err := binary.Write(f, binary.LittleEndian, int32(id)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
