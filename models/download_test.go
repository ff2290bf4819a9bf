package models

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestDownloadFull(t *testing.T) {
	fs := newFileServer(t)
	data := randomBytes(700_000, 1)
	fs.add("/m/vision.onnx", data)
	h := testHub(t, fs)
	dst := filepath.Join(t.TempDir(), "sub", "vision.onnx")
	var last, calls int64
	var totals []int64
	sum, err := h.Download(context.Background(), FileSpec{Path: "vision.onnx", URL: fs.url("/m/vision.onnx"), Size: int64(len(data)), SHA256: sha(data)}, dst,
		func(done, total int64) {
			if done < last {
				t.Errorf("progress went back from %d to %d", last, done)
			}
			last = done
			calls++
			totals = append(totals, total)
		})
	if err != nil {
		t.Fatal(err)
	}
	if sum != sha(data) {
		t.Errorf("sha %s, want %s", sum, sha(data))
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs (err %v, %d bytes)", err, len(got))
	}
	if last != int64(len(data)) || calls < 2 {
		t.Errorf("progress ended at %d after %d calls, want %d in several calls", last, calls, len(data))
	}
	for _, tot := range totals {
		if tot != int64(len(data)) {
			t.Fatalf("progress total %d, want %d", tot, len(data))
		}
	}
	if _, err := os.Stat(dst + ".part"); !os.IsNotExist(err) {
		t.Errorf("part file left behind: %v", err)
	}
	if r := fs.log(); len(r) != 1 || r[0].Range != "" {
		t.Errorf("requests %+v, want one without Range", r)
	}
}

// TestDownloadResumesAfterDrop: the server cuts the first transfer; the
// retry asks for the rest with Range and the file is whole.
func TestDownloadResumesAfterDrop(t *testing.T) {
	fs := newFileServer(t)
	data := randomBytes(500_000, 2)
	fs.add("/f", data)
	fs.dropAfter["/f"] = 123_456
	h := testHub(t, fs)
	dst := filepath.Join(t.TempDir(), "f")
	sum, err := h.Download(context.Background(), FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha(data)}, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum != sha(data) {
		t.Fatalf("sha mismatch")
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed file differs from the original")
	}
	ranges := rangesOf(fs.log(), "/f")
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != "bytes=123456-" {
		t.Fatalf("ranges asked %q, want [\"\" \"bytes=123456-\"]", ranges)
	}
}

// TestDownloadResumesAcrossRuns: a first run gives up with the part kept; a
// second run (a new process, in effect) continues from it.
func TestDownloadResumesAcrossRuns(t *testing.T) {
	fs := newFileServer(t)
	data := randomBytes(300_000, 3)
	fs.add("/f", data)
	fs.dropAfter["/f"] = 100_000
	fs.statuses["/f"] = nil
	h := testHub(t, fs)
	h.MaxRetries = 1
	dst := filepath.Join(t.TempDir(), "f")
	spec := FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha(data)}
	if _, err := h.Download(context.Background(), spec, dst, nil); err == nil || !strings.Contains(err.Error(), "giving up") {
		t.Fatalf("first run: err %v, want giving up", err)
	}
	if n := fileSize(dst + ".part"); n != 100_000 {
		t.Fatalf("part holds %d bytes, want 100000", n)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("incomplete download visible under its final name: %v", err)
	}
	var first int64 = -1
	if _, err := h.Download(context.Background(), spec, dst, func(done, total int64) {
		if first < 0 {
			first = done
		}
	}); err != nil {
		t.Fatal(err)
	}
	if first != 100_000 {
		t.Errorf("first progress report %d, want the 100000 bytes kept", first)
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) {
		t.Fatal("file differs after resuming")
	}
	if r := rangesOf(fs.log(), "/f"); len(r) != 2 || r[1] != "bytes=100000-" {
		t.Fatalf("ranges %q", r)
	}
}

