package weaviate_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"mmsearch/index"
	"mmsearch/index/weaviate"
	"mmsearch/internal/weaviated"
)

// TestTLS reaches a one-node Weaviate through a TLS-terminating proxy on
// loopback (the set-up docs/SCALE.md advises): an https Config that trusts
// the proxy's certificate writes and searches; one that trusts only the
// system roots is refused by the TLS handshake, before anything is sent.
func TestTLS(t *testing.T) {
	node := weaviated.StartT(t, 1).Nodes[0]
	target, err := url.Parse("http://" + node.Addr())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	proxy.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	proxy.StartTLS()
	defer proxy.Close()
	host := strings.TrimPrefix(proxy.URL, "https://")
	ctx := context.Background()

	cfg, err := weaviate.ParseURL("https://" + host + "/Secure")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := weaviate.New(ctx, cfg, 4, index.Cosine); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("New over TLS with an untrusted certificate = %v, want a certificate error", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(proxy.Certificate())
	cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	x, err := weaviate.New(ctx, cfg, 4, index.Cosine)
	if err != nil {
		t.Fatal(err)
	}
	v := []float32{0, 1, 0, 0}
	if err := x.Add(3, v); err != nil {
		t.Fatal(err)
	}
	res, err := x.Search(v, 1, index.SearchOptions{})
	if err != nil || len(res) != 1 || res[0].ID != 3 {
		t.Fatalf("search over TLS: %v, %v", res, err)
	}
}
