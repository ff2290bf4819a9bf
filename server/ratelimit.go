package server

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Failed-authentication limits: a client (by IP address) that sends a wrong
// token MaxAuthFailures times within AuthFailureWindow is refused with 429
// until the window ends, whatever it sends. Tokens are long enough that
// guessing is hopeless anyway; this keeps a guesser from also loading the
// server.
const (
	MaxAuthFailures   = 10
	AuthFailureWindow = time.Minute
	// maxTrackedClients bounds the limiter's memory; when full, windows that
	// have ended are dropped, then the oldest.
	maxTrackedClients = 4096
)

// authLimiter counts failed authentications per client address.
type authLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	clients map[string]*authFailures
}

type authFailures struct {
	start time.Time // of the current window
	count int
}

func newAuthLimiter() *authLimiter {
	return &authLimiter{max: MaxAuthFailures, window: AuthFailureWindow, now: time.Now, clients: map[string]*authFailures{}}
}

// clientKey is the address a request counts against: its IP, without port.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether the client has used up its failures, and for how
// much longer.
func (l *authLimiter) blocked(r *http.Request) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.clients[clientKey(r)]
	if !ok {
		return false, 0
	}
	left := l.window - l.now().Sub(f.start)
	if left <= 0 {
		delete(l.clients, clientKey(r))
		return false, 0
	}
	return f.count >= l.max, left
}

// fail records a failed authentication.
func (l *authLimiter) fail(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key, now := clientKey(r), l.now()
	f, ok := l.clients[key]
	if !ok || now.Sub(f.start) >= l.window {
		if !ok && len(l.clients) >= maxTrackedClients {
			l.evict(now)
		}
		f = &authFailures{start: now}
		l.clients[key] = f
	}
	f.count++
}

// evict drops ended windows, or the oldest window when none has ended.
func (l *authLimiter) evict(now time.Time) {
	var oldest string
	for k, f := range l.clients {
		if now.Sub(f.start) >= l.window {
			delete(l.clients, k)
			continue
		}
		if oldest == "" || f.start.Before(l.clients[oldest].start) {
			oldest = k
		}
	}
	if len(l.clients) >= maxTrackedClients && oldest != "" {
		delete(l.clients, oldest)
	}
}

// refuseBlocked answers 429 when the client is blocked and reports whether
// it did.
func (s *Server) refuseBlocked(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Token == "" {
		return false
	}
	blocked, left := s.authFails.blocked(r)
	if !blocked {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(left.Seconds())+1))
	s.writeError(w, r, apiErrorf(http.StatusTooManyRequests, CodeTooManyFailures, "too many wrong tokens from this address; try again in %d s", int(left.Seconds())+1))
	return true
}
