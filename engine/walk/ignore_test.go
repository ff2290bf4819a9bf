package walk

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWalkIgnore checks that Options.Ignore is asked about every entry
// below a root, with isDir as followed through links, that an excluded
// folder is never entered, and that a root is never asked about.
func TestWalkIgnore(t *testing.T) {
	base := t.TempDir()
	tree{
		dirs: []string{"skipme/deep"},
		files: map[string]string{
			"a.jpg": "a", "b.tmp": "b", "skipme/deep/c.jpg": "c", "keep/d.jpg": "d", "elsewhere/e.jpg": "e",
		},
		links: map[string]string{"linked": "elsewhere", "link.tmp": "a.jpg"},
	}.build(t, base)
	asked := map[string]bool{}
	var files []string
	err := Walk(context.Background(), []string{base}, Options{
		Ignore: func(path string, isDir bool) bool {
			rel, _ := filepath.Rel(base, path)
			asked[rel] = isDir
			return rel == "skipme" || strings.HasSuffix(rel, ".tmp") || rel == "elsewhere"
		},
	}, func(f File) error {
		rel, _ := filepath.Rel(base, f.Path)
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	// elsewhere is excluded under its own name, but reached through the
	// link "linked", which is not.
	if want := []string{"a.jpg", "keep/d.jpg", "linked/e.jpg"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
	if _, ok := asked["skipme/deep"]; ok {
		t.Error("asked about an entry inside an excluded folder: the walk entered it")
	}
	if isDir, ok := asked["linked"]; !ok || !isDir {
		t.Errorf("link to a folder asked as isDir=%v (asked %v)", isDir, ok)
	}
	if isDir, ok := asked["link.tmp"]; !ok || isDir {
		t.Errorf("link to a file asked as isDir=%v (asked %v)", isDir, ok)
	}
	if _, ok := asked["."]; ok {
		t.Error("the root was asked about")
	}
}
