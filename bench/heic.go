package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// HEICSet describes HEIC copies of a folder of JPEGs, made with heif-enc
// (Debian libheif-examples; x265 inside).
type HEICSet struct {
	JPEGDir string // folder of *.jpg files to convert
	Out     string // folder for the .heic files (same base names)
	Quality int    // heif-enc -q, 1..100
	// Preset is x265's speed preset (ultrafast ... placebo), passed as
	// heif-enc -p preset=PRESET; "" keeps heif-enc's default. A 12 MP
	// picture takes ~6 s of CPU at ultrafast and ~40 s at the default.
	Preset string
	// Parallel is how many heif-enc processes run at once (0 = the cores).
	Parallel int
	// Encoder is the heif-enc executable ("" = heif-enc on $PATH).
	Encoder string
	// Log receives one line per file written (nil = none).
	Log func(format string, args ...any)
}

// ErrNoHEIFEnc is returned when heif-enc cannot be found.
var ErrNoHEIFEnc = errors.New("heif-enc not found: install Debian's libheif-examples (scripts/setup-debian-packages.sh test does)")

// MakeHEICs writes a .heic beside-named copy of every JPEG in s.JPEGDir into
// s.Out, encoded by heif-enc from the JPEG (so the HEIC holds the JPEG's
// decoded pixels). Files already there are kept: a second call costs
// nothing, an interrupted one resumes (each file is written under a
// temporary name and renamed when complete). At most s.Parallel encoders
// run at once. It returns the number of HEIC files in s.Out for the JPEGs.
func MakeHEICs(ctx context.Context, s HEICSet) (int, error) {
	if s.Quality < 1 || s.Quality > 100 {
		return 0, fmt.Errorf("make HEICs: quality %d, want 1..100", s.Quality)
	}
	enc := s.Encoder
	if enc == "" {
		enc = "heif-enc"
	}
	path, err := exec.LookPath(enc)
	if err != nil {
		return 0, ErrNoHEIFEnc
	}
	entries, err := os.ReadDir(s.JPEGDir)
	if err != nil {
		return 0, fmt.Errorf("make HEICs: %w", err)
	}
	if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return 0, fmt.Errorf("make HEICs: %w", err)
	}
	var todo []string
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".jpg") || !e.Type().IsRegular() {
			continue
		}
		n++
		if _, err := os.Stat(filepath.Join(s.Out, HEICName(name))); err != nil {
			todo = append(todo, name)
		}
	}
	parallel := s.Parallel
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}
	work := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range min(parallel, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				if err := encodeHEIC(ctx, path, s, name); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				} else if s.Log != nil {
					s.Log("wrote %s", filepath.Join(s.Out, HEICName(name)))
				}
			}
		}()
	}
	for _, name := range todo {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		work <- name
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if firstErr != nil {
		return 0, firstErr
	}
	return n, nil
}

// HEICName is the HEIC file name for a JPEG's name: photo-0001.jpg → photo-0001.heic.
func HEICName(jpg string) string { return strings.TrimSuffix(jpg, ".jpg") + ".heic" }

// encodeHEIC runs heif-enc on one JPEG, writing a temporary file renamed
// into place when heif-enc succeeded.
func encodeHEIC(ctx context.Context, heifEnc string, s HEICSet, name string) error {
	final := filepath.Join(s.Out, HEICName(name))
	tmp := filepath.Join(s.Out, ".tmp-"+HEICName(name))
	args := []string{"-q", strconv.Itoa(s.Quality)}
	if s.Preset != "" {
		args = append(args, "-p", "preset="+s.Preset)
	}
	args = append(args, "-o", tmp, filepath.Join(s.JPEGDir, name))
	out, err := exec.CommandContext(ctx, heifEnc, args...).CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("heif-enc %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("make HEICs: %w", err)
	}
	return nil
}
