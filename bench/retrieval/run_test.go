package retrieval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/internal/imagetest"
	"mmsearch/internal/libtest"
)

// tinyModel is the closed-form 4-dimensional test model.
const tinyModel = "../../encoders/testdata/tiny"

// fixtureItem is one line of a generated captions.jsonl.
type fixtureItem struct {
	Image    string   `json:"image"`
	Captions []string `json:"captions,omitempty"`
	Labels   []string `json:"labels,omitempty"`
	Withheld *bool    `json:"withheld,omitempty"`
}

// writeDataset writes the images (relative path → seed) and captions.jsonl.
func writeDataset(t testing.TB, dir string, seeds map[string]int, items []fixtureItem) {
	t.Helper()
	for rel, seed := range seeds {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, imagetest.PatternPNG(t, seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	for _, it := range items {
		line, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, CaptionsJSONL), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// textVectors embeds phrases the way queries are embedded.
func textVectors(t testing.TB, words []string) map[string][]float32 {
	t.Helper()
	m, err := encoders.OpenModel(tinyModel, encoders.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encoders.NewTextEncoder(m, encoders.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	out := map[string][]float32{}
	for _, w := range words {
		v, err := enc.EncodeQuery(context.Background(), w)
		if err != nil {
			t.Fatal(err)
		}
		out[w] = v
	}
	return out
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// wordPool is a set of distinct short phrases.
func wordPool(n int) []string {
	letters := "abcdefghijklmnopqrstuvwxyz"
	var out []string
	for i := 0; len(out) < n; i++ {
		w := string(letters[i%26]) + string(letters[(i*7+3)%26])
		if i >= 26 {
			w += string(letters[(i/26*5)%26])
		}
		if i >= 200 {
			w += " " + string(letters[(i*11)%26])
		}
		out = append(out, w)
	}
	sort.Strings(out)
	uniq := out[:0]
	for i, w := range out {
		if i == 0 || w != out[i-1] {
			uniq = append(uniq, w)
		}
	}
	return uniq
}

// checkSane asserts every figure of every row is a proportion, recall grows
// with k and MRR lies between R@1 and R@depth.
func checkSane(t *testing.T, res *Result) {
	t.Helper()
	for _, row := range res.Rows {
		prev := 0.0
		for _, kv := range row.Recall {
			if kv.Value < 0 || kv.Value > 1 || kv.Value < prev {
				t.Errorf("%s/%s/%s: recall %v", row.Task, row.Subset, row.Search, row.Recall)
			}
			prev = kv.Value
		}
		if row.MRR < row.Recall[0].Value-1e-12 || row.MRR > prev+1e-12 {
			t.Errorf("%s/%s/%s: MRR %v outside [R@1, R@%d] = [%v, %v]", row.Task, row.Subset, row.Search, row.MRR, row.Depth, row.Recall[0].Value, prev)
		}
		if row.Queries <= 0 {
			t.Errorf("row without queries: %+v", row)
		}
	}
}

func row(t *testing.T, res *Result, task, subset, search string) Row {
	t.Helper()
	r, ok := res.Find(task, subset, search)
	if !ok {
		t.Fatalf("no row %s/%s/%s in %+v", task, subset, search, res.Rows)
	}
	return r
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	cfg.Engine.Model = tinyModel
	var stages []string
	cfg.Progress = func(p Progress) { stages = append(stages, p.Stage) }
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) == 0 {
		t.Error("no progress reported")
	}
	checkSane(t, res)
	return res
}

// TestRunSelfRetrieval: with the dataset as its own query set, exact search
// finds every image first; HNSW on a dozen items does too.
func TestRunSelfRetrieval(t *testing.T) {
	dir := t.TempDir()
	seeds := map[string]int{}
	var items []fixtureItem
	for i := range 10 {
		rel := fmt.Sprintf("img/%02d.png", i)
		seeds[rel] = i + 1
		items = append(items, fixtureItem{Image: rel, Captions: []string{fmt.Sprintf("word%d", i)}, Labels: []string{fmt.Sprint("L", i)}})
	}
	writeDataset(t, dir, seeds, items)
	// The fixture's images must be told apart by the model.
	var paths []string
	for rel := range seeds {
		paths = append(paths, filepath.Join(dir, rel))
	}
	vecs := libtest.Vectors(t, tinyModel, paths)
	for _, a := range paths {
		for _, b := range paths {
			if a < b && dot(vecs[a], vecs[b]) > 0.9999 {
				t.Fatalf("fixture: %s and %s embed alike (cos %v)", a, b, dot(vecs[a], vecs[b]))
			}
		}
	}

	res := run(t, Config{Dataset: dir, Queries: dir})
	for _, s := range []string{SearchExact, SearchHNSW} {
		r := row(t, res, ImageToImage, SubsetAll, s)
		if r.Queries != 10 || r.At(1) != 1 || r.MRR != 1 || r.R1Ties != 1 {
			t.Errorf("image→image %s: %+v, want 10 queries at R@1 = MRR = 1", s, r)
		}
	}
	if res.Images != 10 || res.QueryImages != 10 || res.Captions != 10 || len(res.Failed) != 0 {
		t.Errorf("counts: images %d, queries %d, captions %d, failed %v", res.Images, res.QueryImages, res.Captions, res.Failed)
	}

	// A byte copy of an image under another label ties with it: each of
	// the two is found first or second, and counts at R@1 with ties.
	dup, err := os.ReadFile(filepath.Join(dir, "img/00.png"))
	if err != nil {
		t.Fatal(err)
	}
	seeds = map[string]int{}
	items = append(items, fixtureItem{Image: "img/dup.png", Captions: []string{"dup"}, Labels: []string{"DUP"}})
	writeDataset(t, dir, seeds, items)
	if err := os.WriteFile(filepath.Join(dir, "img/dup.png"), dup, 0o644); err != nil {
		t.Fatal(err)
	}
	res = run(t, Config{Dataset: dir, Queries: dir})
	for _, s := range []string{SearchExact, SearchHNSW} {
		r := row(t, res, ImageToImage, SubsetAll, s)
		if r.Queries != 11 || r.R1Ties != 1 || r.At(1) < 9.0/11 || r.At(1) > 10.0/11 || r.At(5) != 1 {
			t.Errorf("image→image %s with twins: %+v, want R@1 9 or 10 of 11, R@1 with ties 1", s, r)
		}
	}
	if _, ok := res.Find(TextToImage, SubsetWithheld, SearchExact); ok {
		t.Error("withheld rows without withheld flags")
	}
}

// TestRunPlantedCaptions: each image is captioned with a word whose nearest
// image (computed here, by brute force) is that image, so text→image must
// score 1 at R@1, exactly and through HNSW.
func TestRunPlantedCaptions(t *testing.T) {
	dir := t.TempDir()
	seeds := map[string]int{}
	var paths []string
	for i := range 16 {
		rel := fmt.Sprintf("p%02d.png", i)
		seeds[rel] = 3*i + 2
		paths = append(paths, filepath.Join(dir, rel))
	}
	writeDataset(t, dir, seeds, nil)
	vecs := libtest.Vectors(t, tinyModel, paths)
	words := wordPool(400)
	tv := textVectors(t, words)
	best := map[string]string{} // image → word
	margin := map[string]float64{}
	for _, w := range words {
		top, second, arg := -2.0, -2.0, ""
		for _, p := range paths {
			c := dot(tv[w], vecs[p])
			if c > top {
				top, second, arg = c, top, p
			} else if c > second {
				second = c
			}
		}
		if m := top - second; m > 1e-3 && m > margin[arg] {
			best[arg], margin[arg] = w, m
		}
	}
	if len(best) < 3 {
		t.Fatalf("fixture: only %d images are the nearest of some word", len(best))
	}
	var items []fixtureItem
	for _, p := range paths {
		if w, ok := best[p]; ok {
			// Unlabelled: the hit is the same image.
			items = append(items, fixtureItem{Image: filepath.Base(p), Captions: []string{w}})
		}
	}
	writeDataset(t, dir, nil, items)

	res := run(t, Config{Dataset: dir, Ks: []int{1, 3}})
	for _, s := range []string{SearchExact, SearchHNSW} {
		r := row(t, res, TextToImage, SubsetAll, s)
		if r.Queries != len(items) || r.At(1) != 1 || r.At(3) != 1 || r.MRR != 1 {
			t.Errorf("text→image %s: %+v, want %d queries all at rank 1", s, r, len(items))
		}
	}
	if res.Images != len(items) {
		t.Errorf("images %d, want %d (only the listed images are candidates)", res.Images, len(items))
	}
}

// TestRunMatchesBruteForce compares every exact figure with ranks computed
// here by brute force, and checks HNSW agrees on a set this small.
func TestRunMatchesBruteForce(t *testing.T) {
	dir := t.TempDir()
	seeds := map[string]int{}
	var items []fixtureItem
	words := wordPool(40)
	yes, no := true, false
	for i := range 14 {
		rel := fmt.Sprintf("g%d/i%02d.png", i%4, i)
		seeds[rel] = 5*i + 1
		w := &no
		if i%3 == 0 {
			w = &yes
		}
		items = append(items, fixtureItem{Image: rel, Captions: []string{words[i], words[20+i]},
			Labels: []string{fmt.Sprint("group", i%4), "extra"}, Withheld: w})
	}
	writeDataset(t, dir, seeds, items)
	var paths []string
	for _, it := range items {
		paths = append(paths, filepath.Join(dir, it.Image))
	}
	vecs := libtest.Vectors(t, tinyModel, paths)
	tv := textVectors(t, words)

	ks := []int{1, 2, 5}
	// want[task][subset] from brute-force ranks.
	// A rank here is the position of the first candidate of the query's
	// group, and whether it scores like the first candidate.
	type rank struct {
		pos int
		tie bool
	}
	score := func(ranks []rank) Score {
		sc, _ := NewScorer(ks)
		for _, r := range ranks {
			sc.Add(r.pos, r.tie)
		}
		return sc.Score()
	}
	rankOf := func(q []float32, cands [][]float32, candGroup []int, group int) rank {
		type c struct {
			s float64
			g int
		}
		var cs []c
		for j := range cands {
			cs = append(cs, c{dot(q, cands[j]), candGroup[j]})
		}
		sort.SliceStable(cs, func(a, b int) bool { return cs[a].s > cs[b].s })
		for j, x := range cs {
			if x.g == group {
				return rank{j + 1, cs[0].s-x.s <= 1e-6}
			}
		}
		return rank{}
	}
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprintf("all-captions=%v", all), func(t *testing.T) {
			var imgs [][]float32
			var imgGroup []int
			for i := range items {
				imgs = append(imgs, vecs[paths[i]])
				imgGroup = append(imgGroup, i%4)
			}
			var caps [][]float32
			var capGroup, capItem []int
			for i, it := range items {
				n := 1
				if all {
					n = len(it.Captions)
				}
				for _, c := range it.Captions[:n] {
					caps = append(caps, tv[c])
					capGroup, capItem = append(capGroup, i%4), append(capItem, i)
				}
			}
			want := map[string]map[string][]rank{TextToImage: {}, ImageToText: {}}
			subsetOf := func(i int) string {
				if i%3 == 0 {
					return SubsetWithheld
				}
				return SubsetSeen
			}
			for j := range caps {
				r := rankOf(caps[j], imgs, imgGroup, capGroup[j])
				want[TextToImage][SubsetAll] = append(want[TextToImage][SubsetAll], r)
				s := subsetOf(capItem[j])
				want[TextToImage][s] = append(want[TextToImage][s], r)
			}
			for i := range imgs {
				r := rankOf(imgs[i], caps, capGroup, imgGroup[i])
				want[ImageToText][SubsetAll] = append(want[ImageToText][SubsetAll], r)
				want[ImageToText][subsetOf(i)] = append(want[ImageToText][subsetOf(i)], r)
			}
			res := run(t, Config{Dataset: dir, Ks: ks, AllCaptions: all})
			for task, subs := range want {
				for sub, ranks := range subs {
					w := score(ranks)
					for _, search := range []string{SearchExact, SearchHNSW} {
						got := row(t, res, task, sub, search)
						if got.Queries != w.Queries || !equalRecall(got.Recall, w.Recall) || math.Abs(got.MRR-w.MRR) > 1e-9 || got.R1Ties != w.R1Ties {
							t.Errorf("%s %s %s: got %+v, want %+v", task, sub, search, got.Score, w)
						}
					}
				}
			}
			if res.Withheld != 5 || res.Captions != len(caps) {
				t.Errorf("withheld %d, captions %d (want 5, %d)", res.Withheld, res.Captions, len(caps))
			}
			// Something in this fixture must be missed, or the comparison
			// above proves little.
			if r := row(t, res, TextToImage, SubsetAll, SearchExact); r.At(1) == 1 {
				t.Errorf("fixture: text→image is perfect (%+v); make it harder", r)
			}
		})
	}
}

func equalRecall(a, b []KValue) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].K != b[i].K || math.Abs(a[i].Value-b[i].Value) > 1e-12 {
			return false
		}
	}
	return true
}

