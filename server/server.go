// Package server is mmsearch's HTTP face: a JSON API over an engine Library
// and a web page embedded in the binary.
//
// # Endpoints
//
//	GET  /                          the web page (public; holds no data)
//	GET  /assets/...                its script and style sheet (public)
//	GET  /healthz                   {"status":"ok"}, or 503 when the library cannot be read (public)
//	POST /api/login                 {"token":"..."} → session cookie for the page
//	GET  /api/openapi.json          the OpenAPI 3 document of these routes and their parameters (public)
//	GET  /api/search?q=&limit=&offset=&ef=&mode=&include_inputs=&FILTERS
//	POST /api/search                {"q","limit","offset","ef","mode","include_inputs",FILTERS}
//	POST /api/search/image?q=&limit=&offset=&ef=&mode=&FILTERS   multipart fields "image" (repeatable) and "q", or the raw image as the body;
//	                                q may use $upload, $upload1..$upload9 (@upload) for the pictures in order
//	GET  /api/items/{id}            an item's details
//	GET  /api/items/{id}/thumb?size=128|256|512   a JPEG thumbnail, cached on disk
//	GET  /api/items/{id}/file       the original file
//	GET  /api/items/{id}/preview    a JPEG of up to 2048 px on white, for formats browsers cannot show
//	GET  /api/items?path=           the item indexed under a path (in the form answers show)
//	GET  /api/stats                 the library's counts and sizes
//
// FILTERS (see [FilterParams]): after, before, camera, format, min_pixels,
// path (or its older name prefix), min_score, sort.
//
// Every error is JSON: {"error":{"code","message"[,"position","length","query"]}}
// with a matching status code (see [ErrorBody]).
//
// # Security
//
// Only indexed items are read from disk: queries are evaluated with paths and
// URLs refused, item routes take a numeric id looked up in the library, and
// the file read is checked against the size and SHA-256 recorded when it was
// indexed. The server binds to loopback unless told otherwise; any other
// address needs a token (or an explicit Insecure). With a token, API calls
// carry "Authorization: Bearer TOKEN", or the session cookie the page obtains
// once from POST /api/login or by opening /?token=TOKEN (the server then
// redirects to a URL without it). Without a token, the server only answers
// requests whose Host header names a loopback address, which defeats DNS
// rebinding. Browser requests from other sites or other ports of the same
// host (Sec-Fetch-Site, Origin) are refused whatever the method, except
// top-level navigations, and uploads need a content type a page cannot send
// across origins without a preflight, or multipart (see crosssite.go).
// Queries name items by id only, never by path; the page turns an
// "@path" it is given into an id with GET /api/items?path=, which answers
// for indexed paths only, in the form answers show them, and reads no file.
// Request bodies are
// size-limited, connections have read, write and idle timeouts, CORS is off
// unless an origin is configured, every response carries a
// Content-Security-Policy that allows scripts from the server itself only,
// and with HidePaths no answer names an absolute path.
package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"mmsearch/engine"
)

// Library is what the server needs from an engine library; *engine.Library
// implements it.
type Library interface {
	// Search evaluates a query expression.
	Search(ctx context.Context, expr string, opt engine.SearchOptions) (*engine.SearchResult, error)
	// SearchImage embeds an uploaded image and returns its nearest items.
	SearchImage(ctx context.Context, r io.Reader, name string, size int64, opt engine.SearchOptions) ([]engine.Result, error)
	// Item returns an indexed item, or an error wrapping engine.ErrNoItem.
	Item(ctx context.Context, id int64) (engine.ItemInfo, error)
	// ItemByPath returns the item indexed under this absolute path, or an
	// error wrapping engine.ErrNoItem.
	ItemByPath(ctx context.Context, path string) (engine.ItemInfo, error)
	// TextLanguages is what the model's manifest says its text tower
	// understands (ISO 639-1 codes), empty when it does not say.
	TextLanguages() []string
	// Stats describes the library.
	Stats(ctx context.Context) (engine.Stats, error)
	// Thumbnail decodes an encoded image and fits it within size×size,
	// within the library's decode memory budget.
	Thumbnail(ctx context.Context, data []byte, name string, size int) (*image.NRGBA, error)
	// Dir is the library folder; thumbnails are cached below it.
	Dir() string
	// Check is a cheap health check: the library's files are intact and
	// its store answers.
	Check(ctx context.Context) error
}

var _ Library = (*engine.Library)(nil)

// Defaults used when the corresponding Config field is zero.
const (
	DefaultAddr              = "127.0.0.1:8080"
	DefaultMaxUploadBytes    = 16 << 20
	DefaultMaxBodyBytes      = 64 << 10
	DefaultMaxK              = 200
	DefaultMaxResults        = 512
	DefaultMaxEf             = 2048
	DefaultK                 = 24
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 120 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultSearchTimeout     = 60 * time.Second
	// MinTokenBytes is the shortest token accepted: 32 random characters
	// (24 random bytes in base64, 16 in hex).
	MinTokenBytes = 32
	// MinTokenDistinct is the fewest different characters a token may
	// have: "aaaa…" or a word repeated is long but guessable.
	MinTokenDistinct = 10
)

