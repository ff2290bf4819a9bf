package weaviate_test

import (
	"context"
	"strings"
	"testing"

	"mmsearch/index"
	"mmsearch/index/weaviate"
	"mmsearch/internal/weaviated"
)

// TestAPIKey runs against a one-node Weaviate that allows no anonymous
// access: an index without the key or with a wrong one is refused with the
// server's 401, one with the key writes and searches.
func TestAPIKey(t *testing.T) {
	const key = "test-key-6f1d0c2a9b"
	node := weaviated.StartOptionsT(t, weaviated.Options{APIKey: key}).Nodes[0]
	ctx := context.Background()
	for _, tc := range []struct {
		name, key string
	}{{"no key", ""}, {"wrong key", "not-the-key"}} {
		cfg := weaviate.Config{Scheme: "http", Host: node.Addr(), Collection: "Secured", APIKey: tc.key}
		_, err := weaviate.New(ctx, cfg, 8, index.Cosine)
		if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
			t.Fatalf("%s: New = %v, want an HTTP 401 error", tc.name, err)
		}
		if tc.key != "" && strings.Contains(err.Error(), tc.key) {
			t.Fatalf("%s: the error shows the key sent: %v", tc.name, err)
		}
	}
	cfg := weaviate.Config{Scheme: "http", Host: node.Addr(), Collection: "Secured", APIKey: key}
	x, err := weaviate.New(ctx, cfg, 8, index.Cosine)
	if err != nil {
		t.Fatal(err)
	}
	v := []float32{1, 0, 0, 0, 0, 0, 0, 0}
	if err := x.Add(9, v); err != nil {
		t.Fatal(err)
	}
	res, err := x.Search(v, 1, index.SearchOptions{})
	if err != nil || len(res) != 1 || res[0].ID != 9 {
		t.Fatalf("search with the key: %v, %v", res, err)
	}
}
