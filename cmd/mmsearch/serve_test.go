package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	benchserve "mmsearch/bench/serve"
	"mmsearch/engine"
	"mmsearch/server"
)

// lockedBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveCLI runs `mmsearch serve ARGS` (or `bench serve`) through the
// dispatcher with the given environment.
func serveCLI(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, args ...string) error {
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	cmds := []*command{serveCommand(), {name: "bench", summary: "benchmarks", children: []*command{benchServeCommand()}}}
	return dispatch(ctx, e, "mmsearch", cmds, args)
}

func noEnv(string) string { return "" }

// serveTestLibrary indexes a few generated pictures with the tiny model.
func serveTestLibrary(t *testing.T) string {
	t.Helper()
	photos := filepath.Join(t.TempDir(), "photos")
	if err := benchserve.WriteImages(photos, 8); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "lib")
	lib, err := engine.Open(context.Background(), dir, engine.Options{Model: tinyModel})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	if rep, err := lib.Ingest(context.Background(), []string{photos}, engine.IngestOptions{}); err != nil || rep.Indexed != 8 {
		t.Fatalf("index: %+v %v", rep, err)
	}
	return dir
}

func TestServeCommandServesAndStops(t *testing.T) {
	lib := serveTestLibrary(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- serveCLI(ctx, noEnv, &out, &errb, "serve", "--library", lib, "--model", tinyModel, "--addr", "127.0.0.1:0")
	}()
	urlRE := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+/)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == ""; {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s%s", err, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed: %q", out.String())
		}
	}
	if !strings.Contains(out.String(), "8 items, model tiny-test") {
		t.Errorf("start line: %q", out.String())
	}
	resp, err := http.Get(base + "api/search?q=%402&k=3")
	if err != nil {
		t.Fatal(err)
	}
	var res server.SearchResponse
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(res.Results) != 3 {
		t.Fatalf("search: %d %+v %v", resp.StatusCode, res, err)
	}
	cancel() // what SIGINT does through main's context
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("no stop message: %q", out.String())
	}
	if _, err := http.Get(base + "healthz"); err == nil {
		t.Fatal("the server still answers after stopping")
	}
}

func TestServeCommandRefusals(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"all interfaces without token", []string{"--addr", "0.0.0.0:0"}, nil, "needs --token"},
		{"empty host without token", []string{"--addr", ":8080"}, nil, "needs --token"},
		{"token and insecure", []string{"--addr", "0.0.0.0:0", "--token", "0123456789abcdefgh", "--insecure"}, nil, "exclude each other"},
		{"env token and insecure", []string{"--insecure"}, map[string]string{tokenEnv: "0123456789abcdefgh"}, "exclude each other"},
		{"bad address", []string{"--addr", "nowhere"}, nil, "--addr"},
		{"extra argument", []string{"photos"}, nil, "takes no arguments"},
		{"short token", []string{"--addr", "0.0.0.0:0", "--token", "abc", "--model", tinyModel}, nil, "at least 32"},
		{"bad CORS origin", []string{"--cors-origin", "*", "--model", tinyModel}, nil, "CORS origin"},
		{"host name without --resolve", []string{"--addr", "photos.invalid:8080"}, nil, "--resolve"},
		{"hide paths without roots", []string{"--hide-paths"}, nil, "--root DIR"},
		{"roots without hide paths", []string{"--root", "/photos"}, nil, "with --hide-paths only"},
		{"roots with one name", []string{"--hide-paths", "--root", "/a/Photos", "--root", "/b/Photos", "--model", tinyModel}, nil, "same name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			dir := filepath.Join(t.TempDir(), "lib")
			// Some refusals come from the server, after the library
			// opened, and serve never creates a library: make one.
			lib, err := engine.Open(context.Background(), dir, engine.Options{Model: tinyModel})
			if err != nil {
				t.Fatal(err)
			}
			lib.Close()
			args := append([]string{"serve", "--library", dir}, tt.args...)
			var out, errb bytes.Buffer
			err = serveCLI(context.Background(), getenv, &out, &errb, args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if code := exitCode(err); code != exitUsage {
				t.Fatalf("exit code %d, want %d", code, exitUsage)
			}
			if strings.Contains(tt.want, "token") && tt.want != "at least 32" && !errors.Is(err, server.ErrNeedToken) {
				t.Fatalf("error %v does not wrap server.ErrNeedToken", err)
			}
		})
	}
}

// TestServeCommandToken checks that a token from the environment is
// enforced on a non-loopback bind.
func TestServeCommandToken(t *testing.T) {
	lib := serveTestLibrary(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	token := "env-token-Qz1pW7mK2vX9rB6nC3yH5jL0"
	var out, errb lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- serveCLI(ctx, func(k string) string {
			if k == tokenEnv {
				return token
			}
			return ""
		}, &out, &errb, "serve", "--library", lib, "--model", tinyModel, "--addr", "0.0.0.0:0")
	}()
	portRE := regexp.MustCompile(`at http://localhost:(\d+)/`)
	var port string
	for deadline := time.Now().Add(30 * time.Second); port == ""; time.Sleep(20 * time.Millisecond) {
		if m := portRE.FindStringSubmatch(out.String()); m != nil {
			port = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed: %q %q", out.String(), errb.String())
		}
	}
	if strings.Contains(out.String(), token) {
		t.Fatalf("the token was printed: %q", out.String())
	}
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong-token-0123456789", 401}, {"Bearer " + token, 200}} {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/api/stats", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Authorization %q: status %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
