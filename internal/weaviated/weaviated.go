// Package weaviated starts Weaviate servers on loopback, one node or a
// cluster, from the binary that scripts/setup-cluster.sh builds into the
// cache. Tests and `mmsearch bench cluster` use it; each server listens on
// 127.0.0.1 ports chosen free at start, keeps its data in a folder of the
// caller's, allows anonymous access (loopback only) unless given an API key,
// and loads no modules. Gossip, Raft and Raft RPC bind 127.0.0.1; the gRPC
// and intra-cluster data ports are opened by Weaviate on all interfaces
// (it has no setting for their address), so the data port is guarded by
// basic-auth credentials made fresh for each cluster.
package weaviated

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mmsearch/encoders"
)

// Version is the Weaviate release scripts/setup-cluster.sh builds.
const Version = "v1.35.2"

// BinEnv names a Weaviate server binary to use instead of the cached one.
const BinEnv = "MMSEARCH_WEAVIATE_BIN"

// ReadyTimeout bounds the wait for a node to answer ready.
const ReadyTimeout = 120 * time.Second

// MaxNodes bounds a cluster's size.
const MaxNodes = 5

// BinaryPath is where the server binary is: $MMSEARCH_WEAVIATE_BIN, else
// CACHE/cluster/weaviate-VERSION/weaviate-server.
func BinaryPath(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv(BinEnv); p != "" {
		return p
	}
	return filepath.Join(encoders.CacheDir(getenv), "cluster", "weaviate-"+Version, "weaviate-server")
}

// ErrNoBinary is returned when the server binary is missing.
var ErrNoBinary = errors.New("weaviate server binary not found: run 'make setup-cluster' (builds Weaviate " + Version + " into the cache) or set " + BinEnv)

// Node is one Weaviate server process.
type Node struct {
	Name string
	// Ports on 127.0.0.1: REST, gRPC, gossip, data, Raft, Raft RPC.
	HTTP, GRPC, Gossip, Data, Raft, RaftRPC int
	// Dir holds the node's data and its log (node.log).
	Dir string

	bin  string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr is the REST API's HOST:PORT.
func (n *Node) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.HTTP) }

// Options configures Start.
type Options struct {
	// Bin is the server binary ("" = BinaryPath(nil)).
	Bin string
	// Dir holds one data folder per node.
	Dir string
	// Nodes is the cluster size (0 = 1).
	Nodes int
	// MemoryLimit is each node's GOMEMLIMIT in bytes (0 = 1 GiB).
	MemoryLimit int64
	// APIKey, when set, turns anonymous access off: requests must carry
	// it as a bearer token.
	APIKey string
}

// Cluster is a set of nodes started together.
type Cluster struct {
	Nodes []*Node
}

// Start starts opt.Nodes nodes on free loopback ports and waits until every
// one answers ready (at most ReadyTimeout each). On error it stops the nodes
// it started.
//
// Ports are probed free and then handed to the nodes, so another process
// can take one in between; a cluster whose node failed to bind is stopped
// and started again on other ports, at most startAttempts times.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	var err error
	for range startAttempts {
		var c *Cluster
		c, err = startOnce(ctx, opt)
		if err == nil || !errors.Is(err, errPortTaken) {
			return c, err
		}
	}
	return nil, err
}

// startAttempts bounds the restarts of a cluster that lost a port race.
const startAttempts = 3

// errPortTaken marks a node that exited because one of its ports was taken
// after it was probed free.
var errPortTaken = errors.New("a port was taken after it was probed free")

