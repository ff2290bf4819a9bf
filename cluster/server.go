package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultListen is where an embedded server listens by default.
const DefaultListen = "127.0.0.1:4222"

// ServerOptions configures an embedded NATS server with JetStream.
type ServerOptions struct {
	// Name is the server's name (must differ between the servers of a
	// cluster; empty: generated).
	Name string
	// Listen is the client address, host:port (empty: DefaultListen; port
	// 0: any free port).
	Listen string
	// StoreDir holds JetStream's files.
	StoreDir string
	// Token is the authorization token clients must give. Required when
	// Listen is not a loopback address.
	Token string
	// ClusterName, ClusterListen and Routes join servers into a JetStream
	// cluster (loopback addresses only: an embedded cluster is for one
	// machine; run nats-server for a real one).
	ClusterName   string
	ClusterListen string
	Routes        []string
	// StartTimeout bounds the wait for the server to accept clients (0: 10 s).
	StartTimeout time.Duration
}

// Server is an embedded NATS server.
type Server struct {
	s *server.Server
}

// StartServer starts an embedded NATS server with JetStream. It refuses a
// non-loopback Listen without a token.
func StartServer(opt ServerOptions) (*Server, error) {
	if opt.Listen == "" {
		opt.Listen = DefaultListen
	}
	host, port, err := splitHostPort(opt.Listen)
	if err != nil {
		return nil, fmt.Errorf("NATS listen address: %w", err)
	}
	if !IsLoopback(host) && opt.Token == "" {
		return nil, fmt.Errorf("%w: embedded server on %s needs a token", ErrInsecure, opt.Listen)
	}
	so := &server.Options{
		ServerName: opt.Name, Host: host, Port: port,
		JetStream: true, StoreDir: opt.StoreDir,
		Authorization: opt.Token,
		NoSigs:        true, NoLog: true,
		// Work items and results are small; bound what a client may send.
		MaxPayload: maxMessage,
	}
	if port == 0 {
		so.Port = server.RANDOM_PORT
	}
	if opt.ClusterListen != "" {
		ch, cp, err := splitHostPort(opt.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("NATS cluster address: %w", err)
		}
		if !IsLoopback(ch) {
			return nil, fmt.Errorf("%w: the embedded cluster listens on loopback only, not %s", ErrInsecure, opt.ClusterListen)
		}
		so.Cluster = server.ClusterOpts{Name: opt.ClusterName, Host: ch, Port: cp}
		for _, r := range opt.Routes {
			so.Routes = append(so.Routes, server.RoutesFromStr(r)...)
		}
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	go s.Start()
	wait := opt.StartTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS server on %s: not ready after %s", opt.Listen, wait)
	}
	return &Server{s: s}, nil
}

// ServerVersion is the version of the NATS server this package embeds.
func ServerVersion() string { return server.VERSION }

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.s.ClientURL() }

// Addr is the client address the server listens on.
func (s *Server) Addr() net.Addr { return s.s.Addr() }

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}

// JetStreamLeader reports whether this server is the JetStream metadata
// leader of its cluster (a lone server is its own).
func (s *Server) JetStreamLeader() bool { return s.s.JetStreamIsLeader() }

// WaitJetStream waits until one of servers is the JetStream metadata leader
// (streams cannot be made before), or ctx ends.
func WaitJetStream(ctx context.Context, servers ...*Server) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		for _, s := range servers {
			if s.s.JetStreamEnabled() && s.s.JetStreamIsLeader() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("JetStream has no metadata leader: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// NewToken returns a random 32-byte token, hex-encoded.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q names no host (use 127.0.0.1:%d for loopback, 0.0.0.0:%d for all interfaces)", addr, port, port)
	}
	return host, port, nil
}
