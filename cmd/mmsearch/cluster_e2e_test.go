package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
	"mmsearch/internal/porttest"
)

// proc is a started mmsearch process whose stderr is read line by line.
type proc struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	mu     sync.Mutex
	stderr []string
	done   chan struct{}
	code   int
}

// start runs mmsearchBin with args; the process is killed at the test's
// end if it still runs. onLine sees every stderr line (may be nil).
func start(t *testing.T, env []string, onLine func(string), args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(mmsearchBin, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = &syncWriter{w: &p.stdout, mu: &p.mu}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr = append(p.stderr, line)
			p.mu.Unlock()
			if onLine != nil {
				onLine(line)
			}
		}
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// wait waits for the process to end and returns its exit status.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not end within %s; stderr:\n%s", strings.Join(p.cmd.Args, " "), limit, p.errText())
		return -1
	}
}

func (p *proc) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stderr, "\n")
}

func (p *proc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// progressDone returns a stderr-line watcher that closes reached once a
// JSON progress line reports at least n files done.
func progressDone(n int, reached chan struct{}) func(string) {
	var once sync.Once
	return func(line string) {
		var pr struct {
			Done int `json:"done"`
		}
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &pr) == nil && pr.Done >= n {
			once.Do(func() { close(reached) })
		}
	}
}

// TestClusterCLI runs the real binary as a user would: a coordinator with
// its own NATS server, a worker killed with SIGKILL while it works, then
// the coordinator interrupted (exit 130); a restarted
// coordinator with three more workers finishes the job. Every file ends up
// in the library once, the corrupt one is listed by 'errors', the files
// committed before the interrupt are unchanged in the second run, and the
// workers leave on their own (--idle-exit) with their counts as JSON.
func TestClusterCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	dir := t.TempDir()
	const n = 600
	for i := range n {
		imagetest.Write(t, filepath.Join(dir, fmt.Sprintf("d%d/img%04d.png", i%6, i)), imagetest.PNG(t, imagetest.Pattern(i, 24, 16)))
	}
	jpg := imagetest.JPEG(t, imagetest.Pattern(1, 40, 30), 90)
	imagetest.Write(t, filepath.Join(dir, "corrupt.jpg"), jpg[:len(jpg)/3])
	lib := filepath.Join(t.TempDir(), "lib")
	env := []string{"MMSEARCH_DATA_DIR=" + t.TempDir()}

	// Run 1: the victim works alone and is killed after 8 files are done.
	url := fmt.Sprintf("nats://127.0.0.1:%d", porttest.FreeLoopback(t))
	victimAt := make(chan struct{})
	coord := start(t, env, progressDone(8, victimAt), "coordinator", "--library", lib, "--model", tinyModel,
		"--listen", strings.TrimPrefix(url, "nats://"), "--ack-wait", "2s", "--batch", "8", "--json", dir)
	worker := func(name string, batch int, more ...string) *proc {
		args := []string{"worker", "--nats", url, "--model", tinyModel, "--name", name, "--batch", fmt.Sprint(batch),
			"--streams", "1", "--threads", "1", "--decoders", "1", "--idle-exit", "3s", "--json"}
		return start(t, env, nil, append(args, more...)...)
	}
	victim := worker("victim", 1)
	select {
	case <-victimAt:
	case <-coord.done:
		t.Fatalf("coordinator ended early (%d):\n%s", coord.code, coord.errText())
	case <-time.After(60 * time.Second):
		t.Fatalf("no progress with the victim; coordinator:\n%s\nvictim:\n%s", coord.errText(), victim.errText())
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.wait(t, 10*time.Second)
	// The coordinator is interrupted with no worker left, so the run is
	// certainly part-way (a second worker here would finish the 600 small
	// files within one progress tick on a fast machine).
	if err := coord.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := coord.wait(t, 30*time.Second); code != exitCanceled {
		t.Fatalf("interrupted coordinator: exit %d, want %d\n%s", code, exitCanceled, coord.errText())
	}
	var rep1 engine.IngestReport
	if err := json.Unmarshal([]byte(coord.out()), &rep1); err != nil {
		t.Fatalf("first report: %v\n%s", err, coord.out())
	}
	committed1 := rep1.Indexed + rep1.Failed
	if !rep1.Stopped || rep1.Indexed < 8 || committed1 >= n+1 {
		t.Fatalf("first run: stopped %v, indexed %d, failed %d: want stopped part-way", rep1.Stopped, rep1.Indexed, rep1.Failed)
	}

	// Run 2: a new coordinator on another port, serving the files over
	// HTTP, and three workers that read them from it (a worker refused for
	// want of a file server would leave the run unfinished).
	url = fmt.Sprintf("nats://127.0.0.1:%d", porttest.FreeLoopback(t))
	coord2 := start(t, env, nil, "coordinator", "--library", lib, "--model", tinyModel,
		"--listen", strings.TrimPrefix(url, "nats://"), "--ack-wait", "2s", "--serve-files", "127.0.0.1:0", "--json", dir)
	var workers []*proc
	for i := range 3 {
		workers = append(workers, worker(fmt.Sprintf("w%d", i), 4, "--read", "coordinator"))
	}
	if code := coord2.wait(t, 120*time.Second); code != 0 {
		t.Fatalf("second coordinator: exit %d\n%s", code, coord2.errText())
	}
	var rep2 engine.IngestReport
	if err := json.Unmarshal([]byte(coord2.out()), &rep2); err != nil {
		t.Fatalf("second report: %v\n%s", err, coord2.out())
	}
	if rep2.Unchanged != rep1.Indexed || rep1.Indexed+rep2.Indexed != n || rep1.Failed+rep2.Failed != 1 {
		t.Errorf("second run: unchanged %d indexed %d failed %d; the first indexed %d and failed %d: want every file once",
			rep2.Unchanged, rep2.Indexed, rep2.Failed, rep1.Indexed, rep1.Failed)
	}
	answered := 0
	for _, w := range workers {
		if code := w.wait(t, 30*time.Second); code != 0 {
			t.Errorf("worker %v: exit %d\n%s", w.cmd.Args, code, w.errText())
		}
		var wr workerReport
		if err := json.Unmarshal([]byte(w.out()), &wr); err != nil {
			t.Fatalf("worker report: %v\n%s", err, w.out())
		}
		answered += wr.Items
	}
	if answered != rep2.Indexed+rep2.Failed {
		t.Errorf("the workers answered %d files, the second run committed %d", answered, rep2.Indexed+rep2.Failed)
	}

	st := run(t, "stats", "--library", lib, "--model", tinyModel, "--json")
	var stats struct {
		Items  int `json:"items"`
		Errors int `json:"errors"`
	}
	if err := json.Unmarshal([]byte(st.stdout), &stats); err != nil || st.code != 0 {
		t.Fatalf("stats: %v %d\n%s%s", err, st.code, st.stdout, st.stderr)
	}
	if stats.Items != n || stats.Errors != 1 {
		t.Errorf("stats: %d items and %d errors, want %d and 1", stats.Items, stats.Errors, n)
	}
	er := run(t, "errors", "--library", lib, "--model", tinyModel, "--json")
	if er.code != 0 || !strings.Contains(er.stdout, "corrupt.jpg") || !strings.Contains(er.stdout, `"stage": "decode"`) {
		t.Errorf("errors: exit %d\n%s%s", er.code, er.stdout, er.stderr)
	}
}

