package weaviate_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/indextest"
	"mmsearch/index/weaviate"
	"mmsearch/internal/weaviated"
)

// TestClusterNodeKilledMidIngest runs a 3-node cluster on loopback with a
// collection of 3 shards and replication factor 2, kills one node (SIGKILL)
// while vectors are being added at consistency ONE, and checks that the
// ingest completes, that queries at ONE with the node down return the
// top-10 of exact search (recall@10 ≥ 0.99: what the healthy cluster
// answers), that every vector is there, intact, after the node returns,
// and that after the documented remedy (the vectors re-sent, as index
// --rebuild-remote does) searches at ONE answer as the healthy cluster does.
func TestClusterNodeKilledMidIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Weaviate cluster")
	}
	c := weaviated.StartT(t, 3)
	ctx := context.Background()
	const n, dim, batch = 3000, 64, 250
	vecs := indextest.Vectors(42, n, dim)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	// Each replica builds its own graph; a beam as wide as a shard (about
	// 1,000 vectors each) makes every copy's search all but exact, so
	// top-10 sets compare across copies, not graph luck.
	cfg := weaviate.Config{Scheme: "http", Host: c.Nodes[0].Addr(), Collection: "Cluster", Shards: 3, Replicas: 2, Consistency: "ONE", Ef: 1024}
	x, err := weaviate.New(ctx, cfg, dim, index.Cosine)
	if err != nil {
		t.Fatal(err)
	}
	// send adds the vectors from at on, one batch, with properties.
	send := func(ix *weaviate.Index, at int) error {
		props := make([]index.Properties, batch)
		for i := range props {
			props[i] = index.Properties{Path: "/photos/" + string(rune('a'+i%26)) + ".jpg", Size: int64(at + i), Format: "jpeg", Width: 64, Height: 48, MtimeNs: time.Now().UnixNano()}
		}
		return ix.AddWithProperties(ctx, ids[at:at+batch], vecs[at:at+batch], props)
	}
	victim := c.Nodes[2]
	killed := false
	start := time.Now()
	for at := 0; at < n; at += batch {
		if at == n/3 {
			victim.Kill()
			killed = true
			t.Logf("killed %s after %d vectors", victim.Name, at)
		}
		if err := send(x, at); err != nil {
			t.Fatalf("ingest with %s down (killed: %v): %v", victim.Name, killed, err)
		}
	}
	t.Logf("ingested %d vectors in %v with one node killed at a third", n, time.Since(start).Round(time.Millisecond))
	if x.Len() != n {
		t.Fatalf("Len %d, want %d", x.Len(), n)
	}

	exact, err := flat.New(dim, index.Cosine)
	if err != nil {
		t.Fatal(err)
	}
	if err := exact.AddBatch(ctx, ids, vecs); err != nil {
		t.Fatal(err)
	}
	queries := indextest.Vectors(7, 20, dim)
	top := func(ix index.Index) [][]uint64 {
		t.Helper()
		var out [][]uint64
		for _, q := range queries {
			res, err := ix.Search(q, 10, index.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]uint64, len(res))
			for i, r := range res {
				got[i] = r.ID
			}
			out = append(out, got)
		}
		return out
	}
	down := top(x)
	want := top(exact)
	hits := 0
	for i := range want {
		for _, id := range down[i] {
			if slices.Contains(want[i], id) {
				hits++
			}
		}
	}
	if r := float64(hits) / float64(10*len(want)); r < 0.99 {
		t.Fatalf("recall@10 with a node down %.3f, want ≥ 0.99 (got %v, exact %v)", r, down, want)
	}

	if err := victim.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var desc bytes.Buffer
	if err := x.Save(&desc); err != nil {
		t.Fatal(err)
	}
	all := cfg
	all.Consistency = "ALL"
	y, err := weaviate.Load(ctx, all, &desc)
	if err != nil {
		t.Fatal(err)
	}
	// Reads at ALL repair the replicas the killed node missed; every
	// vector must come back, intact.
	lost := 0
	for i, id := range ids {
		var v []float32
		var err error
		for try := 0; try < 20; try++ {
			if v, err = y.Vector(id); err == nil {
				break
			}
			time.Sleep(500 * time.Millisecond) // the node is rejoining
		}
		if err != nil {
			lost++
			if lost < 5 {
				t.Errorf("vector %d after %s returned: %v", id, victim.Name, err)
			}
			continue
		}
		if !slices.EqualFunc(v, vecs[i], func(a, b float32) bool { return a-b < 1e-6 && b-a < 1e-6 }) {
			t.Fatalf("vector %d changed after %s returned", id, victim.Name)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d vectors lost after %s returned", lost, n, victim.Name)
	}
	// Searches after the return are not held to the top-10 of the outage:
	// a SIGKILLed node's replicas can come back with every object in the
	// object store but the last vectors missing from their HNSW graph
	// (Weaviate v1.35.2 with synchronous indexing does not re-index them),
	// so a search served by such a replica misses them. The difference is
	// logged; docs/SCALE.md says what to do (index --rebuild-remote).
	up := top(y)
	for i := range up {
		a, b := slices.Clone(up[i]), slices.Clone(down[i])
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Logf("query %d: top-10 at ONE with %s down %v, at ALL after it returned %v", i, victim.Name, down[i], up[i])
		}
	}
	if cnt, err := y.RemoteCount(ctx); err != nil || cnt != n {
		t.Errorf("RemoteCount after %s returned: %d, %v; want %d", victim.Name, cnt, err, n)
	}

	// The remedy docs/SCALE.md gives, as 'index --rebuild-remote' does it:
	// the collection made anew and every vector sent again from the source
	// of truth. Then searches at ONE, served by any copy, answer what the
	// healthy cluster answers.
	if err := y.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	for at := 0; at < n; at += batch {
		if err := send(y, at); err != nil {
			t.Fatalf("re-send after %s returned: %v", victim.Name, err)
		}
	}
	var desc2 bytes.Buffer
	if err := y.Save(&desc2); err != nil {
		t.Fatal(err)
	}
	one, err := weaviate.Load(ctx, cfg, &desc2)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 { // consecutive searches may reach different copies
		after := top(one)
		hits = 0
		for i := range want {
			for _, id := range after[i] {
				if slices.Contains(want[i], id) {
					hits++
				}
			}
		}
		if r := float64(hits) / float64(10*len(want)); r < 0.99 {
			t.Fatalf("round %d: recall@10 at ONE after %s returned and the vectors were re-sent %.3f, want ≥ 0.99", round, victim.Name, r)
		}
	}
}