// thumbSizes are the thumbnail sizes (longest side, pixels) the server makes:
// size=128, 256 or 512.
var thumbSizes = [...]int{128, 256, 512}

// DefaultThumbSize is the thumbnail size when none is asked for.
const DefaultThumbSize = 256

// Config configures a Server. The zero value serves on DefaultAddr without a
// token.
type Config struct {
	// Addr is the TCP address to listen on (host:port). A host that is not
	// a loopback address needs Token or Insecure.
	Addr string
	// Token, when set, is required on every API call (see the package
	// documentation). At least MinTokenBytes long with MinTokenDistinct
	// different characters; shorter or repetitive tokens are refused.
	Token string
	// Insecure allows a non-loopback address without a token.
	Insecure bool
	// Resolve lets Addr name a host other than localhost, looked up with
	// Resolver (nil: net.DefaultResolver). Without it, Addr's host must be
	// an IP address, localhost or empty, and no name is ever looked up.
	Resolve  bool
	Resolver *net.Resolver
	// CORSOrigin, when set, is the one origin (scheme://host[:port]) allowed
	// to call the API from another site's pages. Credentials (cookies) are
	// never allowed cross-origin: such callers send the bearer token.
	CORSOrigin string
	// HidePaths keeps absolute paths out of answers, for servers shared with
	// others: files are shown relative to the root that holds them, under
	// the root's name ("Photos/2024/a.jpg"), or by name alone; the library
	// folder by its name. See Roots.
	HidePaths bool
	// Roots are the indexed folders file paths are shown relative to with
	// HidePaths. Their base names must differ.
	Roots []string
	// ThumbDir caches thumbnails (default: the library's "thumbs" folder).
	ThumbDir string
	// MaxUploadBytes bounds an uploaded image (default DefaultMaxUploadBytes).
	MaxUploadBytes int64
	// MaxBodyBytes bounds a JSON request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxK bounds the number of results a request may ask for (limit, k).
	MaxK int
	// MaxResults bounds how deep pages reach: offset+limit (default
	// DefaultMaxResults).
	MaxResults int
	// MaxEf bounds the ef parameter (default DefaultMaxEf).
	MaxEf int
	// Timeouts of the http.Server and of one search.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	SearchTimeout                                             time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests on shutdown.
	ShutdownTimeout time.Duration
	// ThumbWorkers bounds concurrent thumbnail generation (default GOMAXPROCS).
	ThumbWorkers int
	// Logger receives request and error logs (nil = discard).
	Logger *slog.Logger
}

// Server serves the API and the page for one library.
type Server struct {
	lib     Library
	cfg     Config
	log     *slog.Logger
	thumbs  *thumbCache
	session string // the cookie value that stands for the token
	// authFails limits wrong tokens per client address.
	authFails *authLimiter
	// paths turns absolute paths into what answers show.
	paths pathView
	// checkHost restricts Host headers to loopback names (no token, loopback bind).
	checkHost bool
	// crossOrigin refuses unsafe requests from other origins (see crosssite.go).
	crossOrigin *http.CrossOriginProtection
	handler     http.Handler
}

// ErrNeedToken is returned by New for a non-loopback address with neither a
// token nor Insecure.
var ErrNeedToken = errors.New("a non-loopback address needs --token (or MMSEARCH_TOKEN), or --insecure to serve without authentication")

