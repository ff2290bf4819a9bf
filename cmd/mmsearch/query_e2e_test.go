package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// indexTiny indexes files (name → content) with the tiny model into a new
// library and returns the library and the folder.
func indexTiny(t *testing.T, files map[string][]byte) (lib, dir string) {
	t.Helper()
	dir, lib = t.TempDir(), t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, "index", "--library", lib, "--model", tinyModel, dir)
	if r.code != exitOK && r.code != exitFailure {
		t.Fatalf("index: %d %s %s", r.code, r.stdout, r.stderr)
	}
	return lib, dir
}

func pictures(t *testing.T, names ...string) map[string][]byte {
	files := map[string][]byte{}
	for i, n := range names {
		files[n] = imagetest.PatternPNG(t, i+1)
	}
	return files
}

// TestCLIExtremeWeights is the outside run's case over the CLI: 13 terms of
// weight 1e38 in both modes give finite scores that --json can print.
func TestCLIExtremeWeights(t *testing.T) {
	lib, _ := indexTiny(t, pictures(t, "a.png", "b.png", "c.png", "d.png"))
	huge := "1" + strings.Repeat("0", 38)
	var terms []string
	for _, w := range []string{"cat", "dog", "sun", "moon", "tree", "car", "boat", "fish", "bird", "cup", "pen", "key", "hat"} {
		terms = append(terms, huge+":"+w)
	}
	queries := []string{strings.Join(terms, " + "), huge + ":cat - " + huge + ":dog", huge + ":cat + " + huge + ":dog"}
	for _, mode := range []string{"add", "mul"} {
		for _, q := range queries {
			r := run(t, "search", "--library", lib, "--mode", mode, "--json", "-k", "4", q)
			var sr engine.SearchResult
			if r.code != exitOK {
				t.Fatalf("%s %.40q: exit %d %s", mode, q, r.code, r.stderr)
			}
			if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil || len(sr.Results) != 4 {
				t.Fatalf("%s: --json: %v %s", mode, err, r.stdout)
			}
			for _, res := range sr.Results {
				if s := float64(res.Score); math.IsInf(s, 0) || math.IsNaN(s) || math.Abs(s) > 1e3 {
					t.Errorf("%s: score %v", mode, res.Score)
				}
			}
			// The table shows the same finite scores.
			if r := run(t, "search", "--library", lib, "--mode", mode, "-k", "4", q); r.code != exitOK || strings.Contains(r.stdout, "Inf") || strings.Contains(r.stdout, "e+") {
				t.Errorf("%s table: %d %s %s", mode, r.code, r.stdout, r.stderr)
			}
		}
	}
}

// TestCLITermsThatCancel: "cat - cat" exits 2 with the query and a caret
// under the terms, in both modes.
func TestCLITermsThatCancel(t *testing.T) {
	lib, _ := indexTiny(t, pictures(t, "a.png", "b.png"))
	for _, mode := range []string{"add", "mul"} {
		r := run(t, "search", "--library", lib, "--mode", mode, "cat - cat")
		if r.code != exitUsage || !strings.Contains(r.stderr, "position 0: the terms cancel out") || !strings.Contains(r.stderr, "cat - cat\n^~~~~~~~~") {
			t.Errorf("%s: exit %d, stderr %q", mode, r.code, r.stderr)
		}
	}
}

// TestCLIOddNames: names with invalid UTF-8, spaces and newlines survive
// -0 byte for byte, and --json (search, errors, index) carries the exact
// bytes of a name that is not valid UTF-8 in path_bytes.
func TestCLIOddNames(t *testing.T) {
	bad := "bad\xff\xfename.png"
	spaced := "two words\nand a newline.png"
	files := pictures(t, bad, spaced, "plain.png")
	junk := "junk\xe9.png" // Latin-1 é: invalid UTF-8, and a broken picture
	files[junk] = imagetest.PatternPNG(t, 9)[:60]
	dir, lib := t.TempDir(), t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, "index", "--library", lib, "--model", tinyModel, "--json", dir)
	var rep struct{ Errors []map[string]any }
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Errors) != 1 {
		t.Fatalf("index --json: %v %s %s", err, r.stdout, r.stderr)
	}
	if got := decodeBytes(t, rep.Errors[0]["PathBytes"]); got != filepath.Join(dir, junk) {
		t.Errorf("index --json PathBytes = %q", got)
	}

	want := []string{filepath.Join(dir, bad), filepath.Join(dir, spaced), filepath.Join(dir, "plain.png")}
	sort.Strings(want)
	for _, flag := range []string{"-0", "--print0"} {
		r = run(t, "search", "--library", lib, flag, "-k", "3", "red")
		if r.code != exitOK || !strings.HasSuffix(r.stdout, "\x00") {
			t.Fatalf("%s: exit %d %q %s", flag, r.code, r.stdout, r.stderr)
		}
		got := strings.Split(strings.TrimSuffix(r.stdout, "\x00"), "\x00")
		sort.Strings(got)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s paths %q, want %q", flag, got, want)
		}
	}
	if r := run(t, "search", "--library", lib, "-0", "--json", "red"); r.code != exitUsage {
		t.Errorf("-0 with --json: exit %d", r.code)
	}

	r = run(t, "search", "--library", lib, "--json", "-k", "3", "red")
	var sr struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil || len(sr.Results) != 3 {
		t.Fatalf("search --json: %v %s", err, r.stdout)
	}
	seen := 0
	for _, res := range sr.Results {
		p := res["path"].(string)
		raw, has := res["path_bytes"]
		switch {
		case strings.Contains(p, "\uFFFD"):
			seen++
			if got := decodeBytes(t, raw); got != filepath.Join(dir, bad) {
				t.Errorf("path_bytes = %q, want %q", got, filepath.Join(dir, bad))
			}
		case has:
			t.Errorf("path_bytes on a valid name %q", p)
		case p != filepath.Join(dir, spaced) && p != filepath.Join(dir, "plain.png"):
			t.Errorf("unexpected path %q", p)
		}
	}
	if seen != 1 {
		t.Errorf("%d results with an invalid name, want 1: %s", seen, r.stdout)
	}

	r = run(t, "errors", "--library", lib, "--json")
	var errs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &errs); err != nil || len(errs) != 1 {
		t.Fatalf("errors --json: %v %s", err, r.stdout)
	}
	if got := decodeBytes(t, errs[0]["path_bytes"]); got != filepath.Join(dir, junk) {
		t.Errorf("errors path_bytes = %q", got)
	}
}

// decodeBytes reads a []byte field of decoded JSON (a base64 string).
func decodeBytes(t *testing.T, v any) string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("not a base64 string: %#v", v)
	}
	var b []byte
	if err := json.Unmarshal([]byte(`"`+s+`"`), &b); err != nil {
		t.Fatal(err)
	}
	return string(bytes.Clone(b))
}
