package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/internal/imagetest"
)

// tinyModel is the closed-form test model (8×8 images, 4 dimensions).
const tinyModel = "../../encoders/testdata/tiny"

func writePNGs(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		imagetest.Write(t, filepath.Join(dir, fmt.Sprintf("%03d.png", i)), imagetest.PNG(t, imagetest.Pattern(i, 20, 12)))
	}
	// One file that is not an image: recorded as failed, not counted. (Binary:
	// recognisable text is skipped rather than failed since issue 12.)
	if err := os.WriteFile(filepath.Join(dir, "notes.png"), []byte("\x00\x01 not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunReportsMedianRound(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	writePNGs(t, dir, n)
	r, res, err := Run(context.Background(), Config{Dataset: dir, Model: tinyModel, Batch: 8, Streams: 2, Rounds: 3, Rerun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rounds) != 3 {
		t.Fatalf("%d rounds, want 3", len(res.Rounds))
	}
	below, above := 0, 0
	for i, rd := range res.Rounds {
		if rd.Images != n || rd.Failed != 1 {
			t.Errorf("round %d: %d images, %d failed; want %d and 1", i, rd.Images, rd.Failed, n)
		}
		if rd.IngestPerSec <= 0 || rd.EncoderPerSec <= 0 || rd.EncoderImages < n {
			t.Errorf("round %d: %+v", i, rd)
		}
		if got := rd.IngestPerSec / rd.EncoderPerSec; got != rd.Ratio {
			t.Errorf("round %d: ratio %g, want %g", i, rd.Ratio, got)
		}
		best := 0.0
		for _, su := range rd.EncoderSetups {
			best = max(best, su.PerSecond)
		}
		if best != rd.EncoderPerSec {
			t.Errorf("round %d: peer %g images/s, fastest setup %g", i, rd.EncoderPerSec, best)
		}
		if rd.Ratio < res.Ratio {
			below++
		}
		if rd.Ratio > res.Ratio {
			above++
		}
	}
	if below > 1 || above > 1 {
		t.Errorf("reported ratio %g is not the median of %+v", res.Ratio, res.Rounds)
	}
	if res.RerunSeconds <= 0 || res.RerunFirst <= 0 || res.RerunFraction != res.RerunSeconds/res.RerunFirst {
		t.Errorf("re-run: %g s of %g s, fraction %g", res.RerunSeconds, res.RerunFirst, res.RerunFraction)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"median of 3 rounds", "Time by stage", "inferences at once", "re-run over unchanged files"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
}
