package atomicfile

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		old     string // "" = no file before
		write   func(w *bufio.Writer) error
		want    string
		wantErr error
	}{
		{"new file", "", func(w *bufio.Writer) error { _, err := w.WriteString("hello"); return err }, "hello", nil},
		{"replaces", "old content", func(w *bufio.Writer) error { _, err := w.WriteString("new"); return err }, "new", nil},
		{"failed write keeps old", "old content", func(w *bufio.Writer) error { w.WriteString("partial"); return boom }, "old content", boom},
		{"failed write creates nothing", "", func(w *bufio.Writer) error { return boom }, "", boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.bin")
			if tc.old != "" {
				if err := os.WriteFile(path, []byte(tc.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := Write(path, 0o640, tc.write)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Write: %v, want %v", err, tc.wantErr)
			}
			got, rerr := os.ReadFile(path)
			if tc.want == "" {
				if !errors.Is(rerr, os.ErrNotExist) {
					t.Fatalf("file exists after a failed first write: %q, %v", got, rerr)
				}
			} else if string(got) != tc.want {
				t.Fatalf("content %q, want %q", got, tc.want)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) > 1 || (len(ents) == 1 && ents[0].Name() != "f.bin") {
				t.Fatalf("temporary files left: %v", ents)
			}
			if err == nil {
				fi, _ := os.Stat(path)
				if fi.Mode().Perm() != 0o640 {
					t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
				}
			}
		})
	}
}

func TestWriteFileMissingFolder(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "nope", "f"), []byte("x"), 0o644)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("WriteFile into a missing folder: %v, want ErrNotExist", err)
	}
}
