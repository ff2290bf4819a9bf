package analogy

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmsearch/engine/query"
)

func TestParseSpec(t *testing.T) {
	in := `{"family": "colour", "source": "img/a.png", "subtract": [{"text": "red", "weight": 1}], "add": [{"text": "blue", "weight": 0.5}], "expected": ["img/b.png"], "expected_labels": ["B"]}

{"family": "gender", "source": "@12", "add": [{"text": "woman"}], "expected_labels": ["W"]}
`
	got, err := ParseSpec(strings.NewReader(in), "spec.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := []Analogy{
		{Line: 1, Family: "colour", Source: "img/a.png", Subtract: []Term{{"red", 1}}, Add: []Term{{"blue", 0.5}}, Expected: []string{"img/b.png"}, ExpectedLabels: []string{"B"}},
		{Line: 3, Family: "gender", Source: "@12", Add: []Term{{"woman", 1}}, ExpectedLabels: []string{"W"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseSpecErrors(t *testing.T) {
	ok := `{"family": "f", "source": "a.png", "add": [{"text": "x"}], "expected": ["b.png"]}` + "\n"
	tests := []struct {
		name, line, want string
	}{
		{"bad json", `{"family": "f",`, "spec.jsonl:2: unexpected EOF"},
		{"unknown field", `{"family": "f", "source": "a.png", "add": [{"text": "x"}], "expect": ["b.png"]}`, `spec.jsonl:2: json: unknown field "expect"`},
		{"unknown term field", `{"family": "f", "source": "a.png", "add": [{"txt": "x"}], "expected": ["b.png"]}`, `spec.jsonl:2: json: unknown field "txt"`},
		{"no family", `{"source": "a.png", "add": [{"text": "x"}], "expected": ["b.png"]}`, `spec.jsonl:2: missing "family"`},
		{"no source", `{"family": "f", "add": [{"text": "x"}], "expected": ["b.png"]}`, `spec.jsonl:2: missing "source"`},
		{"bare at", `{"family": "f", "source": "@", "add": [{"text": "x"}], "expected": ["b.png"]}`, `spec.jsonl:2: source "@" names no item`},
		{"no terms", `{"family": "f", "source": "a.png", "expected": ["b.png"]}`, `spec.jsonl:2: no "subtract" or "add" terms`},
		{"empty text", `{"family": "f", "source": "a.png", "subtract": [{"text": " "}], "expected": ["b.png"]}`, `spec.jsonl:2: subtract[0]: missing or empty "text"`},
		{"zero weight", `{"family": "f", "source": "a.png", "add": [{"text": "x"}, {"text": "y", "weight": 0}], "expected": ["b.png"]}`, "spec.jsonl:2: add[1]: weight 0: want a positive number"},
		{"negative weight", `{"family": "f", "source": "a.png", "add": [{"text": "x", "weight": -2}], "expected": ["b.png"]}`, "spec.jsonl:2: add[0]: weight -2"},
		{"no expected", `{"family": "f", "source": "a.png", "add": [{"text": "x"}]}`, `spec.jsonl:2: no "expected" images or "expected_labels"`},
		{"empty expected", `{"family": "f", "source": "a.png", "add": [{"text": "x"}], "expected": [""]}`, "spec.jsonl:2: expected[0] is empty"},
		{"empty label", `{"family": "f", "source": "a.png", "add": [{"text": "x"}], "expected_labels": ["A", ""]}`, "spec.jsonl:2: expected_labels[1] is empty"},
		{"wrong type", `{"family": "f", "source": "a.png", "add": {"text": "x"}, "expected": ["b.png"]}`, "spec.jsonl:2: json: cannot unmarshal object"},
		{"not an object", `["a"]`, "spec.jsonl:2: json: cannot unmarshal array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpec(strings.NewReader(ok+tt.line+"\n"+ok), "spec.jsonl")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := ParseSpec(strings.NewReader("\n \n"), "spec.jsonl"); err == nil || !strings.Contains(err.Error(), "no analogies") {
		t.Errorf("empty spec: %v", err)
	}
	if _, err := LoadSpec(filepath.Join(t.TempDir(), "missing.jsonl")); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing spec: %v", err)
	}
}

func TestExpression(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		a    Analogy
		want string // "" to check only the round trip
		src  query.Term
	}{
		{"plain", Analogy{Source: "img/a.png", Subtract: []Term{{"red", 1}}, Add: []Term{{"blue", 1}}},
			filepath.Join(dir, "img/a.png") + ` - "red" + "blue"`, query.Term{Kind: query.Path, Value: filepath.Join(dir, "img/a.png")}},
		{"weights", Analogy{Source: "a.png", Subtract: []Term{{"man", 0.5}}, Add: []Term{{"woman", 2}, {"2:00 pm", 1}}},
			filepath.Join(dir, "a.png") + ` - 0.5:"man" + 2:"woman" + 1:"2:00 pm"`, query.Term{Kind: query.Path, Value: filepath.Join(dir, "a.png")}},
		{"quotes", Analogy{Source: "a.png", Add: []Term{{`say "hi" \o/`, 1}}},
			filepath.Join(dir, "a.png") + ` + "say \"hi\" \\o/"`, query.Term{Kind: query.Path, Value: filepath.Join(dir, "a.png")}},
		{"path with an operator word", Analogy{Source: "x - y.png", Add: []Term{{"cat", 1}}},
			"", query.Term{Kind: query.Path, Value: filepath.Join(dir, "x - y.png")}},
		{"path with spaces", Analogy{Source: "my photos/dog face.png", Subtract: []Term{{"dog", 1}}},
			filepath.Join(dir, "my photos/dog face.png") + ` - "dog"`, query.Term{Kind: query.Path, Value: filepath.Join(dir, "my photos/dog face.png")}},
		{"absolute", Analogy{Source: "/elsewhere/a.png", Add: []Term{{"cat", 1}}},
			`/elsewhere/a.png + "cat"`, query.Term{Kind: query.Path, Value: "/elsewhere/a.png"}},
		{"item id", Analogy{Source: "@12", Add: []Term{{"cat", 1}}}, `@12 + "cat"`, query.Term{Kind: query.Item, ItemID: 12}},
		{"item path", Analogy{Source: "@img/a b.png", Add: []Term{{"cat", 1}}},
			`@"` + filepath.Join(dir, "img/a b.png") + `" + "cat"`, query.Term{Kind: query.Item, Value: filepath.Join(dir, "img/a b.png")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, err := tt.a.Expression(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && expr != tt.want {
				t.Errorf("expression %s, want %s", expr, tt.want)
			}
			q, err := query.Parse(expr, query.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Terms) != 1+len(tt.a.Subtract)+len(tt.a.Add) {
				t.Fatalf("%d terms in %s", len(q.Terms), expr)
			}
			s := q.Terms[0]
			if s.Kind != tt.src.Kind || s.Value != tt.src.Value || s.ItemID != tt.src.ItemID || s.Coef() != 1 {
				t.Errorf("source term %+v, want %+v", s, tt.src)
			}
			i := 1
			for _, list := range []struct {
				terms []Term
				sign  float32
			}{{tt.a.Subtract, -1}, {tt.a.Add, 1}} {
				for _, term := range list.terms {
					g := q.Terms[i]
					if g.Kind != query.Text || g.Value != term.Text || g.Coef() != list.sign*float32(term.Weight) {
						t.Errorf("term %d = %s %q %v, want text %q %v", i, g.Kind, g.Value, g.Coef(), term.Text, list.sign*float32(term.Weight))
					}
					i++
				}
			}
		})
	}
	// A source path the query language cannot carry is an error naming the line.
	bad := Analogy{Line: 7, Source: "a\x00b.png", Add: []Term{{"x", 1}}}
	if _, err := bad.Expression(dir); err == nil || !strings.Contains(err.Error(), "line 7") {
		t.Errorf("NUL in a path: %v", err)
	}
}

func TestSourcePath(t *testing.T) {
	a := Analogy{Source: "img/a.png"}
	if p, ok := a.SourcePath("/d"); !ok || p != "/d/img/a.png" {
		t.Errorf("SourcePath = %q %v", p, ok)
	}
	a.Source = "@3"
	if _, ok := a.SourcePath("/d"); ok {
		t.Error("an item is not a file")
	}
}
