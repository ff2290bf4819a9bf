package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// partFile is where a download is written; *os.File in production.
type partFile interface {
	io.Writer
	Sync() error
	Close() error
}

func openPartFile(path string, truncate bool) (partFile, error) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if truncate {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	return os.OpenFile(path, flag, 0o644)
}

// ProgressFunc receives a file's progress: bytes done and the total size
// (-1 while unknown).
type ProgressFunc func(done, total int64)

// retryable marks an attempt's error as worth another attempt.
type retryable struct {
	err        error
	retryAfter time.Duration
	// unreachable: the connection could not be made at all (see isUnreachable).
	unreachable bool
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// attemptResult is what one HTTP attempt achieved.
type attemptResult struct {
	complete bool  // the part file holds the whole file
	progress bool  // bytes were added
	total    int64 // the file's size as the server reported it (-1 unknown)
}

// Download fetches f.URL into dst. Bytes go to dst+".part" first; an existing
// part is resumed with an HTTP Range request. Network errors, stalls, 429 and
// 5xx answers are retried with exponential back-off and jitter (at most
// MaxRetries attempts in a row without progress). The file must not exceed
// f.Size (when known) or MaxFileBytes. When complete, its size is checked
// against f.Size and its sha256 against f.SHA256 (when given); only then is
// the part renamed to dst. A checksum mismatch deletes the part and returns
// ErrChecksum (after one fresh download when the bad file was resumed, since
// the server's file may have changed in between). Download returns the
// file's sha256.
func (h *Hub) Download(ctx context.Context, f FileSpec, dst string, progress ProgressFunc) (string, error) {
	if err := checkURL(f.URL); err != nil {
		return "", err
	}
	if f.Size > h.maxFileBytes() {
		return "", fmt.Errorf("%w: %s is %d bytes, over the cap of %d", ErrTooLarge, f.Path, f.Size, h.maxFileBytes())
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("download %s: %w", f.Path, err)
	}
	part := dst + ".part"
	for fresh := false; ; fresh = true {
		resumed, err := h.fetch(ctx, f, part, progress)
		if err != nil {
			return "", err
		}
		sum, err := hashFile(ctx, part)
		if err != nil {
			return "", fmt.Errorf("download %s: %w", f.Path, err)
		}
		if f.SHA256 != "" && sum != f.SHA256 {
			os.Remove(part)
			if resumed && !fresh {
				h.logger().Warn("checksum mismatch after a resumed download; downloading again from the start", "file", f.Path)
				continue
			}
			return "", fmt.Errorf("%w: %s from %s has sha256 %s, the registry says %s (the file was deleted)", ErrChecksum, f.Path, redact(f.URL), sum, f.SHA256)
		}
		if err := os.Rename(part, dst); err != nil {
			return "", fmt.Errorf("download %s: %w", f.Path, err)
		}
		return sum, nil
	}
}

// fetch fills part with the whole file, resuming what is there. It reports
// whether any earlier bytes were kept (a resumed download).
func (h *Hub) fetch(ctx context.Context, f FileSpec, part string, progress ProgressFunc) (resumed bool, err error) {
	limit := h.maxFileBytes()
	if f.Size > 0 {
		limit = f.Size
	}
	failures := 0
	progressed := false // some attempt of this call received bytes
	for {
		if err := ctx.Err(); err != nil {
			return resumed, err
		}
		offset := fileSize(part)
		if offset > limit {
			// More than the file can hold: a stale part from another revision.
			os.Remove(part)
			offset = 0
		}
		if offset > 0 {
			resumed = true
		}
		if f.Size > 0 && offset == f.Size {
			if progress != nil {
				progress(offset, f.Size)
			}
			return resumed, nil
		}
		res, err := h.attempt(ctx, f, part, offset, limit, progress)
		if err == nil && res.complete {
			if f.Size > 0 && res.total >= 0 && res.total != f.Size {
				os.Remove(part)
				return resumed, fmt.Errorf("%w: %s is %d bytes, the registry says %d (the file was deleted)", ErrSize, f.Path, res.total, f.Size)
			}
			return resumed, nil
		}
		var rt *retryable
		if err != nil && !errors.As(err, &rt) {
			return resumed, err
		}
		if res.progress {
			failures = 0
			progressed = true
		}
		failures++
		if rt != nil && rt.unreachable && !progressed && failures >= min(unreachableAttempts, h.maxRetries()) {
			// No route, no name, nobody listening, before any byte came:
			// offline, most likely; backing off for minutes helps nobody.
			return resumed, fmt.Errorf("%w: %s: %w", ErrOffline, hostOf(f.URL), rt.err)
		}
		if failures >= h.maxRetries() {
			if err == nil {
				err = errors.New("incomplete transfer")
			}
			return resumed, fmt.Errorf("download %s: giving up after %d attempts without progress: %w", f.Path, failures, err)
		}
		delay := h.backoff(failures)
		if rt != nil && rt.retryAfter > delay {
			delay = min(rt.retryAfter, h.retryMax())
		}
		h.logger().Warn("download attempt failed; retrying", "file", f.Path, "attempt", failures, "delay", delay, "error", err)
		if err := sleepCtx(ctx, delay); err != nil {
			return resumed, err
		}
	}
}

func (h *Hub) retryMax() time.Duration {
	if h.RetryMax > 0 {
		return h.RetryMax
	}
	return DefaultRetryMax
}

// backoff is the delay before retry n (1-based): base*2^(n-1), capped, with
// "equal jitter" (uniform in [d/2, d]) so clients that failed together spread out.
func (h *Hub) backoff(n int) time.Duration {
	base := h.RetryBase
	if base <= 0 {
		base = DefaultRetryBase
	}
	d := base
	for i := 1; i < n && d < h.retryMax(); i++ {
		d *= 2
	}
	d = min(d, h.retryMax())
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt runs one HTTP request for the bytes from offset on.
func (h *Hub) attempt(ctx context.Context, f FileSpec, part string, offset, limit int64, progress ProgressFunc) (attemptResult, error) {
	res := attemptResult{total: -1}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	stall := time.AfterFunc(h.stallTimeout(), func() { stalled.Store(true); cancel() })
	defer stall.Stop()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, f.URL, nil)
	if err != nil {
		return res, fmt.Errorf("download %s: %w", f.Path, err)
	}
	req.Header.Set("User-Agent", "mmsearch-modelhub/1")
	req.Header.Set("Accept-Encoding", "identity")
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := h.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if errors.Is(err, errRedirectRefused) {
			return res, fmt.Errorf("download %s: %w", f.Path, err)
		}
		if stalled.Load() {
			err = fmt.Errorf("no response for %s", h.stallTimeout())
		}
		return res, &retryable{err: fmt.Errorf("download %s: %w", f.Path, err), unreachable: isUnreachable(err)}
	}
	defer resp.Body.Close()
	stall.Reset(h.stallTimeout())

	truncate := false
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			// Not the range asked for: start over rather than splice wrong bytes.
			os.Remove(part)
			return res, &retryable{err: fmt.Errorf("download %s: server sent range %q for bytes=%d-; restarting from 0", f.Path, resp.Header.Get("Content-Range"), offset)}
		}
		truncate = offset == 0
		res.total = total
	case resp.StatusCode == http.StatusOK:
		// A 200 to a Range request: the server sends the whole file; start over.
		truncate = true
		offset = 0
		if resp.ContentLength >= 0 {
			res.total = resp.ContentLength
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		if _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && total == offset && offset > 0 {
			res.complete, res.total = true, total
			return res, nil
		}
		os.Remove(part)
		return res, &retryable{err: fmt.Errorf("download %s: server refused the range from byte %d (HTTP 416); restarting from 0", f.Path, offset)}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return res, fmt.Errorf("%w: %s: HTTP %s from %s", ErrNotFound, f.Path, resp.Status, redact(f.URL))
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return res, &retryable{err: fmt.Errorf("download %s: HTTP %s", f.Path, resp.Status), retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return res, fmt.Errorf("download %s: HTTP %s from %s: access denied (the file may need a login or a licence acceptance)", f.Path, resp.Status, redact(f.URL))
	default:
		return res, fmt.Errorf("download %s: unexpected HTTP %s from %s", f.Path, resp.Status, redact(f.URL))
	}
	if res.total < 0 && resp.ContentLength >= 0 {
		res.total = offset + resp.ContentLength
	}
	if res.total > limit {
		os.Remove(part)
		return res, fmt.Errorf("%w: %s is %d bytes on the server, over the limit of %d (registry size or cap)", ErrTooLarge, f.Path, res.total, limit)
	}
	total := res.total
	if f.Size > 0 {
		total = f.Size
	}

	open := h.openPart
	if open == nil {
		open = openPartFile
	}
	w, err := open(part, truncate)
	if err != nil {
		return res, fmt.Errorf("download %s: %w", f.Path, diskErr(err, part))
	}
	if progress != nil {
		progress(offset, total) // the transfer starts here (offset > 0: resumed)
	}
	done := offset
	buf := make([]byte, 256<<10)
	var copyErr error
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			stall.Reset(h.stallTimeout())
			if done+int64(n) > limit {
				w.Close()
				os.Remove(part)
				return res, fmt.Errorf("%w: %s: received more than %d bytes (registry size or cap); the file was deleted", ErrTooLarge, f.Path, limit)
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				w.Close()
				return res, fmt.Errorf("download %s: %w", f.Path, diskErr(werr, part))
			}
			done += int64(n)
			res.progress = true
			if progress != nil {
				progress(done, total)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			copyErr = rerr
			break
		}
	}
	if err := w.Sync(); err != nil {
		w.Close()
		return res, fmt.Errorf("download %s: %w", f.Path, diskErr(err, part))
	}
	if err := w.Close(); err != nil {
		return res, fmt.Errorf("download %s: %w", f.Path, diskErr(err, part))
	}
	if copyErr != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if stalled.Load() {
			copyErr = fmt.Errorf("no data for %s", h.stallTimeout())
		}
		return res, &retryable{err: fmt.Errorf("download %s: connection lost after %d bytes: %w", f.Path, done, copyErr)}
	}
	if res.total >= 0 && done < res.total {
		return res, &retryable{err: fmt.Errorf("download %s: %w after %d of %d bytes", f.Path, io.ErrUnexpectedEOF, done, res.total)}
	}
	if res.total < 0 {
		res.total = done
	}
	res.complete = true
	return res, nil
}

