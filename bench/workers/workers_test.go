package workers

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mmsearch/internal/imagetest"
)

// TestRun measures 1 and 2 real workers over a real embedded server on a
// small folder: every file is indexed in each run, one worker's efficiency
// is 100%, and the report has a row per count with the figures.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	const n = 24
	for i := range n {
		imagetest.Write(t, filepath.Join(dir, fmt.Sprintf("img%02d.png", i)), imagetest.PNG(t, imagetest.Pattern(i, 24, 16)))
	}
	r, res, err := Run(ctx, Config{Dataset: dir, Model: "../../encoders/testdata/tiny", Counts: []int{1, 2}, Batch: 4, Local: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || res.Files != n || res.Local == nil || res.Local.Images != n {
		t.Fatalf("result %+v, want 2 rows over %d files and the local ingest", res, n)
	}
	for _, row := range res.Rows {
		if row.Images != n || row.Failed != 0 || row.Published != n || row.PerSec <= 0 || len(row.Seconds) != 1 {
			t.Errorf("%d workers: %+v, want %d images published and indexed", row.Workers, row, n)
		}
	}
	if res.Rows[0].Efficiency != 1 || res.Rows[1].Efficiency <= 0 {
		t.Errorf("efficiencies %v and %v, want 1 and positive", res.Rows[0].Efficiency, res.Rows[1].Efficiency)
	}
	if r.Figures["images_per_s_2_workers"] != res.Rows[1].PerSec || len(r.Tables) != 1 || len(r.Tables[0].Rows) != 3 {
		t.Errorf("report figures %v, tables %+v", r.Figures, r.Tables)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil || !strings.Contains(b.String(), "per-worker efficiency") {
		t.Errorf("report text (%v):\n%s", err, b.String())
	}
	if _, _, err := Run(ctx, Config{Dataset: dir, Counts: []int{0}}); err == nil {
		t.Error("a count of 0 workers was accepted")
	}
}