// TestRunCrossSet: query images that are byte-identical copies of dataset
// images, under other names, find them first — by label, and by the same
// relative path when unlabelled. A query whose label no candidate carries is
// skipped, not counted as a miss.
func TestRunCrossSet(t *testing.T) {
	dir, qdir, udir := t.TempDir(), t.TempDir(), t.TempDir()
	seeds, qseeds, useeds := map[string]int{}, map[string]int{}, map[string]int{}
	var items, qitems, uitems []fixtureItem
	yes := true
	for i := range 8 {
		rel := fmt.Sprintf("%d.png", i)
		seeds[rel] = 7*i + 3
		it := fixtureItem{Image: rel, Captions: []string{fmt.Sprint("c", i)}, Labels: []string{fmt.Sprint("E", i)}}
		if i < 2 {
			it.Withheld = &yes
		}
		items = append(items, it)
		qrel := fmt.Sprintf("other/q%d.png", 7-i)
		qseeds[qrel] = 7*i + 3
		qitems = append(qitems, fixtureItem{Image: qrel, Labels: []string{fmt.Sprint("E", i)}})
		useeds[rel] = 7*i + 3
		uitems = append(uitems, fixtureItem{Image: rel})
	}
	qseeds["stray.png"] = 99
	qitems = append(qitems, fixtureItem{Image: "stray.png", Labels: []string{"nowhere"}})
	writeDataset(t, dir, seeds, items)
	writeDataset(t, qdir, qseeds, qitems)
	// Unlabelled queries and candidates match by relative path.
	writeDataset(t, udir, useeds, uitems)
	udata := t.TempDir()
	writeDataset(t, udata, seeds, uitems)

	res := run(t, Config{Dataset: dir, Queries: qdir})
	for _, s := range []string{SearchExact, SearchHNSW} {
		r := row(t, res, ImageToImage, SubsetAll, s)
		if r.Queries != 8 || r.At(1) != 1 {
			t.Errorf("labelled cross-set %s: %+v", s, r)
		}
		if w := row(t, res, ImageToImage, SubsetWithheld, s); w.Queries != 2 || w.At(1) != 1 {
			t.Errorf("withheld cross-set %s: %+v (the dataset's flags apply to unflagged queries)", s, w)
		}
	}
	if res.Skipped[ImageToImage] != 1 || res.QueryImages != 8 {
		t.Errorf("skipped %v, query images %d", res.Skipped, res.QueryImages)
	}

	res = run(t, Config{Dataset: udata, Queries: udir, Limit: 5})
	r := row(t, res, ImageToImage, SubsetAll, SearchExact)
	if r.Queries != 5 || r.At(1) != 1 || res.Images != 5 {
		t.Errorf("unlabelled cross-set with limit 5: %+v, images %d", r, res.Images)
	}
	if res.Skipped[ImageToImage] != 3 {
		t.Errorf("queries beyond the limit's candidates: skipped %v, want 3", res.Skipped)
	}
}

