package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// csi matches a terminal control sequence (ESC [ ... final byte).
var csi = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")

// ptyRun is `mmsearch index` run on a pseudo-terminal as stdin and stderr,
// stdout going to a pipe.
type ptyRun struct {
	tty    string // everything written to the terminal
	stdout string
	code   int
}

// renderedLines splits terminal output into what the terminal shows as
// separate lines: a carriage return starts the line again, control
// sequences take no room.
func renderedLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		for _, part := range strings.Split(l, "\r") {
			if s := csi.ReplaceAllString(part, ""); s != "" {
				lines = append(lines, s)
			}
		}
	}
	return lines
}

// indexOnPTY runs index on a terminal of cols columns; resize, when set, is
// called once with the terminal as soon as the first progress line shows.
func indexOnPTY(t *testing.T, cols int, lib, photos string, resize func(*os.File)) ptyRun {
	t.Helper()
	cmd := exec.Command(mmsearchBin, "index", "--library", lib, "--model", tinyModel, "--batch", "4", "--workers", "1", photos)
	cmd.Env = append(os.Environ(), "MMSEARCH_DATA_DIR="+t.TempDir(), "COLUMNS=")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(cols), Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tty bytes.Buffer
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			tty.Write(buf[:n])
			if resize != nil && bytes.Contains(buf[:n], []byte("\r")) {
				once.Do(func() { resize(f) })
			}
			if err != nil { // EIO once the program has exited
				if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EIO) {
					t.Errorf("read terminal: %v", err)
				}
				return
			}
		}
	}()
	err = cmd.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("terminal output never ended")
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return ptyRun{tty: tty.String(), stdout: stdout.String(), code: code}
}

// TestCLIProgressFitsTheTerminal runs the real binary on a pseudo-terminal
// 40, 80 and 200 columns wide: no line the terminal shows is as wide as the
// terminal, the last line counts the files indexed out of those to do, and
// those agree with the library (a folder reached again through a link is
// counted once, and is no failure); at 200 columns it also names the files found; while the
// index runs the total is known (the counting walk ran ahead) and the lines
// give an ETA.
func TestCLIProgressFitsTheTerminal(t *testing.T) {
	photos := t.TempDir()
	const n = 150
	if err := os.Mkdir(filepath.Join(photos, "album"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		writeJPEG(t, filepath.Join(photos, "album", fmt.Sprintf("p%04d.jpg", i)), i, 640, 480)
	}
	if err := os.Symlink("album", filepath.Join(photos, "same-album")); err != nil {
		t.Fatal(err)
	}
	final := regexp.MustCompile(`(\d+)/(\d+)`)
	sawETA := false
	for _, cols := range []int{40, 80, 200} {
		lib := t.TempDir()
		r := indexOnPTY(t, cols, lib, photos, nil)
		if r.code != 0 {
			t.Fatalf("%d columns: exit %d\n%q\n%s", cols, r.code, r.tty, r.stdout)
		}
		lines := renderedLines(r.tty)
		if len(lines) == 0 {
			t.Fatalf("%d columns: nothing drawn on the terminal: %q", cols, r.tty)
		}
		for _, l := range lines {
			if len([]rune(l)) >= cols {
				t.Errorf("%d columns: a line %d wide: %q", cols, len([]rune(l)), l)
			}
			if strings.Contains(l, "ETA") {
				sawETA = true
			}
			if strings.Contains(l, "/?") && !strings.Contains(l, "counting") {
				t.Errorf("%d columns: total unknown and no count running: %q", cols, l)
			}
		}
		last := lines[len(lines)-1]
		items := countItems(context.Background(), t, lib)
		m := final.FindStringSubmatch(last)
		if items != n || m == nil || m[1] != fmt.Sprint(n) || m[2] != fmt.Sprint(n) {
			t.Errorf("%d columns: the library holds %d items (want %d); last line %q", cols, items, n, last)
		}
		if cols == 200 && !strings.Contains(last, fmt.Sprintf("%d files found", n)) {
			t.Errorf("200 columns: last line %q does not say %d files found", last, n)
		}
		if !strings.Contains(r.stdout, fmt.Sprintf("%d files found: %d new", n, n)) || !strings.Contains(r.stdout, " 0 failed") ||
			!strings.Contains(r.stdout, "1 folders reached again through a link, walked once") || strings.Contains(last, "failed") {
			t.Errorf("%d columns: summary %q", cols, r.stdout)
		}
	}
	if !sawETA {
		t.Error("no line gave an ETA")
	}
}

// TestCLIProgressFollowsResize: a terminal narrowed from 200 to 40 columns
// while the index runs gets lines that fit the new width.
func TestCLIProgressFollowsResize(t *testing.T) {
	photos := t.TempDir()
	const n = 150
	for i := range n {
		writeJPEG(t, filepath.Join(photos, fmt.Sprintf("p%04d.jpg", i)), i, 320, 240)
	}
	resized := false
	r := indexOnPTY(t, 200, t.TempDir(), photos, func(f *os.File) {
		if err := pty.Setsize(f, &pty.Winsize{Cols: 40, Rows: 24}); err != nil {
			t.Error(err)
		}
		resized = true
	})
	if r.code != 0 || !resized {
		t.Fatalf("exit %d, resized %v\n%q", r.code, resized, r.tty)
	}
	lines := renderedLines(r.tty)
	if last := lines[len(lines)-1]; len(last) >= 40 || !strings.Contains(last, fmt.Sprintf("%d/%d", n, n)) {
		t.Errorf("after the resize to 40 columns the last line is %d wide: %q", len(last), last)
	}
}
