package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mmsearch/engine"
)

// startCLI starts mmsearchBin and returns a channel that yields its result
// when it exits.
func startCLI(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer, <-chan int) {
	t.Helper()
	cmd := exec.Command(mmsearchBin, args...)
	cmd.Env = append(os.Environ(), "MMSEARCH_DATA_DIR="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			done <- 0
		case errors.As(err, &ee):
			done <- ee.ExitCode()
		default:
			done <- -1
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	return cmd, &out, &errb, done
}

// TestCLIFIFOInputsFailFast names a FIFO where every command expects an
// input file (issue 19: `search q.fifo`, `embed image FIFO`, `sheet FIFO`
// hung forever). Each command must refuse it at once with a clear error;
// none may wait for a writer.
func TestCLIFIFOInputsFailFast(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "q.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	vocab := filepath.Join(dir, "vocab.json") // a name the tokenizer would read
	if err := syscall.Mkfifo(vocab, 0o644); err != nil {
		t.Fatal(err)
	}
	photos := filepath.Join(dir, "photos")
	if err := os.Mkdir(photos, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJPEG(t, filepath.Join(photos, "a.jpg"), 1, 64, 48)
	lib := filepath.Join(dir, "lib")
	if r := run(t, "index", "--library", lib, "--model", tinyModel, photos); r.code != 0 {
		t.Fatalf("index: %d %s", r.code, r.stderr)
	}
	// A 'search --json' output whose result is the FIFO: the sheet must not
	// hang making its thumbnail.
	resJSON := filepath.Join(dir, "res.json")
	b, _ := json.Marshal(engine.SearchResult{Query: "x", Mode: "add", Results: []engine.Result{{ID: 1, Path: fifo, Score: 1}}})
	if err := os.WriteFile(resJSON, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr or stdout
	}{
		{"search term", []string{"search", "--library", lib, fifo}, exitUsage, "named pipe"},
		{"search term after text", []string{"search", "--library", lib, "cat", "+", fifo}, exitUsage, "named pipe"},
		{"embed image", []string{"embed", "--model", tinyModel, "image", fifo}, exitFailure, "named pipe"},
		{"preprocess", []string{"preprocess", "--model", tinyModel, "--out", out, fifo}, exitFailure, "named pipe"},
		{"sheet input", []string{"sheet", "--out", out + ".html", fifo}, exitFailure, "named pipe"},
		{"sheet result", []string{"sheet", "--out", out + ".html", resJSON}, exitOK, "wrote"},
		{"tokenize vocab", []string{"tokenize", "--vocab", vocab, "cat"}, exitFailure, "named pipe"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd, stdout, stderr, done := startCLI(t, c.args...)
			select {
			case code := <-done:
				if code != c.code || !strings.Contains(stderr.String()+stdout.String(), c.want) {
					t.Errorf("code %d (want %d), stdout %q, stderr %q (want %q)", code, c.code, stdout, stderr, c.want)
				}
			case <-time.After(15 * time.Second):
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
					t.Errorf("hung on the FIFO until SIGTERM")
				case <-time.After(2 * time.Second):
					t.Errorf("hung on the FIFO and ignored SIGTERM")
				}
			}
		})
	}
}

// TestCLISIGTERMEndsBlockedRead blocks `search` reading an image from a
// server that accepts the connection and never answers, then sends SIGTERM:
// the command must end within a second with exit status 130.
func TestCLISIGTERMEndsBlockedRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // held open, never answered
		}
	}()
	defer func() {
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	}()
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	if err := os.Mkdir(photos, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJPEG(t, filepath.Join(photos, "a.jpg"), 1, 64, 48)
	lib := filepath.Join(dir, "lib")
	if r := run(t, "index", "--library", lib, "--model", tinyModel, photos); r.code != 0 {
		t.Fatalf("index: %d %s", r.code, r.stderr)
	}
	cmd, _, stderr, done := startCLI(t, "search", "--library", lib, "http://"+ln.Addr().String()+"/cat.jpg")
	var conn net.Conn
	select {
	case conn = <-accepted:
		accepted <- conn // for the deferred close
	case code := <-done:
		t.Fatalf("search ended (%d) before it blocked: %s", code, stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("search never connected")
	}
	time.Sleep(200 * time.Millisecond) // now blocked reading the response
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		took := time.Since(sent)
		t.Logf("exited %d, %v after SIGTERM", code, took)
		if took > time.Second {
			t.Errorf("took %v after SIGTERM, want ≤ 1s", took)
		}
		if code != exitCanceled {
			t.Errorf("exit status %d, want %d; stderr %q", code, exitCanceled, stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not end the blocked search within 5 s")
	}
}
