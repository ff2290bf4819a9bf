package query

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

const home = "/home/ann"

// tw is the expected shape of a term.
type tw struct {
	sign   float32
	weight float32
	kind   Kind
	value  string
	id     int64
	pos    int
	n      int
	quoted bool
}

func checkTerms(t *testing.T, input string, got []Term, want []tw) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Parse(%q): %d terms %+v, want %d", input, len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Sign != w.sign || g.Weight != w.weight || g.Kind != w.kind || g.Value != w.value ||
			g.ItemID != w.id || g.Pos != w.pos || g.Len != w.n || g.Quoted != w.quoted {
			t.Errorf("Parse(%q) term %d = {sign %v weight %v %v %q id %d pos %d len %d quoted %v}, want %+v",
				input, i, g.Sign, g.Weight, g.Kind, g.Value, g.ItemID, g.Pos, g.Len, g.Quoted, w)
		}
		if src := g.Source(); src != input[w.pos:w.pos+w.n] {
			t.Errorf("Parse(%q) term %d Source() = %q", input, i, src)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []tw
	}{
		{"one word", "dog", []tw{{1, 1, Text, "dog", 0, 0, 3, false}}},
		{"bare words make one term", "golden retriever + cat", []tw{
			{1, 1, Text, "golden retriever", 0, 0, 16, false},
			{1, 1, Text, "cat", 0, 19, 3, false},
		}},
		{"rclip weights and paths", `"2:golden retriever" + ./pool.jpg - fruit`, []tw{
			{1, 2, Text, "golden retriever", 0, 0, 20, true},
			{1, 1, Path, "./pool.jpg", 0, 23, 10, false},
			{-1, 1, Text, "fruit", 0, 36, 5, false},
		}},
		{"rclip analogy", `./dog.jpg - "dog" + "cat"`, []tw{
			{1, 1, Path, "./dog.jpg", 0, 0, 9, false},
			{-1, 1, Text, "dog", 0, 12, 5, true},
			{1, 1, Text, "cat", 0, 20, 5, true},
		}},
		{"hyphen inside a word", "t-shirt", []tw{{1, 1, Text, "t-shirt", 0, 0, 7, false}}},
		{"plus inside a word", "a+b", []tw{{1, 1, Text, "a+b", 0, 0, 3, false}}},
		{"leading minus", "- dog + cat", []tw{
			{-1, 1, Text, "dog", 0, 2, 3, false},
			{1, 1, Text, "cat", 0, 8, 3, false},
		}},
		{"leading plus", "+ dog", []tw{{1, 1, Text, "dog", 0, 2, 3, false}}},
		{"only negative", "- dog", []tw{{-1, 1, Text, "dog", 0, 2, 3, false}}},
		{"integer weight", "2:dog", []tw{{1, 2, Text, "dog", 0, 0, 5, false}}},
		{"decimal weight", "0.5:dog", []tw{{1, 0.5, Text, "dog", 0, 0, 7, false}}},
		{"bare fraction weight", ".5:dog", []tw{{1, 0.5, Text, "dog", 0, 0, 6, false}}},
		{"trailing dot weight", "2.:dog", []tw{{1, 2, Text, "dog", 0, 0, 6, false}}},
		{"weighted negative term", "cat - 3:dog", []tw{
			{1, 1, Text, "cat", 0, 0, 3, false},
			{-1, 3, Text, "dog", 0, 6, 5, false},
		}},
		{"word with colon is text", "re:zero", []tw{{1, 1, Text, "re:zero", 0, 0, 7, false}}},
		{"letter before colon is text", "x:dog", []tw{{1, 1, Text, "x:dog", 0, 0, 5, false}}},
		{"outer weight makes quotes literal", `1:"2:00 pm"`, []tw{{1, 1, Text, "2:00 pm", 0, 0, 11, true}}},
		{"outer weight on quotes", `2:"golden retriever"`, []tw{{1, 2, Text, "golden retriever", 0, 0, 20, true}}},
		{"inner weight is trimmed", `"0.5: cat "`, []tw{{1, 0.5, Text, "cat", 0, 0, 11, true}}},
		{"second weight is text", "2:3:dog", []tw{{1, 2, Text, "3:dog", 0, 0, 7, false}}},
		{"weight inside a text run is text", "golden 2:retriever", []tw{{1, 1, Text, "golden 2:retriever", 0, 0, 18, false}}},
		{"escapes", `"say \"hi\" \\ now"`, []tw{{1, 1, Text, `say "hi" \ now`, 0, 0, 19, true}}},
		{"unknown escape kept", `"C:\dir"`, []tw{{1, 1, Text, `C:\dir`, 0, 0, 8, true}}},
		{"quoted path is a path", `"./dog.jpg"`, []tw{{1, 1, Path, "./dog.jpg", 0, 0, 11, true}}},
		{"quote inside a word", `12" record`, []tw{{1, 1, Text, `12" record`, 0, 0, 10, false}}},
		{"item id", "@123", []tw{{1, 1, Item, "", 123, 0, 4, false}}},
		{"weighted item", "3:@12 - cat", []tw{
			{1, 3, Item, "", 12, 0, 5, false},
			{-1, 1, Text, "cat", 0, 8, 3, false},
		}},
		{"item path", "@photos/cat.jpg", []tw{{1, 1, Item, "photos/cat.jpg", 0, 0, 15, false}}},
		{"item path with spaces", "@my photo.jpg - dog", []tw{
			{1, 1, Item, "my photo.jpg", 0, 0, 13, false},
			{-1, 1, Text, "dog", 0, 16, 3, false},
		}},
		{"quoted item path", `@"my photos/cat 1.jpg"`, []tw{{1, 1, Item, "my photos/cat 1.jpg", 0, 0, 22, true}}},
		{"quoted digits are a path", `@"123"`, []tw{{1, 1, Item, "123", 0, 0, 6, true}}},
		{"home path", "~/pics/a.jpg", []tw{{1, 1, Path, home + "/pics/a.jpg", 0, 0, 12, false}}},
		{"absolute path with spaces", "/abs/p  q.jpg + x", []tw{
			{1, 1, Path, "/abs/p  q.jpg", 0, 0, 13, false},
			{1, 1, Text, "x", 0, 16, 1, false},
		}},
		{"parent path", "../up.jpg", []tw{{1, 1, Path, "../up.jpg", 0, 0, 9, false}}},
		{"path keeps quotes", `./it's "odd".jpg`, []tw{{1, 1, Path, `./it's "odd".jpg`, 0, 0, 16, false}}},
		{"non-UTF-8 path", "./\xff\xfe.jpg", []tw{{1, 1, Path, "./\xff\xfe.jpg", 0, 0, 8, false}}},
		{"file URL", "file:///tmp/a%20b.jpg", []tw{{1, 1, Path, "/tmp/a b.jpg", 0, 0, 21, false}}},
		{"file URL localhost", "file://localhost/x.jpg", []tw{{1, 1, Path, "/x.jpg", 0, 0, 22, false}}},
		{"https URL", "https://example.com/a.jpg?x=1 - cat", []tw{
			{1, 1, URL, "https://example.com/a.jpg?x=1", 0, 0, 29, false},
			{-1, 1, Text, "cat", 0, 32, 3, false},
		}},
		{"upper-case URL", "HTTP://EXAMPLE.COM/A", []tw{{1, 1, URL, "HTTP://EXAMPLE.COM/A", 0, 0, 20, false}}},
		{"unicode", "чёрный кот - 犬", []tw{
			{1, 1, Text, "чёрный кот", 0, 0, 19, false},
			{-1, 1, Text, "犬", 0, 22, 3, false},
		}},
		{"emoji", "🐶 + 2:🐱", []tw{
			{1, 1, Text, "🐶", 0, 0, 4, false},
			{1, 2, Text, "🐱", 0, 7, 6, false},
		}},
		{"whitespace collapses", "  golden\t\tretriever  \n+ cat ", []tw{
			{1, 1, Text, "golden retriever", 0, 2, 17, false},
			{1, 1, Text, "cat", 0, 24, 3, false},
		}},
		{"no-break spaces separate", "dog\u00a0-\u00a0cat", []tw{
			{1, 1, Text, "dog", 0, 0, 3, false},
			{-1, 1, Text, "cat", 0, 8, 3, false},
		}},
		// Unicode operators (issue 13): −, –, —, full-width － and ＋.
		{"unicode minus after an item", `@394 − "cow" + "panda"`, []tw{
			{1, 1, Item, "", 394, 0, 4, false},
			{-1, 1, Text, "cow", 0, 9, 5, true},
			{1, 1, Text, "panda", 0, 17, 7, true},
		}},
		{"en dash", "cat – dog", []tw{
			{1, 1, Text, "cat", 0, 0, 3, false},
			{-1, 1, Text, "dog", 0, 8, 3, false},
		}},
		{"em dash", "cat — dog", []tw{
			{1, 1, Text, "cat", 0, 0, 3, false},
			{-1, 1, Text, "dog", 0, 8, 3, false},
		}},
		{"full-width plus and minus", "犬 ＋ 猫 － 鳥", []tw{
			{1, 1, Text, "犬", 0, 0, 3, false},
			{1, 1, Text, "猫", 0, 8, 3, false},
			{-1, 1, Text, "鳥", 0, 16, 3, false},
		}},
		{"leading unicode minus", "− dog", []tw{{-1, 1, Text, "dog", 0, 4, 3, false}}},
		{"unicode minus inside a word", "a−b", []tw{{1, 1, Text, "a−b", 0, 0, 5, false}}},
		{"path ends at a unicode minus", "./a b.jpg − cat", []tw{
			{1, 1, Path, "./a b.jpg", 0, 0, 9, false},
			{-1, 1, Text, "cat", 0, 14, 3, false},
		}},
		// Quoted paths and the file: prefix.
		{"single-quoted path with spaces", `'./camera roll/cat.jpg' - "cat"`, []tw{
			{1, 1, Path, "./camera roll/cat.jpg", 0, 0, 23, true},
			{-1, 1, Text, "cat", 0, 26, 5, true},
		}},
		{"double-quoted path with spaces", `"./a b.jpg" + dog`, []tw{
			{1, 1, Path, "./a b.jpg", 0, 0, 11, true},
			{1, 1, Text, "dog", 0, 14, 3, false},
		}},
		{"quoted absolute path keeps an operator word", `"/x/a - b.jpg"`, []tw{{1, 1, Path, "/x/a - b.jpg", 0, 0, 14, true}}},
		{"quoted parent path", `'../up one.jpg'`, []tw{{1, 1, Path, "../up one.jpg", 0, 0, 15, true}}},
		{"quoted home path", `'~/a b.jpg'`, []tw{{1, 1, Path, home + "/a b.jpg", 0, 0, 11, true}}},
		{"weighted single-quoted path", `0.5:'./a b.jpg'`, []tw{{1, 0.5, Path, "./a b.jpg", 0, 0, 15, true}}},
		{"inner weight then quoted path", `"2:./a.jpg"`, []tw{{1, 2, Path, "./a.jpg", 0, 0, 11, true}}},
		{"escaped apostrophe in a single-quoted path", `'./it\'s.jpg'`, []tw{{1, 1, Path, "./it's.jpg", 0, 0, 13, true}}},
		{"apostrophe inside single quotes", `'./dog's toy.jpg'`, []tw{{1, 1, Path, "./dog's toy.jpg", 0, 0, 17, true}}},
		{"single-quoted text", `'golden retriever' + cat`, []tw{
			{1, 1, Text, "golden retriever", 0, 0, 18, true},
			{1, 1, Text, "cat", 0, 21, 3, false},
		}},
		{"unclosed apostrophe is text", `'90s fashion - cat`, []tw{
			{1, 1, Text, "'90s fashion", 0, 0, 12, false},
			{-1, 1, Text, "cat", 0, 15, 3, false},
		}},
		{"apostrophes inside text", `rock 'n' roll`, []tw{{1, 1, Text, "rock 'n' roll", 0, 0, 13, false}}},
		{"quoted file name without a prefix is text", `"cat.jpg"`, []tw{{1, 1, Text, "cat.jpg", 0, 0, 9, true}}},
		{"quoted text starting with a space is text", `" ./x"`, []tw{{1, 1, Text, " ./x", 0, 0, 6, true}}},
		{"file prefix", "file:cat.jpg", []tw{{1, 1, Path, "cat.jpg", 0, 0, 12, false}}},
		{"file prefix runs to the operator", "file:my cat.jpg - dog", []tw{
			{1, 1, Path, "my cat.jpg", 0, 0, 15, false},
			{-1, 1, Text, "dog", 0, 18, 3, false},
		}},
		{"file prefix with single quotes", `file:'a b.jpg' + x`, []tw{
			{1, 1, Path, "a b.jpg", 0, 0, 14, true},
			{1, 1, Text, "x", 0, 17, 1, false},
		}},
		{"upper-case file prefix with double quotes", `FILE:"x - y.png"`, []tw{{1, 1, Path, "x - y.png", 0, 0, 16, true}}},
		{"weighted file prefix", "cat - 2:file:a.png", []tw{
			{1, 1, Text, "cat", 0, 0, 3, false},
			{-1, 2, Path, "a.png", 0, 6, 12, false},
		}},
		{"file prefix with home", "file:~/a.jpg", []tw{{1, 1, Path, home + "/a.jpg", 0, 0, 12, false}}},
		{"file prefix absolute", "file:/abs/a.jpg", []tw{{1, 1, Path, "/abs/a.jpg", 0, 0, 15, false}}},
		{"word with colon is not a file prefix", "profile:x", []tw{{1, 1, Text, "profile:x", 0, 0, 9, false}}},
		{"item path runs to the operator", "@12 dog - x", []tw{
			{1, 1, Item, "12 dog", 0, 0, 7, false},
			{-1, 1, Text, "x", 0, 10, 1, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.input, Options{Home: home})
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.input, err)
			}
			if q.Input != tc.input {
				t.Errorf("Input = %q", q.Input)
			}
			checkTerms(t, tc.input, q.Terms, tc.want)
			for i, term := range q.Terms {
				if _, n := opRune(tc.input, max(term.OpPos, 0)); i == 0 && term.OpPos >= 0 && n == 0 {
					t.Errorf("term %d OpPos %d is not an operator", i, term.OpPos)
				}
				if i > 0 && (term.OpPos < 0 || term.OpPos >= term.Pos) {
					t.Errorf("term %d OpPos = %d, term at %d", i, term.OpPos, term.Pos)
				}
				if term.Coef() != term.Sign*term.Weight {
					t.Errorf("Coef() = %v", term.Coef())
				}
			}
			// The canonical form parses back to the same terms.
			again, err := Parse(q.String(), Options{Home: home})
			if err != nil {
				t.Fatalf("Parse(String() = %q): %v", q.String(), err)
			}
			sameTerms(t, q, again)
		})
	}
}

