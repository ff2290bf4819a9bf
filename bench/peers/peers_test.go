package peers

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestScript(t *testing.T) {
	b, err := Script(ANNScript)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "#!/usr/bin/python3") || !strings.Contains(string(b), "IndexHNSWFlat") {
		t.Errorf("embedded %s looks wrong: %.60q", ANNScript, b)
	}
	if _, err := Script("missing.py"); err == nil {
		t.Error("Script(missing.py) succeeded")
	}
}

func TestRequirement(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		req  Requirement
		want []string
	}{
		{"no interpreter", Requirement{Python: "/nonexistent/python3", Packages: []string{"python3-x"}},
			[]string{"/nonexistent/python3 not found", "apt-get install -y python3-x"}},
	}
	if _, err := exec.LookPath(DefaultPython); err == nil {
		tests = append(tests, struct {
			name string
			req  Requirement
			want []string
		}{"no module", Requirement{Modules: []string{"mmsearch_no_such_module"}, Packages: []string{"python3-nothing"}},
			[]string{"cannot import mmsearch_no_such_module", "ModuleNotFoundError", "apt-get install -y python3-nothing"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Check(ctx)
			if !errors.Is(err, ErrMissing) {
				t.Fatalf("Check error = %v, want ErrMissing", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// Without permission to install, Ensure reports the same problem.
			if err := tt.req.Ensure(ctx, false, nil); !errors.Is(err, ErrMissing) {
				t.Errorf("Ensure(no install) error = %v", err)
			}
		})
	}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	if err := (Requirement{Modules: []string{"numpy"}}).Check(ctx); err != nil {
		t.Skipf("Debian Python with numpy unavailable, skipping: %v", err)
	}
	dir := t.TempDir()
	out, err := Run(ctx, "", ANNScript, dir, []string{"--help"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "--ef-construction") {
		t.Errorf("help output: %s", out)
	}
	// A failing script: no base.npy in dir. The error carries its stderr.
	var lines []string
	_, err = Run(ctx, "", ANNScript, dir, []string{"--dir", dir, "--peers", "hnswlib"}, func(l string) { lines = append(lines, l) })
	if err == nil || !strings.Contains(err.Error(), "base.npy") {
		t.Fatalf("error = %v, want one quoting the script's complaint about base.npy", err)
	}
	if len(lines) == 0 {
		t.Error("stderr lines not passed on")
	}
	if _, err := Run(ctx, "", "missing.py", dir, nil, nil); err == nil {
		t.Error("Run(missing.py) succeeded")
	}
}

// TestRunBinary runs a real program as a peer binary: stdout comes back,
// stderr lines are relayed, and a failure's error names the program and
// quotes its stderr.
func TestRunBinary(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	var lines []string
	out, err := RunBinary(ctx, sh, dir, []string{"-c", `echo step one >&2; echo "{\"dir\": \"$(pwd)\"}"`}, func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != `{"dir": "`+dir+`"}` {
		t.Errorf("stdout %q: want the JSON naming the working folder %s", got, dir)
	}
	if len(lines) != 1 || lines[0] != "step one" {
		t.Errorf("stderr lines %q", lines)
	}
	_, err = RunBinary(ctx, sh, dir, []string{"-c", "echo cannot read base.npy >&2; exit 3"}, nil)
	if err == nil || !strings.Contains(err.Error(), "peer sh") || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "cannot read base.npy") {
		t.Errorf("error = %v, want one naming the peer, its exit status and its stderr", err)
	}
	if _, err := RunBinary(ctx, dir+"/missing-peer", dir, nil, nil); err == nil {
		t.Error("RunBinary(missing binary) succeeded")
	}
}
