package cliproc

import (
	"context"
	"strings"
	"testing"
)

func TestConfigBounds(t *testing.T) {
	ok := Config{Binary: "/bin/true", Items: 10, Runs: 2, Query: "cat"}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no binary", func(c *Config) { c.Binary = "" }, "no mmsearch executable"},
		{"no items", func(c *Config) { c.Items = 0 }, "items 0 out of range"},
		{"too many items", func(c *Config) { c.Items = MaxItems + 1 }, "out of range"},
		{"no runs", func(c *Config) { c.Runs = 0 }, "runs 0 out of range"},
		{"too many runs", func(c *Config) { c.Runs = MaxRuns + 1 }, "out of range"},
		{"empty query", func(c *Config) { c.Query = "" }, "empty query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			_, _, err := Run(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range tests {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestBatchQueries: the batch benchmark's queries are distinct, non-empty
// and as many as asked, past the 100 word pairs too.
func TestBatchQueries(t *testing.T) {
	for _, n := range []int{1, 100, 101, 250} {
		qs := BatchQueries(n)
		seen := map[string]bool{}
		for _, q := range qs {
			if q == "" || seen[q] {
				t.Fatalf("BatchQueries(%d): %q empty or twice", n, q)
			}
			seen[q] = true
		}
		if len(qs) != n {
			t.Errorf("BatchQueries(%d) gave %d", n, len(qs))
		}
	}
}

func TestBatchConfigBounds(t *testing.T) {
	ok := BatchConfig{Config: Config{Binary: "/bin/true", Items: 10, Runs: 2, Query: "cat"}}
	for _, tc := range []struct {
		name   string
		change func(*BatchConfig)
		want   string
	}{
		{"negative queries", func(c *BatchConfig) { c.Queries = -1 }, "queries -1 out of range"},
		{"too many queries", func(c *BatchConfig) { c.Queries = MaxBatchQueries + 1 }, "out of range"},
		{"no runs", func(c *BatchConfig) { c.Runs = 0 }, "runs 0 out of range"},
		{"no binary", func(c *BatchConfig) { c.Binary = "" }, "no mmsearch executable"},
	} {
		c := ok
		tc.change(&c)
		if _, _, err := RunBatch(context.Background(), c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
