package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/encoders/imageproc"
	"mmsearch/internal/imagetest"
)

func TestMakeCollection(t *testing.T) {
	src := t.TempDir()
	for i := range 3 {
		imagetest.Write(t, filepath.Join(src, fmt.Sprintf("s%d.png", i)), imagetest.PNG(t, imagetest.Pattern(i, 80, 90)))
	}
	// A white picture: copies of it differ only by their corner marks.
	white := imagetest.Pattern(0, 80, 80)
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	imagetest.Write(t, filepath.Join(src, "white.png"), imagetest.PNG(t, white))
	imagetest.Write(t, filepath.Join(src, "small.png"), imagetest.PNG(t, imagetest.Pattern(9, 20, 20))) // too small: not a source
	imagetest.Write(t, filepath.Join(src, "notes.txt"), []byte("not a picture"))
	ctx := context.Background()
	for _, tc := range []struct {
		format, ext  string
		n, w, h, per int
		wantDirs     int
	}{
		{"png", ".png", 40, 64, 64, 16, 3},
		{"jpeg", ".jpg", 7, 120, 90, 0, 0},
	} {
		t.Run(tc.format, func(t *testing.T) {
			out := t.TempDir()
			c := Collection{Src: src, Out: out, N: tc.n, Width: tc.w, Height: tc.h, Format: tc.format, PerFolder: tc.per}
			n, err := MakeCollection(ctx, c)
			if err != nil || n != tc.n {
				t.Fatalf("made %d, %v; want %d", n, err, tc.n)
			}
			var files []string
			dirs := 0
			filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if d.IsDir() && p != out {
					dirs++
				}
				if !d.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if len(files) != tc.n || dirs != tc.wantDirs {
				t.Fatalf("%d files in %d folders, want %d in %d", len(files), dirs, tc.n, tc.wantDirs)
			}
			seen := map[[32]byte]string{}
			for _, p := range files {
				if !strings.HasSuffix(p, tc.ext) {
					t.Errorf("%s: want extension %s", p, tc.ext)
				}
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.Sum256(data)
				if other, dup := seen[h]; dup {
					t.Errorf("%s and %s have the same content", p, other)
				}
				seen[h] = p
				_, info, err := imageproc.Load(p, imageproc.Options{})
				if err != nil || info.Width != tc.w || info.Height != tc.h || info.Format != tc.format {
					t.Errorf("%s: %+v %v", p, info, err)
				}
			}
			// A second call keeps the files.
			st, _ := os.Stat(files[0])
			if n, err := MakeCollection(ctx, c); err != nil || n != tc.n {
				t.Fatalf("second call: %d %v", n, err)
			}
			if st2, _ := os.Stat(files[0]); !st2.ModTime().Equal(st.ModTime()) {
				t.Errorf("second call rewrote %s", files[0])
			}
		})
	}
	for _, bad := range []Collection{
		{Src: src, Out: t.TempDir(), N: 1, Width: 64, Height: 64, Format: "gif"},
		{Src: src, Out: t.TempDir(), N: 1, Width: 8, Height: 64, Format: "png"},
		{Src: t.TempDir(), Out: t.TempDir(), N: 1, Width: 64, Height: 64, Format: "png"},
	} {
		if _, err := MakeCollection(ctx, bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
