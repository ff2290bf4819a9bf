package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"mmsearch/models"
)

// hubServer serves the encoders' tiny test model over real HTTP on loopback
// as the registry model "tiny-hub", and counts what it is asked.
type hubServer struct {
	srv      *httptest.Server
	registry string // registry.json listing tiny-hub

	mu       sync.Mutex
	requests []string // "path range"
	// cutAfter, when > 0, makes the first transfer of vocab.json send that
	// many bytes and then hold the connection open until the client goes.
	cutAfter int
	cut      bool
}

// newHubServer starts the server; corrupt names a file whose registry
// sha256 is wrong.
func newHubServer(t *testing.T, corrupt string) *hubServer {
	t.Helper()
	h := &hubServer{}
	mux := http.NewServeMux()
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	e := models.Entry{Name: "tiny-hub", Description: "closed-form test model", Layout: models.LayoutMMSearch, Dimension: 4, ImageSize: 8, Source: "test"}
	for _, name := range modelsTinyFiles {
		data, err := os.ReadFile(filepath.Join(modelsTinyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		mux.HandleFunc("/"+name, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, name, data) })
		sum := sha256.Sum256(data)
		if name == corrupt {
			sum = sha256.Sum256([]byte("not this file"))
		}
		e.Files = append(e.Files, models.FileSpec{Path: name, URL: h.srv.URL + "/" + name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	}
	h.registry = writeRegistry(t, e)
	return h
}

func (h *hubServer) serve(w http.ResponseWriter, r *http.Request, name string, data []byte) {
	h.mu.Lock()
	h.requests = append(h.requests, name+" "+r.Header.Get("Range"))
	cutAfter := h.cutAfter
	cut := name == "vocab.json" && cutAfter > 0 && !h.cut
	if cut {
		h.cut = true
	}
	h.mu.Unlock()
	if cut {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:cutAfter])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // hold on until the client is gone
		return
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

func (h *hubServer) log() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.requests...)
}

func writeRegistry(t *testing.T, entries ...models.Entry) string {
	t.Helper()
	data, err := json.Marshal(models.Registry{Schema: models.RegistrySchema, Models: entries})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// firstUseCmd is mmsearch run with the data folder data and the registry reg.
func firstUseCmd(data, reg string, args ...string) *exec.Cmd {
	cmd := exec.Command(mmsearchBin, args...)
	cmd.Env = append(os.Environ(), "MMSEARCH_DATA_DIR="+data, models.RegistryEnv+"="+reg)
	return cmd
}

// assertNoModel fails when tiny-hub is installed, or half installed, in data.
func assertNoModel(t *testing.T, data string) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(data, "models"))
	for _, e := range entries {
		if e.Name() != ".staging" {
			t.Errorf("models folder holds %s after a failed or refused pull", e.Name())
		}
	}
}

func photoFolder(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		writeJPEG(t, filepath.Join(dir, fmt.Sprintf("p%d.jpg", i)), i, 64, 48)
	}
	return dir
}