// TestClusterCLIUsage: bad flags are usage errors (exit 2) with a clear
// message, before anything starts.
func TestClusterCLIUsage(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"coordinator"}, "no PATH given"},
		{[]string{"coordinator", "--listen", "0.0.0.0:0", "."}, "needs a token"},
		{[]string{"coordinator", "--nats", "nats://192.0.2.1:4222", "."}, "needs credentials"},
		{[]string{"coordinator", "--ack-wait", "10ms", "."}, "--ack-wait 10ms out of range"},
		{[]string{"coordinator", "--stream-replicas", "9", "."}, "out of range"},
		{[]string{"coordinator", "--max-deliver", "0", "."}, "out of range"},
		{[]string{"coordinator", "--queue", "a.b", "."}, "queue name"},
		{[]string{"coordinator", "--stream-replicas", "3", "."}, "needs a NATS cluster"},
		{[]string{"worker", "--nats", "nats://192.0.2.1:4222"}, "needs credentials"},
		{[]string{"worker", "--nats", "http://127.0.0.1:4222"}, "unknown scheme"},
		{[]string{"worker", "--batch", "1000"}, "out of range"},
		{[]string{"worker", "--streams", "17"}, "out of range"},
		{[]string{"worker", "--idle-exit", "-1s"}, "out of range"},
		{[]string{"worker", "--nats-token-file", tokenFile, "--nats-creds", tokenFile}, "exclude each other"},
		{[]string{"worker", "extra"}, "takes no arguments"},
		{[]string{"worker", "--read", "nfs"}, "want local or coordinator"},
		{[]string{"coordinator", "--serve-files", ":0", "."}, "--files-url"},
		{[]string{"coordinator", "--files-url", "http://host:1", "."}, "goes with --serve-files"},
	} {
		args := tc.args
		if args[0] == "coordinator" {
			args = append(args, "--library", filepath.Join(t.TempDir(), "lib"), "--model", tinyModel)
		}
		r := run(t, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("mmsearch %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, exitUsage, tc.want)
		}
	}
}
