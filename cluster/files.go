package cluster

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mmsearch/encoders/imageproc"
	"mmsearch/engine"
	"mmsearch/internal/regfile"
)

// FilesPath is the route of the file server: GET FilesPath?path=P.
const FilesPath = "/v1/file"

// maxHeadBytes bounds a ranged read (the sniff of a file's first bytes).
const maxHeadBytes = 64 << 10

// FileSource tells workers where the coordinator serves the run's files.
type FileSource struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// FileServerOptions configures a FileServer.
type FileServerOptions struct {
	// Listen is the address to listen on (default DefaultFilesListen,
	// loopback).
	Listen string
	// URL is the address workers reach the server at (default
	// http://ADDR with the address listened on); required when Listen's
	// host is unspecified (":8081", "0.0.0.0:8081").
	URL string
	// Token is the bearer token requests must carry (default: 32 random
	// bytes, hex). Workers get it with the job, over NATS.
	Token string
	// Logger receives diagnostics (nil: discard).
	Logger *slog.Logger
}

// DefaultFilesListen is the default address of the file server.
const DefaultFilesListen = "127.0.0.1:0"

// FileServer serves the files of a coordinator's current run over HTTP to
// workers that do not have them mounted (mmsearch worker --read
// coordinator). It answers only requests that carry its token, and only for
// files published in the current run and not yet answered; each is opened
// as a regular file and held to the run's file size limit before it is sent.
type FileServer struct {
	ln    net.Listener
	srv   *http.Server
	url   string
	token string
	log   *slog.Logger

	mu       sync.Mutex
	allowed  map[string]struct{}
	maxBytes int64

	sent atomic.Int64
}

// StartFileServer listens and serves until Close.
func StartFileServer(opt FileServerOptions) (*FileServer, error) {
	if opt.Listen == "" {
		opt.Listen = DefaultFilesListen
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Token == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("file server token: %w", err)
		}
		opt.Token = hex.EncodeToString(b)
	}
	host, _, err := net.SplitHostPort(opt.Listen)
	if err != nil {
		return nil, fmt.Errorf("file server address %q: %w", opt.Listen, err)
	}
	if opt.URL == "" && (host == "" || net.ParseIP(host).IsUnspecified()) {
		return nil, fmt.Errorf("file server address %q listens on every interface: name the address workers use (--files-url http://HOST:PORT)", opt.Listen)
	}
	if opt.URL != "" {
		u, err := url.Parse(opt.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("file server URL %q: want http://HOST:PORT", opt.URL)
		}
	}
	ln, err := net.Listen("tcp", opt.Listen)
	if err != nil {
		return nil, fmt.Errorf("file server: %w", err)
	}
	s := &FileServer{ln: ln, url: strings.TrimSuffix(opt.URL, "/"), token: opt.Token, log: opt.Logger, allowed: map[string]struct{}{}}
	if s.url == "" {
		s.url = "http://" + ln.Addr().String()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FilesPath, s.serveFile)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("file server stopped", "err", err)
		}
	}()
	return s, nil
}

// URL is the address workers reach the server at.
func (s *FileServer) URL() string { return s.url }

// Addr is the address the server listens on.
func (s *FileServer) Addr() string { return s.ln.Addr().String() }

// Sent counts the files sent whole.
func (s *FileServer) Sent() int64 { return s.sent.Load() }

