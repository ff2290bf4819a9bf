package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestProgressLineFits: at every width from 1 to 220 columns the terminal
// line is one line shorter than the width (so the cursor never reaches the
// last column and nothing wraps), keeps the count (shortened if need be)
// whenever it fits, and gives up the other fields in order of importance:
// the ETA is the last to go, the label and the files found the first.
func TestProgressLineFits(t *testing.T) {
	states := map[string]progressState{
		"running":       {Done: 1824, Total: 123456, Counting: -1, Found: 200000, Failed: 12, Elapsed: 95 * time.Second},
		"counting":      {Done: 1824, Total: -1, Counting: 65000, Found: 3000, Elapsed: 5 * time.Second},
		"nothing to do": {Done: 0, Total: 0, Counting: -1, Found: 5000, Elapsed: time.Second},
		"huge":          {Done: 123456789, Total: 987654321, Counting: -1, Found: 987654321, Failed: 123456789, Elapsed: 1000 * time.Hour},
	}
	for name, s := range states {
		for w := 1; w <= 220; w++ {
			var b bytes.Buffer
			newProgressBar(&b, true, func() int { return w }, "indexing").update(s, true)
			out := b.String()
			if !strings.HasPrefix(out, "\r\033[K") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Fatalf("%s at %d: not one redrawn line: %q", name, w, out)
			}
			line := strings.TrimSuffix(strings.TrimPrefix(out, "\r\033[K"), "\n")
			if len(line) > max(w-1, 1) {
				t.Errorf("%s at %d columns: %d wide: %q", name, w, len(line), line)
			}
			fs := (&progressBar{label: "indexing"}).fields(s)
			count := fs[2].forms
			if w-1 >= len(count[len(count)-1]) && !strings.Contains(line, count[0]) && !strings.Contains(line, count[len(count)-1]) {
				t.Errorf("%s at %d columns: no count %q: %q", name, w, count, line)
			}
		}
	}
	for _, tc := range []struct {
		width     int
		want, not []string
	}{
		{20, []string{"1824/123456 1h45m"}, []string{"indexing", "found", "["}},
		{40, []string{"1824/123456", "1%", "ETA 1h45m", "12 failed"}, []string{"indexing", "found"}},
		{80, []string{"indexing [", "] 1824/123456 1% 19.2/s ETA 1h45m 12 failed 200000 files found"}, nil},
		{200, []string{"indexing [" + strings.Repeat(" ", barMax-2) + "] 1824/123456"}, nil},
	} {
		var b bytes.Buffer
		newProgressBar(&b, true, func() int { return tc.width }, "indexing").update(states["running"], false)
		line := strings.TrimPrefix(b.String(), "\r\033[K")
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("at %d columns %q lacks %q", tc.width, line, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(line, n) {
				t.Errorf("at %d columns %q has %q", tc.width, line, n)
			}
		}
	}
}

// TestProgressJSONLines: off a terminal each update is one JSON object on a
// line, with the total (-1 while unknown), the count so far and the ETA.
func TestProgressJSONLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgressBar(&b, false, nil, "indexing")
	p.update(progressState{Done: 10, Total: -1, Counting: 300, Found: 40, Elapsed: time.Second}, true)
	p.update(progressState{Done: 20, Total: 300, Counting: -1, Found: 300, Failed: 1, Elapsed: 2 * time.Second}, true)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), b.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first["total"] != -1.0 || first["counting"] != 300.0 || first["eta_s"] != nil {
		t.Errorf("while counting: %v", first)
	}
	if second["total"] != 300.0 || second["eta_s"] != 28.0 || second["failed"] != 1.0 || second["counting"] != nil {
		t.Errorf("with a total: %v", second)
	}
}