// New checks cfg and returns a Server for lib.
func New(lib Library, cfg Config) (*Server, error) {
	if lib == nil {
		return nil, errors.New("server: no library")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	setDefault(&cfg.MaxUploadBytes, DefaultMaxUploadBytes)
	setDefault(&cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&cfg.MaxK, DefaultMaxK)
	setDefault(&cfg.MaxResults, DefaultMaxResults)
	setDefault(&cfg.MaxEf, DefaultMaxEf)
	cfg.MaxResults = max(cfg.MaxResults, cfg.MaxK)
	setDefault(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&cfg.ReadTimeout, DefaultReadTimeout)
	setDefault(&cfg.WriteTimeout, DefaultWriteTimeout)
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&cfg.SearchTimeout, DefaultSearchTimeout)
	setDefault(&cfg.ThumbWorkers, runtime.GOMAXPROCS(0))
	if cfg.ThumbDir == "" {
		cfg.ThumbDir = filepath.Join(lib.Dir(), "thumbs")
	}
	if err := checkToken(cfg.Token); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if strings.ContainsAny(cfg.Token, " \t\r\n") {
		return nil, errors.New("server: the token must not contain whitespace")
	}
	if cfg.CORSOrigin != "" {
		origin, err := parseOrigin(cfg.CORSOrigin)
		if err != nil {
			return nil, err
		}
		cfg.CORSOrigin = origin
	}
	var loopback bool
	var err error
	if cfg.Resolve {
		loopback, err = LookupLoopbackAddr(context.Background(), cfg.Resolver, cfg.Addr)
	} else {
		loopback, err = IsLoopbackAddr(cfg.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("server: address %q: %w", cfg.Addr, err)
	}
	if !loopback && cfg.Token == "" && !cfg.Insecure {
		return nil, fmt.Errorf("server: refusing to listen on %s: %w", cfg.Addr, ErrNeedToken)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		lib:       lib,
		cfg:       cfg,
		log:       log,
		thumbs:    newThumbCache(lib, cfg.ThumbDir, cfg.ThumbWorkers),
		checkHost: loopback && cfg.Token == "",
		authFails: newAuthLimiter(),
	}
	if cfg.Token != "" {
		mac := hmac.New(sha256.New, []byte(cfg.Token))
		mac.Write([]byte("mmsearch web session v1"))
		s.session = hex.EncodeToString(mac.Sum(nil))
	}
	if s.paths, err = newPathView(cfg.HidePaths, cfg.Roots); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.crossOrigin, err = s.newCrossOrigin(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.handler = s.routes()
	return s, nil
}

// checkToken refuses tokens that are too short or too repetitive to resist
// guessing; "" (no token) passes.
func checkToken(tok string) error {
	const how = "use at least 32 random characters (for example: head -c 24 /dev/urandom | base64)"
	if tok == "" {
		return nil
	}
	if len(tok) < MinTokenBytes {
		return fmt.Errorf("the token is %d characters; %s", len(tok), how)
	}
	distinct := map[rune]bool{}
	for _, r := range tok {
		distinct[r] = true
	}
	if len(distinct) < MinTokenDistinct {
		return fmt.Errorf("the token has only %d different characters; %s", len(distinct), how)
	}
	return nil
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// parseOrigin checks a CORS origin and returns it in canonical form.
func parseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server: CORS origin %q: want scheme://host[:port], such as https://example.org", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// ErrHostName is returned for an address whose host is a name other than
// localhost when resolving names was not asked for.
var ErrHostName = errors.New("give an IP address or localhost as the host (or --resolve to look the name up)")

// IsLoopbackAddr reports whether host:port binds to loopback only, without
// any name lookup. An empty host (all interfaces) is not loopback;
// "localhost" is; a literal IP address is when it is a loopback address.
// Any other host name is an error wrapping ErrHostName: see
// LookupLoopbackAddr.
func IsLoopbackAddr(addr string) (bool, error) {
	host, err := splitAddr(addr)
	if err != nil {
		return false, err
	}
	if loopback, ok := literalLoopback(host); ok {
		return loopback, nil
	}
	return false, fmt.Errorf("host %q: %w", host, ErrHostName)
}

// LookupLoopbackAddr is IsLoopbackAddr that also accepts host names: they
// are resolved with r (nil: net.DefaultResolver) and must all be loopback
// addresses.
func LookupLoopbackAddr(ctx context.Context, r *net.Resolver, addr string) (bool, error) {
	host, err := splitAddr(addr)
	if err != nil {
		return false, err
	}
	if loopback, ok := literalLoopback(host); ok {
		return loopback, nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}

// splitAddr returns the host of host:port, checking that a port is given.
func splitAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port == "" {
		return "", errors.New("missing port")
	}
	return host, nil
}

// literalLoopback tells, for a host that needs no lookup (empty, an IP
// address, localhost), whether it is loopback; ok is false for other names.
func literalLoopback(host string) (loopback, ok bool) {
	if host == "" {
		return false, true
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.IsLoopback(), true
	}
	if strings.EqualFold(host, "localhost") {
		return true, true
	}
	return false, false
}

// listenAddr is the address to listen on: localhost becomes 127.0.0.1 so
// that binding never depends on a name lookup.
func listenAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && strings.EqualFold(host, "localhost") {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// Handler returns the server's routes with its middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// Config returns the configuration in effect, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Listen opens the TCP listener for s's address. A listener that does not
// bind to loopback while s has no token and is not Insecure is refused.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", listenAddr(s.cfg.Addr))
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	if err := s.checkListener(ln); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func (s *Server) checkListener(ln net.Listener) error {
	if s.cfg.Token != "" || s.cfg.Insecure {
		return nil
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		return fmt.Errorf("server: refusing to serve on %s: %w", ln.Addr(), ErrNeedToken)
	}
	return nil
}

// Serve answers requests on ln until ctx is canceled, then shuts down
// gracefully: it stops accepting, waits up to ShutdownTimeout for requests in
// flight, then cancels and closes whatever is left. It returns nil after a
// shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.checkListener(ln); err != nil {
		ln.Close()
		return err
	}
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		// Thumbnails of items deleted or changed since the last run.
		n, err := s.thumbs.prune(base, s.lib)
		if err != nil && base.Err() == nil {
			s.log.Warn("prune thumbnails", "err", err)
		} else if n > 0 {
			s.log.Info("pruned stale thumbnails", "removed", n)
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		cancelBase() // stop searches still running
		hs.Close()
		err = fmt.Errorf("shutdown: %w", err)
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("serve: %w", serr)
	}
	return err
}

// URL is the address a browser opens for listener ln ("http://host:port/").
func URL(ln net.Listener) string {
	addr := ln.Addr().String()
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		addr = net.JoinHostPort("localhost", fmt.Sprint(ta.Port))
	}
	return "http://" + addr + "/"
}
