// Package peers runs the programs that measure peer implementations for
// mmsearch's benchmarks: the Python scripts (hnswlib, FAISS) and the Go peer
// binaries built by `make setup-peers` (Weaviate's HNSW). The scripts are embedded in the
// binary, so `mmsearch bench ...` works from any folder; they run with Debian's
// Python (DefaultPython) and Debian's packages of the peers.
package peers

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

//go:embed *.py
var scripts embed.FS

// DefaultPython is the interpreter the peers are installed for: Debian's.
const DefaultPython = "/usr/bin/python3"

// ANNScript is the file name of the ANN peer script.
const ANNScript = "ann_peer.py"

// ErrMissing marks a peer that is not installed (see Requirement.Check).
var ErrMissing = errors.New("peer not installed")

// Script returns the embedded script called name.
func Script(name string) ([]byte, error) {
	b, err := scripts.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("peer script %s: %w", name, err)
	}
	return b, nil
}

// Requirement is what a peer script needs: Python modules and the Debian
// packages that provide them.
type Requirement struct {
	Python   string   // interpreter; "" means DefaultPython
	Modules  []string // imported to check, e.g. "hnswlib", "faiss"
	Packages []string // Debian packages providing them, e.g. "python3-hnswlib"
}

func (r Requirement) python() string {
	if r.Python == "" {
		return DefaultPython
	}
	return r.Python
}

// installCommand is the shell command that installs the packages.
func (r Requirement) installCommand() string {
	return "apt-get install -y " + strings.Join(r.Packages, " ")
}

// Check imports the modules with the interpreter. A missing interpreter or
// module gives an error wrapping ErrMissing that names the install command.
func (r Requirement) Check(ctx context.Context) error {
	py := r.python()
	if _, err := os.Stat(py); err != nil {
		return fmt.Errorf("%w: Python interpreter %s not found (install with: %s python3)", ErrMissing, py, r.installCommand())
	}
	if len(r.Modules) == 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, py, "-c", "import "+strings.Join(r.Modules, ", "))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s cannot import %s (%s); install with: %s",
			ErrMissing, py, strings.Join(r.Modules, ", "), lastLine(stderr.String()), r.installCommand())
	}
	return nil
}

// Ensure checks the requirement and, when it is not met, install is true and
// the process runs as root, installs the Debian packages with apt-get (its
// output goes to log) and checks again. Otherwise it returns Check's error.
func (r Requirement) Ensure(ctx context.Context, install bool, log io.Writer) error {
	err := r.Check(ctx)
	if err == nil || !errors.Is(err, ErrMissing) || !install || len(r.Packages) == 0 {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w (run it as root: sudo %s)", err, r.installCommand())
	}
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "installing peers: %s\n", r.installCommand())
	args := append([]string{"install", "-y"}, r.Packages...)
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = log, log
	if ierr := cmd.Run(); ierr != nil {
		return fmt.Errorf("install peers (%s): %w", r.installCommand(), ierr)
	}
	return r.Check(ctx)
}

// Run writes the embedded script into dir and runs it there with python and
// args. Each line the script writes to stderr is passed to onStderr (when not
// nil); stdout is returned. A failing script's error carries the last lines of
// its stderr.
func Run(ctx context.Context, python, script, dir string, args []string, onStderr func(line string)) ([]byte, error) {
	if python == "" {
		python = DefaultPython
	}
	src, err := Script(script)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, script)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return nil, fmt.Errorf("peer script %s: %w", script, err)
	}
	out, err := run(ctx, python, append([]string{path}, args...), dir, onStderr)
	if err != nil {
		return nil, fmt.Errorf("peer script %s: %w", script, err)
	}
	return out, nil
}

// RunBinary runs a peer program (such as the Go peers that `make setup-peers`
// builds) in dir with args, as Run runs a script: each stderr line goes to
// onStderr (when not nil), stdout is returned, and a failure's error carries
// the last lines of stderr.
func RunBinary(ctx context.Context, path, dir string, args []string, onStderr func(line string)) ([]byte, error) {
	out, err := run(ctx, path, args, dir, onStderr)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", filepath.Base(path), err)
	}
	return out, nil
}

// run runs name with args in dir, relaying stderr lines to onStderr, and
// returns stdout.
func run(ctx context.Context, name string, args []string, dir string, onStderr func(line string)) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	tail := &tailLines{max: 20}
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			if onStderr != nil {
				onStderr(line)
			}
		}
		io.Copy(io.Discard, pr) // drain an over-long line so the script never blocks
	})
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w; stderr:\n%s", err, tail.String())
	}
	return stdout.Bytes(), nil
}

// tailLines keeps the last max lines written.
type tailLines struct {
	max   int
	lines []string
}

func (t *tailLines) add(s string) {
	t.lines = append(t.lines, s)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tailLines) String() string { return strings.Join(t.lines, "\n") }

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