// TestFirstUseNeedsConsentOffTerminal: off a terminal, a registry model named
// by --model that is not installed is not downloaded without --yes: the
// error names --yes and the pull command, nothing is asked of the server,
// no library is created. With --yes, index downloads it (real HTTP, sha256
// checked) and indexes; the pull's report goes to stderr, stdout keeps the
// index summary. search on a library that does not exist downloads nothing.
func TestFirstUseNeedsConsentOffTerminal(t *testing.T) {
	hub := newHubServer(t, "")
	data, photos := t.TempDir(), photoFolder(t, 3)
	lib := filepath.Join(t.TempDir(), "lib")

	r := runCmd(t, firstUseCmd(data, hub.registry, "index", "--library", lib, "--model", "tiny-hub", photos))
	if r.code != exitFailure || !strings.Contains(r.stderr, "pass --yes to download it now, or run 'mmsearch models pull tiny-hub' first") ||
		!strings.Contains(r.stderr, "model tiny-hub is not installed") || !strings.Contains(r.stderr, "127.0.0.1") {
		t.Fatalf("index without --yes: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(hub.log()); n != 0 {
		t.Errorf("%d requests reached the server without consent", n)
	}
	if _, err := os.Stat(lib); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the library was created although the command failed: %v", err)
	}
	assertNoModel(t, data)

	r = runCmd(t, firstUseCmd(data, hub.registry, "search", "--library", lib, "--model", "tiny-hub", "--yes", "cat"))
	if r.code != exitFailure || !strings.Contains(r.stderr, "no library") || len(hub.log()) != 0 {
		t.Fatalf("search on a missing library: exit %d, %d requests\n%s", r.code, len(hub.log()), r.stderr)
	}

	r = runCmd(t, firstUseCmd(data, hub.registry, "index", "--library", lib, "--model", "tiny-hub", "--yes", photos))
	if r.code != 0 || !strings.Contains(r.stdout, "3 files found: 3 new") {
		t.Fatalf("index --yes: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "installed tiny-hub in "+filepath.Join(data, "models", "tiny-hub")) || strings.Contains(r.stdout, "installed") {
		t.Errorf("the pull's report belongs on stderr:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	if n := len(hub.log()); n != len(modelsTinyFiles) {
		t.Errorf("%d requests, want one per file (%d): %q", n, len(modelsTinyFiles), hub.log())
	}
	// Installed now: a second run downloads nothing and asks nothing.
	r = runCmd(t, firstUseCmd(data, hub.registry, "search", "--library", lib, "--model", "tiny-hub", "-f", "-k", "3", "cat"))
	if r.code != 0 || len(strings.Fields(r.stdout)) != 3 || len(hub.log()) != len(modelsTinyFiles) {
		t.Fatalf("search with the installed model: exit %d, %d requests\n%s\n%s", r.code, len(hub.log()), r.stdout, r.stderr)
	}
}

// TestFirstUseModelsUse: `models use NAME` downloads a registry model first
// with --yes, and names --yes without it.
func TestFirstUseModelsUse(t *testing.T) {
	hub := newHubServer(t, "")
	data := t.TempDir()
	r := runCmd(t, firstUseCmd(data, hub.registry, "models", "use", "tiny-hub"))
	if r.code != exitFailure || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("use without --yes: exit %d\n%s", r.code, r.stderr)
	}
	r = runCmd(t, firstUseCmd(data, hub.registry, "models", "use", "--yes", "tiny-hub"))
	if r.code != 0 || strings.TrimSpace(r.stdout) != "default model: tiny-hub" {
		t.Fatalf("use --yes: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "models", "tiny-hub", "model.json")); err != nil {
		t.Fatal(err)
	}
	// A name neither installed nor in the registry is still "not found".
	r = runCmd(t, firstUseCmd(data, hub.registry, "models", "use", "--yes", "vit-h"))
	if r.code != exitNotFound || !strings.Contains(r.stderr, "model not found") {
		t.Fatalf("use of an unknown model: exit %d\n%s", r.code, r.stderr)
	}
}

// TestFirstUseChecksumMismatch: a file whose sha256 differs from the
// registry's fails the pull; nothing is installed and the command fails.
func TestFirstUseChecksumMismatch(t *testing.T) {
	hub := newHubServer(t, "vision_model.onnx")
	data := t.TempDir()
	r := runCmd(t, firstUseCmd(data, hub.registry, "index", "--library", t.TempDir(), "--model", "tiny-hub", "--yes", photoFolder(t, 1)))
	if r.code != exitFailure || !strings.Contains(r.stderr, "checksum") || !strings.Contains(r.stderr, "vision_model.onnx") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	assertNoModel(t, data)
}

// TestFirstUseOffline: with the server gone (nothing listens on its port)
// the command fails quickly with a message that says the server cannot be
// reached and how to import the files by hand: each file's path and URL
// and the models import command.
func TestFirstUseOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	e := models.Entry{Name: "tiny-hub", Description: "test", Layout: models.LayoutHuggingFace, Dimension: 4, ImageSize: 8, Source: "test"}
	for _, p := range []string{"onnx/vision_model.onnx", "onnx/text_model.onnx", "tokenizer.json"} {
		e.Files = append(e.Files, models.FileSpec{Path: p, URL: dead + "/" + p, Size: 1000, SHA256: strings.Repeat("ab", 32)})
	}
	data := t.TempDir()
	start := time.Now()
	r := runCmd(t, firstUseCmd(data, writeRegistry(t, e), "models", "use", "--yes", "tiny-hub"))
	took := time.Since(start)
	if r.code != exitFailure {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"cannot reach the download server", ln.Addr().String(), "To install tiny-hub by hand",
		"DIR/onnx/vision_model.onnx", dead + "/onnx/text_model.onnx", "DIR/tokenizer.json",
		"mmsearch models import --name tiny-hub --layout huggingface DIR"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if took > 20*time.Second {
		t.Errorf("giving up took %v: an unreachable server must not be retried for long", took)
	}
	assertNoModel(t, data)
}

// TestFirstUseInterruptedDownloadResumes: Ctrl-C in the middle of a file
// leaves no model installed (exit 130); the next run asks for the rest of
// that file with a Range request and installs the model.
func TestFirstUseInterruptedDownloadResumes(t *testing.T) {
	hub := newHubServer(t, "")
	hub.mu.Lock() // the server's goroutines read it
	hub.cutAfter = 3000
	hub.mu.Unlock()
	data := t.TempDir()
	cmd := firstUseCmd(data, hub.registry, "models", "use", "--yes", "tiny-hub")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	part := ""
	deadline := time.Now().Add(30 * time.Second)
	for part == "" && time.Now().Before(deadline) {
		filepath.WalkDir(filepath.Join(data, "models"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, "vocab.json.part") {
				if fi, err := d.Info(); err == nil && fi.Size() == 3000 {
					part = p
				}
			}
			return nil
		})
		time.Sleep(20 * time.Millisecond)
	}
	if part == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the first 3000 bytes of vocab.json never reached a part file\n%s", stderr.String())
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitCanceled {
		t.Fatalf("interrupted pull: %v, want exit %d\n%s", err, exitCanceled, stderr.String())
	}
	assertNoModel(t, data)

	r := runCmd(t, firstUseCmd(data, hub.registry, "models", "use", "--yes", "tiny-hub"))
	if r.code != 0 || strings.TrimSpace(r.stdout) != "default model: tiny-hub" {
		t.Fatalf("second run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	resumed := false
	for _, req := range hub.log() {
		if req == "vocab.json bytes=3000-" {
			resumed = true
		}
	}
	if !resumed {
		t.Errorf("the second run did not resume vocab.json from byte 3000: %q", hub.log())
	}
	if _, err := os.Stat(filepath.Join(data, "models", ".staging", "tiny-hub")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staging folder left after the install: %v", err)
	}
}

// TestFirstUsePromptOnTerminal runs `models use` on a pseudo-terminal (stdin
// and stderr): it asks once, with the size and the host; "n" declines with
// nothing downloaded, "y" downloads and installs.
func TestFirstUsePromptOnTerminal(t *testing.T) {
	hub := newHubServer(t, "")
	data := t.TempDir()
	size := int64(0)
	for _, name := range modelsTinyFiles {
		fi, err := os.Stat(filepath.Join(modelsTinyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	question := fmt.Sprintf("Download tiny-hub (%.1f kB) from %s? [y/N]", float64(size)/1e3, strings.TrimPrefix(hub.srv.URL, "http://"))
	for _, tc := range []struct {
		answer string
		code   int
	}{{"n", exitFailure}, {"y", 0}} {
		t.Run(tc.answer, func(t *testing.T) {
			cmd := firstUseCmd(data, hub.registry, "models", "use", "tiny-hub")
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 24})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var tty bytes.Buffer
			asked := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 4096)
				var once sync.Once
				for {
					n, err := f.Read(buf)
					tty.Write(buf[:n])
					if strings.Contains(tty.String(), "[y/N]") {
						once.Do(func() { close(asked) })
					}
					if err != nil {
						return
					}
				}
			}()
			select {
			case <-asked:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("no question on the terminal: %q", tty.String())
			}
			before := len(hub.log())
			io.WriteString(f, tc.answer+"\n")
			err = cmd.Wait()
			<-done
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			out := tty.String()
			if code != tc.code || strings.Count(out, "[y/N]") != 1 || !strings.Contains(out, question) {
				t.Fatalf("answer %q: exit %d (want %d), terminal %q, want the question %q once", tc.answer, code, tc.code, out, question)
			}
			requests := len(hub.log()) - before
			if tc.answer == "n" {
				if requests != 0 || !strings.Contains(out, "download declined") {
					t.Errorf("declined: %d requests, terminal %q", requests, out)
				}
				assertNoModel(t, data)
				return
			}
			if requests != len(modelsTinyFiles) || strings.TrimSpace(stdout.String()) != "default model: tiny-hub" {
				t.Errorf("accepted: %d requests, stdout %q, terminal %q", requests, stdout.String(), out)
			}
		})
	}
}

// TestAskYesNo covers the answers the question accepts.
func TestAskYesNo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{{"y\n", true}, {"YES\n", true}, {" yes \n", true}, {"n\n", false}, {"\n", false}, {"", false}, {"yep\n", false}} {
		var w bytes.Buffer
		got, err := askYesNo(context.Background(), strings.NewReader(tc.in), &w, "Q? ")
		if err != nil || got != tc.want || !strings.HasPrefix(w.String(), "Q? ") {
			t.Errorf("%q: %v, %v (wrote %q), want %v", tc.in, got, err, w.String(), tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	if _, err := askYesNo(ctx, pr, io.Discard, "Q? "); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while asking: %v", err)
	}
}

const emojiModel = "../../onnx-models/emoji-clip"

// TestCameraPhotoNotice: a library on the bundled model whose first batch
// is mostly JPEGs of 1 MP or more gets one notice naming the pull command,
// as one JSON event off a terminal, however many batches follow; small
// pictures, or another model, get none.
func TestCameraPhotoNotice(t *testing.T) {
	photos := t.TempDir()
	for i := range 10 {
		writeJPEG(t, filepath.Join(photos, fmt.Sprintf("IMG_%04d.jpg", i)), i, 1200, 900)
	}
	icons := photoFolder(t, 10)
	count := func(stderr string) (events []map[string]any) {
		for _, line := range strings.Split(stderr, "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "notice" {
				events = append(events, ev)
			}
		}
		return events
	}
	r := run(t, "index", "--library", t.TempDir(), "--model", emojiModel, "--batch", "4", photos)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	ev := count(r.stderr)
	if len(ev) != 1 || ev[0]["notice"] != noticePhotoModel {
		t.Fatalf("%d notices, want 1 photo_model notice:\n%s", len(ev), r.stderr)
	}
	cmds, _ := ev[0]["commands"].([]any)
	if len(cmds) != 2 || cmds[0] != "mmsearch models pull openai-clip-vit-b32" ||
		!strings.HasPrefix(fmt.Sprint(cmds[1]), "mmsearch index --model openai-clip-vit-b32 --library NEW-LIBRARY ") ||
		!strings.Contains(fmt.Sprint(ev[0]["message"]), "camera photos") || strings.Contains(r.stdout, "camera photos") {
		t.Errorf("notice %v; stdout %s", ev[0], r.stdout)
	}
	for _, tc := range []struct{ name, model, dir string }{
		{"small pictures", emojiModel, icons},
		{"another model", tinyModel, photos},
	} {
		r := run(t, "index", "--library", t.TempDir(), "--model", tc.model, "--batch", "4", tc.dir)
		if r.code != 0 || len(count(r.stderr)) != 0 || strings.Contains(r.stderr, "camera photos") {
			t.Errorf("%s: exit %d, a notice:\n%s", tc.name, r.code, r.stderr)
		}
	}
}

// TestProgressNoticeOnTerminal: on a terminal the notice clears the bar's
// line, prints the message and each command indented, and the bar comes back
// at the next update.
func TestProgressNoticeOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	bar := newProgressBar(&buf, true, func() int { return 80 }, "indexing")
	bar.update(progressState{Done: 1, Total: 10, Counting: -1, Found: -1, Elapsed: time.Second}, false)
	msg, cmds := photoModelNotice([]string{"/photos/2024", "/my photos"})
	bar.notice(noticePhotoModel, msg, cmds)
	bar.update(progressState{Done: 2, Total: 10, Counting: -1, Found: -1, Elapsed: time.Second}, false)
	out := buf.String()
	want := "\r\033[K" + msg + "\n    mmsearch models pull openai-clip-vit-b32\n    mmsearch index --model openai-clip-vit-b32 --library NEW-LIBRARY /photos/2024 '/my photos'\n\r\033[Kindexing"
	if !strings.Contains(out, want) {
		t.Errorf("terminal output %q lacks %q", out, want)
	}
}
