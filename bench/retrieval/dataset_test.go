package retrieval

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles creates files (relative path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadDatasetJSONL(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"img/a.png": "a", "img/b.png": "b", "c.png": "c",
		CaptionsJSONL: `{"image": "img/a.png", "captions": ["red apple", "apple"], "labels": ["A", "fruit"], "withheld": true}

{"image": "./img/b.png", "captions": ["blue bird"]}` + "\r\n" + `{"image": "c.png", "labels": ["C"], "withheld": false}`,
	})
	ds, err := LoadDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Dir != dir || ds.File != filepath.Join(dir, CaptionsJSONL) || !ds.HasWithheld {
		t.Errorf("dataset %+v", ds)
	}
	want := []Item{
		{Image: "img/a.png", Path: filepath.Join(dir, "img/a.png"), Captions: []string{"red apple", "apple"}, Labels: []string{"A", "fruit"}, Withheld: true, Line: 1},
		{Image: "img/b.png", Path: filepath.Join(dir, "img/b.png"), Captions: []string{"blue bird"}, Line: 3},
		{Image: "c.png", Path: filepath.Join(dir, "c.png"), Labels: []string{"C"}, Line: 4},
	}
	if !reflect.DeepEqual(ds.Items, want) {
		t.Errorf("items\n got %+v\nwant %+v", ds.Items, want)
	}
	if ds.Captions() != 3 {
		t.Errorf("captions = %d, want 3", ds.Captions())
	}
	if k := ds.Items[0].Key(); k != "label:A" {
		t.Errorf("key of a labelled item = %q", k)
	}
	if k := ds.Items[1].Key(); k != "image:img/b.png" {
		t.Errorf("key of an unlabelled item = %q", k)
	}
	// The file itself works too, and Limit keeps the first items.
	ds2, err := LoadDataset(filepath.Join(dir, CaptionsJSONL))
	if err != nil || len(ds2.Items) != 3 {
		t.Fatalf("by file: %v", err)
	}
	ds2.Limit(2)
	if len(ds2.Items) != 2 || ds2.Items[1].Image != "img/b.png" {
		t.Errorf("limit: %+v", ds2.Items)
	}
	ds2.Limit(0)
	if len(ds2.Items) != 2 {
		t.Errorf("limit 0 changed the items")
	}
}