// TestRunFailuresAndErrors: a file that is not an image is reported, not
// fatal; bad configurations are refused.
func TestRunFailuresAndErrors(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, map[string]int{"a.png": 1, "b.png": 2, "c.png": 3},
		[]fixtureItem{{Image: "a.png", Captions: []string{"x"}}, {Image: "b.png", Captions: []string{"y"}}, {Image: "c.png", Captions: []string{"z"}}, {Image: "notes.txt", Captions: []string{"w"}}})
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t, Config{Dataset: dir})
	if len(res.Failed) != 1 || res.Failed[0].Image != "notes.txt" || res.Images != 3 {
		t.Errorf("failed %+v, images %d", res.Failed, res.Images)
	}
	if res.Skipped[TextToImage] != 1 || row(t, res, TextToImage, SubsetAll, SearchExact).Queries != 3 {
		t.Errorf("the failed image's caption: skipped %v", res.Skipped)
	}

	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Dataset: dir, Ks: []int{0}}, "k must be at least 1"},
		{Config{Dataset: dir, Limit: -1}, "limit -1"},
		{Config{Dataset: dir, Ef: -2}, "ef -2"},
		{Config{Dataset: filepath.Join(dir, "none")}, "none"},
		{Config{Dataset: dir, Queries: t.TempDir()}, "queries: dataset"},
	} {
		tt.cfg.Engine.Model = tinyModel
		if _, err := Run(context.Background(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%+v) = %v, want an error containing %q", tt.cfg, err, tt.want)
		}
	}
}

