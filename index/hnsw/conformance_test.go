package hnsw_test

import (
	"testing"

	"mmsearch/index/hnsw"
	"mmsearch/index/indextest"
)

func TestConformance(t *testing.T) {
	indextest.Run(t, hnsw.Backend(hnsw.Config{Seed: 1}), indextest.Options{MinSelfRecall: 0.99})
}