func TestLoadDatasetCSV(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.png": "a", "b.png": "b",
		CaptionsCSV: "image,caption,label\na.png,\"red, round apple\",A\nb.png,bird,B\na.png,apple,fruit\n",
	})
	ds, err := LoadDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{
		{Image: "a.png", Path: filepath.Join(dir, "a.png"), Captions: []string{"red, round apple", "apple"}, Labels: []string{"A", "fruit"}, Line: 2},
		{Image: "b.png", Path: filepath.Join(dir, "b.png"), Captions: []string{"bird"}, Labels: []string{"B"}, Line: 3},
	}
	if !reflect.DeepEqual(ds.Items, want) || ds.HasWithheld {
		t.Errorf("items\n got %+v\nwant %+v", ds.Items, want)
	}

	// Without a header: positional image,caption[,label]; a header may
	// reorder columns and add withheld.
	dir2 := t.TempDir()
	writeFiles(t, dir2, map[string]string{"x.png": "x", "y.png": "y", "data.csv": "x.png,cat\ny.png,dog,D\n"})
	ds, err = LoadDataset(filepath.Join(dir2, "data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 2 || ds.Items[0].Labels != nil || ds.Items[1].Labels[0] != "D" || ds.Items[1].Line != 2 {
		t.Errorf("headerless: %+v", ds.Items)
	}
	writeFiles(t, dir2, map[string]string{"h.csv": "caption,withheld,image\ncat,true,x.png\ndog,no,y.png\n"})
	ds, err = LoadDataset(filepath.Join(dir2, "h.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !ds.HasWithheld || !ds.Items[0].Withheld || ds.Items[1].Withheld || ds.Items[1].Captions[0] != "dog" {
		t.Errorf("reordered header: %+v", ds.Items)
	}
}

func TestLoadDatasetErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		body  string
		want  string
		files map[string]string
	}{
		{"bad json", CaptionsJSONL, "{\"image\": \"a.png\"}\n{\"image\": \"b.png\",\n", "captions.jsonl:2: unexpected EOF", nil},
		{"unknown field", CaptionsJSONL, "{\"image\": \"a.png\"}\n\n{\"image\": \"b.png\", \"caption\": \"x\"}\n", `captions.jsonl:3: json: unknown field "caption"`, nil},
		{"missing image", CaptionsJSONL, `{"captions": ["x"]}`, `captions.jsonl:1: missing "image"`, nil},
		{"wrong type", CaptionsJSONL, `{"image": "a.png", "captions": "x"}`, "captions.jsonl:1: json: cannot unmarshal string", nil},
		{"trailing data", CaptionsJSONL, `{"image": "a.png"} {"image": "b.png"}`, "captions.jsonl:1: unexpected data after the JSON object", nil},
		{"absolute", CaptionsJSONL, `{"image": "/etc/passwd"}`, "captions.jsonl:1: image \"/etc/passwd\": want a path relative", nil},
		{"escapes", CaptionsJSONL, `{"image": "../a.png"}`, "captions.jsonl:1: image \"../a.png\" is outside the dataset folder", nil},
		{"missing file", CaptionsJSONL, "{\"image\": \"a.png\"}\n{\"image\": \"zz.png\"}", "captions.jsonl:2: image \"zz.png\": no such file", nil},
		{"folder", CaptionsJSONL, `{"image": "sub"}`, "captions.jsonl:1: image \"sub\" is not a regular file", map[string]string{"sub/x": "x"}},
		{"duplicate", CaptionsJSONL, "{\"image\": \"a.png\"}\n{\"image\": \"b.png\"}\n{\"image\": \"./a.png\"}", "captions.jsonl:3: image \"./a.png\" is already listed on line 1", nil},
		{"empty caption", CaptionsJSONL, `{"image": "a.png", "captions": ["x", " "]}`, "captions.jsonl:1: caption 2 is empty", nil},
		{"empty label", CaptionsJSONL, `{"image": "a.png", "labels": [""]}`, "captions.jsonl:1: label 1 is empty", nil},
		{"empty image", CaptionsJSONL, `{"image": ""}`, "captions.jsonl:1: empty image path", nil},
		{"empty file", CaptionsJSONL, "\n\n", "no items", nil},
		{"long line", CaptionsJSONL, `{"image": "a.png", "captions": ["` + strings.Repeat("x", MaxLineBytes) + `"]}`, "captions.jsonl:1: line longer than", nil},
		{"csv quote", CaptionsCSV, "a.png,x\nb.png,\"unterminated\n", "captions.csv:2:", nil},
		{"csv fields", CaptionsCSV, "a.png,x,L,extra\n", "captions.csv:1: 4 fields, want at most 3", nil},
		{"csv header", CaptionsCSV, "image,text\n", "captions.csv:1: header: unknown column \"text\"", nil},
		{"csv no caption", CaptionsCSV, "a.png\n", "captions.csv:1: missing the caption field", nil},
		{"csv withheld", CaptionsCSV, "image,caption,withheld\na.png,x,maybe\n", "captions.csv:2: withheld \"maybe\" is not true or false", nil},
		{"csv missing file", CaptionsCSV, "a.png,x\nq.png,y\n", "captions.csv:2: image \"q.png\": no such file", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"a.png": "a", "b.png": "b", tt.file: tt.body})
			writeFiles(t, dir, tt.files)
			_, err := LoadDataset(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// A folder without a captions file.
	_, err := LoadDataset(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no captions.jsonl or captions.csv") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := LoadDataset(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing dataset loaded")
	}
}