func sameTerms(t *testing.T, a, b *Query) {
	t.Helper()
	if len(a.Terms) != len(b.Terms) {
		t.Fatalf("%q has %d terms, its canonical form %q has %d", a.Input, len(a.Terms), b.Input, len(b.Terms))
	}
	for i := range a.Terms {
		x, y := a.Terms[i], b.Terms[i]
		if x.Sign != y.Sign || x.Weight != y.Weight || x.Kind != y.Kind || x.Value != y.Value || x.ItemID != y.ItemID || x.Upload != y.Upload {
			t.Errorf("%q term %d = %v %v %v %q %d; canonical %q gives %v %v %v %q %d", a.Input, i,
				x.Sign, x.Weight, x.Kind, x.Value, x.ItemID, b.Input, y.Sign, y.Weight, y.Kind, y.Value, y.ItemID)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct{ input, want string }{
		{`"2:golden retriever" + ./pool.jpg - fruit`, `2:"golden retriever" + ./pool.jpg - "fruit"`},
		{`1:"2:00 pm"`, `1:"2:00 pm"`},
		{`- dog`, `- "dog"`},
		{`0.5:@7 + @"a \"b\""`, `0.5:@7 + @"a \"b\""`},
		{`file:///tmp/a%20`, `file:///tmp/a%20`},
		{`file:///x/%2B%20+%20y`, `file:///x/+%20+%20y`},
		{`~/a b.jpg`, `/home/ann/a b.jpg`},
		{`https://example.com/x.png`, `https://example.com/x.png`},
		{`file:cat.jpg`, `file:"cat.jpg"`},
		{`'./a - b.jpg'`, `file:"./a - b.jpg"`},
		{`'./a b.jpg'`, `./a b.jpg`},
		{`'golden retriever' − x`, `"golden retriever" - "x"`},
		{`"cat -dog"`, `"cat -dog"`},
	}
	for _, tc := range tests {
		q, err := Parse(tc.input, Options{Home: home})
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.input, err)
		}
		if got := q.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.input, got, tc.want)
		}
		again, err := Parse(q.String(), Options{Home: home})
		if err != nil {
			t.Fatalf("Parse(%q): %v", q.String(), err)
		}
		sameTerms(t, q, again)
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", DefaultMaxBytes+1)
	terms65 := strings.Repeat("a + ", DefaultMaxTerms) + "a"
	tests := []struct {
		name  string
		input string
		opts  Options
		pos   int
		n     int
		msg   string
	}{
		{"empty", "", Options{}, 0, 0, "empty query"},
		{"blank", " \t\n", Options{}, 0, 3, "empty query"},
		{"lone minus", "-", Options{}, 0, 1, "dangling '-' operator: no term after it"},
		{"lone plus", " + ", Options{}, 1, 1, "dangling '+' operator: no term after it"},
		{"dangling at end", "dog +", Options{}, 4, 1, "dangling '+' operator: no term after it"},
		{"dangling at end with space", "dog - ", Options{}, 4, 1, "dangling '-' operator: no term after it"},
		{"two operators", "dog + - cat", Options{}, 6, 1, "two operators in a row: '-' after '+'"},
		{"two operators at start", "- + dog", Options{}, 2, 1, "two operators in a row: '+' after '-'"},
		{"missing operator before quotes", `dog cat "x"`, Options{}, 8, 3, `missing '+' or '-' before "\"x\""`},
		{"missing operator after quotes", `"dog" cat`, Options{}, 6, 3, `missing '+' or '-' before "cat"`},
		{"missing operator before path", "dog ./x.jpg", Options{}, 4, 7, `missing '+' or '-' before "./x.jpg"`},
		{"missing operator before URL", "dog https://example.com/a", Options{}, 4, 21, "missing '+' or '-' before"},
		{"missing operator before weighted quotes", `dog 2:"x"`, Options{}, 4, 5, "missing '+' or '-' before"},
		{"missing operator after quoted item", `@"12" dog`, Options{}, 6, 3, `missing '+' or '-' before "dog"`},
		{"URL with a space", "https://example.com/a b", Options{}, 22, 1, `missing '+' or '-' before "b"`},
		{"text after closing quote", `"dog"s + cat`, Options{}, 5, 1, `unexpected "s" after closing quote`},
		{"unterminated quote", `"dog`, Options{}, 0, 1, "unterminated quote"},
		{"unterminated later", `dog + "cat`, Options{}, 6, 1, "unterminated quote"},
		{"escaped quote does not close", `"a\"`, Options{}, 0, 1, "unterminated quote"},
		{"empty quotes", `""`, Options{}, 0, 2, "empty quotes"},
		{"blank quotes", `cat - "  "`, Options{}, 6, 4, "empty quotes"},
		{"weight alone", "2:", Options{}, 0, 2, `bad weight "2:": nothing after it`},
		{"weight then space", "2: dog", Options{}, 0, 2, `bad weight "2:": nothing after it`},
		{"weight alone in quotes", `"2:"`, Options{}, 1, 2, `bad weight "2:": nothing after it`},
		{"weight and blanks in quotes", `"2:  "`, Options{}, 1, 2, `bad weight "2:": nothing after it`},
		{"zero weight", "0:dog", Options{}, 0, 1, `bad weight "0": a weight must be greater than zero`},
		{"zero decimal weight", "cat + 0.00:dog", Options{}, 6, 4, `bad weight "0.00": a weight must be greater than zero`},
		{"zero weight in quotes", `"0:dog"`, Options{}, 1, 1, `bad weight "0": a weight must be greater than zero`},
		{"weight overflow", strings.Repeat("9", 40) + ":dog", Options{}, 0, 40, "too large"},
		{"negative weight", "-2:dog", Options{}, 0, 3, `bad weight "-2:": a weight has no sign`},
		{"plus-signed weight", "cat + +.5:dog", Options{}, 6, 4, `bad weight "+.5:": a weight has no sign`},
		{"lone at", "@", Options{}, 0, 1, "'@' must be followed by an item id or a path in the library"},
		{"at then space", "dog + @ x", Options{}, 6, 1, "'@' must be followed"},
		{"empty item path", `@""`, Options{}, 0, 3, "empty item path"},
		{"item id zero", "@0", Options{}, 0, 2, "item id must be positive, not 0"},
		{"item id overflow", "@99999999999999999999", Options{}, 0, 21, "item id 99999999999999999999 is too large"},
		{"home unknown", "cat + ~/x.jpg", Options{}, 6, 1, "cannot expand '~': no home directory is known"},
		{"URL without host", "http:///x.jpg", Options{}, 0, 13, "no host"},
		{"bad URL", "http://[::1", Options{}, 0, 11, "bad URL"},
		{"remote file URL", "file://server/x.jpg", Options{}, 0, 19, `file URL names host "server"`},
		{"file URL without path", "file://", Options{}, 0, 7, "has no path"},
		{"invalid UTF-8 text", "caf\xe9 au lait", Options{}, 0, 12, "text is not valid UTF-8"},
		{"invalid UTF-8 quoted", "\"\xff\"", Options{}, 0, 3, "text is not valid UTF-8"},
		{"NUL in path", "./a\x00b", Options{}, 3, 1, "path contains a NUL byte"},
		{"NUL in item path", "@a\x00b", Options{}, 2, 1, "item path contains a NUL byte"},
		// Operators glued to words are refused, never read as text.
		{"glued minus", "cat -dog", Options{}, 4, 4, `operator '-' glued to "dog": put spaces around it`},
		{"glued minus first", "-dog + cat", Options{}, 0, 4, `operator '-' glued to "dog"`},
		{"glued plus", "cat +dog", Options{}, 4, 4, `operator '+' glued to "dog"`},
		{"glued unicode minus", "cat −dog", Options{}, 4, 6, `operator '−' glued to "dog"`},
		{"glued after quotes", `"cat" -dog`, Options{}, 6, 4, `operator '-' glued to "dog"`},
		{"glued after an operator", "cat - -dog", Options{}, 6, 4, `operator '-' glued to "dog"`},
		{"doubled operator", "a -- b", Options{}, 2, 2, `operator '-' glued to "-"`},
		{"signed number", "-2", Options{}, 0, 2, `operator '-' glued to "2"`},
		{"two unicode operators", "dog − – cat", Options{}, 8, 3, "two operators in a row: '–' after '−'"},
		{"dangling unicode minus", "dog −", Options{}, 4, 3, "dangling '−' operator: no term after it"},
		{"dangling full-width plus", "犬 ＋", Options{}, 4, 3, "dangling '＋' operator"},
		// Things that look like files or items are never text.
		{"bare file name", "cat.jpg - dog", Options{}, 0, 7, `"cat.jpg" looks like a file name: write ./cat.jpg or file:cat.jpg`},
		{"bare file name later in text", "my photo.JPG", Options{}, 3, 9, `"photo.JPG" looks like a file name`},
		{"item id inside text", "cow @394", Options{}, 4, 4, `missing '+' or '-' before "@394"`},
		{"file prefix inside text", "dog file:a.jpg", Options{}, 4, 10, `missing '+' or '-' before "file:a.jpg"`},
		{"quoted path inside text", "dog './a b.jpg'", Options{}, 4, 4, `missing '+' or '-' before "'./a"`},
		{"unterminated quoted path", "'./a b.jpg - cat", Options{}, 0, 1, "unterminated quote"},
		{"unterminated quoted file prefix", "'file:a.jpg", Options{}, 0, 1, "unterminated quote"},
		{"unterminated double-quoted path", `cat - "./a b.jpg`, Options{}, 6, 1, "unterminated quote"},
		{"file prefix alone", "file:", Options{}, 0, 5, "'file:' must be followed by a path"},
		{"file prefix then space", "cat + file: x", Options{}, 6, 5, "'file:' must be followed by a path"},
		{"file prefix empty quotes", `file:""`, Options{}, 0, 7, "empty path after 'file:'"},
		{"file prefix unterminated", `file:'a b`, Options{}, 5, 1, "unterminated quote"},
		{"quoted home path without home", `'~/x.jpg'`, Options{}, 1, 1, "cannot expand '~'"},
		{"NUL in quoted path", "\"./a\x00b\"", Options{}, 1, 1, "path contains a NUL byte"},
		{"empty single quotes", "''", Options{}, 0, 2, "empty quotes"},
		{"too long", long, Options{}, DefaultMaxBytes, 0, "query is 4097 bytes long; the limit is 4096"},
		{"custom length limit", "golden retriever", Options{MaxBytes: 10}, 10, 0, "query is 16 bytes long; the limit is 10"},
		{"too many terms", terms65, Options{}, 4 * DefaultMaxTerms, 0, "too many terms: the limit is 64"},
		{"custom term limit", "a + b + c", Options{MaxTerms: 2}, 8, 0, "too many terms: the limit is 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.input, tc.opts)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tc.input, q.String())
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, not *SyntaxError", err, err)
			}
			if se.Pos != tc.pos || se.Len != tc.n {
				t.Errorf("Parse(%q) error %q at %d len %d, want at %d len %d", tc.input, se.Msg, se.Pos, se.Len, tc.pos, tc.n)
			}
			if !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("Parse(%q) error %q does not contain %q", tc.input, se.Msg, tc.msg)
			}
			if se.Input != tc.input {
				t.Errorf("error Input = %q", se.Input)
			}
			if !strings.HasPrefix(err.Error(), "query: position ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestTermLimitsAccepted(t *testing.T) {
	in := strings.Repeat("a + ", DefaultMaxTerms-1) + "a"
	q, err := Parse(in, Options{})
	if err != nil {
		t.Fatalf("64 terms: %v", err)
	}
	if len(q.Terms) != DefaultMaxTerms {
		t.Fatalf("got %d terms", len(q.Terms))
	}
	if _, err := Parse(strings.Repeat("a", DefaultMaxBytes), Options{}); err != nil {
		t.Fatalf("a query of exactly %d bytes: %v", DefaultMaxBytes, err)
	}
}

