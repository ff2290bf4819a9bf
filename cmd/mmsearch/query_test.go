package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/engine"
)

// TestCLIQueryReading runs `mmsearch search` on a real library (tiny model,
// real SQLite) from the folder holding "camera roll/cat.jpg": every search
// says how its query was read ("query: ..." on stderr in table mode, read_as
// in --json), quoted paths with spaces and file: are images, and Unicode
// operators, glued operators, unknown files and items are handled as the
// README says, with the caret under the right place.
func TestCLIQueryReading(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(wd, tinyModel)
	dir := t.TempDir()
	roll := filepath.Join(dir, "camera roll")
	if err := os.Mkdir(roll, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"cat.jpg", "dog.jpg", "sea.jpg", "sky.jpg"} {
		writeJPEG(t, filepath.Join(roll, name), i+1, 40+i, 30)
	}
	lib := filepath.Join(dir, "lib")
	if r := runIn(t, dir, "index", "--library", lib, "--model", model, roll); r.code != 0 {
		t.Fatalf("index: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	catPath := filepath.Join(roll, "cat.jpg")

	t.Run("table", func(t *testing.T) {
		tests := []struct {
			name, expr, want string
		}{
			{"single-quoted path", `'./camera roll/cat.jpg' - "cat"`, `query: 1.0 × image './camera roll/cat.jpg' − 1.0 × text "cat"` + "\n"},
			{"double-quoted path, unicode minus", `"./camera roll/cat.jpg" − 0.5:cat`, `query: 1.0 × image './camera roll/cat.jpg' − 0.5 × text "cat"` + "\n"},
			{"file prefix, en dash", `file:camera roll/cat.jpg – dog + 2:sea`, `query: 1.0 × image 'camera roll/cat.jpg' − 1.0 × text "dog" + 2.0 × text "sea"` + "\n"},
			{"text only", `sunset over the sea`, `query: 1.0 × text "sunset over the sea"` + "\n"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := runIn(t, dir, "search", "--library", lib, "-k", "3", tc.expr)
				if r.code != 0 {
					t.Fatalf("code %d\n%s\n%s", r.code, r.stdout, r.stderr)
				}
				if r.stderr != tc.want {
					t.Errorf("stderr %q, want %q", r.stderr, tc.want)
				}
				if !strings.HasPrefix(r.stdout, "RANK") || strings.Contains(r.stdout, "query:") {
					t.Errorf("stdout %q", r.stdout)
				}
				if strings.Contains(tc.expr, "cat.jpg") && strings.Contains(r.stdout, catPath) {
					t.Errorf("the input picture is among the results:\n%s", r.stdout)
				}
			})
		}
	})

	t.Run("json", func(t *testing.T) {
		r := runIn(t, dir, "search", "--library", lib, "--json", "-k", "2", `'./camera roll/cat.jpg' − "cat"`)
		var sr engine.SearchResult
		if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil || r.code != 0 {
			t.Fatalf("%v code %d %s %s", err, r.code, r.stdout, r.stderr)
		}
		if want := `1.0 × image './camera roll/cat.jpg' − 1.0 × text "cat"`; sr.ReadAs != want {
			t.Errorf("read_as %q, want %q", sr.ReadAs, want)
		}
		if len(sr.Terms) != 2 || sr.Terms[0].Kind != "path" || sr.Terms[0].ItemID == 0 || sr.Terms[1].Coef != -1 {
			t.Errorf("terms %+v", sr.Terms)
		}
		if !strings.Contains(r.stdout, `"read_as": `) || r.stderr != "" {
			t.Errorf("stdout %s\nstderr %q", r.stdout, r.stderr)
		}
		// -f prints paths only and no reading.
		r = runIn(t, dir, "search", "--library", lib, "-f", "-k", "2", "cat")
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, "query:") {
			t.Errorf("-f: code %d %q %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, expr, msg, caret string
		}{
			{"quoted path naming nothing", `'./camera roll/none.jpg' - cat`, "query: position 0: unknown file ./camera roll/none.jpg",
				"'./camera roll/none.jpg' - cat\n^~~~~~~~~~~~~~~~~~~~~~~~"},
			{"file prefix naming nothing", `cat + file:none.jpg`, "query: position 6: unknown file none.jpg",
				"cat + file:none.jpg\n      ^~~~~~~~~~~~~"},
			{"glued operator", `cat -dog`, `query: position 4: operator '-' glued to "dog"`, "cat -dog\n    ^~~~"},
			{"unknown item before a unicode minus", `@999 − "cow" + "panda"`, "query: position 0: no indexed item @999\n",
				"@999 − \"cow\" + \"panda\"\n^~~~"},
			{"bare file name", `cat.jpg - dog`, `query: position 0: "cat.jpg" looks like a file name`, "cat.jpg - dog\n^~~~~~~"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := runIn(t, dir, "search", "--library", lib, tc.expr)
				if r.code != exitUsage {
					t.Errorf("code %d, want %d", r.code, exitUsage)
				}
				if !strings.Contains(r.stderr, tc.msg) || !strings.HasPrefix(r.stderr, tc.caret+"\n") {
					t.Errorf("stderr\n%s\nwant the caret\n%s\nand %q", r.stderr, tc.caret, tc.msg)
				}
				if r.stdout != "" || strings.Contains(r.stderr, "query: 1.0") {
					t.Errorf("a refused query printed %q / %q", r.stdout, r.stderr)
				}
			})
		}
	})
}
