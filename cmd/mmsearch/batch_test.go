package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// batchOut is one answer line of search --batch as a test reads it.
type batchOut struct {
	Line    int             `json:"line"`
	ID      json.RawMessage `json:"id"`
	Query   string          `json:"query"`
	ReadAs  string          `json:"read_as"`
	Results []struct {
		ID    int64   `json:"id"`
		Path  string  `json:"path"`
		Score float64 `json:"score"`
	} `json:"results"`
	Error *struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Position *int   `json:"position"`
	} `json:"error"`
}

// TestSearchBatch runs the real binary on a file of queries, plain and
// JSON lines with their own k and filters, with bad lines among them:
// every query gets one answer line, in order, tagged with its input line;
// each answer equals what a search of its own (one process) prints for the
// same query and options; bad lines get a bad_query error (with the
// position of a syntax error) without stopping the batch, and the exit
// status is 2 because of them; a clean batch from standard input exits 0.
func TestSearchBatch(t *testing.T) {
	files := pictures(t, "a.png", "b.png", "c.png", "d.png", "e.png", "f.png")
	dir, lib := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		sub := ""
		if name < "c" {
			sub = "sub"
		}
		if err := os.WriteFile(filepath.Join(dir, sub, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, "index", "--library", lib, "--model", tinyModel, dir); r.code != exitOK {
		t.Fatalf("index: %d %s", r.code, r.stderr)
	}

	type want struct {
		code string   // "" = answered
		msg  string   // in the error message
		args []string // the single search that must give the same results
	}
	lines := []struct {
		line string
		want want
	}{
		{"red", want{args: []string{"-k", "3", "red"}}},
		{"", want{}}, // skipped
		{"# a comment", want{}},
		{`{"q":"blue","k":2,"id":"x1"}`, want{args: []string{"-k", "2", "blue"}}},
		{`{"q":"red + blue","mode":"mul","ef":40}`, want{args: []string{"-k", "3", "--mode", "mul", "--ef", "40", "red + blue"}}},
		{`{"q":"green","path":"sub/","k":5}`, want{args: []string{"-k", "5", "--path", filepath.Join(dir, "sub") + "/", "green"}}},
		{`{"q":"green","prefix":"sub/","k":5}`, want{args: []string{"-k", "5", "--path", filepath.Join(dir, "sub") + "/", "green"}}},
		{`{"q":"red","format":"jpeg"}`, want{args: []string{"-k", "3", "--format", "jpeg", "red"}}},
		{`{"q":"red","min_score":-1,"sort":"date","min_pixels":1}`, want{args: []string{"-k", "3", "--min-score", "-1", "--sort", "date", "--min-pixels", "1", "red"}}},
		{`{"q":"red -"}`, want{code: "bad_query", msg: "dangling"}},
		{`{"q":"red","k":0}`, want{code: "bad_query", msg: "k 0 out of range"}},
		{`{"q":"red","ef":0}`, want{code: "bad_query", msg: "ef 0 out of range"}},
		{`{"q":"red","mode":"dot"}`, want{code: "bad_query", msg: "mode: unknown scoring mode"}},
		{`{"q":"red","format":"svg"}`, want{code: "bad_query", msg: `format: unknown format "svg"`}},
		{`{"q":"red","after":"yesterday"}`, want{code: "bad_query", msg: `after: date "yesterday": want YYYY`}},
		{`{"q":"red","after":"2024","before":"2023"}`, want{code: "bad_query", msg: "is not before"}},
		{`{"q":"red","min_pixels":-1}`, want{code: "bad_query", msg: "min_pixels -1 out of range"}},
		{`{"q":"red","min_score":5}`, want{code: "bad_query", msg: "can never be met"}},
		{`{"q":"red","path":"a","prefix":"b"}`, want{code: "bad_query", msg: "give one"}},
		{`{"q":"red","colour":"red"}`, want{code: "bad_query", msg: `unknown field "colour"`}},
		{`{"q":"red"} {"q":"blue"}`, want{code: "bad_query", msg: "more than one JSON value"}},
		{`{"q":"red",`, want{code: "bad_query", msg: "bad JSON line"}},
		{`{"k":3}`, want{code: "bad_query", msg: `needs a non-empty "q"`}},
		{`{"q":"red","id":"` + strings.Repeat("x", 2000) + `"}`, want{code: "bad_query", msg: "id is 2002 bytes long"}},
		{"./no/such/picture.jpg - red", want{code: "bad_query"}},
		{"green", want{args: []string{"-k", "3", "green"}}}, // the batch goes on after bad lines
	}
	var in strings.Builder
	for _, l := range lines {
		in.WriteString(l.line + "\n")
	}
	batchFile := filepath.Join(t.TempDir(), "queries.txt")
	if err := os.WriteFile(batchFile, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runIn(t, dir, "search", "--library", lib, "-k", "3", "--batch", batchFile)
	if r.code != exitUsage {
		t.Errorf("a batch with bad lines: exit %d, want %d; %s", r.code, exitUsage, r.stderr)
	}
	if !strings.Contains(r.stderr, "batch: 24 queries, 8 answered, 16 bad, 0 failed") {
		t.Errorf("stderr lacks the summary: %s", r.stderr)
	}
	outs := decodeBatch(t, r.stdout)
	var asked []int
	for i, l := range lines {
		if strings.TrimSpace(l.line) != "" && !strings.HasPrefix(l.line, "#") {
			asked = append(asked, i)
		}
	}
	if len(outs) != len(asked) {
		t.Fatalf("%d answer lines for %d queries:\n%s", len(outs), len(asked), r.stdout)
	}
	for j, i := range asked {
		l, got := lines[i], outs[j]
		if got.Line != i+1 {
			t.Errorf("answer %d is tagged line %d, want %d", j, got.Line, i+1)
		}
		if l.want.code != "" {
			if got.Error == nil || got.Error.Code != l.want.code || !strings.Contains(got.Error.Message, l.want.msg) {
				t.Errorf("line %d %q: error %+v, want %s saying %q", i+1, l.line, got.Error, l.want.code, l.want.msg)
			}
			if got.Results != nil {
				t.Errorf("line %d: an error line with results", i+1)
			}
			continue
		}
		if got.Error != nil {
			t.Errorf("line %d %q: %+v", i+1, l.line, got.Error)
			continue
		}
		single := runIn(t, dir, append([]string{"search", "--library", lib, "--json"}, l.want.args...)...)
		var one batchOut
		if err := json.Unmarshal([]byte(single.stdout), &one); err != nil && single.code != exitNotFound {
			t.Fatalf("search %v: %d %v %s", l.want.args, single.code, err, single.stderr)
		}
		if !sameBatchResults(got, one) || got.ReadAs != one.ReadAs {
			t.Errorf("line %d %q: batch %+v, one process %+v", i+1, l.line, got, one)
		}
	}
	if pos := outs[slices.IndexFunc(outs, func(o batchOut) bool { return o.Query == "red -" })].Error.Position; pos == nil || *pos != 4 {
		t.Errorf("syntax error position %v, want 4", pos)
	}
	if id := string(outs[1].ID); id != `"x1"` {
		t.Errorf("id echoed as %s", id)
	}

	// A clean batch from standard input: exit 0, one line each.
	cmd := exec.Command(mmsearchBin, "search", "--library", lib, "--batch", "-")
	cmd.Env = append(os.Environ(), "MMSEARCH_DATA_DIR="+t.TempDir())
	cmd.Stdin = strings.NewReader("red\nblue\n{\"q\":\"green\",\"k\":1}\n")
	clean := runCmd(t, cmd)
	if outs := decodeBatch(t, clean.stdout); clean.code != exitOK || len(outs) != 3 || len(outs[2].Results) != 1 || len(outs[0].Results) != 6 {
		t.Errorf("clean batch: exit %d, %d lines: %s %s", clean.code, len(outs), clean.stdout, clean.stderr)
	}
}

// TestSearchBatchUsage: ways of calling search --batch wrongly exit 2 with
// a message saying why, before any query runs.
func TestSearchBatchUsage(t *testing.T) {
	lib, _ := indexTiny(t, pictures(t, "a.png"))
	tmp := t.TempDir()
	long := filepath.Join(tmp, "long.txt")
	if err := os.WriteFile(long, bytes.Repeat([]byte("x"), maxBatchLine+10), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := filepath.Join(tmp, "ok.txt")
	if err := os.WriteFile(ok, []byte("red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--batch", ok, "red"}, "give no query arguments"},
		{[]string{"--batch", ok, "-f"}, "-f and -0 do not apply"},
		{[]string{"--batch", ok, "-0"}, "-f and -0 do not apply"},
		{[]string{"--batch", filepath.Join(tmp, "missing.txt")}, "no such file"},
		{[]string{"--batch", long}, "longer than 65536 bytes"},
		{[]string{"--batch", ok, "--min-score", "3"}, "can never be met"},
	} {
		r := run(t, append([]string{"search", "--library", lib}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", tc.args, r.code, r.stderr, exitUsage, tc.msg)
		}
		if strings.Contains(r.stdout, `"results"`) {
			t.Errorf("%v: answered a query: %s", tc.args, r.stdout)
		}
	}
}

func decodeBatch(t *testing.T, out string) []batchOut {
	t.Helper()
	var outs []batchOut
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var o batchOut
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("answer line %q: %v", l, err)
		}
		outs = append(outs, o)
	}
	return outs
}

func sameBatchResults(a, b batchOut) bool {
	if len(a.Results) != len(b.Results) {
		return false
	}
	for i := range a.Results {
		if a.Results[i].ID != b.Results[i].ID || a.Results[i].Path != b.Results[i].Path || a.Results[i].Score != b.Results[i].Score {
			return false
		}
	}
	return true
}
