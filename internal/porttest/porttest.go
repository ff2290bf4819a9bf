// Package porttest gives tests loopback TCP ports to start servers on.
package porttest

import (
	"net"
	"testing"
)

// FreeLoopback returns a port on 127.0.0.1 that nothing listens on at the
// moment of the call: the kernel picks it and the listener is closed again.
// A server started on it afterwards may still lose it to another process,
// which the caller's start-up error then reports.
func FreeLoopback(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("porttest: listen on loopback: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