func TestDownloadServerBehaviours(t *testing.T) {
	data := randomBytes(200_000, 4)
	tests := []struct {
		name     string
		setup    func(fs *fileServer, part string)
		spec     func(fs *fileServer) FileSpec
		maxFile  int64
		wantErr  error
		wantText string
		check    func(t *testing.T, fs *fileServer, dst string)
	}{
		{
			name: "200 to a Range request restarts from zero",
			setup: func(fs *fileServer, part string) {
				fs.ignoreRange["/f"] = true
				os.WriteFile(part, data[:5000], 0o644)
			},
			check: func(t *testing.T, fs *fileServer, dst string) {
				if r := rangesOf(fs.log(), "/f"); len(r) != 1 || r[0] != "bytes=5000-" {
					t.Errorf("ranges %q", r)
				}
			},
		},
		{
			name: "206 for another range restarts",
			setup: func(fs *fileServer, part string) {
				fs.badRange["/f"] = true
				os.WriteFile(part, data[:7000], 0o644)
			},
			check: func(t *testing.T, fs *fileServer, dst string) {
				if r := rangesOf(fs.log(), "/f"); len(r) != 2 || r[0] != "bytes=7000-" || r[1] != "" {
					t.Errorf("ranges %q, want a range then a fresh request", r)
				}
			},
		},
		{
			name: "416 on a complete part of unknown size",
			setup: func(fs *fileServer, part string) {
				os.WriteFile(part, data, 0o644)
			},
			spec: func(fs *fileServer) FileSpec {
				return FileSpec{Path: "f", URL: fs.url("/f"), SHA256: sha(data)}
			},
			check: func(t *testing.T, fs *fileServer, dst string) {
				if r := rangesOf(fs.log(), "/f"); len(r) != 1 || r[0] != fmt.Sprintf("bytes=%d-", len(data)) {
					t.Errorf("ranges %q", r)
				}
			},
		},
		{
			name: "complete part of known size needs no request",
			setup: func(fs *fileServer, part string) {
				os.WriteFile(part, data, 0o644)
			},
			check: func(t *testing.T, fs *fileServer, dst string) {
				if r := fs.log(); len(r) != 0 {
					t.Errorf("requests %+v, want none", r)
				}
			},
		},
		{
			name: "a part longer than the file is discarded",
			setup: func(fs *fileServer, part string) {
				os.WriteFile(part, append(append([]byte(nil), data...), 1, 2, 3), 0o644)
			},
			check: func(t *testing.T, fs *fileServer, dst string) {
				if r := rangesOf(fs.log(), "/f"); len(r) != 1 || r[0] != "" {
					t.Errorf("ranges %q", r)
				}
			},
		},
		{
			name: "503 and 429 are retried",
			setup: func(fs *fileServer, part string) {
				fs.statuses["/f"] = []int{503, 429, 500}
			},
			check: func(t *testing.T, fs *fileServer, dst string) {
				if n := len(fs.log()); n != 4 {
					t.Errorf("%d requests, want 4", n)
				}
			},
		},
		{
			name:    "404 is not retried",
			setup:   func(fs *fileServer, part string) { fs.statuses["/f"] = []int{404, 404} },
			wantErr: ErrNotFound,
			check: func(t *testing.T, fs *fileServer, dst string) {
				if n := len(fs.log()); n != 1 {
					t.Errorf("%d requests, want 1", n)
				}
			},
		},
		{
			name:     "403 is permanent",
			setup:    func(fs *fileServer, part string) { fs.statuses["/f"] = []int{403} },
			wantText: "access denied",
		},
		{
			name:     "too many 5xx give up",
			setup:    func(fs *fileServer, part string) { fs.statuses["/f"] = []int{502, 502, 502, 502, 502, 502, 502, 502} },
			wantText: "giving up after 6 attempts",
		},
		{
			name: "Content-Length over the registry size is refused before the body",
			spec: func(fs *fileServer) FileSpec {
				return FileSpec{Path: "f", URL: fs.url("/f"), Size: 1000, SHA256: sha(data[:1000])}
			},
			wantErr: ErrTooLarge,
		},
		{
			name:  "unknown size over the global cap",
			setup: func(fs *fileServer, part string) { fs.noLength["/f"] = true },
			spec: func(fs *fileServer) FileSpec {
				return FileSpec{Path: "f", URL: fs.url("/f"), Verify: VerifyTrustOnFirstUse}
			},
			maxFile: 50_000,
			wantErr: ErrTooLarge,
			check: func(t *testing.T, fs *fileServer, dst string) {
				if _, err := os.Stat(dst + ".part"); !os.IsNotExist(err) {
					t.Errorf("oversized part kept: %v", err)
				}
			},
		},
		{
			name: "registry size over the global cap",
			spec: func(fs *fileServer) FileSpec {
				return FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha(data)}
			},
			maxFile: 1000,
			wantErr: ErrTooLarge,
			check: func(t *testing.T, fs *fileServer, dst string) {
				if n := len(fs.log()); n != 0 {
					t.Errorf("%d requests, want none", n)
				}
			},
		},
		{
			name:  "smaller than the registry says",
			setup: func(fs *fileServer, part string) { fs.add("/f", data[:1000]) },
			spec: func(fs *fileServer) FileSpec {
				return FileSpec{Path: "f", URL: fs.url("/f"), Size: 5000, Verify: VerifyTrustOnFirstUse}
			},
			wantErr: ErrSize,
		},
		{
			name: "wrong checksum deletes the file",
			spec: func(fs *fileServer) FileSpec {
				return FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha([]byte("something else"))}
			},
			wantErr: ErrChecksum,
			check: func(t *testing.T, fs *fileServer, dst string) {
				for _, p := range []string{dst, dst + ".part"} {
					if _, err := os.Stat(p); !os.IsNotExist(err) {
						t.Errorf("%s exists after a checksum mismatch: %v", p, err)
					}
				}
			},
		},
		{
			name: "wrong checksum after a resume downloads once more from scratch",
			setup: func(fs *fileServer, part string) {
				os.WriteFile(part, []byte("stale bytes from another revision"), 0o644)
			},
			spec: func(fs *fileServer) FileSpec {
				return FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha(data)}
			},
			check: func(t *testing.T, fs *fileServer, dst string) {
				if r := rangesOf(fs.log(), "/f"); len(r) != 2 || r[0] == "" || r[1] != "" {
					t.Errorf("ranges %q, want a resume then a fresh download", r)
				}
			},
		},
		{
			name: "only http and https",
			spec: func(fs *fileServer) FileSpec {
				return FileSpec{Path: "f", URL: "file:///etc/passwd", SHA256: sha(data)}
			},
			wantText: "only http and https",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFileServer(t)
			fs.add("/f", data)
			h := testHub(t, fs)
			h.MaxFileBytes = tc.maxFile
			dst := filepath.Join(t.TempDir(), "f")
			if tc.setup != nil {
				tc.setup(fs, dst+".part")
			}
			spec := FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha(data)}
			if tc.spec != nil {
				spec = tc.spec(fs)
			}
			_, err := h.Download(context.Background(), spec, dst, nil)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
			case tc.wantText != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantText)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(dst)
				if !bytes.Equal(got, data) {
					t.Fatalf("file differs (%d bytes)", len(got))
				}
			}
			if tc.wantErr != nil || tc.wantText != "" {
				if _, err := os.Stat(dst); !os.IsNotExist(err) {
					t.Errorf("failed download visible under its final name")
				}
			}
			if tc.check != nil {
				tc.check(t, fs, dst)
			}
		})
	}
}

