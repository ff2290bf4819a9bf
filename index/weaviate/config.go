// Package weaviate is an index.Backend whose vectors live in a Weaviate
// collection (a "class"), for libraries that outgrow one machine. The
// library's SQLite store stays the source of truth: the catalog mirrors every
// upsert, delete and re-embed to the collection, with the item's properties
// (path, content hash, size, capture time, format, dimensions), and the
// backend keeps, locally, only which ids the collection should hold.
//
// It talks to Weaviate's REST API (batch objects, objects, schema and
// GraphQL nearVector) with net/http: the collection is created with
// vectorizer "none", the metric's distance, and the shard count and
// replication factor of Config; writes and reads carry the configured
// consistency level.
//
// What differs from the in-process backends:
//   - SearchOptions.Ef is not sent: Weaviate sets ef per collection
//     (Config.Ef at creation, SetEf later), not per query.
//   - SearchIDs (the engine's exact scan of a filtered set) runs inside
//     Weaviate: a where clause on itemId, for up to MaxWhereIDs ids.
//   - SearchOptions.Filter is a Go callback and cannot run inside Weaviate.
//     Search over-fetches instead: it asks for 4·k neighbours, keeps those
//     the filter accepts, and doubles the request while fewer than k pass,
//     up to MaxFetch neighbours (Weaviate's QUERY_MAXIMUM_RESULTS default).
//     A filter that rejects nearly all of the MaxFetch nearest returns fewer
//     than k results.
//   - Save writes a small descriptor (server, collection, dimension, metric
//     and the ids present), not the vectors; Load reconnects to the
//     collection and fails with index.ErrCorrupt when it is gone, so the
//     catalog rebuilds (re-sends) it from the store.
//   - New keeps an existing collection that mmsearch made for vectors of
//     the same dimension and metric (its description says so) and creates
//     one that is missing; a foreign collection, or one made for other
//     vectors, is refused. Reset (index --rebuild-remote) drops and
//     re-creates it.
//   - The consistency level goes with every REST write and read, and with
//     GraphQL searches when the collection is replicated (Weaviate takes
//     it there only for a replication factor over 1).
package weaviate

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// APIKeyEnv is the environment variable the CLI reads the API key from.
const APIKeyEnv = "MMSEARCH_WEAVIATE_API_KEY"

// Limits of Config's counts.
const (
	MaxShards   = 1024
	MaxReplicas = 64
	// MaxFetch is the most neighbours one search asks Weaviate for
	// (Weaviate's default QUERY_MAXIMUM_RESULTS).
	MaxFetch = 10000
	// MaxEf bounds Config.Ef and SetEf.
	MaxEf = 10000
)

// Consistency levels Weaviate accepts for replicated collections.
var consistencyLevels = []string{"ONE", "QUORUM", "ALL"}

// Config describes the collection and how to reach it.
type Config struct {
	// Scheme is "http" or "https" (TLS).
	Scheme string
	// Host is HOST:PORT of the REST API.
	Host string
	// Collection is the class name: a capital letter, then letters,
	// digits or underscores.
	Collection string
	// APIKey is sent as a bearer token ("" for none). Required unless
	// Host is a loopback address.
	APIKey string
	// Shards and Replicas (the replication factor) are set when the
	// collection is created; 0 takes Weaviate's defaults (one shard per
	// node, factor 1).
	Shards, Replicas int
	// Consistency is the level of writes and reads: ONE, QUORUM (the
	// default when empty) or ALL.
	Consistency string
	// Ef is the collection's query beam width (0 = Weaviate's dynamic ef);
	// EfConstruction and MaxConnections its build parameters (0 =
	// Weaviate's defaults, 128 and 32).
	Ef, EfConstruction, MaxConnections int
	// Timeout bounds each request (0 = 60 s).
	Timeout time.Duration
	// TLS configures https connections (nil = system roots).
	TLS *tls.Config
	// UniqueCollections makes every New create a collection of its own,
	// named Collection plus a counter and a random suffix (for tests that
	// make many indexes against one server).
	UniqueCollections bool
}

