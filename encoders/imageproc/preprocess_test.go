package imageproc

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestPreprocessValidate(t *testing.T) {
	ok := CLIP(224)
	tests := []struct {
		name  string
		edit  func(*Preprocess)
		valid bool
	}{
		{"CLIP", func(*Preprocess) {}, true},
		{"empty strings take defaults", func(p *Preprocess) { p.Resize, p.Interpolation, p.Crop, p.ChannelOrder = "", "", "", "" }, true},
		{"bilinear", func(p *Preprocess) { p.Interpolation = InterpolationBilinear }, true},
		{"exact without crop", func(p *Preprocess) { p.Resize, p.Crop = ResizeExact, CropNone }, true},
		{"BGR", func(p *Preprocess) { p.ChannelOrder = ChannelOrderBGR }, true},
		{"size 0", func(p *Preprocess) { p.Size = 0 }, false},
		{"size too big", func(p *Preprocess) { p.Size = MaxSize + 1 }, false},
		{"unknown resize", func(p *Preprocess) { p.Resize = "longest_edge" }, false},
		{"unknown interpolation", func(p *Preprocess) { p.Interpolation = "lanczos" }, false},
		{"unknown crop", func(p *Preprocess) { p.Crop = "random" }, false},
		{"no crop with shortest edge", func(p *Preprocess) { p.Crop = CropNone }, false},
		{"unknown order", func(p *Preprocess) { p.ChannelOrder = "GRB" }, false},
		{"zero std", func(p *Preprocess) { p.Std[1] = 0 }, false},
		{"NaN std", func(p *Preprocess) { p.Std[2] = float32(math.NaN()) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.edit(&p)
			err := p.Validate()
			if (err == nil) != tt.valid || (err != nil && !errors.Is(err, ErrBadPreprocess)) {
				t.Fatalf("Validate() = %v, want valid=%v", err, tt.valid)
			}
			// Tensor refuses an invalid configuration before touching dst.
			if !tt.valid {
				if err := p.Tensor(image.NewNRGBA(image.Rect(0, 0, 4, 4)), make([]float32, 3)); !errors.Is(err, ErrBadPreprocess) {
					t.Errorf("Tensor: %v", err)
				}
			}
		})
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		w, h           int
		rw, rh, cx, cy int
	}{
		{384, 256, 336, 224, 56, 0},
		{256, 384, 224, 336, 0, 56},
		{171, 256, 224, 335, 0, 56}, // int(335.3); round(55.5) = 56
		{256, 171, 335, 224, 56, 0},
		{224, 224, 224, 224, 0, 0},
		{337, 224, 337, 224, 56, 0}, // round(56.5) = 56, half to even
		{225, 1000, 224, 995, 0, 386},
		{4000, 3000, 298, 224, 37, 0},
		{10, 3000, 224, 67200, 0, 33488},
	}
	p := CLIP(224)
	for _, tt := range tests {
		win := p.window(tt.w, tt.h)
		if win.rw != tt.rw || win.rh != tt.rh || win.x != tt.cx || win.y != tt.cy || win.size != 224 {
			t.Errorf("%d×%d: got %+v, want resize %d×%d crop at %d,%d", tt.w, tt.h, win, tt.rw, tt.rh, tt.cx, tt.cy)
		}
	}
	p.Resize, p.Crop = ResizeExact, CropNone
	if win := p.window(640, 480); win != (window{rw: 224, rh: 224, size: 224}) {
		t.Errorf("exact: %+v", win)
	}
}

func TestRoundHalfEven(t *testing.T) {
	// Python: [round(d / 2) for d in range(8)]
	want := []int{0, 0, 1, 2, 2, 2, 3, 4}
	for d, w := range want {
		if got := roundHalfEven(d); got != w {
			t.Errorf("roundHalfEven(%d) = %d, want %d", d, got, w)
		}
	}
}