func TestDownloadStallIsRetried(t *testing.T) {
	fs := newFileServer(t)
	data := randomBytes(100_000, 5)
	fs.add("/f", data)
	fs.stallAfter["/f"] = 40_000
	h := testHub(t, fs)
	h.StallTimeout = 150 * time.Millisecond
	dst := filepath.Join(t.TempDir(), "f")
	start := time.Now()
	if _, err := h.Download(context.Background(), FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha(data)}, dst, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v; the stall was not cut short", d)
	}
	if r := rangesOf(fs.log(), "/f"); len(r) != 2 || r[1] != "bytes=40000-" {
		t.Fatalf("ranges %q", r)
	}
}

// enospcFile accepts limit bytes, then fails as a full disk does.
type enospcFile struct {
	f     *os.File
	limit int
}

func (e *enospcFile) Write(p []byte) (int, error) {
	if len(p) > e.limit {
		n, _ := e.f.Write(p[:e.limit])
		e.limit -= n
		return n, &os.PathError{Op: "write", Path: e.f.Name(), Err: syscall.ENOSPC}
	}
	e.limit -= len(p)
	return e.f.Write(p)
}
func (e *enospcFile) Sync() error  { return e.f.Sync() }
func (e *enospcFile) Close() error { return e.f.Close() }

