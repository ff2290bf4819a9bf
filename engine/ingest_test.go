package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func TestEncodeStreams(t *testing.T) {
	for _, tc := range []struct {
		cores, threads, streams  int
		wantStreams, wantThreads int
	}{
		{cores: 1, wantStreams: 1, wantThreads: 1},
		{cores: 2, wantStreams: 2, wantThreads: 1},
		{cores: 4, wantStreams: 4, wantThreads: 1},
		{cores: 8, wantStreams: 4, wantThreads: 2},
		{cores: 16, wantStreams: 4, wantThreads: 4},
		{cores: 0, wantStreams: 1, wantThreads: 1},
		{cores: 8, threads: 8, wantStreams: 1, wantThreads: 8},
		{cores: 8, threads: 3, wantStreams: 2, wantThreads: 3},
		{cores: 64, threads: 1, wantStreams: maxStreams, wantThreads: 1},
		{cores: 8, streams: 2, wantStreams: 2, wantThreads: 4},
		{cores: 2, streams: 3, wantStreams: 3, wantThreads: 1},
		{cores: 2, threads: 2, streams: 2, wantStreams: 2, wantThreads: 2},
	} {
		s, th := EncodeStreams(tc.cores, tc.threads, tc.streams)
		if s != tc.wantStreams || th != tc.wantThreads {
			t.Errorf("EncodeStreams(%d, %d, %d) = %d streams × %d threads, want %d × %d",
				tc.cores, tc.threads, tc.streams, s, th, tc.wantStreams, tc.wantThreads)
		}
	}
}

// TestIngestStreamsAgree indexes one folder with one inference at a time
// and with several at once, in different batch sizes: every file gets the
// same vector either way, each exactly once.
func TestIngestStreamsAgree(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	const n = 23
	for i := range n {
		format := "png"
		if i%3 == 0 {
			format = "jpeg"
		}
		writeImage(t, filepath.Join(photos, fmt.Sprintf("img%02d.%s", i, format)), i, format)
	}
	vectors := func(opt IngestOptions) map[string][]float32 {
		lib := openLib(t, t.TempDir(), tinyModel)
		rep, err := lib.Ingest(ctx, []string{photos}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Indexed != n || rep.Failed != 0 {
			t.Fatalf("%+v: report %+v", opt, rep)
		}
		out := map[string][]float32{}
		for _, p := range itemPaths(t, lib) {
			it, err := lib.store.ItemByPath(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = it.Vector
		}
		if len(out) != n {
			t.Fatalf("%+v: %d items, want %d", opt, len(out), n)
		}
		return out
	}
	one := vectors(IngestOptions{Streams: 1, BatchSize: 4, Workers: 1})
	for _, opt := range []IngestOptions{
		{Streams: 3, BatchSize: 2, Workers: 3},
		{Streams: 2, BatchSize: 5},
		{Streams: 4, BatchSize: 1, Workers: 2},
	} {
		got := vectors(opt)
		for p, want := range one {
			v := got[p]
			if len(v) != len(want) {
				t.Fatalf("%+v: %s has %d values, want %d", opt, p, len(v), len(want))
			}
			for i := range v {
				if d := v[i] - want[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("%+v: %s value %d = %g, one stream gave %g", opt, p, i, v[i], want[i])
				}
			}
		}
	}
}
