package catalog_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"mmsearch/engine/catalog"
	"mmsearch/index"
	"mmsearch/index/weaviate"
	"mmsearch/internal/weaviated"
)

// TestRemoteIndex runs two catalogs (two processes of one library) over a
// Weaviate collection on a one-node server: upserts are mirrored with their
// properties, the second catalog's writes are adopted by the first without
// re-sending the collection, deletes are mirrored, and CheckMirror finds
// the collection in step, then out of step after an object vanishes.
func TestRemoteIndex(t *testing.T) {
	ctx := context.Background()
	node := weaviated.StartT(t, 1).Nodes[0]
	be := weaviate.Backend(weaviate.Config{Scheme: "http", Host: node.Addr(), Collection: "Catalog"}, index.Cosine)
	f := newFixture(t)
	a := open(t, f, be, catalog.Options{RefreshEvery: 50 * time.Millisecond})
	b := open(t, f, be, catalog.Options{})
	first := items("a", 1, 40)
	out, err := a.Apply(ctx, catalog.Batch{Upsert: first})
	if err != nil {
		t.Fatal(err)
	}
	// The properties went with the vector.
	var obj struct {
		Properties map[string]any `json:"properties"`
	}
	resp, err := http.Get("http://" + node.Addr() + "/v1/objects/Catalog/" + weaviate.UUID(uint64(out.IDs[7])))
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&obj)
	resp.Body.Close()
	if err != nil || obj.Properties["path"] != first[7].Path || obj.Properties["contentHash"] != first[7].Hash.String() ||
		obj.Properties["format"] != "png" || obj.Properties["itemId"] != float64(out.IDs[7]) {
		t.Fatalf("properties of item %d in Weaviate: %v (%v), want path %s", out.IDs[7], obj.Properties, err, first[7].Path)
	}

	// b is another process: its writes reach the collection through b.
	if _, err := b.Apply(ctx, catalog.Batch{Upsert: items("b", 2, 15), Delete: out.IDs[:5]}); err != nil {
		t.Fatal(err)
	}
	f.logs.Reset()
	time.Sleep(60 * time.Millisecond)
	if n, found := indexed(t, a, 50); n != 50 || found != 50 {
		t.Fatalf("after b's writes: index %d, found %d, want 50", n, found)
	}
	if logs := f.logs.String(); strings.Contains(logs, "rebuil") || !strings.Contains(logs, "adopting") {
		t.Fatalf("a remote index must adopt another process's writes, not rebuild; logs:\n%s", logs)
	}
	ms, err := a.CheckMirror(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !ms.Remote || !ms.InStep() || ms.StoreItems != 50 || ms.RemoteObjects != 50 || ms.Sampled != 10 {
		t.Fatalf("CheckMirror in step: %+v", ms)
	}

	req, _ := http.NewRequest(http.MethodDelete, "http://"+node.Addr()+"/v1/objects/Catalog/"+weaviate.UUID(uint64(out.IDs[20])), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete behind the library's back: %v %v", resp, err)
	}
	ms, err = a.CheckMirror(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	if ms.InStep() || ms.RemoteObjects != 49 || ms.Missing != 1 || !strings.Contains(ms.Problem, "49 objects") {
		t.Fatalf("CheckMirror after an object vanished: %+v", ms)
	}
	if err := a.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if ms, err := a.CheckMirror(ctx, 50); err != nil || !ms.InStep() || ms.RemoteObjects != 50 {
		t.Fatalf("CheckMirror after Rebuild: %+v, %v", ms, err)
	}
}