// ParseURL parses weaviate://HOST:PORT/COLLECTION (plain HTTP),
// weaviate+https://HOST:PORT/COLLECTION or https://HOST:PORT/COLLECTION
// (TLS), and http://HOST:PORT/COLLECTION. Query parameters shards,
// replicas, consistency and ef set the fields of the same names.
func ParseURL(raw string) (Config, error) {
	var c Config
	u, err := url.Parse(raw)
	if err != nil {
		return c, fmt.Errorf("weaviate URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "weaviate", "http":
		c.Scheme = "http"
	case "weaviate+https", "https":
		c.Scheme = "https"
	default:
		return c, fmt.Errorf("weaviate URL %q: scheme %q (want weaviate://, http:// or https://)", raw, u.Scheme)
	}
	if u.User != nil {
		return c, fmt.Errorf("weaviate URL %q: credentials do not go in the URL; set %s or --weaviate-api-key-file", redact(u), APIKeyEnv)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return c, fmt.Errorf("weaviate URL %q: want HOST:PORT", raw)
	}
	c.Host = u.Host
	c.Collection = strings.Trim(u.Path, "/")
	q := u.Query()
	for key, dst := range map[string]*int{"shards": &c.Shards, "replicas": &c.Replicas, "ef": &c.Ef} {
		if v := q.Get(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return c, fmt.Errorf("weaviate URL %q: %s=%q is not a number", raw, key, v)
			}
			*dst = n
		}
	}
	c.Consistency = strings.ToUpper(q.Get("consistency"))
	return c, c.Validate()
}

func redact(u *url.URL) string {
	v := *u
	v.User = nil
	return v.String()
}

var classRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]{0,199}$`)

// Validate checks the fields and the security rule: a host that is not a
// loopback address needs an API key.
func (c *Config) Validate() error {
	if c.Scheme != "http" && c.Scheme != "https" {
		return fmt.Errorf("weaviate: scheme %q (want http or https)", c.Scheme)
	}
	host, port, err := net.SplitHostPort(c.Host)
	if err != nil || host == "" {
		return fmt.Errorf("weaviate: host %q: want HOST:PORT", c.Host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("weaviate: port %q out of range", port)
	}
	if !classRE.MatchString(c.Collection) {
		return fmt.Errorf("weaviate: collection %q: want a capital letter, then letters, digits or '_' (Weaviate's class names), e.g. weaviate://127.0.0.1:8080/Photos", c.Collection)
	}
	if c.Shards < 0 || c.Shards > MaxShards {
		return fmt.Errorf("weaviate: shards %d out of range 0..%d", c.Shards, MaxShards)
	}
	if c.Replicas < 0 || c.Replicas > MaxReplicas {
		return fmt.Errorf("weaviate: replicas %d out of range 0..%d", c.Replicas, MaxReplicas)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"ef", c.Ef}, {"ef-construction", c.EfConstruction}, {"max-connections", c.MaxConnections}} {
		if v.n < 0 || v.n > MaxEf {
			return fmt.Errorf("weaviate: %s %d out of range 0..%d", v.name, v.n, MaxEf)
		}
	}
	if c.Consistency == "" {
		c.Consistency = "QUORUM"
	}
	ok := false
	for _, l := range consistencyLevels {
		ok = ok || c.Consistency == l
	}
	if !ok {
		return fmt.Errorf("weaviate: consistency %q (want ONE, QUORUM or ALL)", c.Consistency)
	}
	if c.APIKey == "" && !IsLoopback(host) {
		return fmt.Errorf("weaviate: %s is not a loopback address: an API key is required (set %s); anonymous access is for servers on this machine only", host, APIKeyEnv)
	}
	if c.Timeout < 0 {
		return errors.New("weaviate: negative timeout")
	}
	return nil
}

// IsLoopback reports whether host (a name or an address) is this machine's
// loopback: localhost or an address in 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Where is the collection's address without credentials.
func (c Config) Where() string {
	return c.Scheme + "://" + c.Host + "/" + c.Collection
}

func (c Config) httpClient() *http.Client {
	t := c.Timeout
	if t == 0 {
		t = 60 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS
	}
	if c.Scheme == "http" {
		tr.TLSClientConfig = nil
	}
	return &http.Client{Timeout: t, Transport: tr}
}
