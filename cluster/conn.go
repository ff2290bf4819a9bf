package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrInsecure refuses a connection to, or a server on, a non-loopback
// address without credentials.
var ErrInsecure = errors.New("a non-loopback NATS address needs credentials")

// Credentials authenticate to a NATS server. At most one of Token,
// NKeySeedFile and CredsFile is used (in that order of preference); a user
// and password may also come in the URL.
type Credentials struct {
	// Token is a server's authorization token.
	Token string
	// NKeySeedFile is a file holding an nkey user seed.
	NKeySeedFile string
	// CredsFile is a NATS credentials file (JWT and seed).
	CredsFile string
	// RootCAs is a PEM file of CAs for tls:// servers (empty: the system's).
	RootCAs string
}

func (c Credentials) any() bool {
	return c.Token != "" || c.NKeySeedFile != "" || c.CredsFile != ""
}

// IsLoopback reports whether host (a name or an address, without port) is
// a loopback address; "localhost" counts.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// CheckURLs refuses NATS server URLs (comma-separated, as nats.Connect takes
// them) of which one is not on a loopback address while no credentials are
// given, in cr or in the URL's user part.
func CheckURLs(urls string, cr Credentials) error {
	for _, u := range strings.Split(urls, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if !strings.Contains(u, "://") {
			u = "nats://" + u
		}
		p, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("NATS URL %q: %w", u, err)
		}
		switch p.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("NATS URL %q: unknown scheme %q (use nats:// or tls://)", u, p.Scheme)
		}
		if p.Hostname() == "" {
			return fmt.Errorf("NATS URL %q: no host", u)
		}
		if !IsLoopback(p.Hostname()) && !cr.any() && p.User == nil {
			return fmt.Errorf("%w: %s (give --nats-token-file, --nats-nkey or --nats-creds)", ErrInsecure, p.Host)
		}
	}
	return nil
}

// Connect connects to the NATS servers at urls with the credentials, after
// CheckURLs. name identifies the client in the server's monitoring.
func Connect(urls string, cr Credentials, name string, log *slog.Logger) (*nats.Conn, error) {
	if err := CheckURLs(urls, cr); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted()) }),
	}
	switch {
	case cr.Token != "":
		opts = append(opts, nats.Token(cr.Token))
	case cr.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(cr.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey %s: %w", cr.NKeySeedFile, err)
		}
		opts = append(opts, o)
	case cr.CredsFile != "":
		opts = append(opts, nats.UserCredentials(cr.CredsFile))
	}
	if cr.RootCAs != "" {
		opts = append(opts, nats.RootCAs(cr.RootCAs))
	}
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redact(urls), err)
	}
	return nc, nil
}

// ConnectWait is Connect, tried again every second while no server
// answers (a worker started before its coordinator's server), until wait
// has passed or ctx ends. Other errors (credentials, addresses) return at
// once.
func ConnectWait(ctx context.Context, urls string, cr Credentials, name string, log *slog.Logger, wait time.Duration) (*nats.Conn, error) {
	deadline := time.Now().Add(wait)
	for {
		nc, err := Connect(urls, cr, name, log)
		if err == nil || !errors.Is(err, nats.ErrNoServers) || time.Now().After(deadline) {
			return nc, err
		}
		if !sleep(ctx, time.Second) {
			return nil, fmt.Errorf("%w (stopped waiting: %w)", err, context.Cause(ctx))
		}
	}
}

// redact hides passwords in URLs for messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if p, err := url.Parse(strings.TrimSpace(u)); err == nil && p.User != nil {
			parts[i] = p.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
