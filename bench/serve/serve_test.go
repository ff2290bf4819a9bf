package serve

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"mmsearch/engine"
)

func TestLatencyOf(t *testing.T) {
	var s []sample
	for i := 1; i <= 100; i++ {
		e := ""
		if i%25 == 0 {
			e = "500 Internal Server Error"
		}
		s = append(s, sample{kind: "text", latency: time.Duration(i) * time.Millisecond, err: e})
	}
	l := latencyOf(s)
	if l.Requests != 100 || l.Errors != 4 || l.P50ms != 50 || l.P90ms != 90 || l.P99ms != 99 || l.MaxMs != 100 || l.MeanMs != 50.5 {
		t.Fatalf("latencyOf = %+v", l)
	}
	d := summarize(s, 2*time.Second, 4)
	if d.RequestsPerSec != 50 || len(d.ErrorSamples) != 1 || d.ByKind["text"].Requests != 100 {
		t.Fatalf("summarize = %+v", d)
	}
	if z := latencyOf(nil); z.Requests != 0 || z.P99ms != 0 {
		t.Fatalf("empty: %+v", z)
	}
}

// tinyModel is the closed-form 4-dimensional test model.
const tinyModel = "../../encoders/testdata/tiny"

// TestRunSmall generates a library, runs a load capped at 30 requests and
// checks the report's figures, memory included.
func TestRunSmall(t *testing.T) {
	ctx := context.Background()
	open := func(ctx context.Context, dir string) (*engine.Library, error) {
		return engine.Open(ctx, dir, engine.Options{Model: tinyModel})
	}
	lib, dataset, err := GenerateLibrary(ctx, t.TempDir(), 10, open, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	r, err := Run(ctx, lib, Config{Clients: 2, Duration: time.Minute, MaxRequests: 30, K: 5, Seed: 1}, dataset)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Data.(*Data)
	if d.Overall.Requests != 30 || d.Overall.Errors != 0 || d.LibraryItems != 10 {
		t.Fatalf("data %+v", d)
	}
	if d.MemoryBefore.RSSMiB <= 0 || d.MemoryAfter.PeakMiB < d.MemoryAfter.RSSMiB {
		t.Fatalf("memory %+v %+v", d.MemoryBefore, d.MemoryAfter)
	}
	if len(r.Tables) != 3 || r.Tables[2].Title != "Process memory" {
		t.Fatalf("tables %+v", r.Tables)
	}
}

func TestRunRefusals(t *testing.T) {
	ctx := context.Background()
	empty, err := engine.Open(ctx, filepath.Join(t.TempDir(), "lib"), engine.Options{Model: tinyModel})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	ok := Config{Clients: 1, Duration: time.Second, MaxRequests: 1, K: 1}
	if _, err := Run(ctx, empty, ok, ""); !errors.Is(err, engine.ErrEmptyLibrary) {
		t.Fatalf("empty library: %v", err)
	}
	for _, c := range []Config{
		{Clients: 0, Duration: time.Second, MaxRequests: 1, K: 1},
		{Clients: MaxClients + 1, Duration: time.Second, MaxRequests: 1, K: 1},
		{Clients: 1, Duration: time.Millisecond, MaxRequests: 1, K: 1},
		{Clients: 1, Duration: time.Second, MaxRequests: 0, K: 1},
		{Clients: 1, Duration: time.Second, MaxRequests: 1, K: 0},
	} {
		if _, err := Run(ctx, empty, c, ""); err == nil || errors.Is(err, engine.ErrEmptyLibrary) {
			t.Errorf("Run(%+v) = %v, want a config error", c, err)
		}
	}
}
