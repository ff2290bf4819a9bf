package flat_test

import (
	"testing"

	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/indextest"
)

func TestConformance(t *testing.T) {
	indextest.Run(t, flat.Backend(index.Cosine), indextest.Options{MinSelfRecall: 1})
}