// Close stops the server.
func (s *FileServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// source is what the job tells workers.
func (s *FileServer) source() *FileSource { return &FileSource{URL: s.url, Token: s.token} }

// startRun forgets the files of an earlier run and sets the size limit.
func (s *FileServer) startRun(maxBytes int64) {
	maxBytes = imageproc.Options{MaxFileBytes: maxBytes}.FileLimit()
	s.mu.Lock()
	s.allowed, s.maxBytes = map[string]struct{}{}, maxBytes
	s.mu.Unlock()
}

// allow serves path until forget.
func (s *FileServer) allow(path string) {
	s.mu.Lock()
	s.allowed[path] = struct{}{}
	s.mu.Unlock()
}

func (s *FileServer) forget(path string) {
	s.mu.Lock()
	delete(s.allowed, path)
	s.mu.Unlock()
}

func (s *FileServer) serving(path string) (bool, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.allowed[path]
	return ok, s.maxBytes
}

func (s *FileServer) serveFile(w http.ResponseWriter, r *http.Request) {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(auth), []byte(s.token)) != 1 {
		http.Error(w, "a bearer token is required (the coordinator's job carries it)", http.StatusUnauthorized)
		return
	}
	path := r.URL.Query().Get("path")
	allowed, maxBytes := s.serving(path)
	if !allowed {
		// The same answer whether the file exists or not.
		http.Error(w, "not a file of the coordinator's current run", http.StatusNotFound)
		return
	}
	head := -1
	if rg := r.Header.Get("Range"); rg != "" {
		n, ok := headRange(rg)
		if !ok {
			http.Error(w, fmt.Sprintf("only a range of the first bytes is served (bytes=0-N, N < %d)", maxHeadBytes), http.StatusRequestedRangeNotSatisfiable)
			return
		}
		head = n
	}
	f, info, err := regfile.Open(path)
	if err != nil {
		var nr *regfile.NotRegularError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			http.Error(w, "file vanished before it could be read", http.StatusGone)
		case errors.As(err, &nr):
			http.Error(w, fmt.Sprintf("not a regular file (%s)", regfile.Describe(nr.Mode)), http.StatusConflict)
		default:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	defer f.Close()
	size := info.Size()
	if head >= 0 {
		n := min(int64(head), size)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusOK)
		_, _ = io.CopyN(w, f, n)
		return
	}
	if size > maxBytes {
		http.Error(w, fmt.Sprintf("%d bytes, over the limit of %d", size, maxBytes), http.StatusRequestEntityTooLarge)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.CopyN(w, f, size); err == nil {
		s.sent.Add(1)
	}
}

// headRange parses "bytes=0-N" with N < maxHeadBytes into N+1.
func headRange(h string) (int, bool) {
	rest, ok := strings.CutPrefix(h, "bytes=0-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n >= maxHeadBytes {
		return 0, false
	}
	return n + 1, true
}

// fileClient reads files from a coordinator's FileServer: the
// engine.FileReader of a worker run with --read coordinator.
type fileClient struct {
	src FileSource
	hc  *http.Client
}

var _ engine.FileReader = (*fileClient)(nil)

func newFileClient(src FileSource) *fileClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 30 * time.Second
	t.Proxy = nil // a coordinator on the local network is reached directly
	return &fileClient{src: src, hc: &http.Client{Transport: t}}
}

// Head returns the first n bytes of the file.
func (c *fileClient) Head(ctx context.Context, path string, n int) ([]byte, error) {
	if n <= 0 || n > maxHeadBytes {
		return nil, fmt.Errorf("head of %d bytes: want 1..%d", n, maxHeadBytes)
	}
	return c.get(ctx, path, int64(n), "bytes=0-"+strconv.Itoa(n-1))
}

// ReadAll returns the whole file, at most limit bytes.
func (c *fileClient) ReadAll(ctx context.Context, path string, limit int64) ([]byte, error) {
	return c.get(ctx, path, limit, "")
}

func (c *fileClient) get(ctx context.Context, path string, limit int64, rng string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.src.URL+FilesPath+"?path="+url.QueryEscape(path), nil)
	if err != nil {
		return nil, fmt.Errorf("coordinator file server: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.src.Token)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("coordinator file server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		reason := strings.TrimSpace(string(msg))
		if resp.StatusCode == http.StatusRequestEntityTooLarge {
			return nil, fmt.Errorf("%w: %s", imageproc.ErrTooLarge, reason)
		}
		if resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusConflict {
			return nil, errors.New(reason) // said as a local read says it
		}
		return nil, fmt.Errorf("coordinator file server: %s: %s", resp.Status, reason)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", imageproc.ErrTooLarge, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("coordinator file server: %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: over the limit of %d bytes", imageproc.ErrTooLarge, limit)
	}
	if resp.ContentLength >= 0 && int64(len(data)) != resp.ContentLength {
		return nil, fmt.Errorf("coordinator file server: %s: %d of %d bytes", path, len(data), resp.ContentLength)
	}
	return data, nil
}
