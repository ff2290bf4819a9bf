package latency

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

const tinyModel = "../../encoders/testdata/tiny"

func TestRunTimesQueries(t *testing.T) {
	r, res, err := Run(context.Background(), Config{
		Items: 500, Runs: 40, K: 5, Model: tinyModel, Seed: 1,
		Queries: []string{"red", "green apple", "blue"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != 500 || res.Runs != 40 || res.K != 5 {
		t.Fatalf("result %+v", res)
	}
	if !(res.P50Ms > 0 && res.P50Ms <= res.P90Ms && res.P90Ms <= res.P99Ms) {
		t.Fatalf("percentiles not ordered: p50 %g p90 %g p99 %g", res.P50Ms, res.P90Ms, res.P99Ms)
	}
	if res.TextOnlyP50Ms <= 0 || res.BuildSeconds <= 0 || res.MeanMs <= 0 {
		t.Fatalf("result %+v", res)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "text query on 500 items: p50") {
		t.Fatalf("report:\n%s", b.String())
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tc := range []struct {
		p    float64
		want float64
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {0, 1}, {10, 1}, {11, 2}} {
		if got := pct(xs, tc.p); got != tc.want {
			t.Errorf("pct(%g) = %g, want %g", tc.p, got, tc.want)
		}
	}
	if xs[0] != 5 {
		t.Errorf("pct sorted its input in place")
	}
}
