package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mmsearch/encoders/imageproc"
	"mmsearch/index/hnsw"
	"mmsearch/internal/imagetest"
)

// bigGIF is a w×h GIF, cheap to store and dear to decode (image/gif and
// the NRGBA copy take 5 bytes a pixel); seed makes copies differ.
func bigGIF(t *testing.T, w, h, seed int) []byte {
	pal := image.NewPaletted(image.Rect(0, 0, w, h), []color.Color{color.Black, color.RGBA{uint8(seed), 100, 200, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8((i / (w * 7)) % 2)
	}
	var b bytes.Buffer
	if err := gif.Encode(&b, pal, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDecodesShareTheMemoryBudget checks that ingest decodes and uploaded
// images (SearchImage, the server's path) hold their estimated memory from
// the library's one budget while they decode: with a budget smaller than
// one decode, at most one runs at a time, and the budget is seen in use.
func TestDecodesShareTheMemoryBudget(t *testing.T) {
	const budget = 16 << 20
	dir := t.TempDir()
	lib, err := Open(context.Background(), filepath.Join(dir, "lib"), Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}, DecodeMemory: budget})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	if lib.decodeMem.Capacity() != budget {
		t.Fatalf("budget %d, want %d", lib.decodeMem.Capacity(), budget)
	}
	photos := filepath.Join(dir, "photos")
	var gifs [][]byte
	for i := range 4 {
		g := bigGIF(t, 1600, 1200, i) // 1.9 MP: about 17 MB by the estimate
		gifs = append(gifs, g)
		imagetest.Write(t, filepath.Join(photos, fmt.Sprintf("g%d.gif", i)), g)
	}
	if est := imageproc.TensorMemory(gifs[0], imageproc.Options{}, lib.Model().Manifest.Image.Preprocess()); est < budget {
		t.Fatalf("estimate %d is under the budget %d: the test needs larger images", est, budget)
	}

	// Sample the budget while the decodes run.
	var maxUse atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
			if u := lib.decodeMem.InUse(); u > maxUse.Load() {
				maxUse.Store(u)
			}
		}
	}()
	rep, err := lib.Ingest(context.Background(), []string{photos}, IngestOptions{Workers: 4})
	if err != nil || rep.New != 4 || rep.Failed != 0 {
		t.Fatalf("index: %v %+v", err, rep)
	}
	indexUse := maxUse.Swap(0)
	var wg sync.WaitGroup
	for _, g := range gifs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := lib.SearchImage(context.Background(), bytes.NewReader(g), "upload.gif", int64(len(g)), SearchOptions{K: 2}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	searchUse := maxUse.Load()
	for name, use := range map[string]int64{"index": indexUse, "SearchImage": searchUse} {
		if use == 0 {
			t.Errorf("%s: decodes never held the budget", name)
		}
		if use > budget {
			t.Errorf("%s: %d bytes held, over the budget %d", name, use, budget)
		}
	}
	if u := lib.decodeMem.InUse(); u != 0 {
		t.Errorf("%d bytes still held after all decodes", u)
	}
}

// TestIndexStoppedWhileWaitingForMemory cancels an ingest whose decodes
// queue for a tiny budget: the files not yet decoded are left for the next
// run, never recorded as failures.
func TestIndexStoppedWhileWaitingForMemory(t *testing.T) {
	dir := t.TempDir()
	lib, err := Open(context.Background(), filepath.Join(dir, "lib"), Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}, DecodeMemory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	photos := filepath.Join(dir, "photos")
	for i := range 12 {
		imagetest.Write(t, filepath.Join(photos, fmt.Sprintf("g%02d.gif", i)), bigGIF(t, 1200, 900, i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	rep, err := lib.Ingest(ctx, []string{photos}, IngestOptions{Workers: 4})
	if err == nil {
		t.Skipf("the ingest finished before it was stopped: %+v", rep)
	}
	if rep.Failed != 0 {
		t.Fatalf("a stop recorded %d failures: %+v", rep.Failed, rep.Errors)
	}
	errs, err := lib.Errors(context.Background())
	if err != nil || len(errs) != 0 {
		t.Fatalf("errors after a stop: %v %+v", err, errs)
	}
	rep, err = lib.Ingest(context.Background(), []string{photos}, IngestOptions{Workers: 4})
	if err != nil || rep.Failed != 0 || rep.New+rep.Unchanged != 12 {
		t.Fatalf("second run: %v %+v", err, rep)
	}
}

// TestThumbnailUsesTheMemoryBudget checks that Thumbnail decodes within the
// library's budget: while ingest or query decodes hold all of it, a
// thumbnail waits (and gives up with its context); once it is free, the
// thumbnail is made, fitted and reduced, and holds nothing afterwards.
func TestThumbnailUsesTheMemoryBudget(t *testing.T) {
	const budget = 16 << 20
	lib, err := Open(context.Background(), t.TempDir(), Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}, DecodeMemory: budget})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	png := imagetest.PNG(t, imagetest.Pattern(2, 3000, 2000))

	hold, err := lib.decodeMem.Acquire(context.Background(), budget)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := lib.Thumbnail(ctx, png, "p.png", 256); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("thumbnail with the budget taken: %v, want it to wait until its deadline", err)
	}
	hold()

	img, err := lib.Thumbnail(context.Background(), png, "p.png", 256)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 170 {
		t.Errorf("thumbnail %v, want 256×170", b)
	}
	if u := lib.decodeMem.InUse(); u != 0 {
		t.Errorf("%d bytes still held after the thumbnail", u)
	}
	if est := imageproc.ThumbnailMemory(png, imageproc.Options{}, 256); est > 8<<20 {
		t.Errorf("a 6-MP PNG's 256-px thumbnail estimated at %d bytes, want a reduced decode's few MB", est)
	}
}
