package store

import (
	"context"
	"errors"
	"os"
	"testing"
)

// TestCheckFindsDamagedFile damages the file of an open store in several
// ways; Check reports each as ErrCorrupt and passes again once the file is
// restored.
func TestCheckFindsDamagedFile(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
	orig, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	bigPage := append([]byte(nil), orig...)
	bigPage[16], bigPage[17] = 0, 0x80 // page size 128: below SQLite's minimum
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"shorter than the header", orig[:99]},
		{"truncated", orig[:len(orig)-1]},
		{"not SQLite", append([]byte("PK\x03\x04 a zip file, not a database"), make([]byte, len(orig))...)},
		{"bad page size", bigPage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(s.Path(), tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(s.Path(), orig, 0o644)
			if err := s.Check(ctx); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Check = %v, want ErrCorrupt", err)
			}
		})
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("restored store: %v", err)
	}
}
