package cluster

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mmsearch/encoders/imageproc"
)

// startFileServer starts a file server on a loopback port, stopped at the
// test's end.
func startFileServer(t *testing.T) *FileServer {
	t.Helper()
	s, err := StartFileServer(FileServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestFileServer: the coordinator's file server sends a published file to a
// request with the token and nothing else: not without the token, not a
// file outside the run (the same answer whether it exists or not), not one
// over the size limit, not a directory, not after the run; a ranged read
// gets the first bytes only. The worker's client turns each refusal into
// the read failure a local read gives.
func TestFileServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := write("small.jpg", []byte(strings.Repeat("x", 5000)))
	odd := write("odd name \xff %?&#.png", []byte("png bytes"))
	big := write("big.jpg", make([]byte, 3000))
	secret := write("secret.txt", []byte("not published"))
	vanished := write("vanished.jpg", []byte("gone"))
	sub := filepath.Join(dir, "folder.jpg")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}

	s := startFileServer(t)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("listens on %s, want loopback", s.Addr())
	}
	s.startRun(4096)
	for _, p := range []string{small, odd, big, vanished, sub} {
		s.allow(p)
	}
	if err := os.Remove(vanished); err != nil {
		t.Fatal(err)
	}
	c := newFileClient(*s.source())

	data, err := c.ReadAll(ctx, odd, 1<<20)
	if err != nil || string(data) != "png bytes" {
		t.Fatalf("published file with an odd name: %q, %v", data, err)
	}
	head, err := c.Head(ctx, small, 64)
	if err != nil || string(head) != strings.Repeat("x", 64) {
		t.Fatalf("head: %q, %v", head, err)
	}
	if _, err := c.ReadAll(ctx, small, 4096); !errors.Is(err, imageproc.ErrTooLarge) {
		t.Errorf("5000 bytes past the server's limit of 4096: %v, want ErrTooLarge", err)
	}
	if data, err := c.ReadAll(ctx, big, 4096); err != nil || len(data) != 3000 {
		t.Errorf("3000 bytes within both limits: %d bytes, %v", len(data), err)
	}
	// Sent whole: the odd name and big.jpg. The count is taken after the
	// server's handler returns, which can be just after the client has
	// the last byte, so wait for it (bounded).
	waitSent(t, s, 2)
	// A copy the client refuses after the headers (past its own limit) is
	// not counted here: whether the server finished sending it before the
	// client hung up is a race the test does not depend on.
	if _, err := c.ReadAll(ctx, big, 2000); !errors.Is(err, imageproc.ErrTooLarge) {
		t.Errorf("3000 bytes past the client's limit of 2000: %v, want ErrTooLarge", err)
	}
	if _, err := c.ReadAll(ctx, vanished, 4096); err == nil || err.Error() != "file vanished before it could be read" {
		t.Errorf("vanished file: %v", err)
	}
	if _, err := c.ReadAll(ctx, sub, 4096); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}

	get := func(path, token, rng string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+FilesPath+"?path="+url.QueryEscape(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	token := s.source().Token
	for _, tc := range []struct {
		name, path, token, rng string
		want                   int
	}{
		{"no token", small, "", "", http.StatusUnauthorized},
		{"wrong token", small, token + "x", "", http.StatusUnauthorized},
		{"file outside the run", secret, token, "", http.StatusNotFound},
		{"missing file outside the run", filepath.Join(dir, "nothing.jpg"), token, "", http.StatusNotFound},
		{"range past the head", small, token, "bytes=100-200", http.StatusRequestedRangeNotSatisfiable},
		{"range too long", small, token, "bytes=0-99999", http.StatusRequestedRangeNotSatisfiable},
		{"head", small, token, "bytes=0-9", http.StatusOK},
	} {
		if code, body := get(tc.path, tc.token, tc.rng); code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
		}
	}
	if _, body := get(small, token, "bytes=0-9"); body != strings.Repeat("x", 10) {
		t.Errorf("head of 10 bytes: %q", body)
	}

	s.startRun(0) // the run ended
	if code, _ := get(odd, token, ""); code != http.StatusNotFound {
		t.Errorf("after the run: %d, want 404", code)
	}
	if _, err := c.ReadAll(ctx, odd, 1<<20); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("client after the run: %v", err)
	}
}

// waitSent waits up to 10 s for the server's count of files sent whole to
// reach want, and fails the test if it does not or goes past it.
func waitSent(t *testing.T, s *FileServer, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Sent() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Sent(); got != want {
		t.Errorf("the file server sent %d files whole, want %d", got, want)
	}
}

// TestFileServerAddress: every interface needs the URL workers use.
func TestFileServerAddress(t *testing.T) {
	for _, tc := range []struct {
		opt  FileServerOptions
		fail string
	}{
		{FileServerOptions{Listen: ":0"}, "--files-url"},
		{FileServerOptions{Listen: "0.0.0.0:0"}, "--files-url"},
		{FileServerOptions{Listen: "127.0.0.1:0", URL: "ftp://host"}, "want http://HOST:PORT"},
		{FileServerOptions{Listen: "nonsense"}, "file server address"},
		{FileServerOptions{Listen: "127.0.0.1:0", URL: "http://example.test:9000/"}, ""},
	} {
		s, err := StartFileServer(tc.opt)
		if tc.fail == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.opt, err)
				continue
			}
			if s.URL() != "http://example.test:9000" {
				t.Errorf("URL %q", s.URL())
			}
			s.Close()
			continue
		}
		if err == nil {
			s.Close()
			t.Errorf("%+v: started, want an error with %q", tc.opt, tc.fail)
		} else if !strings.Contains(err.Error(), tc.fail) {
			t.Errorf("%+v: %v, want %q", tc.opt, err, tc.fail)
		}
	}
}
