package hnsw

import (
	"encoding/binary"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"mmsearch/index"
)

func TestZZProf(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	x, err := LoadFile("/tmp/large100/ours.hnsw")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/tmp/large100/queries.f32")
	ef, _ := strconv.Atoi(os.Getenv("EF"))
	qs := make([][]float32, 1000)
	for i := range qs {
		q := make([]float32, 512)
		for j := range q {
			q[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[(i*512+j)*4:]))
		}
		qs[i] = q
	}
	best := [2]float64{}
	for round := 0; round < 6; round++ {
		for v := 0; v < 2; v++ {
			x.touchLinks = v == 1
			blk := (round*2 + v) % 5
			c0 := cpuSeconds()
			for _, q := range qs[blk*200 : blk*200+200] {
				x.Search(q, 10, index.SearchOptions{Ef: ef})
			}
			best[v] = max(best[v], 200/(cpuSeconds()-c0))
		}
	}
	t.Logf("ef=%d best qps/cpu-s: plain %.0f, touch links %.0f", ef, best[0], best[1])
	_ = time.Now
}
