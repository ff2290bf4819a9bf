package hnsw

import (
	"context"
	"testing"

	"mmsearch/index"
	"mmsearch/index/internal/testdata"
)

func seqIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	return ids
}

// BenchmarkBuild inserts 5,000 vectors of dimension 128 on one worker.
func BenchmarkBuild(b *testing.B) {
	data := testdata.Mixture(1, 5000, 64, 50, 0.1)
	ids := seqIDs(len(data))
	for b.Loop() {
		x, err := New(64, Config{Workers: 1})
		if err != nil {
			b.Fatal(err)
		}
		if err := x.AddBatch(context.Background(), ids, data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N)/float64(len(data))*1e6, "µs/insert")
}

// BenchmarkSearch queries a 20,000 × 128 index for 10 neighbours.
func BenchmarkSearch(b *testing.B) {
	data, queries := testdata.MixtureWithQueries(1, 20000, 1000, 128, 100, 0.06)
	x, err := New(128, Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := x.AddBatch(context.Background(), seqIDs(len(data)), data); err != nil {
		b.Fatal(err)
	}
	for _, ef := range []int{16, 32, 64, 128} {
		b.Run("ef="+itoa(ef), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := x.Search(queries[i%len(queries)], 10, index.SearchOptions{Ef: ef}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}
