package analogy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mmsearch/bench"
	"mmsearch/bench/retrieval"
	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/internal/imagetest"
	"mmsearch/internal/libtest"
)

const tinyModel = "../../encoders/testdata/tiny"

func writeJSONL(t testing.TB, path string, lines []any) {
	t.Helper()
	var b bytes.Buffer
	for _, l := range lines {
		j, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(j, '\n'))
	}
	imagetest.Write(t, path, b.Bytes())
}

func textVector(t testing.TB, enc *encoders.TextEncoder, s string) []float32 {
	t.Helper()
	v, err := enc.EncodeQuery(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// addAnswer ranks the candidates by cosine to the normalized weighted sum,
// brute force, and returns them nearest first.
func addAnswer(src []float32, terms []Term, tv map[string][]float32, sign float64, cands []string, vecs map[string][]float32) ([]string, []float64) {
	q := make([]float64, len(src))
	for i, x := range src {
		q[i] = float64(x)
	}
	for _, t := range terms {
		for i, x := range tv[t.Text] {
			q[i] += sign * t.Weight * float64(x)
		}
	}
	type sc struct {
		p string
		s float64
	}
	var ss []sc
	for _, c := range cands {
		d := 0.0
		for i, x := range vecs[c] {
			d += q[i] * float64(x)
		}
		ss = append(ss, sc{c, d})
	}
	sort.Slice(ss, func(a, b int) bool { return ss[a].s > ss[b].s })
	var ps []string
	var scores []float64
	for _, s := range ss {
		ps, scores = append(ps, s.p), append(scores, s.s)
	}
	return ps, scores
}

// fixture is a labelled dataset of 12 images plus dup.png, a copy of
// i00.png's pixels with other bytes (another PNG compression level: the
// engine treats byte copies as one content and never returns a copy of a
// query input, issue 12), with their vectors.
type fixture struct {
	dir   string
	imgs  []string // relative paths
	vecs  map[string][]float32
	label map[string]string
}

func newFixture(t *testing.T, captions bool) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), label: map[string]string{}}
	var lines []any
	var abs []string
	for i := range 12 {
		rel := fmt.Sprintf("img/i%02d.png", i)
		imagetest.Write(t, filepath.Join(f.dir, rel), imagetest.PatternPNG(t, 4*i+1))
		f.imgs = append(f.imgs, rel)
		f.label[rel] = fmt.Sprint("L", i)
	}
	imagetest.Write(t, filepath.Join(f.dir, "img/dup.png"), pixelCopy(t, 1, png.BestSpeed))
	f.imgs = append(f.imgs, "img/dup.png")
	f.label["img/dup.png"] = "DUP"
	for _, rel := range f.imgs {
		abs = append(abs, filepath.Join(f.dir, rel))
		lines = append(lines, map[string]any{"image": rel, "captions": []string{"c " + rel}, "labels": []string{f.label[rel], "any"}})
	}
	if captions {
		writeJSONL(t, filepath.Join(f.dir, retrieval.CaptionsJSONL), lines)
	}
	v := libtest.Vectors(t, tinyModel, abs)
	f.vecs = map[string][]float32{}
	for _, rel := range f.imgs {
		f.vecs[rel] = v[filepath.Join(f.dir, rel)]
	}
	for i, a := range f.imgs[:12] {
		for _, b := range f.imgs[i+1 : 12] {
			d := 0.0
			for k := range f.vecs[a] {
				d += float64(f.vecs[a][k] * f.vecs[b][k])
			}
			if d > 0.9999 {
				t.Fatalf("fixture: %s and %s embed alike", a, b)
			}
		}
	}
	return f
}

func runAnalogy(t *testing.T, cfg Config) *Result {
	t.Helper()
	cfg.Engine.Model = tinyModel
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Scores {
		for _, kv := range s.Recall {
			if kv.Value < 0 || kv.Value > 1 {
				t.Errorf("%s/%s: recall %v", s.Family, s.Mode, s.Recall)
			}
		}
	}
	return res
}

func score(t *testing.T, r *Result, family string, mode engine.Mode) retrieval.Score {
	t.Helper()
	s, ok := r.Find(family, mode)
	if !ok {
		t.Fatalf("no score for %s/%s", family, mode)
	}
	return s.Score
}

