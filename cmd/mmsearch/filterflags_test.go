package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// TestFilterFlagsParse: each filter flag's accepted forms and what they
// become in the engine's options.
func TestFilterFlagsParse(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	sep := string(filepath.Separator)
	score := func(x float32) *float32 { return &x }
	tests := []struct {
		args []string
		want engine.SearchOptions
	}{
		{nil, engine.SearchOptions{}},
		{[]string{"--after", "2024-06-01"}, engine.SearchOptions{Filter: engine.Filter{After: time.Date(2024, 6, 1, 0, 0, 0, 0, time.Local)}}},
		{[]string{"--before", "2024", "--after", "2023-12-24T18:00"}, engine.SearchOptions{Filter: engine.Filter{
			After: time.Date(2023, 12, 24, 18, 0, 0, 0, time.Local), Before: time.Date(2024, 1, 1, 0, 0, 0, 0, time.Local)}}},
		{[]string{"--after", "2024-06-01T10:00:00Z"}, engine.SearchOptions{Filter: engine.Filter{After: time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)}}},
		{[]string{"--camera", "Pixel 7"}, engine.SearchOptions{Filter: engine.Filter{Camera: "Pixel 7"}}},
		{[]string{"--format", "JPG,heic"}, engine.SearchOptions{Filter: engine.Filter{Formats: []string{"jpeg", "heic"}}}},
		{[]string{"--min-pixels", "12000000"}, engine.SearchOptions{Filter: engine.Filter{MinPixels: 12_000_000}}},
		{[]string{"--path", "/photos/2024"}, engine.SearchOptions{Filter: engine.Filter{PathPrefix: "/photos/2024"}}},
		{[]string{"--path", "camera roll"}, engine.SearchOptions{Filter: engine.Filter{PathPrefix: filepath.Join(wd, "camera roll")}}},
		{[]string{"--path", "camera roll/"}, engine.SearchOptions{Filter: engine.Filter{PathPrefix: filepath.Join(wd, "camera roll") + sep}}},
		{[]string{"--prefix", "./a/../b"}, engine.SearchOptions{Filter: engine.Filter{PathPrefix: filepath.Join(wd, "b")}}},
		{[]string{"--min-score", "0.25"}, engine.SearchOptions{MinScore: score(0.25)}},
		{[]string{"--min-score", "-1"}, engine.SearchOptions{MinScore: score(-1)}},
		{[]string{"--sort", "date"}, engine.SearchOptions{Sort: engine.SortDate}},
		{[]string{"--sort", "score"}, engine.SearchOptions{Sort: engine.SortScore}},
	}
	for _, tc := range tests {
		var ff filterFlags
		fs := flag.NewFlagSet("search", flag.ContinueOnError)
		ff.register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		var got engine.SearchOptions
		if err := ff.apply(&got); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !got.Filter.After.Equal(tc.want.Filter.After) || !got.Filter.Before.Equal(tc.want.Filter.Before) ||
			got.Filter.Camera != tc.want.Filter.Camera || !slices.Equal(got.Filter.Formats, tc.want.Filter.Formats) ||
			got.Filter.MinPixels != tc.want.Filter.MinPixels || got.Filter.PathPrefix != tc.want.Filter.PathPrefix ||
			(got.MinScore == nil) != (tc.want.MinScore == nil) || got.MinScore != nil && *got.MinScore != *tc.want.MinScore ||
			cmpSort(got.Sort) != cmpSort(tc.want.Sort) {
			t.Errorf("%q: options %+v (min score %v), want %+v", tc.args, got.Filter, got.MinScore, tc.want.Filter)
		}
	}
}

func cmpSort(s engine.Sort) engine.Sort {
	if s == "" {
		return engine.SortScore
	}
	return s
}

// TestFilterFlagsRefused: a bad filter value is a usage error (exit 2)
// whose message names the flag or the problem, before any library is read.
func TestFilterFlagsRefused(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--after", "yesterday"}, "-after"},
		{[]string{"--after", "yesterday"}, `date "yesterday": want YYYY`},
		{[]string{"--before", "2024-13"}, "-before"},
		{[]string{"--after", "2024-02-30"}, "-after"},
		{[]string{"--after", "2024", "--before", "2023"}, "is not before"},
		{[]string{"--after", "2024-06-01", "--before", "2024-06-01"}, "is not before"},
		{[]string{"--format", "raw"}, `unknown format "raw"`},
		{[]string{"--format", "jpeg,,png"}, "empty format name"},
		{[]string{"--min-pixels", "-1"}, "-min-pixels"},
		{[]string{"--min-pixels", "many"}, "-min-pixels"},
		{[]string{"--min-score", "abc"}, "-min-score"},
		{[]string{"--min-score", "NaN"}, "not a finite number"},
		{[]string{"--min-score", "1.5"}, "can never be met"},
		{[]string{"--sort", "name"}, `unknown sort "name"`},
		{[]string{"--path", "a\x00b"}, "-path"},
		{[]string{"--camera", strings.Repeat("x", engine.MaxFilterText+1)}, "camera text longer"},
	}
	for _, tc := range tests {
		args := append(append([]string{"search", "--library", t.TempDir()}, tc.args...), "cat")
		code, _, stderr := runCLI(args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d (want %d), stderr %q (want %q)", tc.args, code, exitUsage, stderr, tc.want)
		}
	}
}

