package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// getJSON sends a request to a server over loopback and returns its status
// and body.
func getJSON(t *testing.T, method, u, ct string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestPagingIsStable: over real HTTP, pages of a query laid end to end equal
// one big page (ids and scores, across the tiers of the ranking at 32 and
// 128 results), a repeated query gives the same page, equal scores come in
// id order, next_offset leads from one page to the next and stops at the
// end, and GET and POST agree.
func TestPagingIsStable(t *testing.T) {
	const n = 150
	f := newFixtureSized(t, n, 16)
	s := newTestServer(t, f.lib, Config{})
	addr, _, _ := serveInBackground(t, s)
	base := "http://" + addr

	page := func(q string, v url.Values) SearchResponse {
		t.Helper()
		v.Set("q", q)
		code, b := getJSON(t, "GET", base+"/api/search?"+v.Encode(), "", nil)
		if code != http.StatusOK {
			t.Fatalf("%v: %d %s", v, code, b)
		}
		var res SearchResponse
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	half := filepath.Join(f.photos, "b") + string(filepath.Separator) // the odd items
	for _, tc := range []struct {
		name, q string
		extra   url.Values
		size    int
		min     int  // results of the big page at least (0: all items less the inputs)
		byDate  bool // sorted by date, not score
	}{
		{"text, pages of 7", "red", url.Values{}, 7, 0, false},
		{"item arithmetic, pages of 25", fmt.Sprintf("@%d - blue", f.ids["colour03.png"]), url.Values{}, 25, 0, false},
		{"mul mode, pages of 30", fmt.Sprintf("@%d - blue + green", f.ids["colour07.png"]), url.Values{"mode": {"mul"}}, 30, 0, false},
		{"explicit ef, pages of 40", "green", url.Values{"ef": {"40"}}, 40, 0, false},
		{"path filter, pages of 11", "red", url.Values{"path": {half}}, 11, n / 2, false},
		{"date order, pages of 20", "blue", url.Values{"sort": {"date"}}, 20, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := url.Values{"limit": {"200"}}
			for k, v := range tc.extra {
				all[k] = v
			}
			big := page(tc.q, all)
			want := tc.min
			if want == 0 {
				want = n - 2
			}
			if len(big.Results) < want {
				t.Fatalf("one big page has %d results, want at least %d", len(big.Results), want)
			}
			for _, h := range big.Results {
				if tc.extra.Has("path") && !strings.HasPrefix(h.Path, half) {
					t.Fatalf("%s is outside the path filter", h.Path)
				}
			}
			if big.NextOffset != nil {
				t.Errorf("a page that holds everything has next_offset %d", *big.NextOffset)
			}
			for i := 1; i < len(big.Results); i++ {
				if i == 32 || i == 128 || tc.byDate {
					continue // a tier of the ranking begins (see engine.searchPaged)
				}
				a, b := big.Results[i-1], big.Results[i]
				if a.Score < b.Score || a.Score == b.Score && a.ID > b.ID {
					t.Fatalf("results %d and %d out of order: %v/%d before %v/%d", i-1, i, a.Score, a.ID, b.Score, b.ID)
				}
			}
			var joined []Hit
			offset := 0
			for pages := 0; ; pages++ {
				v := url.Values{"limit": {fmt.Sprint(tc.size)}, "offset": {fmt.Sprint(offset)}}
				for k, x := range tc.extra {
					v[k] = x
				}
				p := page(tc.q, v)
				if p.Offset != offset || p.Limit != tc.size {
					t.Fatalf("page at %d says offset %d limit %d", offset, p.Offset, p.Limit)
				}
				again := page(tc.q, v)
				if !sameHits(p.Results, again.Results) {
					t.Fatalf("the page at offset %d differs when asked again", offset)
				}
				joined = append(joined, p.Results...)
				if p.NextOffset == nil {
					if len(p.Results) == tc.size && offset+tc.size < len(big.Results) {
						t.Fatalf("no next_offset after a full page at %d", offset)
					}
					break
				}
				if *p.NextOffset != offset+tc.size {
					t.Fatalf("next_offset %d after the page at %d of %d", *p.NextOffset, offset, tc.size)
				}
				offset = *p.NextOffset
				if pages > n {
					t.Fatal("pages never end")
				}
			}
			if !sameHits(joined, big.Results) {
				t.Fatalf("pages laid end to end (%d results) differ from one big page (%d)\npages: %v\nbig:   %v", len(joined), len(big.Results), ids(joined), ids(big.Results))
			}
		})
	}
	// POST takes the same parameters as JSON.
	get := page("red", url.Values{"limit": {"9"}, "offset": {"30"}})
	code, b := getJSON(t, "POST", base+"/api/search", "application/json", strings.NewReader(`{"q":"red","limit":9,"offset":30}`))
	var post SearchResponse
	if err := json.Unmarshal(b, &post); code != 200 || err != nil || !sameHits(get.Results, post.Results) {
		t.Fatalf("POST page: %d %v, differs from GET", code, err)
	}
	// Past the end: an empty page.
	if p := page("red", url.Values{"limit": {"10"}, "offset": {"400"}}); len(p.Results) != 0 || p.NextOffset != nil {
		t.Fatalf("past the end: %d results, next %v", len(p.Results), p.NextOffset)
	}
}

func sameHits(a, b []Hit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Score != b[i].Score {
			return false
		}
	}
	return true
}

