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