func TestErrorFormat(t *testing.T) {
	_, err := Parse("dog +", Options{})
	if got, want := err.Error(), "query: position 4: dangling '+' operator: no term after it"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestTermErrorf(t *testing.T) {
	q, err := Parse("cat + ./dog.jpg - x", Options{})
	if err != nil {
		t.Fatal(err)
	}
	term := q.Terms[1]
	err = term.Errorf("unknown file %q", term.Value)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Errorf returned %T", err)
	}
	if se.Pos != 6 || se.Len != 9 || se.Input != q.Input {
		t.Errorf("Errorf: pos %d len %d input %q", se.Pos, se.Len, se.Input)
	}
	if got, want := err.Error(), `query: position 6: unknown file "./dog.jpg"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := se.Caret(), "cat + ./dog.jpg - x\n      ^~~~~~~~~"; got != want {
		t.Errorf("Caret() =\n%s\nwant\n%s", got, want)
	}
}

func TestCaret(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"ascii", "dog + - cat", "dog + - cat\n      ^"},
		{"wide characters", "犬 + -", "犬 + -\n     ^"},
		{"tab shown as space", "a\t+", "a +\n  ^"},
		{"invalid byte", "./\xff + + x", "./\uFFFD + + x\n      ^"},
		{"combining mark", "e\u0301 + +", "e\u0301 + +\n    ^"},
		{"unterminated", `x + "abc`, "x + \"abc\n    ^"},
		{"empty", "", "\n^"},
		{"unicode operators", "dog − – cat", "dog − – cat\n      ^"},
		{"glued operator", "cat -dog", "cat -dog\n    ^~~~"},
		{"glued unicode operator", "犬 −dog", "犬 −dog\n   ^~~~"},
		{"file name", "cat + dog.png", "cat + dog.png\n      ^~~~~~~"},
		{"unterminated quoted path", "x - './a b.jpg", "x - './a b.jpg\n    ^"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.input, Options{})
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %v", tc.input, err)
			}
			if got := se.Caret(); got != tc.want {
				t.Errorf("Caret() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestCaretLongInput(t *testing.T) {
	for _, at := range []int{3, 150, 296} {
		in := []byte(strings.Repeat("abcdefghij", 30))
		in[at-1], in[at], in[at+1] = ' ', '"', 'x' // an unterminated quote at `at`
		if at+2 < len(in) {
			in[at+2] = 'y'
		}
		_, err := Parse(string(in), Options{})
		var se *SyntaxError
		if !errors.As(err, &se) || se.Pos != at {
			t.Fatalf("at %d: error %v", at, err)
		}
		lines := strings.Split(se.CaretWidth(60), "\n")
		if len(lines) != 2 {
			t.Fatalf("Caret has %d lines", len(lines))
		}
		top, bottom := []rune(lines[0]), lines[1]
		if len(top) > 60 || len(bottom) > 60 {
			t.Errorf("at %d: lines %d and %d columns wide, want ≤ 60", at, len(top), len(bottom))
		}
		col := strings.IndexByte(bottom, '^')
		if col < 0 || col >= len(top) || top[col] != '"' {
			t.Errorf("at %d: caret at column %d does not point at the quote:\n%s", at, col, se.CaretWidth(60))
		}
		if at > 60 && top[0] != '…' {
			t.Errorf("at %d: cut start not marked: %s", at, lines[0])
		}
		if at < 200 && top[len(top)-1] != '…' {
			t.Errorf("at %d: cut end not marked: %s", at, lines[0])
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Text: "text", Path: "path", URL: "url", Item: "item", Kind(9): "kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "dog", `"2:golden retriever" + ./pool.jpg - fruit`, `./dog.jpg - "dog" + "cat"`,
		"- dog + cat", "2:", "@", `@"a b"`, "@12 - 0.5:@x/y.jpg", "~/x + file:///a%20b",
		"https://example.com/a.jpg", "чёрный кот - 犬", "\"\xff\"", "./\xff", `"a\"b\\"`,
		"a\u00a0-\u00a0b", "dog + - cat", "$upload - dog + $upload2", "@upload2", `@394 − "cow" + "panda"`, `'./camera roll/cat.jpg' - "cat"`,
		"file:a b.jpg - file:'c d.png'", "cat -dog", "'90s fashion", `"./a\"b.jpg" – x`, "犬 ＋ 猫", `1:"2:00 pm"`, "-2:dog", "99999999999999999999999999999999999999999:x",
	} {
		f.Add(s)
	}
	opts := Options{Home: "/home/fz"}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s, opts)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): error %T %v", s, err, err)
			}
			if se.Pos < 0 || se.Pos > len(s) || se.Len < 0 || se.Pos+se.Len > len(s) {
				t.Fatalf("Parse(%q): error %q at %d len %d outside the input", s, se.Msg, se.Pos, se.Len)
			}
			if se.Input != s || se.Msg == "" {
				t.Fatalf("Parse(%q): bad error %+v", s, se)
			}
			if c := se.Caret(); !utf8.ValidString(c) || strings.Count(c, "\n") != 1 {
				t.Fatalf("Parse(%q): bad caret %q", s, c)
			}
			return
		}
		if len(q.Terms) == 0 || len(q.Terms) > DefaultMaxTerms {
			t.Fatalf("Parse(%q): %d terms", s, len(q.Terms))
		}
		end := 0
		for i, term := range q.Terms {
			if term.Pos < end || term.Len <= 0 || term.Pos+term.Len > len(s) {
				t.Fatalf("Parse(%q): term %d at %d len %d (previous ended at %d)", s, i, term.Pos, term.Len, end)
			}
			end = term.Pos + term.Len
			if term.Sign != 1 && term.Sign != -1 {
				t.Fatalf("Parse(%q): term %d sign %v", s, i, term.Sign)
			}
			w := float64(term.Weight)
			if !(w > 0) || math.IsInf(w, 0) {
				t.Fatalf("Parse(%q): term %d weight %v", s, i, w)
			}
			switch term.Kind {
			case Text, URL:
				if term.Value == "" || !utf8.ValidString(term.Value) {
					t.Fatalf("Parse(%q): term %d %v value %q", s, i, term.Kind, term.Value)
				}
			case Path:
				if term.Value == "" || strings.IndexByte(term.Value, 0) >= 0 {
					t.Fatalf("Parse(%q): term %d path %q", s, i, term.Value)
				}
			case Item:
				if (term.ItemID > 0) == (term.Value != "") {
					t.Fatalf("Parse(%q): term %d item id %d path %q", s, i, term.ItemID, term.Value)
				}
			case Upload:
				if term.Upload < 1 || term.Upload > MaxUploads || term.Value != "" {
					t.Fatalf("Parse(%q): term %d upload %d value %q", s, i, term.Upload, term.Value)
				}
			default:
				t.Fatalf("Parse(%q): term %d kind %v", s, i, term.Kind)
			}
		}
		canon := q.String()
		again, err := Parse(canon, Options{Home: opts.Home, MaxBytes: 1 << 20})
		if err != nil {
			t.Fatalf("Parse(%q) canonical form %q does not parse: %v", s, canon, err)
		}
		sameTerms(t, q, again)
	})
}