func uniform(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func normalized(p Preprocess, c int, v uint8) float32 {
	return (float32(v)/255 - p.Mean[c]) / p.Std[c]
}

func TestTensorUniformAndOrder(t *testing.T) {
	c := color.NRGBA{200, 100, 30, 255}
	for _, order := range []string{ChannelOrderRGB, ChannelOrderBGR} {
		p := CLIP(16)
		p.ChannelOrder = order
		dst := make([]float32, p.Len())
		if err := p.Tensor(uniform(50, 37, c), dst); err != nil {
			t.Fatal(err)
		}
		vals := [3]uint8{c.R, c.G, c.B}
		for ch := 0; ch < 3; ch++ {
			plane := ch
			if order == ChannelOrderBGR {
				plane = 2 - ch
			}
			want := normalized(p, ch, vals[ch])
			for i, got := range dst[plane*256 : (plane+1)*256] {
				if got != want {
					t.Fatalf("%s: channel %d value %d = %v, want %v", order, ch, i, got, want)
				}
			}
		}
	}
	p := CLIP(16)
	if err := p.Tensor(uniform(8, 8, c), make([]float32, p.Len()+1)); !errors.Is(err, ErrBadPreprocess) {
		t.Errorf("wrong dst length: %v", err)
	}
	if err := p.Tensor(image.NewNRGBA(image.Rect(0, 0, 0, 5)), make([]float32, p.Len())); err == nil {
		t.Error("empty image: no error")
	}
}

// TestTensorAlpha checks CLIP's handling of transparency: PIL resizes RGBA
// premultiplied, so transparent areas come out black while opaque colour
// keeps its value right up to the edge (no dark fringe). The expected
// layout was checked against PIL 9.4.
func TestTensorAlpha(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 448, 448))
	for y := 0; y < 448; y++ {
		for x := 0; x < 448; x++ {
			c := color.NRGBA{255, 0, 0, 255}
			if x >= 224 {
				c = color.NRGBA{255, 255, 255, 0} // transparent white
			}
			img.SetNRGBA(x, y, c)
		}
	}
	p := CLIP(224)
	dst := make([]float32, p.Len())
	if err := p.Tensor(img, dst); err != nil {
		t.Fatal(err)
	}
	// PIL 9.4 gives exactly this: columns 0..112 pure red (column 112
	// straddles the edge and unpremultiplies back to red), 113.. black.
	n := 224 * 224
	for y := 0; y < 224; y++ {
		for x := 0; x < 224; x++ {
			want := [3]uint8{255, 0, 0}
			if x > 112 {
				want = [3]uint8{0, 0, 0}
			}
			for c := 0; c < 3; c++ {
				got := dst[c*n+y*224+x]
				if got != normalized(p, c, want[c]) {
					t.Fatalf("pixel %d,%d channel %d = %v, want about %v (byte %d)", x, y, c, got, normalized(p, c, want[c]), want[c])
				}
			}
		}
	}
	// The same image through a PNG file and LoadTensor gives the same tensor.
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alpha.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dst2 := make([]float32, p.Len())
	if _, err := LoadTensor(path, Options{}, p, dst2); err != nil {
		t.Fatal(err)
	}
	for i := range dst {
		if dst[i] != dst2[i] {
			t.Fatalf("LoadTensor differs from Tensor at %d: %v vs %v", i, dst2[i], dst[i])
		}
	}
}

func TestReduceFactor(t *testing.T) {
	tests := []struct{ w, h, minSide, want int }{
		{4000, 3000, 448, 4}, // 750 ≥ 448 > 375
		{3000, 4000, 448, 4},
		{3584, 4000, 448, 8}, // exactly 448 at 1/8
		{3583, 4000, 448, 8}, // ceil(3583/8) = 448 too: libjpeg rounds up
		{3577, 4000, 448, 8}, // ceil(3577/8) = 448 as well
		{3576, 4000, 448, 4}, // 447 at 1/8
		{1000, 900, 448, 2},
		{1000, 894, 448, 1},
		{384, 256, 448, 1},
		{4000, 3000, 0, 1}, // no reduction asked
	}
	for _, tt := range tests {
		if got := reduceFactor(tt.w, tt.h, tt.minSide); got != tt.want {
			t.Errorf("reduceFactor(%d, %d, %d) = %d, want %d", tt.w, tt.h, tt.minSide, got, tt.want)
		}
	}
}