// TestCLIFilters is the end-to-end test of the filter flags: real pictures
// of two formats and two sizes with set modification times, indexed with
// the tiny model into a real library, searched by the mmsearch binary with
// each filter; each search returns exactly the items the filter matches.
func TestCLIFilters(t *testing.T) {
	dir, lib := t.TempDir(), t.TempDir()
	type pic struct {
		name   string
		w, h   int
		jpeg   bool
		mtime  string
		format string
	}
	pics := []pic{
		{"a/old1.png", 24, 16, false, "2020-03-01", "png"},
		{"a/old2.jpg", 24, 16, true, "2020-06-01", "jpeg"},
		{"b/new1.png", 64, 48, false, "2024-06-01", "png"},
		{"b/new2.jpg", 64, 48, true, "2024-07-01", "jpeg"},
		{"camera roll/c.png", 32, 32, false, "2023-01-01", "png"},
	}
	for i, p := range pics {
		path := filepath.Join(dir, p.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if p.jpeg {
			writeJPEG(t, path, i+1, p.w, p.h)
		} else {
			imagetest.Write(t, path, imagetest.PNG(t, imagetest.Pattern(i+1, p.w, p.h)))
		}
		mt, err := time.ParseInLocation("2006-01-02", p.mtime, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, "index", "--library", lib, "--model", tinyModel, dir); r.code != exitOK {
		t.Fatalf("index: %d %s %s", r.code, r.stdout, r.stderr)
	}
	search := func(wd string, args ...string) ([]engine.Result, result) {
		t.Helper()
		r := runIn(t, wd, append(append([]string{"search", "--library", lib, "--json", "-k", "10"}, args...), "cat")...)
		if r.code != exitOK {
			return nil, r
		}
		var sr engine.SearchResult
		if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil {
			t.Fatalf("%q: %v %s", args, err, r.stdout)
		}
		return sr.Results, r
	}
	names := func(rs []engine.Result) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			rel, err := filepath.Rel(dir, r.Path)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = filepath.ToSlash(rel)
		}
		return out
	}
	tests := []struct {
		wd   string
		args []string
		want []string // sorted, or in order when ordered
		ord  bool
	}{
		{"", []string{"--after", "2024-01-01"}, []string{"b/new1.png", "b/new2.jpg"}, false},
		{"", []string{"--before", "2021"}, []string{"a/old1.png", "a/old2.jpg"}, false},
		{"", []string{"--after", "2020-05", "--before", "2024-06-15"}, []string{"a/old2.jpg", "b/new1.png", "camera roll/c.png"}, false},
		{"", []string{"--format", "jpeg"}, []string{"a/old2.jpg", "b/new2.jpg"}, false},
		{"", []string{"--format", "jpg,png"}, []string{"a/old1.png", "a/old2.jpg", "b/new1.png", "b/new2.jpg", "camera roll/c.png"}, false},
		{"", []string{"--min-pixels", "1024"}, []string{"b/new1.png", "b/new2.jpg", "camera roll/c.png"}, false},
		{"", []string{"--min-pixels", "1025", "--format", "png"}, []string{"b/new1.png"}, false},
		{"", []string{"--path", filepath.Join(dir, "a") + string(filepath.Separator)}, []string{"a/old1.png", "a/old2.jpg"}, false},
		{dir, []string{"--path", "b"}, []string{"b/new1.png", "b/new2.jpg"}, false},
		{dir, []string{"--prefix", "camera roll"}, []string{"camera roll/c.png"}, false},
		{filepath.Join(dir, "a"), []string{"--path", "../camera"}, []string{"camera roll/c.png"}, false},
		{"", []string{"--sort", "date"}, []string{"b/new2.jpg", "b/new1.png", "camera roll/c.png", "a/old2.jpg", "a/old1.png"}, true},
		{"", []string{"--sort", "date", "--format", "png"}, []string{"b/new1.png", "camera roll/c.png", "a/old1.png"}, true},
	}
	for _, tc := range tests {
		rs, r := search(tc.wd, tc.args...)
		if r.code != exitOK {
			t.Errorf("%q: exit %d %s", tc.args, r.code, r.stderr)
			continue
		}
		got := names(rs)
		if !tc.ord {
			slices.Sort(got)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: results %q, want %q", tc.args, got, tc.want)
		}
	}

	// --min-score keeps exactly the results at or above it.
	all, r := search("")
	if r.code != exitOK || len(all) != len(pics) {
		t.Fatalf("unfiltered: exit %d, %d results %s", r.code, len(all), r.stderr)
	}
	cut := all[2].Score
	kept, r := search("", "--min-score", jsonFloat(cut))
	want := 0
	for _, x := range all {
		if x.Score >= cut {
			want++
		}
	}
	if r.code != exitOK || len(kept) != want || want < 3 || want == len(all) {
		t.Errorf("--min-score %v: exit %d, %d results, want %d of %d %s", cut, r.code, len(kept), want, len(all), r.stderr)
	}

	// Nothing matching is exit 3; a camera filter is refused (exit 2) until
	// the store records cameras.
	if _, r := search("", "--after", "2030"); r.code != exitNotFound {
		t.Errorf("--after 2030: exit %d, want %d: %s", r.code, exitNotFound, r.stderr)
	}
	if _, r := search("", "--camera", "Canon"); r.code != exitUsage || !strings.Contains(r.stderr, "camera") {
		t.Errorf("--camera: exit %d, want %d: %s", r.code, exitUsage, r.stderr)
	}
}

// jsonFloat writes x as --json does, so the flag parses back to the same
// float32.
func jsonFloat(x float32) string {
	b, _ := json.Marshal(x)
	return string(b)
}
