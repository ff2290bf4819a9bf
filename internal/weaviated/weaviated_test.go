package weaviated_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"mmsearch/internal/weaviated"
)

// TestClusterForms starts a 3-node cluster and checks that every node
// reports all three nodes healthy, that the REST, gossip, Raft and Raft RPC
// ports listen on loopback only, and that Close ends every process.
func TestClusterForms(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Weaviate cluster")
	}
	c := weaviated.StartT(t, 3)
	defer func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("%s log:\n%s", n.Name, n.LogTail(3000))
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, n := range c.Nodes {
		var nodes struct {
			Nodes []struct {
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"nodes"`
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.Addr()+"/v1/nodes", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&nodes)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		healthy := 0
		for _, m := range nodes.Nodes {
			if m.Status == "HEALTHY" {
				healthy++
			}
		}
		if healthy != 3 {
			t.Fatalf("%s sees %+v, want 3 healthy nodes", n.Name, nodes.Nodes)
		}
		// Ports that must not be reachable from other machines.
		for name, p := range map[string]int{"REST": n.HTTP, "gossip": n.Gossip, "Raft": n.Raft, "Raft RPC": n.RaftRPC} {
			if reachableOffLoopback(t, p) {
				t.Errorf("%s: %s port %d listens beyond loopback", n.Name, name, p)
			}
		}
	}
	c.Close()
	for _, n := range c.Nodes {
		if n.Running() {
			t.Errorf("%s still running after Close", n.Name)
		}
	}
}

// reachableOffLoopback reports whether port accepts connections on one of
// this machine's non-loopback addresses.
func reachableOffLoopback(t *testing.T, port int) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(port)), time.Second)
		if err == nil {
			conn.Close()
			return true
		}
	}
	return false
}
