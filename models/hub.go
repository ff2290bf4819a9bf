package models

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"mmsearch/encoders"
)

// Errors a caller may test with errors.Is.
var (
	// ErrNotFound: the server answered 404 or 410 for a file.
	ErrNotFound = errors.New("file not found on server")
	// ErrChecksum: a file's sha256 differs from the published one (the file is deleted).
	// It is encoders.ErrChecksum, so one errors.Is covers downloads and manifests.
	ErrChecksum = encoders.ErrChecksum
	// ErrTooLarge: a file is larger than the registry says or than the size cap.
	ErrTooLarge = errors.New("file too large")
	// ErrSize: a complete file's size differs from the registry's.
	ErrSize = errors.New("file size differs from the registry")
	// ErrDiskFull: writing failed with ENOSPC.
	ErrDiskFull = errors.New("disk full")
	// ErrExists: a model of that name is already installed.
	ErrExists = errors.New("model already installed")
	// ErrBusy: another process is installing the same model.
	ErrBusy = errors.New("model is being installed by another process")
	// ErrLayout: a folder is in no layout the importer knows.
	ErrLayout = errors.New("unknown model folder layout")
	// ErrUnverified: a registry file has no published digest and checksums are required.
	ErrUnverified = errors.New("no published checksum")
	// ErrOffline: the download server could not be reached at all (no
	// route, no name resolution, connection refused) before any byte of
	// the file arrived. Entry.ImportHint says how to install by hand.
	ErrOffline = errors.New("cannot reach the download server")
)

// Defaults of the Hub's download settings.
const (
	DefaultMaxRetries   = 6
	DefaultRetryBase    = 500 * time.Millisecond
	DefaultRetryMax     = 30 * time.Second
	DefaultStallTimeout = 60 * time.Second
	// DefaultMaxFileBytes caps any one downloaded or imported file (8 GiB):
	// the largest CLIP towers are about 1.3 GB in float32.
	DefaultMaxFileBytes = 8 << 30
)

// stagingDir is the folder under DataDir/models where work in progress lives.
const stagingDir = ".staging"

// Hub installs and manages the models of one data folder.
type Hub struct {
	// DataDir is the mmsearch data folder; models live in DataDir/models.
	DataDir string
	// Getenv reads the environment (model search path, registry); nil means os.Getenv.
	Getenv func(string) string
	// Client performs downloads; nil means NewHTTPClient().
	Client *http.Client
	// Bundle is the embedded bundled model (see Resolver.Bundle); nil = none.
	Bundle fs.FS
	// Runtime starts ONNX Runtime, which import and verify need to read graphs.
	Runtime encoders.RuntimeOptions
	// Logger receives retries and warnings; nil discards them.
	Logger *slog.Logger

	// MaxRetries bounds consecutive failed attempts of one file (0: DefaultMaxRetries).
	MaxRetries int
	// RetryBase and RetryMax shape the exponential back-off (0: defaults).
	RetryBase, RetryMax time.Duration
	// StallTimeout aborts an attempt that receives no data for this long (0: default).
	StallTimeout time.Duration
	// MaxFileBytes caps each file (0: DefaultMaxFileBytes).
	MaxFileBytes int64

	// Test hooks.
	openPart func(path string, truncate bool) (partFile, error)
	hook     func(stage, dir string)
}

// New returns a Hub for the data folder getenv selects (DataDir).
func New(getenv func(string) string) *Hub {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Hub{DataDir: DataDir(getenv), Getenv: getenv}
}

// NewHTTPClient returns the client used for downloads: connection, TLS and
// response-header timeouts (no overall timeout, so large files can finish;
// stalls are caught by Hub.StallTimeout), no transparent compression (sizes
// and byte ranges must be those of the file), and redirects limited to 10,
// http(s) only, never from https to http.
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          4,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

// errRedirectRefused marks redirects checkRedirect refuses; they are not retried.
var errRedirectRefused = errors.New("redirect refused")

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("%w: stopped after 10 redirects", errRedirectRefused)
	}
	if err := checkURL(req.URL.String()); err != nil {
		return fmt.Errorf("%w: %v", errRedirectRefused, err)
	}
	if prev := via[len(via)-1]; prev.URL.Scheme == "https" && req.URL.Scheme == "http" {
		return fmt.Errorf("%w: from https to http (%s)", errRedirectRefused, req.URL.Redacted())
	}
	return nil
}

// ModelsDir is the folder of installed models, DataDir/models.
func (h *Hub) ModelsDir() string { return filepath.Join(h.DataDir, "models") }

func (h *Hub) getenv() func(string) string {
	if h.Getenv != nil {
		return h.Getenv
	}
	return os.Getenv
}

func (h *Hub) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return NewHTTPClient()
}

func (h *Hub) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (h *Hub) maxRetries() int {
	if h.MaxRetries > 0 {
		return h.MaxRetries
	}
	return DefaultMaxRetries
}

func (h *Hub) maxFileBytes() int64 {
	if h.MaxFileBytes > 0 {
		return h.MaxFileBytes
	}
	return DefaultMaxFileBytes
}

func (h *Hub) stallTimeout() time.Duration {
	if h.StallTimeout > 0 {
		return h.StallTimeout
	}
	return DefaultStallTimeout
}

// at calls the test hook, if any, at a named point of an installation.
func (h *Hub) at(stage, dir string) {
	if h.hook != nil {
		h.hook(stage, dir)
	}
}
