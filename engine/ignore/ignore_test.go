package ignore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompile(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		isDir   bool
		want    bool
	}{
		{"@eaDir", "@eaDir", true, true},
		{"@eaDir", "2024/trip/@eaDir", true, true},
		{"@eaDir", "2024/trip/@eaDir.jpg", false, false},
		{"*.mp4", "a/b/clip.mp4", false, true},
		{"*.mp4", "a/b/clip.mp4.jpg", false, false},
		{"/drafts", "drafts", true, true},
		{"/drafts", "a/drafts", true, false},
		{"raw/", "a/raw", true, true},
		{"raw/", "a/raw", false, false},
		{"a/*/c", "a/b/c", false, true},
		{"a/*/c", "a/b/x/c", false, false},
		{"a/**/c", "a/b/x/c", false, true},
		{"a/**/c", "a/c", false, true},
		{"**/tmp", "x/y/tmp", true, true},
		{"docs/**", "docs/a/b.jpg", false, true},
		{"IMG_00?.jpg", "IMG_001.jpg", false, true},
		{"IMG_00?.jpg", "IMG_0010.jpg", false, false},
		{"[ab]*.png", "x/b1.png", false, true},
		{"[!ab]*.png", "x/b1.png", false, false},
		{".Trash-*", ".Trash-1000", true, true},
		{"$RECYCLE.BIN", "$RECYCLE.BIN", true, true},
		{"$RECYCLE.BIN", "$RECYCLExBIN", true, false},
		{"\\#hash", "#hash", false, true},
		{"ferien ", "ferien", true, true},
		{"Fotos/Ürlaub", "Fotos/Ürlaub", true, true},
	}
	for _, tt := range tests {
		r, ok, err := compile(tt.pattern)
		if err != nil || !ok {
			t.Fatalf("compile(%q): %v %v", tt.pattern, ok, err)
		}
		got, _ := set{rules: []rule{r}}.match(tt.path, tt.isDir)
		if got != tt.want {
			t.Errorf("%q vs %q (dir %v): %v, want %v", tt.pattern, tt.path, tt.isDir, got, tt.want)
		}
	}
	for _, bad := range []string{"[abc", "/", strings.Repeat("x", MaxPatternLen+1)} {
		if _, _, err := compile(bad); err == nil {
			t.Errorf("compile(%q): no error", bad)
		}
	}
	for _, skip := range []string{"", "   ", "# comment"} {
		if _, ok, err := compile(skip); ok || err != nil {
			t.Errorf("compile(%q): ok %v err %v, want skipped", skip, ok, err)
		}
	}
}

func TestMatcher(t *testing.T) {
	root := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(FileName, "*.tmp\n/private/\n")
	write("trips/"+FileName, "# local rules\n!keep.tmp\nscans/\n[bad\n")
	var reported []string
	m, err := New([]string{root}, Options{Patterns: []string{"*.bak", "trips/2019"},
		OnError: func(p string, err error) { reported = append(reported, p+": "+err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"", true, false}, // the root itself
		{"a.jpg", false, false},
		{"a.bak", false, true},              // --exclude, any depth
		{"x/y/a.bak", false, true},          // --exclude, any depth
		{"trips/2019", true, true},          // --exclude, anchored
		{"other/trips/2019", true, false},   // anchored: not here
		{"@eaDir", true, true},              // default
		{"x/node_modules", true, true},      // default
		{"a.tmp", false, true},              // root .mmsearchignore
		{"trips/keep.tmp", false, false},    // re-included below
		{"trips/other.tmp", false, true},    // still excluded
		{"private", true, true},             // anchored dir-only
		{"trips/private", true, false},      // anchored to the root file
		{"trips/scans", true, true},         // trips' file
		{"scans", true, false},              // trips' file applies below trips only
		{"trips/deep/er/scans", true, true}, // unanchored: any depth below trips
	}
	for _, tt := range tests {
		if got := m.Excluded(filepath.Join(root, tt.rel), tt.isDir); got != tt.want {
			t.Errorf("Excluded(%q, dir %v) = %v, want %v", tt.rel, tt.isDir, got, tt.want)
		}
	}
	if !m.Covers(filepath.Join(root, "@eaDir", "SYNOPHOTO_THUMB_XL.jpg")) || !m.Covers(filepath.Join(root, "trips", "scans", "a", "b.jpg")) {
		t.Error("Covers misses files inside excluded folders")
	}
	if m.Covers(filepath.Join(root, "trips", "a.jpg")) {
		t.Error("Covers excludes a plain file")
	}
	if len(reported) != 1 || !strings.Contains(reported[0], "line 4") {
		t.Errorf("bad line reported as %q, want one report naming line 4", reported)
	}

	nd, err := New([]string{root}, Options{NoDefaults: true, NoFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if nd.Excluded(filepath.Join(root, "@eaDir"), true) || nd.Excluded(filepath.Join(root, "a.tmp"), false) {
		t.Error("NoDefaults/NoFiles still exclude")
	}
	if _, err := New([]string{root}, Options{Patterns: []string{"[x"}}); err == nil || !strings.Contains(err.Error(), "[x") {
		t.Errorf("bad --exclude: %v", err)
	}
	if _, err := New([]string{root}, Options{Patterns: make([]string, MaxPatterns+1)}); err == nil {
		t.Error("too many patterns accepted")
	}
}
