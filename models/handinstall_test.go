package models

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDownloadUnreachableIsOffline: nothing listens on the server's port.
// The download gives up after two attempts with ErrOffline (not after
// MaxRetries back-offs) and leaves no file behind; a server that answers
// 503 is still retried MaxRetries times.
func TestDownloadUnreachableIsOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := testHub(t, nil)
	h.MaxRetries = 10
	dst := filepath.Join(t.TempDir(), "f")
	attempts := 0
	_, err = h.Download(context.Background(), FileSpec{Path: "f", URL: "http://" + addr + "/f"}, dst, func(int64, int64) { attempts++ })
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err %v, want ErrOffline naming %s", err, addr)
	}
	if _, serr := os.Stat(dst); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("a file was left: %v", serr)
	}

	fs := newFileServer(t)
	fs.add("/g", []byte("data"))
	fs.statuses["/g"] = []int{503, 503, 503}
	h2 := testHub(t, fs)
	h2.MaxRetries = 3
	if _, err := h2.Download(context.Background(), FileSpec{Path: "g", URL: fs.url("/g")}, filepath.Join(t.TempDir(), "g"), nil); err == nil || errors.Is(err, ErrOffline) {
		t.Fatalf("503s: err %v, want a plain give-up", err)
	}
	if n := len(fs.log()); n != 3 {
		t.Errorf("503s: %d requests, want MaxRetries = 3", n)
	}
}

func TestIsUnreachable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, true},
		{&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, false},
		{&net.OpError{Op: "dial", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}, true},
		{&net.OpError{Op: "read", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNREFUSED}}, false},
		{errors.New("EOF"), false},
	} {
		if got := isUnreachable(tc.err); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestEntryImportHintAndSize(t *testing.T) {
	e := Entry{Name: "clip", Layout: LayoutHuggingFace, Files: []FileSpec{
		{Path: "onnx/vision_model.onnx", URL: "https://models.example/v?token=secret", Size: 351_685_709, SHA256: strings.Repeat("a", 64)},
		{Path: "tokenizer.json", URL: "https://cdn.example/t"},
	}}
	hint := e.ImportHint()
	for _, want := range []string{"download these 2 files", "DIR/onnx/vision_model.onnx  (351.7 MB, sha256 aaaa", "https://models.example/v\n",
		"DIR/tokenizer.json  (no published sha256)", "mmsearch models import --name clip --layout huggingface DIR"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint lacks %q:\n%s", want, hint)
		}
	}
	if strings.Contains(hint, "secret") {
		t.Errorf("hint shows a URL's query: %s", hint)
	}
	if got := e.SizeText(); got != "at least 351.7 MB; 1 of its 2 files have no published size" {
		t.Errorf("SizeText %q", got)
	}
	if got := strings.Join(e.Hosts(), ","); got != "models.example,cdn.example" {
		t.Errorf("Hosts %q", got)
	}
	e.Files = e.Files[:1]
	if got := e.SizeText(); got != "351.7 MB" {
		t.Errorf("SizeText %q", got)
	}
}