// TestReducedDecodeContent checks libjpeg-turbo's DCT-domain downscaling at
// 1/2, 1/4 and 1/8 against box-averaging the full-resolution decode.
func TestReducedDecodeContent(t *testing.T) {
	if !turboCompiled {
		t.Skip("libjpeg-turbo is not compiled in (purego build): no reduced decoding")
	}
	path := filepath.Join(t.TempDir(), "big.jpg")
	writeBigJPEG(t, path, 640, 480, 4)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := image.Config{Width: 640, Height: 480}
	full, scale, err := decodeJPEGTurbo(data, cfg, 0)
	if err != nil || scale != 1 {
		t.Fatalf("full decode: scale %d, %v", scale, err)
	}
	for _, s := range []int{2, 4, 8} {
		img, got, err := decodeJPEGTurbo(data, cfg, 480/s)
		if err != nil {
			t.Fatal(err)
		}
		if got != s || img.Bounds() != image.Rect(0, 0, 640/s, 480/s) {
			t.Fatalf("scale %d: got scale %d, bounds %v", s, got, img.Bounds())
		}
		var sum float64
		for y := 0; y < 480/s; y++ {
			for x := 0; x < 640/s; x++ {
				for c := 0; c < 3; c++ {
					box := 0
					for dy := 0; dy < s; dy++ {
						for dx := 0; dx < s; dx++ {
							box += int(full.Pix[4*((y*s+dy)*640+x*s+dx)+c])
						}
					}
					sum += math.Abs(float64(img.Pix[4*(y*(640/s)+x)+c]) - float64(box)/float64(s*s))
				}
			}
		}
		mean := sum / float64(3*(640/s)*(480/s))
		t.Logf("1/%d decode vs %d×%d box average of the full decode: mean |diff| %.3f levels", s, s, s, mean)
		if mean > 1 {
			t.Errorf("1/%d decode differs from the box average by %.3f levels on average (limit 1)", s, mean)
		}
	}
}

// TestReducedDecodeFidelity checks LoadTensor's reduced-resolution decode
// at CLIP's size, where it matters: at the least favourable image size
// (shorter side just 2×224 after halving) the tensor stays within the
// golden test's mean bound of the full-resolution tensor, and within
// 0.065 (about 4 levels) at worst; an image too small to halve is decoded
// at full resolution and gives the full-resolution tensor exactly.
func TestReducedDecodeFidelity(t *testing.T) {
	if !turboCompiled {
		t.Skip("libjpeg-turbo is not compiled in (purego build): no reduced decoding")
	}
	tests := []struct{ w, h, scale int }{
		{1000, 900, 2}, // 450 ≥ 448
		{500, 445, 1},  // 445 < 448
	}
	p := CLIP(224)
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "big.jpg")
		writeBigJPEG(t, path, tt.w, tt.h, 4)
		fast := make([]float32, p.Len())
		info, err := LoadTensor(path, Options{}, p, fast)
		if err != nil {
			t.Fatal(err)
		}
		if info.Scale != tt.scale || info.Width != tt.w || info.Height != tt.h {
			t.Errorf("%d×%d: info %+v, want scale %d", tt.w, tt.h, info, tt.scale)
		}
		img, _, err := Load(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		full := make([]float32, p.Len())
		if err := p.Tensor(img, full); err != nil {
			t.Fatal(err)
		}
		var maxDiff, sum float64
		for i := range full {
			d := math.Abs(float64(fast[i] - full[i]))
			maxDiff = max(maxDiff, d)
			sum += d
		}
		mean := sum / float64(len(full))
		t.Logf("%d×%d at 1/%d vs full resolution: max |diff| %.4f, mean |diff| %.5f", tt.w, tt.h, info.Scale, maxDiff, mean)
		if tt.scale == 1 && maxDiff != 0 {
			t.Errorf("full-resolution decode differs from Load+Tensor")
		}
		if maxDiff > 0.065 || mean > goldenMeanDiff {
			t.Errorf("reduced decode too far from full: max %.4f (limit 0.065), mean %.5f (limit %v)", maxDiff, mean, goldenMeanDiff)
		}
	}
}

// TestConcurrentLoadTensor runs LoadTensor from many goroutines (run it with
// -race) and checks each result against a sequential run.
func TestConcurrentLoadTensor(t *testing.T) {
	dir := requireShared(t, "images/formats")
	names := []string{"cat.jpg", "boats on a lake.png", "tree.webp", "chess-queen.gif", "kookaburras.pnm", "chess-knight.tiff", "chess-pawns.bmp"}
	p := CLIP(64)
	want := make([][]float32, len(names))
	for i, n := range names {
		want[i] = make([]float32, p.Len())
		if _, err := LoadTensor(filepath.Join(dir, n), Options{}, p, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	batch := make([]float32, 4*len(names)*p.Len()) // one shared batch buffer
	var wg sync.WaitGroup
	for i := 0; i < 4*len(names); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			dst := batch[i*p.Len() : (i+1)*p.Len()]
			if _, err := LoadTensor(filepath.Join(dir, names[i%len(names)]), Options{}, p, dst); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	for i := 0; i < 4*len(names); i++ {
		got := batch[i*p.Len() : (i+1)*p.Len()]
		for j := range got {
			if got[j] != want[i%len(names)][j] {
				t.Fatalf("slot %d (%s) differs at %d", i, names[i%len(names)], j)
			}
		}
	}
}