// TestRunPlanted: analogies whose answers are certain (a pixel copy of the
// source behind terms that cancel) or computed here by brute force score 1
// at R@1; a control whose "expected" image is the farthest one scores 0 and
// lands in the failures file.
func TestRunPlanted(t *testing.T) {
	f := newFixture(t, true)
	m, err := encoders.OpenModel(tinyModel, encoders.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encoders.NewTextEncoder(m, encoders.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	tv := map[string][]float32{}
	words := []string{"red", "blue", "cat", "dog", "the", "sky", "owl", "jam", "zig", "kite", "moon", "vex"}
	for _, w := range words {
		tv[w] = textVector(t, enc, w)
	}
	others := func(src string) []string {
		var out []string
		for _, p := range f.imgs {
			if p != src {
				out = append(out, p)
			}
		}
		return out
	}

	spec := []any{
		// Terms that cancel: the copy of the source is the answer.
		map[string]any{"family": "identity", "source": "img/i00.png", "subtract": []Term{{"red", 1}}, "add": []Term{{"red", 1}}, "expected": []string{"img/dup.png"}},
		map[string]any{"family": "identity", "source": "@img/i00.png", "subtract": []Term{{"cat", 2}}, "add": []Term{{"cat", 2}}, "expected_labels": []string{"DUP"}},
	}
	// Brute-force answers that the terms decide: the answer differs from
	// the source's nearest neighbour and from the answer with the signs
	// flipped, with a clear margin.
	planted := 0
	for si := 1; si < 12 && planted < 4; si++ {
		src := f.imgs[si]
		cands := others(src)
		plain, _ := addAnswer(f.vecs[src], nil, tv, 1, cands, f.vecs)
		for wi := 0; wi+1 < len(words) && planted < 4; wi += 2 {
			sub := []Term{{words[wi], 1}}
			add := []Term{{words[wi+1], 1.5}}
			// sub carries sign -1: negate its weight for the brute force.
			signed := []Term{{sub[0].Text, -sub[0].Weight}, add[0]}
			got, scores := addAnswer(f.vecs[src], signed, tv, 1, cands, f.vecs)
			flipped, _ := addAnswer(f.vecs[src], signed, tv, -1, cands, f.vecs)
			if scores[0]-scores[1] < 1e-3*math.Abs(scores[0]) || got[0] == plain[0] || got[0] == flipped[0] {
				continue
			}
			spec = append(spec, map[string]any{"family": "planted", "source": src, "subtract": sub, "add": add,
				"expected_labels": []string{f.label[got[0]]}})
			planted++
		}
	}
	if planted < 2 {
		t.Fatalf("fixture: only %d analogies decided by their terms", planted)
	}
	// The control: the farthest image is "expected", so it is not among
	// the 10 results asked for (12 candidates).
	far, _ := addAnswer(f.vecs["img/i01.png"], []Term{{"owl", 1}}, tv, 1, others("img/i01.png"), f.vecs)
	spec = append(spec, map[string]any{"family": "control", "source": "img/i01.png", "add": []Term{{"owl", 1}}, "expected": []string{far[len(far)-1]}})
	specPath := filepath.Join(t.TempDir(), "spec.jsonl")
	writeJSONL(t, specPath, spec)

	var stages []string
	res := runAnalogy(t, Config{Dataset: f.dir, Spec: specPath, Progress: func(p retrieval.Progress) { stages = append(stages, p.Stage) }})
	if len(stages) == 0 {
		t.Error("no progress")
	}
	n := 3 + planted
	if res.Analogies != n || res.Images != 13 || !equal(res.Families, []string{"control", "identity", "planted"}) {
		t.Fatalf("result %+v", res)
	}
	for _, mode := range engine.Modes {
		if s := score(t, res, "identity", mode); s.Queries != 2 || s.At(1) != 1 {
			t.Errorf("identity %s: %+v", mode, s)
		}
	}
	if s := score(t, res, "planted", engine.ModeAdd); s.Queries != planted || s.At(1) != 1 {
		t.Errorf("planted add: %+v", s)
	}
	if s := score(t, res, "control", engine.ModeAdd); s.At(10) != 0 || s.MRR != 0 {
		t.Errorf("control add: %+v", s)
	}
	all := score(t, res, FamilyAll, engine.ModeAdd)
	if all.Queries != n || math.Abs(all.At(1)-float64(n-1)/float64(n)) > 1e-12 {
		t.Errorf("all add: %+v, want R@1 %d/%d", all, n-1, n)
	}
	if mean := score(t, res, FamilyMean, engine.ModeAdd); math.Abs(mean.At(1)-2.0/3) > 1e-12 {
		t.Errorf("mean of families, add: %+v, want R@1 2/3", mean)
	}
	// Failures: the control in add mode, with rank 0 and 5 results shown.
	var control *Failure
	for i := range res.Failures {
		fl := &res.Failures[i]
		if fl.Mode == engine.ModeAdd && fl.Family != "control" {
			t.Errorf("unexpected add-mode failure %+v", fl)
		}
		if fl.Mode == engine.ModeAdd && fl.Family == "control" {
			control = fl
		}
	}
	if control == nil {
		t.Fatalf("control missing from failures %+v", res.Failures)
	}
	wantQuery := filepath.Join(f.dir, "img/i01.png") + ` + "owl"`
	if control.Rank != 0 || len(control.Got) != TopShown || control.Query != wantQuery || control.Line != n {
		t.Errorf("control failure %+v (want query %s, line %d)", control, wantQuery, n)
	}
	for _, h := range control.Got {
		if h.Image == "img/i01.png" || !strings.HasPrefix(h.Label, "L") && h.Label != "DUP" {
			t.Errorf("got %+v: the source must be excluded and results labelled", h)
		}
	}

	// Reports and files.
	rep := res.Report(bench.NewHeader(context.Background(), "analogy", ""))
	out := t.TempDir()
	files, err := WriteOutputs(out, res, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Errorf("files %v", files)
	}
	fh, err := os.Open(filepath.Join(out, FailuresName))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	lines := 0
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var fl Failure
		if err := json.Unmarshal(sc.Bytes(), &fl); err != nil {
			t.Fatalf("failures line %d: %v", lines+1, err)
		}
		lines++
	}
	if lines != res.FailureCount || lines != len(res.Failures) {
		t.Errorf("%d failure lines, %d failures", lines, res.FailureCount)
	}
	for _, name := range []string{ReportName + ".json", ReportName + ".md", PlotName} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("output %s: %v", name, err)
		}
	}
	// families + all + mean, each in 2 modes.
	if len(rep.Tables[0].Rows) != 2*5 || len(rep.Headline) != 2 {
		t.Errorf("table rows %d, headline %v", len(rep.Tables[0].Rows), rep.Headline)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRunFolderAndLimit: a folder without captions works with expected
// paths; --limit keeps the first analogies; one mode may be chosen.
func TestRunFolderAndLimit(t *testing.T) {
	f := newFixture(t, false)
	specPath := filepath.Join(t.TempDir(), "spec.jsonl")
	writeJSONL(t, specPath, []any{
		map[string]any{"family": "identity", "source": "img/i00.png", "subtract": []Term{{"red", 1}}, "add": []Term{{"red", 1}}, "expected": []string{"img/dup.png"}},
		map[string]any{"family": "other", "source": "img/i03.png", "add": []Term{{"red", 1}}, "expected": []string{"img/i04.png"}},
	})
	res := runAnalogy(t, Config{Dataset: f.dir, Spec: specPath, Limit: 1, Modes: []engine.Mode{engine.ModeMul}, Ks: []int{1, 3}})
	if res.Analogies != 1 || res.DatasetFile != "" || len(res.Modes) != 1 {
		t.Fatalf("result %+v", res)
	}
	if s := score(t, res, "identity", engine.ModeMul); s.At(1) != 1 || s.At(3) != 1 {
		t.Errorf("identity mul: %+v", s)
	}
	if _, ok := res.Find("identity", engine.ModeAdd); ok {
		t.Error("add mode ran")
	}
}

func TestRunErrors(t *testing.T) {
	f := newFixture(t, true)
	bare := newFixture(t, false)
	spec := func(lines ...string) string {
		p := filepath.Join(t.TempDir(), "s.jsonl")
		imagetest.Write(t, p, []byte(strings.Join(lines, "\n")+"\n"))
		return p
	}
	good := `{"family": "f", "source": "img/i00.png", "add": [{"text": "x"}], "expected": ["img/dup.png"]}`
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown expected", Config{Dataset: f.dir, Spec: spec(good, `{"family": "f", "source": "img/i00.png", "add": [{"text": "x"}], "expected": ["img/zz.png"]}`)},
			`s.jsonl:2: expected image "img/zz.png" is not in the dataset`},
		{"unknown label", Config{Dataset: f.dir, Spec: spec(good, good, `{"family": "f", "source": "img/i00.png", "add": [{"text": "x"}], "expected_labels": ["any"]}`)},
			`s.jsonl:3: no image of the dataset has the first label "any"`},
		{"missing source", Config{Dataset: f.dir, Spec: spec(`{"family": "f", "source": "img/none.png", "add": [{"text": "x"}], "expected": ["img/dup.png"]}`)},
			`s.jsonl:1: source "img/none.png"`},
		{"labels without captions", Config{Dataset: bare.dir, Spec: spec(`{"family": "f", "source": "img/i00.png", "add": [{"text": "x"}], "expected_labels": ["L1"]}`)},
			"s.jsonl:1: expected_labels need a dataset with captions.jsonl"},
		{"malformed spec", Config{Dataset: f.dir, Spec: spec(good, `{"family": 3}`)}, "s.jsonl:2: json: cannot unmarshal number"},
		{"no spec in the model", Config{Dataset: f.dir}, "has no analogies.jsonl"},
		{"bad mode", Config{Dataset: f.dir, Spec: spec(good), Modes: []engine.Mode{"dot"}}, `unknown scoring mode "dot"`},
		{"bad k", Config{Dataset: f.dir, Spec: spec(good), Ks: []int{-1}}, "k must be at least 1"},
		{"missing dataset", Config{Dataset: filepath.Join(f.dir, "nope"), Spec: spec(good)}, "nope"},
		{"unknown item", Config{Dataset: f.dir, Spec: spec(`{"family": "f", "source": "@999", "add": [{"text": "x"}], "expected": ["img/dup.png"]}`)}, "no indexed item @999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Engine.Model = tinyModel
			_, err := Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// pixelCopy is imagetest.PatternPNG(t, seed) encoded at another compression
// level: the same pixels (so the same vector) in different bytes.
func pixelCopy(t *testing.T, seed int, level png.CompressionLevel) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, imagetest.Pattern(seed, 24, 16)); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b.Bytes(), imagetest.PatternPNG(t, seed)) {
		t.Fatal("pixel copy has the same bytes")
	}
	return b.Bytes()
}

