package porttest

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeLoopbackCanBeListenedOn checks that the port is a real loopback
// port and free: a listener can take it right away.
func TestFreeLoopbackCanBeListenedOn(t *testing.T) {
	p := FreeLoopback(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("port %d out of range", p)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("listen on the returned port %d: %v", p, err)
	}
	l.Close()
}
