package query

import (
	"errors"
	"testing"
)

// TestParseUploads: "$upload", "$uploadN" and, with Options.Uploads,
// "@upload" and "@uploadN" are upload terms; bad numbers and words glued to
// them are errors at their position; without Options.Uploads "@upload" is
// still the item path "upload".
func TestParseUploads(t *testing.T) {
	type up struct {
		sign   float32
		weight float32
		kind   Kind
		upload int
		value  string
		pos, n int
	}
	tests := []struct {
		name    string
		input   string
		uploads bool
		want    []up
	}{
		{"alone", "$upload", false, []up{{1, 1, Upload, 1, "", 0, 7}}},
		{"analogy", `$upload - "dog" + "cat"`, false, []up{
			{1, 1, Upload, 1, "", 0, 7}, {-1, 1, Text, 0, "dog", 10, 5}, {1, 1, Text, 0, "cat", 18, 5}}},
		{"numbered", "$upload2 − 0.5:$upload1 + $upload9", false, []up{
			{1, 1, Upload, 2, "", 0, 8}, {-1, 0.5, Upload, 1, "", 13, 12}, {1, 1, Upload, 9, "", 28, 8}}},
		{"any case", "$UPLOAD3", false, []up{{1, 1, Upload, 3, "", 0, 8}}},
		{"at form with uploads", "@upload - @upload2 + @12", true, []up{
			{1, 1, Upload, 1, "", 0, 7}, {-1, 1, Upload, 2, "", 10, 8}, {1, 1, Item, 0, "", 21, 3}}},
		{"at form without uploads is an item path", "@upload", false, []up{{1, 1, Item, 0, "upload", 0, 7}}},
		{"at form of another word stays an item path", "@uploads/a.jpg", true, []up{{1, 1, Item, 0, "uploads/a.jpg", 0, 14}}},
		{"quoted is text", `"$upload"`, false, []up{{1, 1, Text, 0, "$upload", 0, 9}}},
		{"dollar text", "$5 bill", false, []up{{1, 1, Text, 0, "$5 bill", 0, 7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.input, Options{Uploads: tc.uploads})
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.input, err)
			}
			if len(q.Terms) != len(tc.want) {
				t.Fatalf("Parse(%q): %d terms, want %d", tc.input, len(q.Terms), len(tc.want))
			}
			for i, w := range tc.want {
				g := q.Terms[i]
				got := up{g.Sign, g.Weight, g.Kind, g.Upload, g.Value, g.Pos, g.Len}
				if got != w {
					t.Errorf("term %d = %+v, want %+v", i, got, w)
				}
			}
			again, err := Parse(q.String(), Options{Uploads: tc.uploads})
			if err != nil {
				t.Fatalf("Parse(String() = %q): %v", q.String(), err)
			}
			for i := range q.Terms {
				if a, b := q.Terms[i], again.Terms[i]; a.Kind != b.Kind || a.Upload != b.Upload || a.Coef() != b.Coef() {
					t.Errorf("String() = %q changes term %d", q.String(), i)
				}
			}
		})
	}
}

func TestParseUploadErrors(t *testing.T) {
	tests := []struct {
		input  string
		pos, n int
		msg    string
	}{
		{"$upload0", 0, 8, "upload number 0 is out of range: uploads are numbered 1 to 9"},
		{"$upload10", 0, 9, "upload number 10 is out of range: uploads are numbered 1 to 9"},
		{"dog - $uploads", 6, 8, `"$uploads" is not an upload: write $upload or $uploadN (N = 1 to 9) for an uploaded image, or quote it to search for the text`},
		{"$upload.jpg", 0, 11, `"$upload.jpg" is not an upload: write $upload or $uploadN (N = 1 to 9) for an uploaded image, or quote it to search for the text`},
		{"red $upload", 4, 7, `missing '+' or '-' before "$upload"`},
	}
	for _, tc := range tests {
		_, err := Parse(tc.input, Options{Uploads: true})
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("Parse(%q) = %v, want a *SyntaxError", tc.input, err)
		}
		if se.Pos != tc.pos || se.Len != tc.n || se.Msg != tc.msg {
			t.Errorf("Parse(%q) = pos %d len %d %q, want pos %d len %d %q", tc.input, se.Pos, se.Len, se.Msg, tc.pos, tc.n, tc.msg)
		}
	}
}

func TestDescribeUploads(t *testing.T) {
	q, err := Parse(`$upload - "dog" + 2:$upload2`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `1.0 × upload $upload1 − 1.0 × text "dog" + 2.0 × upload $upload2`
	if got := q.Describe(); got != want {
		t.Errorf("Describe() = %s, want %s", got, want)
	}
	if got, want := q.String(), `$upload1 - "dog" + 2:$upload2`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}