// TestReportAndOutputs writes a report and checks its files and figures.
func TestReportAndOutputs(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, map[string]int{"a.png": 1, "b.png": 2, "c.png": 3},
		[]fixtureItem{{Image: "a.png", Captions: []string{"x"}}, {Image: "b.png", Captions: []string{"y"}}, {Image: "c.png", Captions: []string{"z"}}})
	res := run(t, Config{Dataset: dir, Queries: dir, Ks: []int{1, 2}})
	rep := res.Report(bench.NewHeader(context.Background(), "retrieval", ""))
	out := t.TempDir()
	files, err := WriteOutputs(out, res, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Errorf("files %v", files)
	}
	for _, f := range []string{ReportName + ".json", ReportName + ".md", PlotName} {
		fi, err := os.Stat(filepath.Join(out, f))
		if err != nil || fi.Size() == 0 {
			t.Errorf("output %s: %v", f, err)
		}
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	// 3 tasks × 2 searches, subset "all" only.
	if len(rep.Tables) != 1 || len(rep.Tables[0].Rows) != 6 || len(rep.Headline) != 3 {
		t.Errorf("tables %+v headline %v", rep.Tables, rep.Headline)
	}
	for _, want := range []string{"R@1", "R@2", "MRR@2", "image→image", "tiny-test", "k=1,2"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(out, ReportName+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ Data Result }
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Data.Rows) != len(res.Rows) || back.Data.Rows[0].Recall[0] != res.Rows[0].Recall[0] {
		t.Errorf("JSON data %+v", back.Data)
	}
}

// TestRunModelReplaced: a model whose files change during the run (as
// while a model is being retrained into its folder) fails the run rather
// than mixing vectors of two models.
func TestRunModelReplaced(t *testing.T) {
	model := t.TempDir()
	for _, f := range []string{"model.json", "vision_model.onnx", "text_model.onnx", "vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join(tinyModel, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(model, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	other, err := os.ReadFile(filepath.Join(tinyModel, "..", "tiny2", "vision_model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeDataset(t, dir, map[string]int{"a.png": 1, "b.png": 2},
		[]fixtureItem{{Image: "a.png", Captions: []string{"x"}}, {Image: "b.png", Captions: []string{"y"}}})
	swapped := false
	_, err = Run(context.Background(), Config{Engine: Engine{Model: model}, Dataset: dir, Progress: func(p Progress) {
		if !swapped && strings.HasPrefix(p.Stage, "embedding captions") {
			swapped = true
			if err := os.WriteFile(filepath.Join(model, "vision_model.onnx"), other, 0o644); err != nil {
				t.Error(err)
			}
		}
	}})
	if !swapped || err == nil || !strings.Contains(err.Error(), "changed during the run") {
		t.Fatalf("swapped %v, error %v", swapped, err)
	}
}
