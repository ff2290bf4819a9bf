package ann

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"mmsearch/index"
)

func TestRecall(t *testing.T) {
	truth := [][]uint64{
		{0, 1, 2, 3, 4},
		{10, 11, 12, 13, 14},
	}
	tests := []struct {
		name  string
		found [][]uint64
		k     int
		want  float64
	}{
		{"perfect", [][]uint64{{0, 1, 2, 3, 4}, {10, 11, 12, 13, 14}}, 5, 1},
		{"order within k does not matter", [][]uint64{{4, 3, 2, 1, 0}, {14, 13, 12, 11, 10}}, 5, 1},
		{"half and none", [][]uint64{{0, 1, 9, 9, 9}, {20, 21, 22, 23, 24}}, 5, 0.2},
		// query 0: 3 of 5; query 1: 4 of 5 → (0.6 + 0.8) / 2
		{"mixed", [][]uint64{{2, 0, 7, 4, 8}, {13, 12, 11, 99, 10}}, 5, 0.7},
		{"recall@1 hit and miss", [][]uint64{{0, 5}, {11, 10}}, 1, 0.5},
		{"at 2, beyond-k results ignored", [][]uint64{{1, 9, 0}, {10, 11}}, 2, 0.75},
		{"short result rows are misses", [][]uint64{{0}, {}}, 5, 0.1},
		{"duplicates count once", [][]uint64{{0, 0, 0, 0, 0}, {10, 10, 11, 11, 12}}, 5, 0.4},
		{"missing marker never matches", [][]uint64{{missingID, 0}, {10, missingID}}, 2, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Recall(tt.found, truth, tt.k)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Recall = %v, want %v", got, tt.want)
			}
		})
	}
	errs := []struct {
		name  string
		found [][]uint64
		truth [][]uint64
		k     int
		want  string
	}{
		{"k zero", [][]uint64{{0}}, [][]uint64{{0}}, 0, "k must be positive"},
		{"row count", [][]uint64{{0}}, truth, 1, "1 result rows for 2"},
		{"no queries", nil, nil, 1, "no queries"},
		{"short truth", [][]uint64{{0}}, [][]uint64{{0}}, 2, "only 1 neighbours"},
	}
	for _, tt := range errs {
		if _, err := Recall(tt.found, tt.truth, tt.k); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestExactNeighbours plants vectors whose order by cosine is known and checks
// the flat ground truth against a brute-force sort.
func TestExactNeighbours(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, dim, nq = 500, 8, 40
	base := make([][]float32, n)
	for i := range base {
		base[i] = make([]float32, dim)
		for j := range base[i] {
			base[i][j] = float32(rng.NormFloat64())
		}
		normalize(base[i])
	}
	queries := make([][]float32, nq)
	for i := range queries {
		// Query i is a slightly perturbed copy of base row 7i: its nearest
		// neighbour is planted.
		queries[i] = slices.Clone(base[7*i])
		queries[i][0] += 0.001
		normalize(queries[i])
	}
	for _, metric := range []index.Metric{index.Cosine, index.L2} {
		got, err := ExactNeighbours(context.Background(), base, queries, metric, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, q := range queries {
			if got[i][0] != uint64(7*i) {
				t.Fatalf("%v: query %d nearest = %d, want the planted %d", metric, i, got[i][0], 7*i)
			}
			order := make([]int, n)
			for j := range order {
				order[j] = j
			}
			sort.SliceStable(order, func(a, b int) bool { return dot(q, base[order[a]]) > dot(q, base[order[b]]) })
			for r := range 10 {
				if got[i][r] != uint64(order[r]) {
					t.Fatalf("%v: query %d rank %d = %d, want %d", metric, i, r, got[i][r], order[r])
				}
			}
		}
	}
	if _, err := ExactNeighbours(context.Background(), base, queries, index.Cosine, n+1, 0); err == nil {
		t.Error("k beyond n accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ExactNeighbours(ctx, base, queries, index.Cosine, 10, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: error = %v", err)
	}
}

func TestForEachQueryStopsOnError(t *testing.T) {
	boom := errors.New("boom")
	var calls [100]bool
	err := forEachQuery(context.Background(), len(calls), 4, func(i int) error {
		calls[i] = true
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want boom", err)
	}
	if err := forEachQuery(context.Background(), len(calls), 3, func(i int) error { calls[i] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		if !c {
			t.Fatalf("query %d not visited", i)
		}
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(100-i) * time.Millisecond // 100 ms … 1 ms, unsorted
	}
	if p := percentileMs(d, 50); p != 50 {
		t.Errorf("p50 = %v, want 50", p)
	}
	if p := percentileMs(d, 99); p != 99 {
		t.Errorf("p99 = %v, want 99", p)
	}
	if d[0] != 100*time.Millisecond {
		t.Error("percentileMs reordered its input")
	}
}
