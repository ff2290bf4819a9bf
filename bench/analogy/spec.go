package analogy

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mmsearch/bench/retrieval"
	"mmsearch/engine/query"
)

// Term is a weighted text subtracted from or added to the source.
type Term struct {
	Text   string  `json:"text"`
	Weight float64 `json:"weight"`
}

// Analogy is one line of a spec file: source - subtract + add should find
// one of the expected images.
type Analogy struct {
	// Line is the spec line it came from.
	Line int `json:"line"`
	// Family groups analogies for reporting (colour, gender, ...).
	Family string `json:"family"`
	// Source is an image path relative to the dataset folder, or "@ITEM"
	// (an indexed item by id, or by path relative to the dataset folder).
	Source   string `json:"source"`
	Subtract []Term `json:"subtract,omitempty"`
	Add      []Term `json:"add,omitempty"`
	// Expected are image paths relative to the dataset folder; a result
	// among them is a hit.
	Expected []string `json:"expected,omitempty"`
	// ExpectedLabels are labels; a result whose first label is among them
	// is a hit.
	ExpectedLabels []string `json:"expected_labels,omitempty"`
}

// specLine is the JSON form of a spec line; Weight may be left out (1).
type specLine struct {
	Family   *string `json:"family"`
	Source   *string `json:"source"`
	Subtract []struct {
		Text   *string  `json:"text"`
		Weight *float64 `json:"weight"`
	} `json:"subtract"`
	Add []struct {
		Text   *string  `json:"text"`
		Weight *float64 `json:"weight"`
	} `json:"add"`
	Expected       []string `json:"expected"`
	ExpectedLabels []string `json:"expected_labels"`
}

// LoadSpec reads an analogy spec file (JSON Lines).
func LoadSpec(path string) ([]Analogy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("analogy spec: %w", err)
	}
	defer f.Close()
	return ParseSpec(f, filepath.Base(path))
}

// ParseSpec reads analogy spec lines from r. Each non-blank line is
//
//	{"family": "...", "source": "rel/path.png", "subtract": [{"text": "red", "weight": 1}],
//	 "add": [{"text": "blue", "weight": 1}], "expected": ["rel/path.png"], "expected_labels": ["..."]}
//
// family and source are required, at least one term and one expected path
// or label are required, weights must be positive (1 when left out), and
// unknown fields are refused. Errors name the file (name) and line.
func ParseSpec(r io.Reader, name string) ([]Analogy, error) {
	var out []Analogy
	err := retrieval.ReadLines(r, name, func(line []byte, n int) error {
		var sl specLine
		if err := retrieval.DecodeStrict(line, &sl); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		a, err := sl.analogy(n)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no analogies", name)
	}
	return out, nil
}

func (sl *specLine) analogy(line int) (Analogy, error) {
	a := Analogy{Line: line, Expected: sl.Expected, ExpectedLabels: sl.ExpectedLabels}
	if sl.Family == nil || strings.TrimSpace(*sl.Family) == "" {
		return a, errors.New(`missing "family"`)
	}
	a.Family = *sl.Family
	if sl.Source == nil || strings.TrimSpace(*sl.Source) == "" {
		return a, errors.New(`missing "source"`)
	}
	a.Source = *sl.Source
	if a.Source == "@" {
		return a, errors.New(`source "@" names no item`)
	}
	conv := func(field string, in []struct {
		Text   *string  `json:"text"`
		Weight *float64 `json:"weight"`
	}) ([]Term, error) {
		var ts []Term
		for i, t := range in {
			if t.Text == nil || strings.TrimSpace(*t.Text) == "" {
				return nil, fmt.Errorf("%s[%d]: missing or empty \"text\"", field, i)
			}
			w := 1.0
			if t.Weight != nil {
				w = *t.Weight
			}
			if !(w > 0) || math.IsInf(w, 0) || w > math.MaxFloat32 {
				return nil, fmt.Errorf("%s[%d]: weight %v: want a positive number", field, i, w)
			}
			ts = append(ts, Term{Text: *t.Text, Weight: w})
		}
		return ts, nil
	}
	var err error
	if a.Subtract, err = conv("subtract", sl.Subtract); err != nil {
		return a, err
	}
	if a.Add, err = conv("add", sl.Add); err != nil {
		return a, err
	}
	if len(a.Subtract)+len(a.Add) == 0 {
		return a, errors.New(`no "subtract" or "add" terms`)
	}
	if len(a.Expected)+len(a.ExpectedLabels) == 0 {
		return a, errors.New(`no "expected" images or "expected_labels"`)
	}
	for i, e := range a.Expected {
		if strings.TrimSpace(e) == "" {
			return a, fmt.Errorf("expected[%d] is empty", i)
		}
	}
	for i, l := range a.ExpectedLabels {
		if strings.TrimSpace(l) == "" {
			return a, fmt.Errorf("expected_labels[%d] is empty", i)
		}
	}
	return a, nil
}

// SourcePath returns the absolute path of a source given as a file (not as
// "@ITEM"), resolved against the dataset folder dir.
func (a *Analogy) SourcePath(dir string) (string, bool) {
	if strings.HasPrefix(a.Source, "@") {
		return "", false
	}
	return resolve(dir, a.Source), true
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, filepath.FromSlash(p))
}

// Expression returns the analogy in the query language, with paths made
// absolute against the dataset folder dir: "/dir/src.png - 1:\"red\" + 1:\"blue\""
// (weights of 1 are not written). It is built with query.Query's canonical
// writer and checked by parsing it back.
func (a *Analogy) Expression(dir string) (string, error) {
	var q query.Query
	src := query.Term{Sign: 1, Weight: 1}
	switch {
	case strings.HasPrefix(a.Source, "@"):
		src.Kind = query.Item
		ref := a.Source[1:]
		if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
			src.ItemID = id
		} else {
			src.Value = resolve(dir, strings.Trim(ref, `"`))
		}
	default:
		src.Kind, src.Value = query.Path, resolve(dir, a.Source)
	}
	q.Terms = append(q.Terms, src)
	for _, t := range a.Subtract {
		q.Terms = append(q.Terms, query.Term{Sign: -1, Weight: float32(t.Weight), Kind: query.Text, Value: t.Text})
	}
	for _, t := range a.Add {
		q.Terms = append(q.Terms, query.Term{Sign: 1, Weight: float32(t.Weight), Kind: query.Text, Value: t.Text})
	}
	expr := q.String()
	back, err := query.Parse(expr, query.Options{})
	if err != nil {
		return "", fmt.Errorf("line %d: the query %s does not parse: %w", a.Line, expr, err)
	}
	if len(back.Terms) != len(q.Terms) {
		return "", fmt.Errorf("line %d: the query %s parses into %d terms, want %d", a.Line, expr, len(back.Terms), len(q.Terms))
	}
	for i := range q.Terms {
		w, g := &q.Terms[i], &back.Terms[i]
		if w.Kind != g.Kind || w.Value != g.Value || w.ItemID != g.ItemID || w.Coef() != g.Coef() {
			return "", fmt.Errorf("line %d: term %d of the query %s reads back as %s %q (weight %v), want %s %q (weight %v)",
				a.Line, i+1, expr, g.Kind, g.Value, g.Coef(), w.Kind, w.Value, w.Coef())
		}
	}
	return expr, nil
}