func TestDownloadDiskFull(t *testing.T) {
	fs := newFileServer(t)
	data := randomBytes(400_000, 6)
	fs.add("/f", data)
	h := testHub(t, fs)
	h.openPart = func(path string, truncate bool) (partFile, error) {
		f, err := openPartFile(path, truncate)
		if err != nil {
			return nil, err
		}
		return &enospcFile{f: f.(*os.File), limit: 65_536}, nil
	}
	dst := filepath.Join(t.TempDir(), "f")
	_, err := h.Download(context.Background(), FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha(data)}, dst, nil)
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err %v, want ErrDiskFull wrapping ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "free some space") {
		t.Errorf("message %q does not say what to do", err)
	}
	if n := len(fs.log()); n != 1 {
		t.Errorf("%d requests; a full disk must not be retried", n)
	}
	if n := fileSize(dst + ".part"); n != 65_536 {
		t.Errorf("part holds %d bytes, want the 65536 written, kept for resuming", n)
	}
}

func TestDownloadCanceledDuringBackoff(t *testing.T) {
	fs := newFileServer(t)
	fs.add("/f", []byte("x"))
	fs.statuses["/f"] = []int{503, 503, 503, 503, 503, 503, 503, 503}
	h := testHub(t, fs)
	h.RetryBase, h.RetryMax = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(fs.log()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	_, err := h.Download(ctx, FileSpec{Path: "f", URL: fs.url("/f"), SHA256: sha([]byte("x"))}, filepath.Join(t.TempDir(), "f"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %v", d)
	}
}

func TestBackoff(t *testing.T) {
	h := &Hub{RetryBase: 100 * time.Millisecond, RetryMax: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := h.backoff(n)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) has no jitter: %v", n, seen)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/1", 0, 1, true},
		{"bytes 5-9/*", 5, -1, true},
		{"bytes */300", -1, 300, true},
		{"bytes 100-250/200", 0, 0, false},
		{"bytes 9-5/20", 0, 0, false},
		{"items 0-1/2", 0, 0, false},
		{"bytes 1-2", 0, 0, false},
		{"bytes x-2/3", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tc := range tests {
		start, total, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (start != tc.start || total != tc.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, %v", tc.in, start, total, ok, tc.start, tc.total, tc.ok)
		}
	}
}

func TestCheckRedirect(t *testing.T) {
	mk := func(u string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"https://a.example/x", "https://b.example/y", true},
		{"http://a.example/x", "https://b.example/y", true},
		{"https://a.example/x", "http://b.example/y", false},
		{"https://a.example/x", "ftp://b.example/y", false},
	}
	for _, tc := range tests {
		err := checkRedirect(mk(tc.to), []*http.Request{mk(tc.from)})
		if (err == nil) != tc.ok {
			t.Errorf("redirect %s -> %s: err %v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
	}
	var via []*http.Request
	for range 10 {
		via = append(via, mk("https://a.example/"))
	}
	if err := checkRedirect(mk("https://a.example/"), via); err == nil {
		t.Error("an 11th redirect was allowed")
	}
}

// TestNewHTTPClientDownloads runs a download through the production client
// (timeouts, no compression) against loopback.
func TestNewHTTPClientDownloads(t *testing.T) {
	fs := newFileServer(t)
	data := bytes.Repeat([]byte("compressible "), 20_000)
	fs.add("/f", data)
	h := testHub(t, nil)
	h.Client = NewHTTPClient()
	dst := filepath.Join(t.TempDir(), "f")
	if _, err := h.Download(context.Background(), FileSpec{Path: "f", URL: fs.url("/f"), Size: int64(len(data)), SHA256: sha(data)}, dst, nil); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(dst)
	defer f.Close()
	got, _ := io.ReadAll(f)
	if !bytes.Equal(got, data) {
		t.Fatal("file differs")
	}
}

// TestRefusedRedirectIsNotRetried: a redirect to another scheme fails at
// once with the production client.
func TestRefusedRedirectIsNotRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "ftp://files.example/model.onnx", http.StatusFound)
	}))
	defer srv.Close()
	h := testHub(t, nil)
	h.Client = NewHTTPClient()
	_, err := h.Download(context.Background(), FileSpec{Path: "f", URL: srv.URL + "/f", SHA256: sha([]byte("x"))}, filepath.Join(t.TempDir(), "f"), nil)
	if !errors.Is(err, errRedirectRefused) || !strings.Contains(err.Error(), "only http and https") {
		t.Fatalf("err %v, want a refused redirect", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests; a refused redirect must not be retried", n)
	}
}
