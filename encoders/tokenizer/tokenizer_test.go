package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"mmsearch/internal/sharedtest"
)

// sharedDir is the project's shared test data, seen from this package.
const sharedDir = "../../../shared"

var (
	clipGzPath = filepath.Join(sharedDir, "clip", "bpe_simple_vocab_16e6.txt.gz")
	goldenPath = filepath.Join(sharedDir, "golden", "tokenizer.jsonl")
)

type golden struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

// loadShared loads CLIP's vocabulary and the golden ids once per test binary.
var loadShared = sync.OnceValues(func() (*Tokenizer, error) {
	if _, err := os.Stat(clipGzPath); err != nil {
		return nil, err
	}
	return LoadCLIPGzip(clipGzPath)
})

// clipTokenizer returns the tokenizer for CLIP's original vocabulary, or
// skips the test when ../shared is absent.
func clipTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	sharedtest.Require(tb, clipGzPath)
	tok, err := loadShared()
	if err != nil {
		tb.Fatalf("LoadCLIPGzip: %v", err)
	}
	return tok
}

func readGolden(tb testing.TB) []golden {
	tb.Helper()
	f, err := os.Open(sharedtest.Require(tb, goldenPath))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var g golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			tb.Fatalf("%s:%d: %v", goldenPath, line, err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("%s holds no examples", goldenPath)
	}
	return out
}

// withSpecial is what the reference tokenizer returns for a text: start,
// ids, end, untruncated.
func withSpecial(tok *Tokenizer, text string) []int {
	ids := []int{tok.StartOfText()}
	ids = append(ids, tok.Encode(text)...)
	return append(ids, tok.EndOfText())
}

func checkGolden(t *testing.T, name string, tok *Tokenizer, gold []golden) int {
	t.Helper()
	passed := 0
	for _, g := range gold {
		if got := withSpecial(tok, g.Text); slices.Equal(got, g.IDs) {
			passed++
		} else {
			t.Errorf("%s: text %q\n want %v\n got  %v", name, g.Text, g.IDs, got)
		}
	}
	return passed
}

func TestGolden(t *testing.T) {
	tok := clipTokenizer(t)
	gold := readGolden(t)
	if tok.VocabSize() != 49408 || tok.StartOfText() != 49406 || tok.EndOfText() != 49407 {
		t.Fatalf("vocab size %d, start %d, end %d; want 49408, 49406, 49407", tok.VocabSize(), tok.StartOfText(), tok.EndOfText())
	}
	passed := checkGolden(t, "gzip", tok, gold)
	t.Logf("golden: %d/%d texts match the reference ids", passed, len(gold))

	// The same ids come out of a batch whose rows are long enough.
	texts := make([]string, len(gold))
	maxLen := 0
	for i, g := range gold {
		texts[i] = g.Text
		maxLen = max(maxLen, len(g.IDs))
	}
	ids, mask, err := tok.EncodeBatch(texts, maxLen)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range gold {
		n := len(g.IDs)
		got := make([]int, n)
		for j := range n {
			got[j] = int(ids[i][j])
			if mask[i][j] != 1 {
				t.Errorf("%q: mask[%d] = %d, want 1", g.Text, j, mask[i][j])
			}
		}
		if !slices.Equal(got, g.IDs) {
			t.Errorf("batch: text %q\n want %v\n got  %v", g.Text, g.IDs, got)
		}
	}
}

