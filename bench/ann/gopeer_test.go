package ann

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/encoders"
	"mmsearch/index"
	"mmsearch/internal/sharedtest"
)

// requireWeaviatePeer returns the built Weaviate peer binary. When it is
// absent the test is skipped with a message naming the set-up command, or
// failed in CI, whose set-up (`make setup-test`) builds it.
func requireWeaviatePeer(t *testing.T) string {
	t.Helper()
	path, err := GoPeerPath(encoders.CacheDir(os.Getenv), BackendWeaviateHNSW)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		if sharedtest.InCI(os.Getenv) {
			t.Fatalf("weaviate-hnsw peer binary missing in CI: %v; `make setup-test` builds it with `%s`", err, SetupPeersCommand)
		}
		t.Skipf("SKIPPED, NOT TESTED: weaviate-hnsw peer binary absent (%v); run `%s` to build it", err, SetupPeersCommand)
	}
	return path
}

// TestWeaviatePeer runs the built Weaviate HNSW peer binary through Run on
// a small synthetic dataset, for inner product and L2, and checks that the
// recall the Go side scores from the ids it saved is plausible at every ef,
// and that its timings and version came through.
func TestWeaviatePeer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Weaviate peer; skipped with -short")
	}
	bin := requireWeaviatePeer(t)
	ctx := context.Background()
	ds, err := Synthetic(ctx, SyntheticConfig{N: 3000, Dim: 32, Queries: 100, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, metric := range []index.Metric{index.Cosine, index.L2} {
		t.Run(metric.String(), func(t *testing.T) {
			var stages []string
			res, err := Run(ctx, Config{
				Dataset: ds, Metric: metric, M: 16, EfConstruction: 100, Efs: []int{32, 64, 256}, K: 10,
				Seed: 5, Threads: 2, TempDir: t.TempDir(), Peers: []string{BackendWeaviateHNSW},
				PeerCacheDir: filepath.Dir(filepath.Dir(bin)),
				Progress:     func(p Progress) { stages = append(stages, p.Stage) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Skipped) != 0 {
				t.Fatalf("skipped %v with the binary present", res.Skipped)
			}
			b := res.Backend(BackendWeaviateHNSW)
			if b == nil {
				t.Fatalf("no %s result among %d backends", BackendWeaviateHNSW, len(res.Backends))
			}
			checkPoints(t, b, 3)
			for _, p := range b.Points {
				if p.Recall10 < 0.9 {
					t.Errorf("ef=%d: recall@10 %.3f scored by the Go side, want ≥ 0.9", p.Ef, p.Recall10)
				}
			}
			if last := b.Points[len(b.Points)-1]; last.Recall100 < 0.9 {
				t.Errorf("ef=256: recall@100 %.3f, want ≥ 0.9 (the extra-k ids were misread?)", last.Recall100)
			}
			if b.Version != WeaviateVersion {
				t.Errorf("version %q, want %s", b.Version, WeaviateVersion)
			}
			if b.Build1Seconds <= 0 || b.BuildAllSeconds <= 0 || b.Threads != 2 {
				t.Errorf("build %v s (1 thread), %v s (%d threads)", b.Build1Seconds, b.BuildAllSeconds, b.Threads)
			}
			// Memory: the heap growth over the build holds at least the
			// vectors (the index copies them); no save/load without a
			// commit log.
			if m := b.Memory; m == nil || m.IndexBytes < 3000*32*4 || m.IndexBytes > 50*3000*32*4 || !strings.Contains(m.Source, "heap") {
				t.Errorf("memory %+v: want the heap growth, at least the vectors' bytes", m)
			}
			if b.Persist != nil {
				t.Errorf("persist %+v from a peer without a commit log", b.Persist)
			}
			if !strings.Contains(b.Note, "Weaviate") {
				t.Errorf("note %q does not come from the peer", b.Note)
			}
			if !strings.Contains(strings.Join(stages, "\n"), "weaviate-hnsw peer: weaviate-hnsw: ef=256") {
				t.Errorf("peer progress not relayed: %v", stages)
			}
		})
	}
}

// TestWeaviatePeerMissing checks that a selected Go peer without its
// binary is skipped, loudly and with the set-up command, while the rest of
// the run goes on.
func TestWeaviatePeerMissing(t *testing.T) {
	ctx := context.Background()
	ds, err := Synthetic(ctx, SyntheticConfig{N: 300, Dim: 8, Queries: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	var stages []string
	res, err := Run(ctx, Config{
		Dataset: ds, Metric: index.Cosine, M: 8, EfConstruction: 32, Efs: []int{16}, K: 10,
		Seed: 1, Threads: 1, TempDir: t.TempDir(), Peers: []string{BackendWeaviateHNSW},
		PeerCacheDir: cache, Progress: func(p Progress) { stages = append(stages, p.Stage) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend(BackendWeaviateHNSW) != nil || res.Backend(BackendHNSW) == nil {
		t.Fatalf("backends %+v: want ours and no weaviate-hnsw", res.Backends)
	}
	want := filepath.Join(cache, "peers", "weaviate-hnsw-"+WeaviateVersion)
	if len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "make setup-peers") || !strings.Contains(res.Skipped[0], want) {
		t.Errorf("skipped %q: want one entry naming %s and `make setup-peers`", res.Skipped, want)
	}
	if !strings.Contains(strings.Join(stages, "\n"), "SKIPPING") {
		t.Errorf("no loud progress line: %v", stages)
	}
	// A directory where the binary should be is not a binary.
	if err := os.MkdirAll(want, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Config{PeerCacheDir: cache}
	if _, err := cfg.goPeerBinary(BackendWeaviateHNSW); err == nil || !strings.Contains(err.Error(), "not an executable file") {
		t.Errorf("directory as binary: %v", err)
	}
}

// TestWeaviateVersionMatchesModule pins WeaviateVersion (the binary's name
// in the cache) to the version the peer module requires.
func TestWeaviateVersionMatchesModule(t *testing.T) {
	b, err := os.ReadFile("../peers/weaviatehnsw/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "github.com/weaviate/weaviate "+WeaviateVersion+"\n") {
		t.Errorf("bench/peers/weaviatehnsw/go.mod does not require github.com/weaviate/weaviate %s", WeaviateVersion)
	}
}