func TestDescribe(t *testing.T) {
	tests := []struct{ input, want string }{
		{`./a.jpg - "cat"`, `1.0 × image ./a.jpg − 1.0 × text "cat"`},
		{`- 0.5:dog + 2:@12 + https://x.org/a.png`, `−0.5 × text "dog" + 2.0 × item @12 + 1.0 × image https://x.org/a.png`},
		{`'./camera roll/cat.jpg' − cat`, `1.0 × image './camera roll/cat.jpg' − 1.0 × text "cat"`},
		{`~/x.jpg`, `1.0 × image /home/ann/x.jpg`},
		{`@"a b.jpg" + @c.jpg`, `1.0 × item @'a b.jpg' + 1.0 × item @c.jpg`},
		{`"./it's.jpg"`, `1.0 × image "./it's.jpg"`},
		{`1.25:"say \"hi\""`, `1.25 × text "say \"hi\""`},
		{`file:a.jpg`, `1.0 × image a.jpg`},
		{"./\xff.jpg", `1.0 × image "./\xff.jpg"`},
	}
	for _, tc := range tests {
		q, err := Parse(tc.input, Options{Home: home})
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.input, err)
		}
		if got := q.Describe(); got != tc.want {
			t.Errorf("Parse(%q).Describe() =\n%s\nwant\n%s", tc.input, got, tc.want)
		}
	}
}

// TestTermErrorfQuotedPath: a quoted path that names no file is reported by
// the caller at the whole term, quotes included.
func TestTermErrorfQuotedPath(t *testing.T) {
	q, err := Parse(`'./camera roll/cat.jpg' - "cat"`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	term := q.Terms[0]
	var se *SyntaxError
	if !errors.As(term.Errorf("unknown file %s", term.Value), &se) {
		t.Fatal("Errorf did not return a *SyntaxError")
	}
	if got, want := se.Caret(), "'./camera roll/cat.jpg' - \"cat\"\n^~~~~~~~~~~~~~~~~~~~~~~"; got != want {
		t.Errorf("Caret() =\n%s\nwant\n%s", got, want)
	}
}