// TestRunTies: with two pixel copies of the source, the expected copy ties
// with the other one; R@1 with ties counts it whichever comes first.
func TestRunTies(t *testing.T) {
	f := newFixture(t, false)
	imagetest.Write(t, filepath.Join(f.dir, "img/dup2.png"), pixelCopy(t, 1, png.NoCompression))
	specPath := filepath.Join(t.TempDir(), "spec.jsonl")
	writeJSONL(t, specPath, []any{
		map[string]any{"family": "tie", "source": "img/i00.png", "subtract": []Term{{"red", 1}}, "add": []Term{{"red", 1}}, "expected": []string{"img/dup2.png"}},
		map[string]any{"family": "tie", "source": "img/i00.png", "subtract": []Term{{"red", 1}}, "add": []Term{{"red", 1}}, "expected": []string{"img/dup.png"}},
	})
	res := runAnalogy(t, Config{Dataset: f.dir, Spec: specPath})
	for _, mode := range engine.Modes {
		s := score(t, res, "tie", mode)
		// The two lines ask for one twin each: exactly one is first.
		if s.R1Ties != 1 || s.At(1) != 0.5 || s.At(10) != 1 {
			t.Errorf("tie %s: %+v, want R@1 0.5 and R@1 with ties 1", mode, s)
		}
	}
	if len(res.Failures) != 2 {
		t.Fatalf("failures %+v", res.Failures)
	}
	for _, fl := range res.Failures {
		if fl.Rank != 2 || !fl.Tied {
			t.Errorf("failure %+v: want rank 2, tied", fl)
		}
	}
}

