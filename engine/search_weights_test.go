package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/engine/query"
)

// hugeWeight is the largest weight magnitude the outside run used: 1e38,
// written out because the query language takes plain decimals only.
var hugeWeight = "1" + strings.Repeat("0", 38)

// terms joins n copies of the term pattern (%d is the copy's number) with
// " + ", each under weight w ("" for none).
func terms(n int, w, pattern string) string {
	parts := make([]string, n)
	for i := range parts {
		t := fmt.Sprintf(pattern, i)
		if w != "" {
			t = w + ":" + t
		}
		parts[i] = t
	}
	return strings.Join(parts, " + ")
}

// TestExtremeWeightsGiveFiniteScores is the outside run's case: 13 terms of
// weight 1e38 (and two, and tiny weights) in both modes. Every score must be
// finite, and since only the ratios of the weights matter, the answer must
// be exactly the one of the same query with every weight 1.
func TestExtremeWeightsGiveFiniteScores(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := 0; i < 20; i++ {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%02d.png", i)), i, "png")
	}
	lib := openLib(t, t.TempDir(), tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	tiny := "0." + strings.Repeat("0", 29) + "1" // 1e-30
	cases := []struct {
		name, extreme, plain string
	}{
		{"two huge", hugeWeight + `:"cat" + ` + hugeWeight + ":@3", `"cat" + @3`},
		{"thirteen huge", terms(13, hugeWeight, `"word %d"`), terms(13, "", `"word %d"`)},
		{"huge minus huge", hugeWeight + `:"cat" - ` + hugeWeight + `:"dog"`, `"cat" - "dog"`},
		{"thirteen tiny", terms(13, tiny, `"word %d"`), terms(13, "", `"word %d"`)},
		{"tiny minus tiny", tiny + ":@2 - " + tiny + ":@5", "@2 - @5"},
	}
	for _, mode := range Modes {
		for _, c := range cases {
			t.Run(string(mode)+"/"+c.name, func(t *testing.T) {
				got, err := lib.Search(ctx, c.extreme, SearchOptions{K: 5, Mode: mode})
				if err != nil {
					t.Fatalf("extreme weights: %v", err)
				}
				want, err := lib.Search(ctx, c.plain, SearchOptions{K: 5, Mode: mode})
				if err != nil {
					t.Fatalf("weights 1: %v", err)
				}
				if len(got.Results) != 5 {
					t.Fatalf("%d results, want 5", len(got.Results))
				}
				for i, r := range got.Results {
					s := float64(r.Score)
					if math.IsInf(s, 0) || math.IsNaN(s) {
						t.Fatalf("result %d: score %v", i, r.Score)
					}
					if r.ID != want.Results[i].ID || r.Score != want.Results[i].Score {
						t.Errorf("result %d: %d %v, with weights 1: %d %v", i, r.ID, r.Score, want.Results[i].ID, want.Results[i].Score)
					}
				}
			})
		}
	}
}

// TestTermsThatCancelPointAtTheQuery: "cat - cat" is a query error with a
// position and a length covering the terms, and still ErrZeroQuery.
func TestTermsThatCancelPointAtTheQuery(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	writeImage(t, filepath.Join(photos, "a.png"), 1, "png")
	writeImage(t, filepath.Join(photos, "b.png"), 2, "png")
	lib := openLib(t, t.TempDir(), tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		expr     string
		pos, len int
	}{
		{"cat - cat", 0, 9},
		{"  cat - cat ", 2, 9},
		{"- cat + cat", 0, 11},
		{"2:@1 - @1 - @1", 0, 14},
		{hugeWeight + ":dog - " + hugeWeight + ":dog", 0, 2*len(hugeWeight) + 11},
	}
	for _, mode := range Modes {
		for _, c := range cases {
			_, err := lib.Search(ctx, c.expr, SearchOptions{Mode: mode})
			var se *query.SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrZeroQuery) {
				t.Fatalf("%s %q: err = %v (%T), want a *query.SyntaxError wrapping ErrZeroQuery", mode, c.expr, err, err)
			}
			if se.Pos != c.pos || se.Len != c.len || !strings.Contains(se.Msg, "cancel out") {
				t.Errorf("%s %q: %v at %d+%d, want %d+%d", mode, c.expr, se, se.Pos, se.Len, c.pos, c.len)
			}
		}
	}
	// Terms that nearly cancel still have a direction.
	if _, err := lib.Search(ctx, "cat - 0.9:cat", SearchOptions{}); err != nil {
		t.Errorf("cat - 0.9:cat: %v", err)
	}
}

func TestParseMode(t *testing.T) {
	cases := []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"", ModeAdd, true},
		{"add", ModeAdd, true},
		{"mul", ModeMul, true},
		{"Mul", "", false},
		{" add", "", false},
		{"dot", "", false},
		{"cosmul", "", false},
	}
	for _, c := range cases {
		got, err := ParseMode(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q (ok %v)", c.in, got, err, c.want, c.ok)
		}
		var m Mode
		if err := m.Set(c.in); (err == nil) != c.ok || (c.ok && m != c.want) {
			t.Errorf("Set(%q): %q, %v", c.in, m, err)
		}
	}
	if Mode("").String() != "add" {
		t.Errorf("zero Mode prints %q", Mode("").String())
	}
}
