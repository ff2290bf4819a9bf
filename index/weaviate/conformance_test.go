package weaviate_test

import (
	"testing"

	"mmsearch/index"
	"mmsearch/index/indextest"
	"mmsearch/index/weaviate"
	"mmsearch/internal/weaviated"
)

// TestConformance runs the index conformance suite against a one-node
// Weaviate started on loopback.
func TestConformance(t *testing.T) {
	c := weaviated.StartT(t, 1)
	cfg := weaviate.Config{Scheme: "http", Host: c.Nodes[0].Addr(), Collection: "Conformance", UniqueCollections: true}
	indextest.Run(t, weaviate.Backend(cfg, index.Cosine), indextest.Options{MinSelfRecall: 0.95})
}
