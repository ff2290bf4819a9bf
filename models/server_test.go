package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// request is one request a fileServer received.
type request struct {
	Path  string
	Range string
}

// fileServer serves in-memory files over loopback HTTP with scripted
// misbehaviour: per path, a queue of statuses to answer first, a byte count
// after which the first transfer is cut, a stall, or ignoring Range.
type fileServer struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	files       map[string][]byte
	statuses    map[string][]int
	dropAfter   map[string]int
	stallAfter  map[string]int
	ignoreRange map[string]bool
	badRange    map[string]bool
	noLength    map[string]bool
	requests    []request
}

func newFileServer(t testing.TB) *fileServer {
	fs := &fileServer{
		t:           t,
		files:       map[string][]byte{},
		statuses:    map[string][]int{},
		dropAfter:   map[string]int{},
		stallAfter:  map[string]int{},
		ignoreRange: map[string]bool{},
		badRange:    map[string]bool{},
		noLength:    map[string]bool{},
	}
	fs.srv = httptest.NewServer(fs)
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fileServer) url(path string) string { return fs.srv.URL + path }

func (fs *fileServer) add(path string, data []byte) {
	fs.mu.Lock()
	fs.files[path] = data
	fs.mu.Unlock()
}

func (fs *fileServer) log() []request {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]request(nil), fs.requests...)
}

func (fs *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.requests = append(fs.requests, request{Path: r.URL.Path, Range: r.Header.Get("Range")})
	data, ok := fs.files[r.URL.Path]
	var status int
	if q := fs.statuses[r.URL.Path]; len(q) > 0 {
		status, fs.statuses[r.URL.Path] = q[0], q[1:]
	}
	drop, dropping := fs.dropAfter[r.URL.Path]
	delete(fs.dropAfter, r.URL.Path)
	stall, stalling := fs.stallAfter[r.URL.Path]
	delete(fs.stallAfter, r.URL.Path)
	ignore, bad, noLen := fs.ignoreRange[r.URL.Path], fs.badRange[r.URL.Path], fs.noLength[r.URL.Path]
	fs.mu.Unlock()

	switch {
	case status != 0:
		w.Header().Set("Retry-After", "0")
		http.Error(w, http.StatusText(status), status)
	case !ok:
		http.NotFound(w, r)
	case dropping || stalling:
		// Announce the whole file, send the first bytes, then cut or stall.
		n := drop
		if stalling {
			n = stall
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:n])
		w.(http.Flusher).Flush()
		if stalling {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
		panic(http.ErrAbortHandler)
	case bad && r.Header.Get("Range") != "":
		// A 206 for the wrong range.
		w.Header().Set("Content-Range", "bytes 0-"+strconv.Itoa(len(data)-1)+"/"+strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data)
	case ignore || noLen:
		if noLen {
			// Chunked, no Content-Length.
			w.WriteHeader(http.StatusOK)
			for i := 0; i < len(data); i += 1000 {
				w.Write(data[i:min(i+1000, len(data))])
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data)
	default:
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(data))
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testHub returns a Hub on a fresh data folder with fast retries.
func testHub(t testing.TB, fs *fileServer) *Hub {
	t.Helper()
	data := t.TempDir()
	env := map[string]string{"MMSEARCH_DATA_DIR": data}
	h := New(func(k string) string { return env[k] })
	h.RetryBase, h.RetryMax = time.Millisecond, 5*time.Millisecond
	h.StallTimeout = 5 * time.Second
	if fs != nil {
		h.Client = fs.srv.Client()
	}
	return h
}

func rangesOf(reqs []request, path string) []string {
	var out []string
	for _, r := range reqs {
		if r.Path == path {
			out = append(out, r.Range)
		}
	}
	return out
}
