// Package evalsum writes and checks a model's eval.json: the figures of its
// retrieval and analogy reports (from `mmsearch bench retrieval` and
// `mmsearch bench analogy`, run by the Go engine) as data a script can read,
// per task and family: n, R@1, R@5, R@10, MRR@10 (and R@1 counting ties),
// exact and HNSW, as JSON numbers, with the reports' prose headlines beside
// them.
package evalsum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"mmsearch/bench"
	"mmsearch/bench/analogy"
	"mmsearch/bench/retrieval"
)

// Schema names the format of eval.json files written by this package.
const Schema = "mmsearch-eval/2"

// Figures are named numbers: "R@k" for each k measured, "MRR@10" and
// "R@1_ties".
type Figures map[string]float64

// Task is one retrieval task over one subset of its queries.
type Task struct {
	Task   string `json:"task"`   // text→image, image→text, image→image
	Subset string `json:"subset"` // all, withheld, not withheld
	N      int    `json:"n"`      // queries
	// Exact is over index/flat, HNSW through the library's index.
	Exact Figures `json:"exact"`
	HNSW  Figures `json:"hnsw"`
}

// Family is one analogy family (or "all", "mean of families") in one
// scoring mode. Analogies run through the query language, so over HNSW.
type Family struct {
	Family string  `json:"family"`
	Mode   string  `json:"mode"`
	N      int     `json:"n"`
	HNSW   Figures `json:"hnsw"`
}

// Run says which run of the Go engine a part comes from.
type Run struct {
	Date        string `json:"date"`
	GitRevision string `json:"git_revision"`
	Dataset     string `json:"dataset"`
}

// Summary is the content of eval.json.
type Summary struct {
	Schema       string `json:"schema"`
	Model        string `json:"model"`
	ModelVersion string `json:"model_version"`
	Fingerprint  string `json:"model_fingerprint"`
	Source       string `json:"source"`
	Retrieval    struct {
		Run
		Tasks    []Task   `json:"tasks"`
		Headline []string `json:"headline,omitempty"`
	} `json:"retrieval"`
	Analogy struct {
		Run
		Families []Family `json:"families"`
		Headline []string `json:"headline,omitempty"`
	} `json:"analogy"`
}

// report is a bench report with its data left to decode.
type report struct {
	bench.Report
	Data json.RawMessage `json:"data"`
}

func readReport(b []byte, want string, data any) (*report, error) {
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s report: %w", want, err)
	}
	if r.Benchmark != want {
		return nil, fmt.Errorf("a %q report, not %q", r.Benchmark, want)
	}
	if err := json.Unmarshal(r.Data, data); err != nil {
		return nil, fmt.Errorf("%s report data: %w", want, err)
	}
	return &r, nil
}

