package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	loc := time.FixedZone("test", 2*3600)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024", time.Date(2024, 1, 1, 0, 0, 0, 0, loc)},
		{"2024-06", time.Date(2024, 6, 1, 0, 0, 0, 0, loc)},
		{"2024-06-15", time.Date(2024, 6, 15, 0, 0, 0, 0, loc)},
		{" 2024-06-15 ", time.Date(2024, 6, 15, 0, 0, 0, 0, loc)},
		{"2024-06-15T08:30", time.Date(2024, 6, 15, 8, 30, 0, 0, loc)},
		{"2024-06-15 08:30:05", time.Date(2024, 6, 15, 8, 30, 5, 0, loc)},
		{"2024-06-15T08:30:05", time.Date(2024, 6, 15, 8, 30, 5, 0, loc)},
		{"2024-06-15T08:30:05Z", time.Date(2024, 6, 15, 8, 30, 5, 0, time.UTC)},
		{"2024-06-15T08:30:05.5-05:00", time.Date(2024, 6, 15, 13, 30, 5, 5e8, time.UTC)},
	}
	for _, tc := range tests {
		got, err := ParseDate(tc.in, loc)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2024-13-01", "2024-02-30", "24-06-01", "2024/06/01", "2024-06-15T25:00"} {
		if _, err := ParseDate(bad, loc); !errors.Is(err, ErrBadFilter) {
			t.Errorf("ParseDate(%q) error = %v, want ErrBadFilter", bad, err)
		}
	}
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"jpeg", []string{"jpeg"}, ""},
		{"JPG,heic", []string{"jpeg", "heic"}, ""},
		{" png , tif ,jpeg,jpg", []string{"png", "tiff", "jpeg"}, ""},
		{"hif,avif,webp", []string{"heif", "avif", "webp"}, ""},
		{"", nil, "empty format name"},
		{"jpeg,", nil, "empty format name"},
		{"jpeg,raw", nil, `unknown format "raw"`},
		{"svg", nil, `unknown format "svg"`},
	}
	for _, tc := range tests {
		got, err := ParseFormats(tc.in)
		if tc.wantErr != "" {
			if !errors.Is(err, ErrBadFilter) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseFormats(%q) error = %v, want one saying %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseFormats(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSort(t *testing.T) {
	for in, want := range map[string]Sort{"": SortScore, "score": SortScore, "date": SortDate} {
		if got, err := ParseSort(in); err != nil || got != want {
			t.Errorf("ParseSort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"Date", "time", "name"} {
		if _, err := ParseSort(bad); !errors.Is(err, ErrBadFilter) {
			t.Errorf("ParseSort(%q) error = %v, want ErrBadFilter", bad, err)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	day := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		f       Filter
		wantErr string
	}{
		{"zero", Filter{}, ""},
		{"range", Filter{After: day, Before: day.AddDate(0, 0, 1)}, ""},
		{"after only", Filter{After: day}, ""},
		{"empty range", Filter{After: day, Before: day}, "is not before"},
		{"reversed range", Filter{After: day.AddDate(0, 0, 1), Before: day}, "is not before"},
		{"negative pixels", Filter{MinPixels: -1}, "minimum pixels -1"},
		{"huge pixels", Filter{MinPixels: MaxMinPixels + 1}, "minimum pixels"},
		{"long prefix", Filter{PathPrefix: strings.Repeat("a", MaxFilterText+1)}, "path prefix longer"},
		{"NUL prefix", Filter{PathPrefix: "a\x00"}, "path prefix"},
		{"long camera", Filter{Camera: strings.Repeat("a", MaxFilterText+1)}, "camera text"},
		{"unknown format", Filter{Formats: []string{"jpg"}}, `unknown format "jpg"`},
	}
	for _, tc := range tests {
		err := tc.f.Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadFilter) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error = %v, want one saying %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestExactScanRule(t *testing.T) {
	tests := []struct {
		matches, total, ef int
		want               bool
	}{
		{0, 100000, 64, true},
		{ExactScanMin, 100000, 64, true},
		{1500, 2000, 64, false}, // 1.5·sqrt(64·2000) ≈ 537, under the minimum of 1000
		{50000, 100000, 64, false},
		{ExactScanLimit(100000, 64), 100000, 64, true}, // sqrt(64·100000) ≈ 2529.8
		{ExactScanLimit(100000, 64) + 1, 100000, 64, false},
		{3794, 100000, 64, true}, // the limit: int(1.5·2529.8)
		{3795, 100000, 64, false},
	}
	for _, tc := range tests {
		if got := ExactScanChosen(tc.matches, tc.total, tc.ef); got != tc.want {
			t.Errorf("ExactScanChosen(%d, %d, %d) = %v, want %v", tc.matches, tc.total, tc.ef, got, tc.want)
		}
	}
	if ScanGraph.exact(0, 10, 10) || !ScanExact.exact(1e9, 10, 10) {
		t.Error("forced scan modes are not honoured")
	}
}

// filterItem is one synthetic item of the filter tests, with the
// attributes filters test.
type filterItem struct {
	ImportItem
	id int64
}

// importFilterItems fills lib with n items: random unit vectors (of the
// tiny model's dimension), modification times one second apart from
// 2020-01-01 UTC, formats cycling jpeg, png, heic, sizes growing with i,
// and paths under /f/dirN/.
func importFilterItems(t testing.TB, lib *Library, n int) []filterItem {
	t.Helper()
	rng := rand.New(rand.NewPCG(13, 17))
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	formats := []string{"jpeg", "png", "heic"}
	items := make([]filterItem, n)
	imports := make([]ImportItem, n)
	for i := range items {
		v := make([]float32, lib.Model().Dim())
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		imports[i] = ImportItem{Path: fmt.Sprintf("/f/dir%d/%06d.%s", i%10, i, formats[i%3]), Vector: v, Size: 1,
			MtimeNs: base + int64(i)*int64(time.Second), Width: 10 + i%100, Height: 10, Format: formats[i%3]}
	}
	ids, err := lib.Import(context.Background(), imports)
	if err != nil {
		t.Fatal(err)
	}
	for i := range items {
		items[i] = filterItem{ImportItem: imports[i], id: ids[i]}
	}
	return items
}

// matchesFilter is the test's own reading of a Filter.
func matchesFilter(it ImportItem, f Filter) bool {
	return (f.After.IsZero() || it.MtimeNs >= f.After.UnixNano()) &&
		(f.Before.IsZero() || it.MtimeNs < f.Before.UnixNano()) &&
		(len(f.Formats) == 0 || slices.Contains(f.Formats, it.Format)) &&
		int64(it.Width)*int64(it.Height) >= f.MinPixels &&
		strings.HasPrefix(it.Path, f.PathPrefix)
}

// bruteForce returns the ids of the k items matching f nearest to q by
// cosine, computed here from the imported vectors.
func bruteForce(items []filterItem, f Filter, q []float32, k int) []int64 {
	type hit struct {
		id  int64
		cos float64
	}
	var hits []hit
	for _, it := range items {
		if matchesFilter(it.ImportItem, f) {
			hits = append(hits, hit{it.id, cosine(q, it.Vector)})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.cos != b.cos {
			if a.cos > b.cos {
				return -1
			}
			return 1
		}
		return int(a.id - b.id)
	})
	out := make([]int64, 0, k)
	for _, h := range hits[:min(k, len(hits))] {
		out = append(out, h.id)
	}
	return out
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / (math.Sqrt(aa) * math.Sqrt(bb))
}

// TestFilteredSearchOnePercent is the engine's side of the 1 % filter
// recall test: 20,000 items in a real library (SQLite store, HNSW index),
// filters that 1 % of them match, searched through the graph walk, the
// exact scan and the automatic choice. Every result must match the filter,
// each search must return its 10 results, the exact scan must equal brute
// force, and the graph walk's recall@10 against it must be at least 0.95.
func TestFilteredSearchOnePercent(t *testing.T) {
	const n, k = 20000, 10
	ctx := context.Background()
	lib := openLib(t, t.TempDir(), tinyModel)
	items := importFilterItems(t, lib, n)
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	filters := []struct {
		name string
		f    Filter
	}{
		{"date range", Filter{After: base.Add(5000 * time.Second), Before: base.Add(5200 * time.Second)}},
		{"format and pixels", Filter{Formats: []string{"heic"}, MinPixels: 10 * 104}}, // 1/3 · 6/100 ≈ 2 %
		{"path and format", Filter{PathPrefix: "/f/dir3/", Formats: []string{"png", "jpeg"}, After: base.Add(14000 * time.Second)}},
	}
	rng := rand.New(rand.NewPCG(7, 7))
	queries := make([][]float32, 50)
	for i := range queries {
		q := make([]float32, lib.Model().Dim())
		for j := range q {
			q[j] = float32(rng.NormFloat64())
		}
		queries[i] = q
	}
	for _, fc := range filters {
		count := 0
		for _, it := range items {
			if matchesFilter(it.ImportItem, fc.f) {
				count++
			}
		}
		if count < n/200 || count > n/40 {
			t.Fatalf("%s: %d items match, want about 1 %%", fc.name, count)
		}
		for _, scan := range []Scan{ScanGraph, ScanExact, ScanAuto} {
			t.Run(fmt.Sprintf("%s/%s", fc.name, cmp.Or(string(scan), "auto")), func(t *testing.T) {
				hits, total := 0, 0
				for _, q := range queries {
					res, err := lib.SearchVector(ctx, q, SearchOptions{K: k, Filter: fc.f, Scan: scan, KeepCopies: true})
					if err != nil {
						t.Fatal(err)
					}
					if len(res) != k {
						t.Fatalf("%d results, want %d", len(res), k)
					}
					want := bruteForce(items, fc.f, q, k)
					for _, r := range res {
						it := items[slices.IndexFunc(items, func(it filterItem) bool { return it.id == r.ID })]
						if !matchesFilter(it.ImportItem, fc.f) {
							t.Fatalf("result %s does not match the filter", r.Path)
						}
						if slices.Contains(want, r.ID) {
							hits++
						}
					}
					total += len(want)
					if scan == ScanExact {
						got := make([]int64, len(res))
						for i, r := range res {
							got[i] = r.ID
						}
						if !slices.Equal(got, want) {
							t.Fatalf("exact scan returned %v, brute force %v", got, want)
						}
					}
				}
				recall := float64(hits) / float64(total)
				t.Logf("%d matching items, recall@%d %.4f", count, k, recall)
				if recall < 0.95 {
					t.Errorf("recall@%d = %.4f, want ≥ 0.95", k, recall)
				}
			})
		}
	}
}

// TestSearchMinScoreSortAndCamera checks the options applied to the
// results: a minimum score drops exactly the results below it, date order
// puts the newest first, a camera filter is refused while the store records
// no cameras, and a filter excludes items used as inputs like an unfiltered
// search does.
func TestSearchMinScoreSortAndCamera(t *testing.T) {
	ctx := context.Background()
	lib := openLib(t, t.TempDir(), tinyModel)
	items := importFilterItems(t, lib, 300)
	q := items[0].Vector

	all, err := lib.SearchVector(ctx, q, SearchOptions{K: 50, KeepCopies: true})
	if err != nil {
		t.Fatal(err)
	}
	cut := all[20].Score
	got, err := lib.SearchVector(ctx, q, SearchOptions{K: 50, KeepCopies: true, MinScore: &cut})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range all {
		if r.Score >= cut {
			want++
		}
	}
	if len(got) != want || want < 21 || want == len(all) {
		t.Fatalf("min score %v kept %d results, want %d of %d", cut, len(got), want, len(all))
	}
	for _, r := range got {
		if r.Score < cut {
			t.Fatalf("result %s scores %v below the minimum %v", r.Path, r.Score, cut)
		}
	}

	byDate, err := lib.SearchVector(ctx, q, SearchOptions{K: 50, KeepCopies: true, Sort: SortDate})
	if err != nil {
		t.Fatal(err)
	}
	if len(byDate) != len(all) {
		t.Fatalf("date order returned %d results, score order %d", len(byDate), len(all))
	}
	mtime := map[int64]int64{}
	for _, it := range items {
		mtime[it.id] = it.MtimeNs
	}
	for i := 1; i < len(byDate); i++ {
		if mtime[byDate[i-1].ID] < mtime[byDate[i].ID] {
			t.Fatalf("date order: %s before the newer %s", byDate[i-1].Path, byDate[i].Path)
		}
	}
	sameSet := func(a, b []Result) bool {
		ids := func(rs []Result) []int64 {
			out := make([]int64, len(rs))
			for i, r := range rs {
				out[i] = r.ID
			}
			slices.Sort(out)
			return out
		}
		return slices.Equal(ids(a), ids(b))
	}
	if !sameSet(all, byDate) {
		t.Fatal("date order changed which results were found")
	}

	if _, err := lib.SearchVector(ctx, q, SearchOptions{Filter: Filter{Camera: "Canon"}}); !errors.Is(err, ErrNoCameraData) {
		t.Fatalf("camera filter: error %v, want ErrNoCameraData", err)
	}
	if _, err := lib.SearchVector(ctx, q, SearchOptions{Sort: "name"}); !errors.Is(err, ErrBadFilter) {
		t.Fatalf("bad sort: error %v, want ErrBadFilter", err)
	}
	if _, err := lib.SearchVector(ctx, q, SearchOptions{Filter: Filter{MinPixels: -5}}); !errors.Is(err, ErrBadFilter) {
		t.Fatalf("bad filter: error %v, want ErrBadFilter", err)
	}

	// An indexed item used as the query is excluded under a filter too.
	res, err := lib.Search(ctx, fmt.Sprintf("@%d", items[0].id), SearchOptions{K: 5, Filter: Filter{Formats: []string{"jpeg"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 5 {
		t.Fatalf("%d results, want 5", len(res.Results))
	}
	for _, r := range res.Results {
		if r.ID == items[0].id || r.Format != "jpeg" {
			t.Fatalf("result %+v: the input itself, or not a jpeg", r)
		}
	}
}

// TestExactScanOnReopenedLibrary runs the exact scan of a filtered search
// on a library opened again, whose index is then used in place from its
// file (see index/hnsw Map): it must find the same items as brute force,
// as it does on the index built in memory.
func TestExactScanOnReopenedLibrary(t *testing.T) {
	const n, k = 600, 5
	ctx := context.Background()
	dir := t.TempDir()
	lib := openLib(t, dir, tinyModel)
	items := importFilterItems(t, lib, n)
	if st, err := lib.Stats(ctx); err != nil || !st.IndexFresh {
		t.Fatalf("index file not saved by the import: %+v %v", st, err)
	}
	lib.Close()
	lib = openLib(t, dir, tinyModel)
	f := Filter{Formats: []string{"heic"}, PathPrefix: "/f/dir3/"}
	rng := rand.New(rand.NewPCG(3, 9))
	for range 5 {
		q := make([]float32, lib.Model().Dim())
		for j := range q {
			q[j] = float32(rng.NormFloat64())
		}
		res, err := lib.SearchVector(ctx, q, SearchOptions{K: k, Filter: f, Scan: ScanExact, KeepCopies: true})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]int64, len(res))
		for i, r := range res {
			got[i] = r.ID
		}
		if want := bruteForce(items, f, q, k); len(want) != k || !slices.Equal(got, want) {
			t.Fatalf("exact scan on the reopened library returned %v, brute force %v", got, want)
		}
	}
}