// writeHFFiles writes tok's vocabulary as vocab.json + merges.txt and as
// tokenizer.json (merges as "a b" strings) under dir, as Hugging Face
// exports them, and with pairs also as tokenizer-pairs.json (merges as
// ["a", "b"] pairs).
func writeHFFiles(t *testing.T, tok *Tokenizer, dir string, pairs bool) {
	t.Helper()
	vocab := tok.Vocab()
	marshal := func(v any) []byte {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("vocab.json", marshal(vocab))
	var mt strings.Builder
	mt.WriteString("#version: 0.2\n")
	strMerges := make([]string, 0, len(tok.Merges()))
	for _, mg := range tok.Merges() {
		fmt.Fprintf(&mt, "%s %s\n", mg[0], mg[1])
		strMerges = append(strMerges, mg[0]+" "+mg[1])
	}
	write("merges.txt", []byte(mt.String()))
	added := []map[string]any{
		{"id": tok.StartOfText(), "content": startToken, "special": true},
		{"id": tok.EndOfText(), "content": endToken, "special": true},
	}
	model := func(merges any) map[string]any {
		return map[string]any{
			"added_tokens": added,
			"model": map[string]any{
				"type": "BPE", "dropout": nil, "unk_token": endToken,
				"continuing_subword_prefix": "", "end_of_word_suffix": endOfWord,
				"fuse_unk": false, "vocab": vocab, "merges": merges,
			},
		}
	}
	write("tokenizer.json", marshal(model(strMerges)))
	if pairs {
		write("tokenizer-pairs.json", marshal(model(tok.Merges())))
	}
}

func TestLoadersAgree(t *testing.T) {
	gz := clipTokenizer(t)
	gold := readGolden(t)
	dir := t.TempDir()
	writeHFFiles(t, gz, dir, false)

	loaders := []struct {
		name string
		load func() (*Tokenizer, error)
	}{
		{"vocab.json+merges.txt", func() (*Tokenizer, error) {
			return LoadVocabMerges(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
		}},
		{"tokenizer.json", func() (*Tokenizer, error) { return LoadTokenizerJSON(filepath.Join(dir, "tokenizer.json")) }},
	}
	for _, l := range loaders {
		t.Run(l.name, func(t *testing.T) {
			tok, err := l.load()
			if err != nil {
				t.Fatal(err)
			}
			if tok.VocabSize() != gz.VocabSize() || tok.Options() != gz.Options() {
				t.Fatalf("size %d options %+v; gzip loader: size %d options %+v", tok.VocabSize(), tok.Options(), gz.VocabSize(), gz.Options())
			}
			if !slices.Equal(tok.Merges(), gz.Merges()) {
				t.Fatal("merges differ from the gzip loader's")
			}
			passed := checkGolden(t, l.name, tok, gold)
			t.Logf("%s: golden %d/%d", l.name, passed, len(gold))
		})
	}
}

// smallVocab is a synthetic CLIP-style vocabulary: the 512 byte symbols,
// four merges that spell "hello", and the special tokens.
func smallVocab() (map[string]int, [][2]string) {
	vocab := make(map[string]int)
	for _, last := range []bool{false, true} {
		for _, b := range bytesToRunes.order {
			vocab[byteSymbol(b, last)] = len(vocab)
		}
	}
	merges := [][2]string{{"h", "e"}, {"l", "o</w>"}, {"he", "l"}, {"hel", "lo</w>"}}
	for _, mg := range merges {
		vocab[mg[0]+mg[1]] = len(vocab)
	}
	vocab[startToken] = len(vocab)
	vocab[endToken] = len(vocab)
	return vocab, merges
}

func TestNewSmallVocab(t *testing.T) {
	vocab, merges := smallVocab()
	tok, err := New(vocab, merges)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []string
	}{
		{"hello", []string{"hello</w>"}},
		{"HELLO hello", []string{"hello</w>", "hello</w>"}},
		{"help", []string{"hel", "p</w>"}},
		{"hhello", []string{"h", "hello</w>"}},
		{"helo", []string{"he", "lo</w>"}}, // (l, o</w>) ranks before (he, l)
		{"lo", []string{"lo</w>"}},
		{"x", []string{"x</w>"}},
		{"<|endoftext|>", []string{endToken}},
	}
	for _, tt := range tests {
		var got []string
		for _, id := range tok.Encode(tt.text) {
			s, _ := tok.Token(id)
			got = append(got, s)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestEncodeEquivalences(t *testing.T) {
	tok := clipTokenizer(t)
	// Each pair must encode identically: the cleaning step maps one onto
	// the other.
	tests := []struct{ name, a, b string }{
		{"case", "A PHOTO OF A DOG", "a photo of a dog"},
		{"whitespace", " \t a\u00a0photo\u3000of \n\r a\u2003dog  ", "a photo of a dog"},
		{"html entity", "cats &amp; dogs", "cats & dogs"},
		{"html double escaped", "cats &amp;amp; dogs", "cats & dogs"},
		{"html numeric", "it&#39;s &#x41;", "it's a"},
		{"html in markup", "<b>&quot;hi&quot;</b>", "<b>\"hi\"</b>"},
		{"curly apostrophe", "it\u2019s a dog\u2019s life", "it's a dog's life"},
		{"curly double quotes", "\u201cquoted\u201d", "\"quoted\""},
		{"ligature", "\ufb01sh \ufb02ower", "fish flower"},
		{"full width", "\uff23\uff21\uff34 \uff11\uff12", "cat 12"},
		{"NFC", "cafe\u0301 nai\u0308ve", "caf\u00e9 na\u00efve"},
		{"C1 as cp1252", "\u0093hi\u0094", "\"hi\""},
		{"control chars", "do\u0000g\u007f\ufeff", "dog"},
		{"terminal escape", "\x1b[31mred\x1b[0m dog", "red dog"},
		{"final sigma", "\u039f\u0394\u039f\u03a3", "\u03bf\u03b4\u03bf\u03c2"},
		{"dotted capital I", "\u0130", "i\u0307"},
		{"special token", "<|ENDOFTEXT|>", "<|endoftext|>"},
		{"ypogegrammeni skipped", "a\u0345b", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tok.Encode(tt.a), tok.Encode(tt.b)
			if !slices.Equal(a, b) {
				t.Errorf("Encode(%q) = %v\nEncode(%q) = %v", tt.a, a, tt.b, b)
			}
			if len(a) == 0 {
				t.Errorf("Encode(%q) is empty", tt.a)
			}
		})
	}
}

// TestEncodeCases checks ids computed with the reference pipeline in
// Python (CLIP's SimpleTokenizer with the same ftfy subset).
func TestEncodeCases(t *testing.T) {
	tok := clipTokenizer(t)
	rep := func(id, n int, last ...int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = id
		}
		return append(out, last...)
	}
	tests := []struct {
		name string
		text string
		want []int
	}{
		{"empty", "", []int{}},
		{"only whitespace", " \t\n\u3000 ", []int{}},
		{"control chars removed, zero-width space kept", "\x00\x01\u200b", []int{9844}},
		{"special tokens in text", "<|startoftext|>x<|endoftext|>", []int{49406, 343, 49407}},
		{"special token spelled with long s is text", "<|\u017ftartoftext|>", []int{27, 91, 129, 123, 2002, 6659, 18169, 91, 285}},
		{"emoji", "\U0001F436", []int{10631}},
		{"cjk bytes", "\u732b", []int{163, 234, 360}},
		{"curly apostrophe", "it\u2019s", []int{585, 568}},
		{"long word, heap merge", strings.Repeat("ab", 40), rep(596, 39, 3937)},
		{"long word then punctuation", strings.Repeat("ha", 39) + "!", []int{36126, 36126, 36126, 36126, 43653, 256}},
		{"long non-ASCII word", strings.Repeat("\u00e9", 40), rep(3459, 39, 4166)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tok.Encode(tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Encode(%q)\n got  %v\n want %v", tt.text, got, tt.want)
			}
		})
	}
}

func TestEncodeInvalidUTF8(t *testing.T) {
	tok := clipTokenizer(t)
	got := tok.Encode("caf\xc3 \xff\xfe dog")
	want := tok.Encode("caf\ufffd \ufffd dog")
	if !slices.Equal(got, want) {
		t.Errorf("invalid bytes: got %v, want the ids of U+FFFD replacements %v", got, want)
	}
}

// TestCleanText checks cleaning against outputs of Python's html,
// unicodedata, str.strip/lower and regex with the same ftfy subset.
func TestCleanText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Hello\tWORLD \n", "hello world"},
		{"&amp;amp;amp;amp;", "&"},
		{"<b>&amp;amp;amp;</b>", "<b>&amp;</b>"},
		{"a\n<b>\n&amp;amp;amp;", "a <b> &amp;"},
		{"&#39;&#x27;&#1;x&#0;", "''x\ufffd"},
		{"&EACUTE;&SZLIG;&NTILDE;&nTILDE;", "\u00e9ss\u00f1&ntilde;"},
		{"&notit; &ampx; &lt", "\u00acit; &x; <"},
		{"it\u2019s \u201cquoted\u201d", "it's \"quoted\""},
		{"\u0093C1\u0094 \u0085", "\"c1\" \u2026"},
		{"\ufb01sh \u0132 \u01c6", "fish ij d\u017e"},
		{"\uff23\uff21\uff34\u3000\uff8a\uff9e", "cat \u30d0"},
		{"cafe\u0301", "caf\u00e9"},
		{"\u001b[31mred\u001b[0m", "red"},
		{"do\u0000g\u007f\ufeff", "dog"},
		{"\u039f\u0394\u039f\u03a3 \u03a3", "\u03bf\u03b4\u03bf\u03c2 \u03c3"},
		{"\u0130stanbul", "i\u0307stanbul"},
		{"a\u00a0b\u2003c\u2028d\u001ce", "a b c de"},
		{"\u000b\u001c x \u001f", "x"},
		{"", ""},
		{"   ", ""},
	}
	for _, tt := range tests {
		if got := cleanText(tt.in); got != tt.want {
			t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPyHTMLUnescape checks html.unescape's edge cases, with Python's
// outputs.
func TestPyHTMLUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"&#1;x&#99999999999;&#x;&#xZ&amp-x&notit;&ampx;&lt&;&#X41&#0;&#13;", "x\ufffd&#x;&#xZ&-x\u00acit;&x;<&;A\ufffd\r"},
		{"&#9", "\t"},
		{"no entities", "no entities"},
		{"&&amp;", "&&"},
		{"&NotEqualTilde;", "\u2242\u0338"},
		{"&#x110000;&#xD800;&#128;&#x81;&#xFFFE;", "\ufffd\ufffd\u20ac\u0081"},
	}
	for _, tt := range tests {
		if got := pyHTMLUnescape(tt.in); got != tt.want {
			t.Errorf("pyHTMLUnescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPyLower checks str.lower's final-sigma rule, with Python's outputs.
func TestPyLower(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\u0391\u03a3", "\u03b1\u03c2"},
		{"\u0391\u03a3.", "\u03b1\u03c2."},
		{"\u0391\u03a3:\u0392", "\u03b1\u03c3:\u03b2"},
		{"\u0391'\u03a3", "\u03b1'\u03c2"},
		{"\u03a3", "\u03c3"},
		{"\u0391\u03a3\u0301\u0392", "\u03b1\u03c3\u0301\u03b2"},
		{"1\u03a3", "1\u03c3"},
		{"\u0391\u03a31", "\u03b1\u03c21"},
		{"\u0391\u03a3\u00adB", "\u03b1\u03c3\u00adb"},
		{"\u0391\u03a3\u02b0", "\u03b1\u03c2\u02b0"},
		{"\u0130I", "i\u0307i"},
	}
	for _, tt := range tests {
		if got := pyLower(tt.in); got != tt.want {
			t.Errorf("pyLower(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// pieces splits cleaned text with nextPiece.
func pieces(s string) []string {
	var out []string
	for i := 0; ; {
		start, end, _, ok := nextPiece(s, i)
		if !ok {
			return out
		}
		out = append(out, s[start:end])
		i = end
	}
}

// refPattern is CLIP's pre-tokenization pattern in Go's syntax: \s spelled
// out as Unicode White_Space (Go's \s is ASCII only), case folding only on
// the literals (Go folds classes differently from Python's regex module),
// and U+0345 excluded from the punctuation class as the regex module's
// case-insensitive matching does.
var refPattern = regexp.MustCompile(`(?i:<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d)|\p{L}+|\p{N}|[^\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{345}\p{L}\p{N}]+`)

func TestPreTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		// Outputs of the reference pattern in Python's regex module.
		{"it'\u017f <|\u017ftartoftext|> x'S 'K '\ufb05", []string{"it", "'\u017f", "<|\u017ftartoftext|>", "x", "'S", "'", "K", "'", "\ufb05"}},
		{"a\u0345b \u0345 !\u0345!", []string{"a", "b", "!", "!"}},
		{"it's 3.14 $5 <|endoftext|>!!<|endoftext|>", []string{"it", "'s", "3", ".", "1", "4", "$", "5", "<|endoftext|>", "!!<|", "endoftext", "|>"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := pieces(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("pieces(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := refPattern.FindAllString(tt.in, -1); !slices.Equal(got, tt.want) {
			t.Errorf("refPattern(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// randomText mixes ASCII, whitespace, punctuation, entities and random
// code points.
func randomText(r *rand.Rand) string {
	parts := []string{"dog", "Cat", " ", "  ", "\t", "\n", "'s", "'LL", "&amp;", "&#39;", "<", "!", "...", "\u00e9", "\u03a3", "\u0345",
		"\u017f", "<|startoftext|>", "<|endoftext|>", "\U0001F436", "\u732b", "123", "\u00a0", "\u3000", "\ufb01", "\u2019", strings.Repeat("ha", 40)}
	var b strings.Builder
	for range r.IntN(12) {
		switch x := r.IntN(10); {
		case x < 7:
			b.WriteString(parts[r.IntN(len(parts))])
		case x < 9:
			b.WriteRune(rune(0x20 + r.IntN(0x3000)))
		default:
			b.WriteRune(rune(r.IntN(utf8.MaxRune + 1)))
		}
	}
	return b.String()
}

func TestPreTokenizeMatchesRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		s := cleanText(randomText(r))
		if got, want := pieces(s), refPattern.FindAllString(s, -1); !slices.Equal(got, want) {
			t.Fatalf("pieces(%q) = %q, regexp gives %q", s, got, want)
		}
	}
}

// checkHeapMatchesSmall compares the two merge loops on word.
func checkHeapMatchesSmall(t *testing.T, m *model, word string) {
	t.Helper()
	if word == "" {
		return
	}
	n := len(word)
	sym := make([]int32, n)
	for i := 0; i < n-1; i++ {
		sym[i] = m.byteID[word[i]]
	}
	sym[n-1] = m.byteEndID[word[n-1]]
	var small []int
	for _, s := range m.mergeSmall(sym) {
		small = append(small, int(s))
	}
	if heap := m.bpeHeap(nil, word); !slices.Equal(small, heap) {
		t.Fatalf("word %q: simple loop %v, heap %v", word, small, heap)
	}
}

func TestBPEHeapMatchesSimpleLoop(t *testing.T) {
	tok := clipTokenizer(t)
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"a", "aa", "aaa", "aaaa", "hello", "photograph", "supercalifragilisticexpialidocious", strings.Repeat("ab", 50), "\U0001F436\U0001F436"}
	for _, g := range readGolden(t) {
		words = append(words, pieces(cleanText(g.Text))...)
	}
	for range 3000 {
		for _, p := range pieces(cleanText(randomText(r))) {
			words = append(words, p)
		}
		// Random lower-case words exercise many merges.
		var b strings.Builder
		for range 1 + r.IntN(40) {
			b.WriteByte(byte('a' + r.IntN(26)))
		}
		words = append(words, b.String())
	}
	for _, w := range words {
		checkHeapMatchesSmall(t, tok.m, w)
	}
}

func TestTokenizeFraming(t *testing.T) {
	tok := clipTokenizer(t)
	hf, err := tok.WithOptions(Options{ContextLength: 77, StartID: 49406, EndID: 49407, PadID: 49407})
	if err != nil {
		t.Fatal(err)
	}
	short, err := tok.WithOptions(Options{ContextLength: 2, StartID: 49406, EndID: 49407})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a photo of a dog ", 30)
	tests := []struct {
		name      string
		tok       *Tokenizer
		text      string
		wantLen   int
		truncated bool
	}{
		{"short text, pad 0", tok, "a photo of a cat", 7, false},
		{"short text, pad end id", hf, "a photo of a cat", 7, false},
		{"empty", tok, "", 2, false},
		{"exact fit", tok, strings.Repeat("a ", 75), 77, false},
		{"one too many", tok, strings.Repeat("a ", 76), 77, true},
		{"long text", tok, long, 77, true},
		{"context of two", short, "a photo", 2, true},
		{"context of two, empty", short, "", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.tok.Options()
			b := tt.tok.Tokenize([]string{tt.text, "dog"})
			if b.Rows != 2 || b.Cols != o.ContextLength || len(b.IDs) != 2*o.ContextLength || len(b.Mask) != len(b.IDs) {
				t.Fatalf("shape rows %d cols %d len %d/%d", b.Rows, b.Cols, len(b.IDs), len(b.Mask))
			}
			if b.Lengths[0] != tt.wantLen || b.Truncated[0] != tt.truncated {
				t.Fatalf("length %d truncated %v, want %d %v", b.Lengths[0], b.Truncated[0], tt.wantLen, tt.truncated)
			}
			ids, mask := b.Row(0)
			text := tt.tok.Encode(tt.text)
			want := []int64{int64(o.StartID)}
			for _, id := range text[:min(len(text), o.ContextLength-2)] {
				want = append(want, int64(id))
			}
			want = append(want, int64(o.EndID))
			for len(want) < o.ContextLength {
				want = append(want, int64(o.PadID))
			}
			if !slices.Equal(ids, want) {
				t.Errorf("ids\n got  %v\n want %v", ids, want)
			}
			for j, m := range mask {
				if wantM := int64(0); j < tt.wantLen {
					wantM = 1
					if m != wantM {
						t.Errorf("mask[%d] = %d, want 1", j, m)
					}
				} else if m != wantM {
					t.Errorf("mask[%d] = %d, want 0", j, m)
				}
			}
			if ids[tt.wantLen-1] != int64(o.EndID) {
				t.Errorf("last real id %d, want the end id %d", ids[tt.wantLen-1], o.EndID)
			}
			// The second row is unaffected by the first.
			if dog, _ := b.Row(1); dog[0] != int64(o.StartID) || b.Lengths[1] != min(3, o.ContextLength) {
				t.Errorf("second row %v, length %d", dog, b.Lengths[1])
			}
		})
	}
}

func TestEncodeBatch(t *testing.T) {
	tok := clipTokenizer(t)
	ids, mask, err := tok.EncodeBatch([]string{"a photo of a cat", ""}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || len(ids[0]) != DefaultContextLength || len(mask[1]) != DefaultContextLength {
		t.Fatalf("shape %d x %d", len(ids), len(ids[0]))
	}
	want := []int64{49406, 320, 1125, 539, 320, 2368, 49407, 0}
	if !slices.Equal(ids[0][:8], want) {
		t.Errorf("row 0 starts %v, want %v", ids[0][:8], want)
	}
	if got := ids[1][:3]; !slices.Equal(got, []int64{49406, 49407, 0}) {
		t.Errorf("empty row starts %v", got)
	}
	if _, _, err := tok.EncodeBatch([]string{"x"}, 1); err == nil {
		t.Error("context length 1 accepted")
	}
	if b, _, err := tok.EncodeBatch(nil, 0); err != nil || len(b) != 0 {
		t.Errorf("empty batch: %v, %v", b, err)
	}
}

func TestWithOptionsErrors(t *testing.T) {
	tok := clipTokenizer(t)
	base := tok.Options()
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"context length 1", func(o *Options) { o.ContextLength = 1 }},
		{"context length 0", func(o *Options) { o.ContextLength = 0 }},
		{"negative pad", func(o *Options) { o.PadID = -1 }},
		{"start beyond vocabulary", func(o *Options) { o.StartID = 49408 }},
		{"end beyond vocabulary", func(o *Options) { o.EndID = 1 << 30 }},
	}
	for _, tt := range tests {
		o := base
		tt.edit(&o)
		if _, err := tok.WithOptions(o); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestDecode(t *testing.T) {
	tok := clipTokenizer(t)
	tests := []struct{ in, want string }{
		{"A Photo of a CAT", "a photo of a cat "},
		{"caf\u00e9 \U0001F436!", "caf\u00e9 \U0001F436! "},
		{"caf\u00e9 \U0001F436 !", "caf\u00e9 \U0001F436 ! "},
		{"", ""},
	}
	for _, tt := range tests {
		if got := tok.Decode(tok.Encode(tt.in)); got != tt.want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := tok.Decode([]int{49406, 1929, 49407, -1, 1 << 30}); got != "<|startoftext|>dog <|endoftext|>\ufffd\ufffd" {
		t.Errorf("Decode with specials and bad ids = %q", got)
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := clipTokenizer(t)
	gold := readGolden(t)
	o := tok.Options()
	o.CacheSize = 64 // small: words are evicted while other goroutines read
	small, err := tok.WithOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 * len(gold) {
				g := gold[(i+w*5)%len(gold)]
				if got := withSpecial(small, g.Text); !slices.Equal(got, g.IDs) {
					errs <- fmt.Sprintf("%q: got %v, want %v", g.Text, got, g.IDs)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := small.cache.len(); n > 64 {
		t.Errorf("cache holds %d words, bound 64", n)
	}
}

func TestCacheBounded(t *testing.T) {
	vocab, merges := smallVocab()
	tok, err := New(vocab, merges)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 64, 1000} {
		o := tok.Options()
		o.CacheSize = size
		tk, err := tok.WithOptions(o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5000 {
			tk.Encode(fmt.Sprintf("w%dx", i))
		}
		if n := tk.cache.len(); n > size || n == 0 {
			t.Errorf("cache size %d holds %d words", size, n)
		}
	}
	o := tok.Options()
	o.CacheSize = -1
	off, err := tok.WithOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := off.Encode("hello hello"); len(got) != 2 || off.cache != nil {
		t.Errorf("uncached: %v, cache %v", got, off.cache)
	}
}

// synthCLIPMerges returns a merges file in CLIP's format with n merges of
// two byte symbols each, so the gzip loader can be tested without ../shared.
func synthCLIPMerges(n int) string {
	var b strings.Builder
	b.WriteString("bpe_simple_vocab_16e6.txt#version: 0.2\n")
	k := 0
	for _, x := range bytesToRunes.order {
		for _, y := range bytesToRunes.order {
			if k == n {
				return b.String()
			}
			fmt.Fprintf(&b, "%c %c\n", bytesToRunes.enc[x], bytesToRunes.enc[y])
			k++
		}
	}
	return b.String()
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSyntheticCLIPGzip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, CLIPGzipName)
	if err := os.WriteFile(path, gzipped(t, synthCLIPMerges(clipMerges)), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadCLIPGzip(path)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 49408 || tok.StartOfText() != 49406 || tok.EndOfText() != 49407 {
		t.Fatalf("size %d start %d end %d", tok.VocabSize(), tok.StartOfText(), tok.EndOfText())
	}
	// Byte symbols come in CLIP's order: '!' is id 0, its "</w>" form 256.
	if id, _ := tok.ID("!"); id != 0 {
		t.Errorf("id of \"!\" = %d, want 0", id)
	}
	if id, _ := tok.ID("!</w>"); id != 256 {
		t.Errorf("id of \"!</w>\" = %d, want 256", id)
	}
	// The first merge is "!" + "!", the first merged token id 512.
	if got := tok.Encode("!!!"); !slices.Equal(got, []int{512, 256}) {
		t.Errorf("Encode(\"!!!\") = %v, want [512 256]", got)
	}
	if got, err := Load(path); err != nil || !slices.Equal(got.Merges(), tok.Merges()) {
		t.Errorf("Load(%s): %v", path, err)
	}
}

// TestLoadSmallVocab writes a small vocabulary in the Hugging Face formats
// and loads it through every entry point, including Load's dispatch.
func TestLoadSmallVocab(t *testing.T) {
	vocab, merges := smallVocab()
	ref, err := New(vocab, merges)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeHFFiles(t, ref, dir, true)
	onlyJSON := t.TempDir()
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer-pairs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(onlyJSON, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	loaders := []struct {
		name string
		load func() (*Tokenizer, error)
	}{
		{"Load(dir)", func() (*Tokenizer, error) { return Load(dir) }},
		{"Load(dir with tokenizer.json only)", func() (*Tokenizer, error) { return Load(onlyJSON) }},
		{"Load(vocab.json)", func() (*Tokenizer, error) { return Load(filepath.Join(dir, "vocab.json")) }},
		{"Load(merges.txt)", func() (*Tokenizer, error) { return Load(filepath.Join(dir, "merges.txt")) }},
		{"Load(tokenizer-pairs.json)", func() (*Tokenizer, error) { return Load(filepath.Join(dir, "tokenizer-pairs.json")) }},
		{"ReadVocabMerges", func() (*Tokenizer, error) { return ReadVocabMerges(open("vocab.json"), open("merges.txt")) }},
		{"ReadTokenizerJSON", func() (*Tokenizer, error) { return ReadTokenizerJSON(open("tokenizer.json")) }},
	}
	for _, l := range loaders {
		tok, err := l.load()
		if err != nil {
			t.Errorf("%s: %v", l.name, err)
			continue
		}
		if !slices.Equal(tok.Merges(), merges) || tok.VocabSize() != len(vocab) || tok.Options() != ref.Options() {
			t.Errorf("%s: merges %q, size %d, options %+v", l.name, tok.Merges(), tok.VocabSize(), tok.Options())
		}
		for _, text := range []string{"hello", "Hello, help!", "\U0001F436 caf\u00e9"} {
			if a, b := ref.Encode(text), tok.Encode(text); !slices.Equal(a, b) {
				t.Errorf("%s: %q gives %v, want %v", l.name, text, b, a)
			}
		}
	}
}

func TestMalformedFiles(t *testing.T) {
	vocab, _ := smallVocab()
	vocabJSON := func(edit func(map[string]int)) []byte {
		v := make(map[string]int, len(vocab))
		for k, id := range vocab {
			v[k] = id
		}
		if edit != nil {
			edit(v)
		}
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	mergesTxt := "#version: 0.2\nh e\nl o</w>\nhe l\nhel lo</w>\n"
	tokJSON := func(edit func(model map[string]any, root map[string]any)) []byte {
		model := map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{"h e", "l o</w>", "he l", "hel lo</w>"}, "end_of_word_suffix": "</w>", "continuing_subword_prefix": nil, "dropout": nil}
		root := map[string]any{"model": model, "added_tokens": []map[string]any{{"id": vocab[startToken], "content": startToken}}}
		if edit != nil {
			edit(model, root)
		}
		data, err := json.Marshal(root)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	gz := func(s string) []byte { return gzipped(t, s) }
	full := synthCLIPMerges(clipMerges)
	lines := strings.Split(full, "\n")

	loadGz := func(dir string) (*Tokenizer, error) { return LoadCLIPGzip(filepath.Join(dir, "f.gz")) }
	loadVM := func(dir string) (*Tokenizer, error) {
		return LoadVocabMerges(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
	}
	loadTJ := func(dir string) (*Tokenizer, error) { return LoadTokenizerJSON(filepath.Join(dir, "tokenizer.json")) }
	vm := func(v []byte, m string) map[string][]byte {
		return map[string][]byte{"vocab.json": v, "merges.txt": []byte(m)}
	}
	tj := func(data []byte) map[string][]byte { return map[string][]byte{"tokenizer.json": data} }

	tests := []struct {
		name    string
		files   map[string][]byte
		load    func(dir string) (*Tokenizer, error)
		kind    error
		file    string // the file the error must name
		line    int    // the line the error must name, 0: not checked
		message string // a part of the message
	}{
		{"gzip: plain text", map[string][]byte{"f.gz": []byte(full)}, loadGz, ErrNotGzip, "f.gz", 0, "gzip header"},
		{"gzip: empty file", map[string][]byte{"f.gz": {}}, loadGz, ErrNotGzip, "f.gz", 0, ""},
		{"gzip: truncated", map[string][]byte{"f.gz": gz(full)[:5000]}, loadGz, ErrNotGzip, "f.gz", 0, "corrupt"},
		{"gzip: no header", map[string][]byte{"f.gz": gz(strings.Join(lines[1:], "\n"))}, loadGz, ErrNoVersionHeader, "f.gz", 1, ""},
		{"gzip: too few merges", map[string][]byte{"f.gz": gz(synthCLIPMerges(1000))}, loadGz, ErrTooFewMerges, "f.gz", 0, "found 1000"},
		{"gzip: three symbols", map[string][]byte{"f.gz": gz(strings.Replace(full, "\n! \"\n", "\n! \" #\n", 1))}, loadGz, ErrMergeSyntax, "f.gz", 3, ""},
		{"gzip: unknown part", map[string][]byte{"f.gz": gz(strings.Replace(full, "\n! \"\n", "\n!! qqq\n", 1))}, loadGz, ErrUnknownToken, "f.gz", 0, "part"},

		{"vocab: not JSON", vm([]byte("{\"a\": 0,"), mergesTxt), loadVM, ErrBadJSON, "vocab.json", 0, ""},
		{"vocab: not an object", vm([]byte("[1, 2]"), mergesTxt), loadVM, ErrBadJSON, "vocab.json", 0, "not a JSON object"},
		{"vocab: id is a string", vm([]byte("{\n\"a\": \"0\"}"), mergesTxt), loadVM, ErrBadID, "vocab.json", 2, "not a number"},
		{"vocab: id is a fraction", vm([]byte("{\"a\": 1.5}"), mergesTxt), loadVM, ErrBadID, "vocab.json", 0, "not an integer"},
		{"vocab: duplicate token", vm([]byte("{\"a\": 0,\n\"a\": 1}"), mergesTxt), loadVM, ErrDuplicateToken, "vocab.json", 2, "appears twice"},
		{"vocab: shared id", vm(vocabJSON(func(v map[string]int) { v["h"] = v["e"] }), mergesTxt), loadVM, ErrDuplicateToken, "vocab.json", 0, "share id"},
		{"vocab: negative id", vm(vocabJSON(func(v map[string]int) { v["zzz"] = -3 }), mergesTxt), loadVM, ErrBadID, "vocab.json", 0, "-3"},
		{"vocab: ids not dense", vm(vocabJSON(func(v map[string]int) { v["zzz"] = len(vocab) + 10 }), mergesTxt), loadVM, ErrBadID, "vocab.json", 0, "ids must be"},
		{"vocab: byte symbol missing", vm(vocabJSON(func(v map[string]int) {
			id := v["x</w>"]
			delete(v, "x</w>")
			for k, i := range v {
				if i == len(vocab)-1 {
					v[k] = id
				}
			}
		}), mergesTxt), loadVM, ErrUnknownToken, "vocab.json", 0, "byte 0x78"},
		{"vocab: special token missing", vm(vocabJSON(func(v map[string]int) { delete(v, endToken) }), mergesTxt), loadVM, ErrUnknownToken, "vocab.json", 0, endToken},
		{"merges: three symbols", vm(vocabJSON(nil), "#version: 0.2\nh e\nl o </w>\n"), loadVM, ErrMergeSyntax, "merges.txt", 3, ""},
		{"merges: empty line inside", vm(vocabJSON(nil), "#version: 0.2\nh e\n\nhe l\n"), loadVM, ErrMergeSyntax, "merges.txt", 3, ""},
		{"merges: result not in vocab", vm(vocabJSON(nil), "#version: 0.2\nh e\nl l\n"), loadVM, ErrUnknownToken, "vocab.json", 0, "result \"ll\""},

		{"tokenizer.json: syntax", tj([]byte("{\n\"model\": {\n\"type\": \"BPE\",,\n}")), loadTJ, ErrBadJSON, "tokenizer.json", 3, ""},
		{"tokenizer.json: no model", tj([]byte("{\"version\": \"1.0\"}")), loadTJ, ErrBadJSON, "tokenizer.json", 0, "no \"model\""},
		{"tokenizer.json: WordPiece", tj(tokJSON(func(m, _ map[string]any) { m["type"] = "WordPiece" })), loadTJ, ErrUnsupportedModel, "tokenizer.json", 0, "WordPiece"},
		{"tokenizer.json: no suffix", tj(tokJSON(func(m, _ map[string]any) { delete(m, "end_of_word_suffix") })), loadTJ, ErrUnsupportedModel, "tokenizer.json", 0, "end_of_word_suffix is null"},
		{"tokenizer.json: subword prefix", tj(tokJSON(func(m, _ map[string]any) { m["continuing_subword_prefix"] = "##" })), loadTJ, ErrUnsupportedModel, "tokenizer.json", 0, "##"},
		{"tokenizer.json: dropout", tj(tokJSON(func(m, _ map[string]any) { m["dropout"] = 0.1 })), loadTJ, ErrUnsupportedModel, "tokenizer.json", 0, "dropout"},
		{"tokenizer.json: no merges", tj(tokJSON(func(m, _ map[string]any) { delete(m, "merges") })), loadTJ, ErrBadJSON, "tokenizer.json", 0, "merges"},
		{"tokenizer.json: merge is a number", tj(tokJSON(func(m, _ map[string]any) { m["merges"] = []any{"h e", 42} })), loadTJ, ErrMergeSyntax, "tokenizer.json", 0, "merge 2"},
		{"tokenizer.json: merge pair of one", tj(tokJSON(func(m, _ map[string]any) { m["merges"] = []any{[]string{"h"}} })), loadTJ, ErrMergeSyntax, "tokenizer.json", 0, "merge 1"},
		{"tokenizer.json: merge without space", tj(tokJSON(func(m, _ map[string]any) { m["merges"] = []any{"he"} })), loadTJ, ErrMergeSyntax, "tokenizer.json", 0, "merge 1"},
		{"tokenizer.json: vocab id not integer", tj(tokJSON(func(m, _ map[string]any) { m["vocab"] = map[string]any{"a": "x"} })), loadTJ, ErrBadID, "tokenizer.json", 0, ""},
		{"tokenizer.json: added token conflicts", tj(tokJSON(func(_, r map[string]any) {
			r["added_tokens"] = []map[string]any{{"id": 3, "content": startToken}}
		})), loadTJ, ErrDuplicateToken, "tokenizer.json", 0, "added token"},
		{"tokenizer.json: added token without id", tj(tokJSON(func(_, r map[string]any) {
			r["added_tokens"] = []map[string]any{{"content": "x"}}
		})), loadTJ, ErrBadJSON, "tokenizer.json", 0, "added token 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tok, err := tt.load(dir)
			if err == nil {
				t.Fatalf("loaded (%d tokens), want %v", tok.VocabSize(), tt.kind)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) || !errors.Is(err, tt.kind) {
				t.Fatalf("error %v (%T), want a *FormatError of kind %v", err, err, tt.kind)
			}
			if filepath.Base(fe.Path) != tt.file {
				t.Errorf("error names file %q, want %q: %v", fe.Path, tt.file, err)
			}
			if tt.line != 0 && fe.Line != tt.line {
				t.Errorf("error names line %d, want %d: %v", fe.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.message) || !strings.Contains(err.Error(), fe.Path) {
				t.Errorf("message %q lacks %q or the path", err, tt.message)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	vocab, merges := smallVocab()
	if _, err := New(vocab, append(merges, [2]string{"", "x"})); !errors.Is(err, ErrMergeSyntax) {
		t.Errorf("empty merge symbol: %v", err)
	}
	if _, err := New(map[string]int{}, nil); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("empty vocabulary: %v", err)
	}
	if _, err := ReadCLIPGzip(strings.NewReader("")); !errors.Is(err, ErrNotGzip) {
		t.Errorf("empty reader: %v", err)
	}
	if _, err := ReadTokenizerJSON(strings.NewReader("null")); !errors.Is(err, ErrBadJSON) {
		t.Errorf("null tokenizer.json: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, ErrNoTokenizerFiles) {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	other := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(other); !errors.Is(err, ErrNoTokenizerFiles) {
		t.Errorf("unknown file type: %v", err)
	}
	vocab, _ := smallVocab()
	data, _ := json.Marshal(vocab)
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "vocab.json")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "merges.txt") {
		t.Errorf("vocab.json without merges.txt: %v", err)
	}
}

// encodeAll encodes every text and returns the number of ids.
func encodeAll(tok *Tokenizer, texts []string) int {
	n := 0
	for _, s := range texts {
		n += len(tok.Encode(s))
	}
	return n
}

func BenchmarkEncode(b *testing.B) {
	tok := clipTokenizer(b)
	var texts []string
	for _, g := range readGolden(b) {
		texts = append(texts, g.Text)
	}
	for _, bc := range []struct {
		name      string
		cacheSize int
	}{{"warm", DefaultCacheSize}, {"cold", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			o := tok.Options()
			o.CacheSize = bc.cacheSize
			tk, err := tok.WithOptions(o) // a fresh cache, or none
			if err != nil {
				b.Fatal(err)
			}
			if bc.cacheSize > 0 {
				encodeAll(tk, texts)
			}
			tokens := 0
			for b.Loop() {
				tokens += encodeAll(tk, texts)
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}

// fuzzTokenizer is CLIP's tokenizer when ../shared is present, else one
// built from synthetic merges, so the fuzz target always runs.
func fuzzTokenizer(tb testing.TB) *Tokenizer {
	if tok, err := loadShared(); err == nil {
		return tok
	}
	tok, err := ReadCLIPMerges(strings.NewReader(synthCLIPMerges(clipMerges)))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func FuzzEncode(f *testing.F) {
	tok := fuzzTokenizer(f)
	o := tok.Options()
	o.CacheSize = -1
	uncached, err := tok.WithOptions(o)
	if err != nil {
		f.Fatal(err)
	}
	if gold, err := os.ReadFile(goldenPath); err == nil {
		for _, line := range strings.Split(string(gold), "\n") {
			var g golden
			if json.Unmarshal([]byte(line), &g) == nil {
				f.Add(g.Text)
			}
		}
	}
	for _, s := range []string{"", " ", "\x00", "\xff\xfe", "&amp;amp;", "&#99999999999;", "&#x", "<|startoftext|>", "<|endoftext", "'S'LL",
		"\u0345", "\u03a3\u03a3", "\u0130", "\ufb01", "\uff21", "\x1b[31m", "\u0093", strings.Repeat("a", 300), strings.Repeat("\U0001F436", 30),
		"a\u0301\u0301\u0301", "\r\n\u2028\u2029\u0085", "&EACUTE;", "<b>&amp;</b>\n&amp;amp;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids := tok.Encode(text)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("id %d outside [0, %d)", id, tok.VocabSize())
			}
		}
		if again := tok.Encode(text); !slices.Equal(ids, again) {
			t.Fatalf("Encode not deterministic: %v then %v", ids, again)
		}
		if cold := uncached.Encode(text); !slices.Equal(ids, cold) {
			t.Fatalf("cached %v, uncached %v", ids, cold)
		}
		clean := cleanText(text)
		if !utf8.ValidString(clean) {
			t.Fatalf("cleaned text %q is not UTF-8", clean)
		}
		words := pieces(clean)
		if want := refPattern.FindAllString(clean, -1); !slices.Equal(words, want) {
			t.Fatalf("pieces %q, regexp %q", words, want)
		}
		for _, w := range words {
			checkHeapMatchesSmall(t, tok.m, w)
		}
		b := tok.Tokenize([]string{text})
		row, mask := b.Row(0)
		n := b.Lengths[0]
		if n < 2 || n > b.Cols || row[0] != int64(o.StartID) || row[n-1] != int64(o.EndID) || mask[n-1] != 1 || (n < b.Cols && mask[n] != 0) {
			t.Fatalf("row %v mask %v length %d", row, mask, n)
		}
		if b.Truncated[0] != (len(ids)+2 > b.Cols) {
			t.Fatalf("truncated %v with %d ids", b.Truncated[0], len(ids))
		}
	})
}