// startOnce is one attempt of Start.
func startOnce(ctx context.Context, opt Options) (*Cluster, error) {
	if opt.Bin == "" {
		opt.Bin = BinaryPath(nil)
	}
	if _, err := os.Stat(opt.Bin); err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrNoBinary, opt.Bin)
	}
	if opt.Nodes == 0 {
		opt.Nodes = 1
	}
	if opt.Nodes < 1 || opt.Nodes > MaxNodes {
		return nil, fmt.Errorf("weaviated: %d nodes (want 1..%d)", opt.Nodes, MaxNodes)
	}
	if opt.MemoryLimit == 0 {
		opt.MemoryLimit = 1 << 30
	}
	base, err := freeBlock(6 * opt.Nodes)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	// Intra-cluster requests (the data port, which Weaviate opens on all
	// interfaces) need these credentials, fresh for each cluster.
	var secret [16]byte
	if _, err := crand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("weaviated: %w", err)
	}
	var raftJoin []string
	for i := range opt.Nodes {
		p := base + 6*i
		n := &Node{Name: fmt.Sprintf("node%d", i), HTTP: p, GRPC: p + 1, Gossip: p + 2, Data: p + 3, Raft: p + 4, RaftRPC: p + 5,
			Dir: filepath.Join(opt.Dir, fmt.Sprintf("node%d", i)), bin: opt.Bin}
		c.Nodes = append(c.Nodes, n)
		raftJoin = append(raftJoin, fmt.Sprintf("%s:%d", n.Name, n.Raft))
	}
	for i, n := range c.Nodes {
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("weaviated: %w", err)
		}
		n.env = append(os.Environ(),
			"DEFAULT_VECTORIZER_MODULE=none", "ENABLE_MODULES=", "DISABLE_TELEMETRY=true", "GO_PROFILING_DISABLE=true",
			"PROMETHEUS_MONITORING_ENABLED=false",
			"PERSISTENCE_DATA_PATH="+filepath.Join(n.Dir, "data"), "QUERY_DEFAULTS_LIMIT=10",
			"GOMEMLIMIT="+strconv.FormatInt(opt.MemoryLimit, 10),
			"GRPC_PORT="+strconv.Itoa(n.GRPC),
			"CLUSTER_HOSTNAME="+n.Name, "CLUSTER_IN_LOCALHOST=true",
			// Gossip, Raft and Raft RPC bind and advertise loopback, not
			// the machine's first address.
			"CLUSTER_BIND_ADDR=127.0.0.1", "CLUSTER_ADVERTISE_ADDR=127.0.0.1",
			"CLUSTER_BASIC_AUTH_USERNAME=mmsearch", "CLUSTER_BASIC_AUTH_PASSWORD="+hex.EncodeToString(secret[:]),
			"CLUSTER_GOSSIP_BIND_PORT="+strconv.Itoa(n.Gossip), "CLUSTER_DATA_BIND_PORT="+strconv.Itoa(n.Data),
			"RAFT_PORT="+strconv.Itoa(n.Raft), "RAFT_INTERNAL_RPC_PORT="+strconv.Itoa(n.RaftRPC),
			"RAFT_JOIN="+strings.Join(raftJoin, ","), "RAFT_BOOTSTRAP_EXPECT="+strconv.Itoa(opt.Nodes),
		)
		if opt.APIKey != "" {
			n.env = append(n.env, "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false", "AUTHENTICATION_APIKEY_ENABLED=true",
				"AUTHENTICATION_APIKEY_ALLOWED_KEYS="+opt.APIKey, "AUTHENTICATION_APIKEY_USERS=mmsearch")
		} else {
			n.env = append(n.env, "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true")
		}
		if i > 0 {
			n.env = append(n.env, "CLUSTER_JOIN=127.0.0.1:"+strconv.Itoa(c.Nodes[0].Gossip))
		}
	}
	// Node 0 first: the others join its gossip, and a node whose join is
	// refused exits, so they start once node 0's gossip port listens.
	if err := c.Nodes[0].start(); err != nil {
		c.Close()
		return nil, err
	}
	if opt.Nodes > 1 {
		if err := c.Nodes[0].waitPort(ctx, c.Nodes[0].Gossip, ReadyTimeout); err != nil {
			c.Close()
			return nil, err
		}
	}
	for _, n := range c.Nodes[1:] {
		if err := n.start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := n.WaitReady(ctx, ReadyTimeout); err != nil {
			c.Close()
			if strings.Contains(n.LogTail(2000), "address already in use") {
				return nil, fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return nil, err
		}
	}
	return c, nil
}

// freeBlock finds n consecutive free TCP ports on 127.0.0.1, below the
// kernel's ephemeral range so that no outgoing connection of another
// process is given one of them between the probe and the node's bind.
func freeBlock(n int) (int, error) {
	lo, hi := 10000, ephemeralLow()-n
	if hi <= lo {
		lo, hi = 20000, 50000
	}
	for range 50 {
		base := lo + rand.IntN(hi-lo)
		var ls []net.Listener
		ok := true
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("weaviated: no block of free ports on 127.0.0.1")
}

// ephemeralLow is the first port of the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), 32768 when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	v, err := strconv.Atoi(f[0])
	if err != nil || v < 1024 {
		return 32768
	}
	return v
}

// start launches the node's process.
func (n *Node) start() error {
	logf, err := os.OpenFile(filepath.Join(n.Dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("weaviated: %w", err)
	}
	cmd := exec.Command(n.bin, "--host", "127.0.0.1", "--port", strconv.Itoa(n.HTTP), "--scheme", "http")
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("weaviated: start %s: %w", n.Name, err)
	}
	n.cmd = cmd
	n.done = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(n.done)
	}()
	return nil
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// WaitReady polls /v1/.well-known/ready until it answers 200, the process
// exits, or timeout passes.
func (n *Node) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.Addr()+"/v1/.well-known/ready", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !n.Running() {
			return fmt.Errorf("weaviated: %s exited before it was ready; its log ends:\n%s", n.Name, n.LogTail(2000))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("weaviated: %s not ready after %v; its log ends:\n%s", n.Name, timeout, n.LogTail(2000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitPort polls until port on 127.0.0.1 accepts a TCP connection, the
// process exits, or timeout passes.
func (n *Node) waitPort(ctx context.Context, port int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			conn.Close()
			return nil
		}
		if !n.Running() {
			return fmt.Errorf("weaviated: %s exited before port %d listened; its log ends:\n%s", n.Name, port, n.LogTail(2000))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("weaviated: %s: port %d not listening after %v; its log ends:\n%s", n.Name, port, timeout, n.LogTail(2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LogTail returns the last max bytes of the node's log.
func (n *Node) LogTail(max int) string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "node.log"))
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(bytes.TrimSpace(b))
}

// Kill ends the node at once (SIGKILL), as a crash would, and waits for it.
func (n *Node) Kill() {
	if !n.Running() {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.done
}

// Stop asks the node to shut down (SIGTERM) and kills it after 15 s.
func (n *Node) Stop() {
	if !n.Running() {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		n.Kill()
	}
}

// Restart starts a stopped node again with the same ports and data and
// waits until it is ready.
func (n *Node) Restart(ctx context.Context) error {
	if n.Running() {
		return fmt.Errorf("weaviated: %s is running", n.Name)
	}
	if err := n.start(); err != nil {
		return err
	}
	return n.WaitReady(ctx, ReadyTimeout)
}

// Close stops every node.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}