// TestRunByteIdenticalCopies: byte-identical files are one item in the
// library, shown under one path with the others in Result.Paths; an
// analogy expecting any of the copies, by path or by label, is answered
// at rank 1 whichever path the result shows.
func TestRunByteIdenticalCopies(t *testing.T) {
	f := newFixture(t, false)
	b, err := os.ReadFile(filepath.Join(f.dir, "img/dup.png"))
	if err != nil {
		t.Fatal(err)
	}
	// Names sorting before and after dup.png, so one of them is never the
	// path the result shows.
	for _, name := range []string{"img/a-copy.png", "img/z-copy.png"} {
		if err := os.WriteFile(filepath.Join(f.dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	specPath := filepath.Join(t.TempDir(), "spec.jsonl")
	var lines []any
	for _, want := range []string{"img/a-copy.png", "img/dup.png", "img/z-copy.png"} {
		lines = append(lines, map[string]any{"family": "copy", "source": "img/i00.png",
			"subtract": []Term{{"red", 1}}, "add": []Term{{"red", 1}}, "expected": []string{want}})
	}
	writeJSONL(t, specPath, lines)
	res := runAnalogy(t, Config{Dataset: f.dir, Spec: specPath})
	for _, mode := range engine.Modes {
		if s := score(t, res, "copy", mode); s.At(1) != 1 {
			t.Errorf("copy %s: R@1 %v, want 1 for every copy; failures %+v", mode, s.At(1), res.Failures)
		}
	}
}
