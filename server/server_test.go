package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mmsearch/engine"
)

// blockingLibrary's Search signals entered, then waits for release or for
// its context to end.
type blockingLibrary struct {
	failingLibrary
	entered  chan struct{}
	release  chan struct{}
	canceled chan struct{}
}

func (l blockingLibrary) Search(ctx context.Context, expr string, opt engine.SearchOptions) (*engine.SearchResult, error) {
	l.entered <- struct{}{}
	select {
	case <-l.release:
		return &engine.SearchResult{Query: expr, Mode: "add", Results: []engine.Result{{ID: 1, Path: "/p/x.png", Score: 0.5}}}, nil
	case <-ctx.Done():
		close(l.canceled)
		return nil, ctx.Err()
	}
}

func newBlocking(t *testing.T) blockingLibrary {
	return blockingLibrary{failingLibrary{t.TempDir()}, make(chan struct{}, 1), make(chan struct{}), make(chan struct{})}
}

// serveInBackground starts s.Serve on a loopback listener.
func serveInBackground(t *testing.T, s *Server) (addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()
	t.Cleanup(cancel)
	return ln.Addr().String(), cancel, errc
}

func TestGracefulShutdown(t *testing.T) {
	lib := newBlocking(t)
	s := newTestServer(t, lib, Config{ShutdownTimeout: 10 * time.Second})
	addr, cancel, done := serveInBackground(t, s)

	type answer struct {
		status int
		body   string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/api/search?q=red")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- answer{status: resp.StatusCode, body: string(b)}
	}()
	<-lib.entered
	cancel() // as SIGINT does through the CLI's context

	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v before the request in flight finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(lib.release)
	a := <-got
	if a.err != nil || a.status != 200 {
		t.Fatalf("request in flight: %+v", a)
	}
	var res SearchResponse
	if err := json.Unmarshal([]byte(a.body), &res); err != nil || len(res.Results) != 1 || res.Results[0].Thumb != "/api/items/1/thumb" {
		t.Fatalf("request in flight: %s %v", a.body, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
}

func TestShutdownTimeoutCancelsRequests(t *testing.T) {
	lib := newBlocking(t)
	s := newTestServer(t, lib, Config{ShutdownTimeout: 200 * time.Millisecond})
	addr, cancel, done := serveInBackground(t, s)
	go func() {
		resp, err := http.Get("http://" + addr + "/api/search?q=red")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-lib.entered
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Serve: %v, want a shutdown deadline error", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("shutdown took %s", el)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	select {
	case <-lib.canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the search in flight was not canceled")
	}
}

func TestServerTimeouts(t *testing.T) {
	s := newTestServer(t, failingLibrary{t.TempDir()}, Config{ReadHeaderTimeout: 300 * time.Millisecond})
	addr, _, _ := serveInBackground(t, s)
	// A client that never finishes its headers is cut off.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	b, _ := io.ReadAll(c)
	if el := time.Since(start); el > 4*time.Second {
		t.Fatalf("slow client kept the connection for %s", el)
	}
	if strings.Contains(string(b), "200 OK") {
		t.Fatalf("incomplete request answered: %q", b)
	}
	cfg := s.Config()
	if cfg.ReadTimeout <= 0 || cfg.WriteTimeout <= 0 || cfg.IdleTimeout <= 0 {
		t.Fatalf("timeouts not set: %+v", cfg)
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool
		err  bool
	}{
		{"127.0.0.1:80", true, false},
		{"127.1.2.3:80", true, false},
		{"[::1]:80", true, false},
		{"localhost:80", true, false},
		{"LOCALHOST:80", true, false},
		{":80", false, false},
		{"0.0.0.0:80", false, false},
		{"[::]:80", false, false},
		{"10.0.0.1:80", false, false},
		{"127.0.0.1", false, true},
		{"127.0.0.1:", false, true},
		{"photos.example:80", false, true}, // a name: needs LookupLoopbackAddr
		{"localhost.example:80", false, true},
	} {
		got, err := IsLoopbackAddr(tt.addr)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("IsLoopbackAddr(%q) = %v, %v; want %v, error %v", tt.addr, got, err, tt.want, tt.err)
		}
	}
}

// TestAddrNamesResolvedOnlyWhenAsked checks that New looks up a host name
// in Addr only with Resolve set: otherwise the name is refused without a
// single query to the resolver.
func TestAddrNamesResolvedOnlyWhenAsked(t *testing.T) {
	var queries atomic.Int32
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		queries.Add(1)
		return nil, errors.New("no DNS in this test")
	}}
	lib := failingLibrary{t.TempDir()}
	for _, tt := range []struct {
		addr    string
		resolve bool
		want    string // substring of the error
		queries bool   // the resolver is asked
	}{
		{"photos.invalid:8080", false, "--resolve", false},
		{"127.0.0.1:0", false, "", false},
		{"[::1]:0", false, "", false},
		{"localhost:0", false, "", false},
		{"LocalHost:0", true, "", false},
		{"photos.invalid:8080", true, "resolve photos.invalid", true},
	} {
		t.Run(fmt.Sprintf("%s resolve=%v", tt.addr, tt.resolve), func(t *testing.T) {
			before := queries.Load()
			_, err := New(lib, Config{Addr: tt.addr, Resolve: tt.resolve, Resolver: resolver})
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if tt.want == "--resolve" && !errors.Is(err, ErrHostName) {
				t.Fatalf("error %v does not wrap ErrHostName", err)
			}
			if asked := queries.Load() > before; asked != tt.queries {
				t.Fatalf("resolver asked: %v, want %v", asked, tt.queries)
			}
		})
	}
	// localhost binds to 127.0.0.1 without a lookup.
	s := newTestServer(t, lib, Config{Addr: "localhost:0"})
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("localhost bound to %s", ip)
	}
}