// FromReports builds a Summary from the JSON of a retrieval report and an
// analogy report of the same model.
func FromReports(retrievalJSON, analogyJSON []byte) (*Summary, error) {
	var rr retrieval.Result
	rrep, err := readReport(retrievalJSON, "retrieval", &rr)
	if err != nil {
		return nil, err
	}
	var ar analogy.Result
	arep, err := readReport(analogyJSON, "analogy", &ar)
	if err != nil {
		return nil, err
	}
	if rr.Fingerprint != ar.Fingerprint {
		return nil, fmt.Errorf("the reports are of two models (fingerprints %.12s and %.12s)", rr.Fingerprint, ar.Fingerprint)
	}
	s := &Summary{
		Schema: Schema, Model: rr.Model, ModelVersion: rr.ModelVersion, Fingerprint: rr.Fingerprint,
		Source: "mmsearch bench retrieval / bench analogy (Go engine, ONNX Runtime); full reports in eval/",
	}
	s.Retrieval.Run = Run{Date: rrep.Date.UTC().Format("2006-01-02T15:04:05Z"), GitRevision: rrep.GitRev, Dataset: baseName(rr.Dataset)}
	s.Retrieval.Headline = rrep.Headline
	type key struct{ task, subset string }
	tasks := map[key]*Task{}
	var order []key
	for _, row := range rr.Rows {
		k := key{row.Task, row.Subset}
		t, ok := tasks[k]
		if !ok {
			t = &Task{Task: row.Task, Subset: row.Subset, N: row.Queries}
			tasks[k] = t
			order = append(order, k)
		}
		switch row.Search {
		case retrieval.SearchExact:
			t.Exact = row.Score.Figures()
		case retrieval.SearchHNSW:
			t.HNSW = row.Score.Figures()
		}
	}
	for _, k := range order {
		s.Retrieval.Tasks = append(s.Retrieval.Tasks, *tasks[k])
	}
	s.Analogy.Run = Run{Date: arep.Date.UTC().Format("2006-01-02T15:04:05Z"), GitRevision: arep.GitRev, Dataset: baseName(ar.Dataset)}
	s.Analogy.Headline = arep.Headline
	for _, sc := range ar.Scores {
		s.Analogy.Families = append(s.Analogy.Families, Family{Family: sc.Family, Mode: string(sc.Mode), N: sc.Queries, HNSW: sc.Score.Figures()})
	}
	return s, s.Validate()
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// Required tasks and figures of a valid Summary.
var (
	requiredTasks   = []string{retrieval.TextToImage, retrieval.ImageToText, retrieval.ImageToImage}
	requiredTaskFig = []string{"R@1", "R@5", "R@10", "MRR@10"}
	requiredFamFig  = []string{"R@1", "R@10", "MRR@10"}
)

// Validate checks the schema: the version; every retrieval task with n > 0
// and R@1, R@5, R@10, MRR@10 for exact and HNSW; every analogy family with
// n > 0 and R@1, R@10, MRR@10 in both modes; every figure in [0, 1], recall
// not falling with k, MRR@10 between R@1 and R@10.
func (s *Summary) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Schema != Schema {
		bad("schema %q, want %q", s.Schema, Schema)
	}
	if s.Model == "" || s.Fingerprint == "" {
		bad("model or fingerprint missing")
	}
	seen := map[string]bool{}
	for _, t := range s.Retrieval.Tasks {
		where := t.Task + "/" + t.Subset
		if t.N <= 0 {
			bad("%s: n %d", where, t.N)
		}
		if t.Subset == retrieval.SubsetAll {
			seen[t.Task] = true
		}
		for name, f := range map[string]Figures{"exact": t.Exact, "hnsw": t.HNSW} {
			checkFigures(bad, where+" "+name, f, requiredTaskFig)
		}
	}
	for _, task := range requiredTasks {
		if !seen[task] {
			bad("retrieval task %s (all queries) missing", task)
		}
	}
	modes := map[string]map[string]bool{}
	for _, f := range s.Analogy.Families {
		where := f.Family + "/" + f.Mode
		if f.N <= 0 {
			bad("%s: n %d", where, f.N)
		}
		if modes[f.Family] == nil {
			modes[f.Family] = map[string]bool{}
		}
		modes[f.Family][f.Mode] = true
		checkFigures(bad, where, f.HNSW, requiredFamFig)
	}
	if len(modes) < 2 {
		bad("%d analogy families, want at least one and the summary rows", len(modes))
	}
	fams := make([]string, 0, len(modes))
	for fam := range modes {
		fams = append(fams, fam)
	}
	sort.Strings(fams)
	for _, fam := range fams {
		if !modes[fam]["add"] || !modes[fam]["mul"] {
			bad("analogy family %s lacks a mode (has %v)", fam, modes[fam])
		}
	}
	return errors.Join(errs...)
}

func checkFigures(bad func(string, ...any), where string, f Figures, required []string) {
	for _, name := range required {
		if _, ok := f[name]; !ok {
			bad("%s: %s missing", where, name)
		}
	}
	for name, v := range f {
		if !(v >= 0 && v <= 1) {
			bad("%s: %s = %v, outside [0, 1]", where, name, v)
		}
	}
	const slack = 1e-12
	prev, prevName := -1.0, ""
	for _, name := range []string{"R@1", "R@5", "R@10"} {
		v, ok := f[name]
		if !ok {
			continue
		}
		if v < prev-slack {
			bad("%s: recall falls with k (%s %v, %s %v)", where, prevName, prev, name, v)
		}
		prev, prevName = v, name
	}
	if m := f["MRR@10"]; m < f["R@1"]-slack || m > f["R@10"]+slack {
		bad("%s: MRR@10 %v outside [R@1, R@10]", where, m)
	}
}

// Load reads and validates an eval.json. Figures that are not JSON numbers
// fail to decode.
func Load(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Summary
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// Marshal returns the summary as indented JSON with a final newline.
func (s *Summary) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
