package sharedtest

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of acting.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs require on a recorder in its own goroutine (Skipf and Fatalf
// end it, as they end a test).
func call(t *testing.T, path string, env map[string]string) (*recorder, string) {
	r := &recorder{TB: t}
	var got string
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = require(r, path, func(k string) string { return env[k] })
	}()
	<-done
	return r, got
}

func TestRequire(t *testing.T) {
	present := t.TempDir()
	missing := filepath.Join(present, "no-such-folder")
	cases := []struct {
		name               string
		path               string
		ci                 string
		wantSkip, wantFail bool
	}{
		{"present locally", present, "", false, false},
		{"present in CI", present, "true", false, false},
		{"missing locally skips", missing, "", true, false},
		{"missing with CI=false skips", missing, "false", true, false},
		{"missing in CI fails", missing, "true", false, true},
		{"missing with CI=1 fails", missing, "1", false, true},
		{"missing with CI=TRUE fails", missing, "TRUE", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, got := call(t, c.path, map[string]string{"CI": c.ci})
			if (r.skipped != "") != c.wantSkip || (r.failed != "") != c.wantFail {
				t.Fatalf("skipped %q, failed %q; want skip %v, fail %v", r.skipped, r.failed, c.wantSkip, c.wantFail)
			}
			if !c.wantSkip && !c.wantFail && got != c.path {
				t.Errorf("returned %q, want %q", got, c.path)
			}
		})
	}
}

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "1": true, "yes": true, "True": true, "false": false, "0": false, "no": false} {
		if got := InCI(func(string) string { return v }); got != want {
			t.Errorf("CI=%q: %v, want %v", v, got, want)
		}
	}
}