func ids(hs []Hit) []int64 {
	out := make([]int64, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

// TestPagingAndEfBounds: limit, offset and ef have bounds, checked in GET
// query strings, POST bodies and upload URLs alike, with a 400 that names
// the parameter; misspelt parameters are refused rather than ignored.
func TestPagingAndEfBounds(t *testing.T) {
	f := newFixture(t, 6)
	h := newTestServer(t, f.lib, Config{MaxK: 50, MaxResults: 100, MaxEf: 500}).Handler()
	var cases []apiCase
	for _, tc := range []struct {
		query  string
		status int
		msg    string
	}{
		{"ef=1", 200, ""},
		{"ef=500", 200, ""},
		{"ef=0", 400, "ef must be between 1 and 500"},
		{"ef=501", 400, "ef must be between 1 and 500"},
		{"ef=-3", 400, "ef must be between 1 and 500"},
		{"ef=wide", 400, "ef must be a whole number"},
		{"ef=99999999999999999999", 400, "ef must be a whole number"},
		{"limit=50", 200, ""},
		{"limit=51", 400, "limit must be between 1 and 50"},
		{"limit=0", 400, "limit must be between 1 and 50"},
		{"offset=-1", 400, "offset must be between 0 and 99"},
		{"offset=100", 400, "offset must be between 0 and 99"},
		{"offset=60&limit=40", 200, ""},
		{"offset=61&limit=40", 200, ""}, // cut short at result 100 (TestPagingEndsAtMaxResults)
		{"k=5&limit=6", 400, "k (5) and limit (6) differ"},
		{"k=5&limit=5", 200, ""},
		{"limt=5", 400, `unknown parameter "limt"`},
		{"ef=2&ef=3", 400, "ef is given 2 times"},
		{"mode=max", 400, `mode must be "add" or "mul"`},
	} {
		msg := tc.msg
		check := func(t *testing.T, rec *httptest.ResponseRecorder) {
			if msg == "" {
				return
			}
			if e := decodeError(t, rec); !strings.Contains(e.Message, msg) {
				t.Errorf("message %q, want %q", e.Message, msg)
			}
		}
		code := ""
		if tc.status == 400 {
			code = CodeBadRequest
		}
		cases = append(cases, apiCase{name: "GET " + tc.query, path: "/api/search?q=red&" + tc.query, status: tc.status, code: code, check: check})
		img, ct := formBody(t, formPart{"image", "a.png", string(readPNG(t, f, "colour00.png"))})
		cases = append(cases, apiCase{name: "upload " + tc.query, method: "POST", path: "/api/search/image?" + tc.query,
			header: map[string]string{"Content-Type": ct}, body: img, status: tc.status, code: code, check: check})
	}
	for _, tc := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"q":"red","ef":501}`, 400, "ef must be between 1 and 500"},
		{`{"q":"red","ef":12.5}`, 400, `field "ef" must be a whole number`},
		{`{"q":"red","ef":"12"}`, 400, `field "ef" must be a number`},
		{`{"q":"red","offset":99,"limit":2}`, 200, ""},
		{`{"q":"red","offset":100,"limit":2}`, 400, "offset must be between 0 and 99"},
		{`{"q":"red","offset":2,"limit":2,"ef":16}`, 200, ""},
	} {
		msg := tc.msg
		code := ""
		if tc.status == 400 {
			code = CodeBadRequest
		}
		cases = append(cases, apiCase{name: "POST " + tc.body, method: "POST", path: "/api/search", header: jsonHeader,
			body: strings.NewReader(tc.body), status: tc.status, code: code, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if msg != "" {
					if e := decodeError(t, rec); !strings.Contains(e.Message, msg) {
						t.Errorf("message %q, want %q", e.Message, msg)
					}
				}
			}})
	}
	runCases(t, h, cases)
}

// TestPagingEndsAtMaxResults: pages reach result MaxResults and no
// further: the page that would cross it is cut short there and has no
// next_offset, the one before it points to it, and the results are those
// of one big page.
func TestPagingEndsAtMaxResults(t *testing.T) {
	f := newFixtureSized(t, 60, 16)
	s := newTestServer(t, f.lib, Config{MaxK: 45, MaxResults: 45})
	addr, _, _ := serveInBackground(t, s)
	get := func(v string) SearchResponse {
		t.Helper()
		code, b := getJSON(t, "GET", "http://"+addr+"/api/search?q=red&"+v, "", nil)
		var res SearchResponse
		if err := json.Unmarshal(b, &res); code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %s", v, code, b)
		}
		return res
	}
	big := get("limit=45")
	if len(big.Results) != 45 || big.NextOffset != nil {
		t.Fatalf("one page to the end: %d results, next_offset %v", len(big.Results), big.NextOffset)
	}
	for _, tc := range []struct {
		query      string
		from, n    int
		nextOffset int // -1: none
	}{
		{"limit=20", 0, 20, 20},
		{"limit=20&offset=20", 20, 20, 40},
		{"limit=20&offset=40", 40, 5, -1},
		{"limit=5&offset=40", 40, 5, -1},
		{"limit=45&offset=44", 44, 1, -1},
	} {
		p := get(tc.query)
		if !sameHits(p.Results, big.Results[tc.from:tc.from+tc.n]) || p.Limit != tc.n || p.Offset != tc.from {
			t.Errorf("%s: %d results (limit %d, offset %d), want results %d..%d of the big page", tc.query, len(p.Results), p.Limit, p.Offset, tc.from, tc.from+tc.n)
		}
		switch {
		case tc.nextOffset < 0 && p.NextOffset != nil:
			t.Errorf("%s: next_offset %d past the last result", tc.query, *p.NextOffset)
		case tc.nextOffset >= 0 && (p.NextOffset == nil || *p.NextOffset != tc.nextOffset):
			t.Errorf("%s: next_offset %v, want %d", tc.query, p.NextOffset, tc.nextOffset)
		}
	}
}

// readPNG reads one of the fixture's pictures by base name.
func readPNG(t *testing.T, f *fixture, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(f.paths[f.ids[name]])
	if err != nil {
		t.Fatal(err)
	}
	return data
}
