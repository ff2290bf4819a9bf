package mmapfile

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("mmsearch"), 3000)
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !bytes.Equal(m.Bytes(), want) {
		t.Fatal("mapped bytes differ from the file")
	}
	if runtime.GOOS == "linux" && !m.Mapped() {
		t.Fatal("not mapped on linux")
	}
	// Writes after Writable stay private to this process.
	if err := m.Writable(); err != nil {
		t.Fatal(err)
	}
	m.Bytes()[0] = 'X'
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, want) {
		t.Fatal("a write to the mapping reached the file")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if m.Bytes() != nil {
		t.Fatal("Bytes after Close")
	}
	if err := m.Writable(); err == nil {
		t.Fatal("Writable after Close succeeded")
	}
}

func TestOpenEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "empty")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Bytes()) != 0 || m.Close() != nil {
		t.Fatal("empty file")
	}
	if _, err := Open(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("a folder was mapped")
	}
}

// A file replaced by rename keeps its old bytes in the mapping.
func TestRenameKeepsMapping(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	old := bytes.Repeat([]byte{1}, 10000)
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tmp := filepath.Join(dir, "tmp")
	if err := os.WriteFile(tmp, bytes.Repeat([]byte{2}, 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Bytes(), old) {
		t.Fatal("the mapping changed when the file was replaced")
	}
}
