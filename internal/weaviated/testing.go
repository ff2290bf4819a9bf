package weaviated

import (
	"context"
	"errors"
	"os"
	"testing"
)

// StartT starts a cluster of nodes for a test, with data in t.TempDir(),
// and stops it at cleanup. When the binary is missing it skips the test
// with a loud message, except under CI (CI=true), where it fails: CI builds
// the binary with 'make setup-cluster'.
func StartT(t testing.TB, nodes int) *Cluster {
	t.Helper()
	return StartOptionsT(t, Options{Nodes: nodes})
}

// StartOptionsT is StartT with options; opt.Bin and opt.Dir are set here.
func StartOptionsT(t testing.TB, opt Options) *Cluster {
	t.Helper()
	bin := BinaryPath(nil)
	if _, err := os.Stat(bin); err != nil {
		msg := "\n*** SKIPPING: Weaviate server binary missing at " + bin + " ***\n*** run 'make setup-cluster' to build it (several minutes, once) ***"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "\n*** CI=true: the Weaviate tests must run ***")
		}
		t.Skip(msg)
	}
	opt.Bin, opt.Dir = bin, t.TempDir()
	c, err := Start(context.Background(), opt)
	if errors.Is(err, ErrNoBinary) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
