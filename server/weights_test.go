package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestExtremeWeightsOverHTTP is the outside run's case over real loopback
// HTTP: 13 terms of weight 1e38 (and two) in both modes answer 200 with
// finite scores, not 500; terms that cancel answer 400 with a position.
func TestExtremeWeightsOverHTTP(t *testing.T) {
	f := newFixture(t, 8)
	ts := httptest.NewServer(newTestServer(t, f.lib, Config{}).Handler())
	defer ts.Close()

	huge := "1" + strings.Repeat("0", 38)
	var many []string
	for i := 0; i < 13; i++ {
		many = append(many, fmt.Sprintf("%s:\"word %d\"", huge, i))
	}
	id := f.ids["colour03.png"]
	queries := []string{
		strings.Join(many, " + "),
		fmt.Sprintf("%s:@%d + %s:\"red\"", huge, id, huge),
		fmt.Sprintf("%s:@%d - %s:\"red\"", huge, id, huge),
	}
	for _, mode := range []string{"add", "mul"} {
		for _, q := range queries {
			get := ts.URL + "/api/search?k=5&mode=" + mode + "&q=" + url.QueryEscape(q)
			resp, err := http.Get(get)
			if err != nil {
				t.Fatal(err)
			}
			checkFinite(t, mode+" GET", resp, 5)
			body, _ := json.Marshal(SearchRequest{Q: q, K: 5, Mode: mode})
			resp, err = http.Post(ts.URL+"/api/search", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			checkFinite(t, mode+" POST", resp, 5)
		}
		resp, err := http.Get(ts.URL + "/api/search?mode=" + mode + "&q=" + url.QueryEscape("red - red"))
		if err != nil {
			t.Fatal(err)
		}
		var eb ErrorBody
		err = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusBadRequest || eb.Error.Code != CodeBadQuery ||
			eb.Error.Position == nil || *eb.Error.Position != 0 || eb.Error.Length == nil || *eb.Error.Length != 9 ||
			!strings.Contains(eb.Error.Message, "cancel out") {
			t.Errorf("%s red - red: %d %+v %v", mode, resp.StatusCode, eb.Error, err)
		}
	}
}

// checkFinite reads a search answer: 200, n results, finite scores.
func checkFinite(t *testing.T, what string, resp *http.Response, n int) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, b)
	}
	var sr SearchResponse
	if err := json.Unmarshal(b, &sr); err != nil || len(sr.Results) != n {
		t.Fatalf("%s: %v %s", what, err, b)
	}
	for _, h := range sr.Results {
		if s := float64(h.Score); math.IsInf(s, 0) || math.IsNaN(s) {
			t.Fatalf("%s: score %v", what, h.Score)
		}
	}
}