// unreachableAttempts is how many attempts in a row that cannot connect at
// all, before any byte of a file arrived, make a download give up as
// offline (ErrOffline) instead of backing off MaxRetries times.
const unreachableAttempts = 2

// isUnreachable reports whether err means the server could not be reached
// at all: its name did not resolve, there is no route to it, or nothing
// listens there. Errors after a connection was made are not.
func isUnreachable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return !dns.IsTimeout
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENETUNREACH) ||
			errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETDOWN)
	}
	return false
}

// hostOf is the host of a URL, for messages.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return redact(raw)
}

// diskErr gives ENOSPC a clear message; other errors pass through.
func diskErr(err error, path string) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w writing %s: free some space and run the command again (a download resumes from the partial file): %w", ErrDiskFull, path, err)
	}
	return err
}

// parseContentRange reads "bytes START-END/TOTAL" or "bytes */TOTAL"
// (TOTAL may be "*", returned as -1).
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t < 0 {
			return 0, 0, false
		}
		total = t
	}
	if rng == "*" {
		return -1, total, true
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start || (total >= 0 && end >= total) {
		return 0, 0, false
	}
	return start, total, true
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date.
func parseRetryAfter(s string) time.Duration {
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(s); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// hashFile returns the hex sha256 of a file, checking ctx between chunks.
func hashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// redact drops credentials and the query from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.RawQuery = ""
	return u.Redacted()
}
