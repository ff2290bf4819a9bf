package query

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parse parses input into a query. Every error is a *SyntaxError.
func Parse(input string, opts Options) (*Query, error) {
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	maxTerms := opts.MaxTerms
	if maxTerms <= 0 {
		maxTerms = DefaultMaxTerms
	}
	if len(input) > maxBytes {
		return nil, &SyntaxError{Pos: maxBytes, Msg: fmt.Sprintf("query is %d bytes long; the limit is %d", len(input), maxBytes), Input: input}
	}
	p := &parser{in: input, home: opts.Home, uploads: opts.Uploads}
	q := &Query{Input: input}

	sign := float32(1)
	opPos := -1     // position of a pending operator, -1 when none
	opLen := 0      // its length in bytes
	needOp := false // a term was just read: the next token must be an operator
	for {
		p.skipSpace()
		if p.i >= len(p.in) {
			break
		}
		if s, n := p.opAt(p.i); n > 0 {
			if opPos >= 0 {
				return nil, p.errf(p.i, n, "two operators in a row: '%s' after '%s'", p.in[p.i:p.i+n], p.in[opPos:opPos+opLen])
			}
			opPos, opLen, sign = p.i, n, s
			p.i += n
			needOp = false
			continue
		}
		if needOp {
			if err := p.gluedOp(p.i); err != nil {
				return nil, err
			}
			return nil, p.errf(p.i, p.tokenEnd(p.i)-p.i, "missing '+' or '-' before %q", p.in[p.i:p.tokenEnd(p.i)])
		}
		if len(q.Terms) == maxTerms {
			return nil, p.errf(p.i, 0, "too many terms: the limit is %d", maxTerms)
		}
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		t.Sign = sign
		t.OpPos = opPos
		t.input = input
		q.Terms = append(q.Terms, t)
		sign, opPos, needOp = 1, -1, true
	}
	if opPos >= 0 {
		return nil, p.errf(opPos, opLen, "dangling '%s' operator: no term after it", p.in[opPos:opPos+opLen])
	}
	if len(q.Terms) == 0 {
		return nil, p.errf(0, len(input), "empty query")
	}
	return q, nil
}

type parser struct {
	in      string
	i       int
	home    string
	uploads bool // "@upload" is an upload (Options.Uploads)
}

func (p *parser) errf(pos, n int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Len: n, Msg: fmt.Sprintf(format, args...), Input: p.in}
}

// spaceAt returns the byte length of the whitespace rune at i, or 0.
func (p *parser) spaceAt(i int) int {
	if i >= len(p.in) {
		return 0
	}
	if c := p.in[i]; c < utf8.RuneSelf {
		if c == ' ' || (c >= '\t' && c <= '\r') {
			return 1
		}
		return 0
	}
	r, size := utf8.DecodeRuneInString(p.in[i:])
	if r != utf8.RuneError && unicode.IsSpace(r) {
		return size
	}
	return 0
}

// boundaryAt reports whether i is the end of the input or whitespace.
func (p *parser) boundaryAt(i int) bool { return i >= len(p.in) || p.spaceAt(i) > 0 }

func (p *parser) skipSpace() {
	for p.i < len(p.in) {
		n := p.spaceAt(p.i)
		if n == 0 {
			return
		}
		p.i += n
	}
}

// opRune returns the sign of an operator character at i in s and its length
// in bytes, or 0, 0 when there is none. Besides '+' and '-' the Unicode
// minus sign, en and em dashes and the full-width plus and minus are
// operators, so that "A − B" pasted from a page or typed by an input method
// reads as it looks.
func opRune(s string, i int) (float32, int) {
	if i >= len(s) {
		return 0, 0
	}
	switch s[i] {
	case '+':
		return 1, 1
	case '-':
		return -1, 1
	}
	if s[i] < utf8.RuneSelf {
		return 0, 0
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch r {
	case '\u2212', '\u2013', '\u2014', '\uFF0D': // − – — －
		return -1, n
	case '\uFF0B': // ＋
		return 1, n
	}
	return 0, 0
}

// opAt returns the sign and length of a standalone operator (one with
// whitespace or the end of the input after it) starting at i, or 0, 0.
func (p *parser) opAt(i int) (float32, int) {
	s, n := opRune(p.in, i)
	if n == 0 || !p.boundaryAt(i+n) {
		return 0, 0
	}
	return s, n
}

// isOpAt reports whether a standalone operator starts at i (a token start).
func (p *parser) isOpAt(i int) bool {
	_, n := p.opAt(i)
	return n > 0
}

// gluedOp returns an error when the word at i starts with an operator
// character glued to more text ("-dog"): such a word is neither an operator
// nor plain text that the user is likely to mean, so it is refused rather
// than read either way.
func (p *parser) gluedOp(i int) error {
	_, n := opRune(p.in, i)
	if n == 0 || p.boundaryAt(i+n) {
		return nil
	}
	end := p.tokenEnd(i)
	op, rest := p.in[i:i+n], p.in[i+n:end]
	return p.errf(i, end-i, "operator '%s' glued to %q: put spaces around it to use it as an operator (\"%s %s\"), or quote the words to search for them as text", op, rest, op, rest)
}

// tokenEnd returns the end of the whitespace-delimited token starting at i.
func (p *parser) tokenEnd(i int) int {
	for i < len(p.in) && p.spaceAt(i) == 0 {
		_, size := utf8.DecodeRuneInString(p.in[i:])
		i += size
	}
	return i
}

// nextToken returns the start of the token after the one ending at end, or
// -1 when there is none or it is an operator.
func (p *parser) nextToken(end int) int {
	for end < len(p.in) {
		n := p.spaceAt(end)
		if n == 0 {
			break
		}
		end += n
	}
	if end >= len(p.in) || p.isOpAt(end) {
		return -1
	}
	return end
}

// runEnd returns the end of the run of words starting at i: up to the last
// word before the next operator or the end of the input. When stop is not
// nil, the run also ends before a word for which stop is true.
func (p *parser) runEnd(i int, stop func(word string) bool) int {
	end := p.tokenEnd(i)
	for {
		next := p.nextToken(end)
		if next < 0 {
			return end
		}
		e := p.tokenEnd(next)
		if stop != nil && stop(p.in[next:e]) {
			return end
		}
		end = e
	}
}

// scanNumber returns the end of an unsigned decimal number (2, 0.5, .5, 2.)
// starting at i in s, or i when there is none.
func scanNumber(s string, i int) int {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	digits := j > i
	if j < len(s) && s[j] == '.' {
		k := j + 1
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if digits || k > j+1 {
			return k
		}
	}
	if digits {
		return j
	}
	return i
}

// parseWeight checks a weight's text; pos is where it starts in the input.
func (p *parser) parseWeight(text string, pos int) (float32, error) {
	f, err := strconv.ParseFloat(text, 32)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, p.errf(pos, len(text), "bad weight %q: too large", text)
	}
	if f == 0 {
		return 0, p.errf(pos, len(text), "bad weight %q: a weight must be greater than zero", text)
	}
	return float32(f), nil
}

var pathPrefixes = []string{"./", "../", "/", "~/"}

// looksLikePath reports whether a quoted string names a file: it starts
// with one of pathPrefixes.
func looksLikePath(s string) bool { return hasAnyPrefix(s, pathPrefixes) }

// hasFilePrefix reports whether s starts with the explicit "file:" prefix
// (any case) that is not a file:// URL.
func hasFilePrefix(s string) bool {
	return hasPrefixFold(s, "file:") && !hasPrefixFold(s, "file://")
}

// imageExts are the file name endings that make a bare word look like a
// file name ("cat.jpg"), which is refused as text.
var imageExts = []string{".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".avif",
	".tif", ".tiff", ".bmp", ".pgm", ".pnm", ".ppm"}

// imageFileName reports whether word ends in an image file extension after
// at least one other character.
func imageFileName(word string) bool {
	for _, ext := range imageExts {
		if len(word) > len(ext) && hasPrefixFold(word[len(word)-len(ext):], ext) {
			return true
		}
	}
	return false
}

// suspicious reports whether a word inside a text term looks like the start
// of another atom, which means an operator was forgotten.
func suspicious(word string) bool {
	if n := scanNumber(word, 0); n > 0 && n < len(word) && word[n] == ':' {
		word = word[n+1:]
	}
	if strings.HasPrefix(word, `"`) || strings.HasPrefix(word, `@"`) {
		return true
	}
	if strings.HasPrefix(word, "'") && (looksLikePath(word[1:]) || hasFilePrefix(word[1:])) {
		return true
	}
	if len(word) > 1 && word[0] == '@' && word[1] >= '0' && word[1] <= '9' {
		return true
	}
	if hasPrefixFold(word, uploadWord) {
		return true
	}
	for _, pre := range []string{"./", "../", "~/"} {
		if strings.HasPrefix(word, pre) {
			return true
		}
	}
	for _, pre := range []string{"file:", "http://", "https://"} {
		if hasPrefixFold(word, pre) && len(word) > len(pre) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// term parses one term starting at p.i and leaves p.i after it.
func (p *parser) term() (Term, error) {
	start := p.i
	t := Term{Weight: 1, Pos: start}
	j := start
	hasWeight := false
	if n := scanNumber(p.in, j); n > j && n < len(p.in) && p.in[n] == ':' {
		w, err := p.parseWeight(p.in[j:n], j)
		if err != nil {
			return t, err
		}
		if p.boundaryAt(n + 1) {
			return t, p.errf(start, n+1-start, "bad weight %q: nothing after it (write the weight and its atom together, as in 2:dog)", p.in[start:n+1])
		}
		t.Weight, hasWeight, j = w, true, n+1
	} else if c := p.in[j]; c == '+' || c == '-' {
		if n := scanNumber(p.in, j+1); n > j+1 && n < len(p.in) && p.in[n] == ':' {
			return t, p.errf(j, n+1-j, "bad weight %q: a weight has no sign; the sign comes from a separate '+' or '-' operator", p.in[j:n+1])
		}
	}
	if err := p.gluedOp(j); err != nil {
		return t, err
	}

	var end int
	var err error
	switch {
	case p.in[j] == '"':
		end, err = p.quotedText(&t, j, hasWeight)
	case p.in[j] == '\'':
		end, err = p.singleQuoted(&t, j, hasWeight)
	case hasPrefixFold(p.in[j:], uploadWord):
		end, err = p.upload(&t, j, j+1)
	case p.uploads && p.in[j] == '@' && isUploadName(p.in[j+1:p.tokenEnd(j)]):
		end, err = p.upload(&t, j, j+1)
	case p.in[j] == '@':
		end, err = p.item(&t, j)
	case hasPrefixFold(p.in[j:], "http://") || hasPrefixFold(p.in[j:], "https://"):
		end, err = p.webURL(&t, j)
	case hasPrefixFold(p.in[j:], "file://"):
		end, err = p.fileURL(&t, j)
	case hasFilePrefix(p.in[j:]):
		end, err = p.filePrefix(&t, j)
	case hasAnyPrefix(p.in[j:], pathPrefixes):
		end, err = p.path(&t, j)
	default:
		end, err = p.bareText(&t, j)
	}
	if err != nil {
		return t, err
	}
	t.Len = end - start
	p.i = end
	return t, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(s, pre) {
			return true
		}
	}
	return false
}

const msgUnterminated = "unterminated quote"

// quoted reads a quoted string whose opening quote (" or ') is at i and
// returns its unescaped contents and the offset after the closing quote.
// A double-quoted string ends at the first unescaped '"', which must be
// followed by whitespace or the end of the input. A single-quoted string
// ends at the first unescaped '\” so followed, so that apostrophes inside
// words ('dog's toy') need no escape.
func (p *parser) quoted(i int) (string, int, error) {
	q := p.in[i]
	var b strings.Builder
	for j := i + 1; j < len(p.in); j++ {
		switch c := p.in[j]; c {
		case q:
			if !p.boundaryAt(j + 1) {
				if q == '\'' {
					b.WriteByte(c)
					continue
				}
				e := p.tokenEnd(j + 1)
				return "", 0, p.errf(j+1, e-j-1, "unexpected %q after closing quote (put a space and an operator between terms)", p.in[j+1:e])
			}
			return b.String(), j + 1, nil
		case '\\':
			if j+1 < len(p.in) && (p.in[j+1] == q || p.in[j+1] == '\\') {
				j++
				b.WriteByte(p.in[j])
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, p.errf(i, 1, msgUnterminated)
}

func (p *parser) quotedText(t *Term, i int, hasWeight bool) (int, error) {
	text, end, err := p.quoted(i)
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(text) == "" {
		return 0, p.errf(i, end-i, "empty quotes")
	}
	if !hasWeight {
		if n := scanNumber(text, 0); n > 0 && n < len(text) && text[n] == ':' {
			w, err := p.parseWeight(text[:n], i+1)
			if err != nil {
				return 0, err
			}
			rest := strings.TrimSpace(text[n+1:])
			if rest == "" {
				return 0, p.errf(i+1, n+1, "bad weight %q: nothing after it", text[:n+1])
			}
			t.Weight, text = w, rest
		}
	}
	t.Quoted = true
	if looksLikePath(text) {
		if err := p.setPath(t, text, i+1); err != nil {
			return 0, err
		}
		return end, nil
	}
	if !utf8.ValidString(text) {
		return 0, p.errf(i, end-i, "text is not valid UTF-8")
	}
	t.Kind, t.Value = Text, text
	return end, nil
}

// singleQuoted reads a term starting with '\”. A closed single-quoted
// string is read like a double-quoted one. An unclosed one is an error when
// it starts like a path ('./a b.jpg) and the start of bare text otherwise
// ('90s fashion).
func (p *parser) singleQuoted(t *Term, i int, hasWeight bool) (int, error) {
	end, err := p.quotedText(t, i, hasWeight)
	if err == nil {
		return end, nil
	}
	var se *SyntaxError
	if errors.As(err, &se) && se.Msg == msgUnterminated && !looksLikePath(p.in[i+1:]) && !hasFilePrefix(p.in[i+1:]) {
		*t = Term{Weight: t.Weight, Pos: t.Pos}
		return p.bareText(t, i)
	}
	return 0, err
}

// setPath makes t a path term for v, whose first byte is at pos in the
// input: "~/" is expanded and NUL bytes are refused.
func (p *parser) setPath(t *Term, v string, pos int) error {
	if k := strings.IndexByte(v, 0); k >= 0 {
		return p.errf(pos, 1, "path contains a NUL byte")
	}
	if strings.HasPrefix(v, "~/") {
		if p.home == "" {
			return p.errf(pos, 1, "cannot expand '~': no home directory is known")
		}
		v = strings.TrimRight(p.home, "/") + v[1:]
	}
	t.Kind, t.Value = Path, v
	return nil
}

// filePrefix reads "file:" followed by a quoted or bare path, which may be
// relative without "./" (file:cat.jpg). A bare path runs to the next
// operator, like other paths.
func (p *parser) filePrefix(t *Term, at int) (int, error) {
	i := at + len("file:")
	if p.boundaryAt(i) {
		return 0, p.errf(at, i-at, "'file:' must be followed by a path, as in file:cat.jpg or file:'a b.jpg'")
	}
	var v string
	var end int
	if c := p.in[i]; c == '"' || c == '\'' {
		var err error
		if v, end, err = p.quoted(i); err != nil {
			return 0, err
		}
		t.Quoted = true
	} else {
		end = p.runEnd(i, nil)
		v = p.in[i:end]
	}
	if v == "" {
		return 0, p.errf(at, end-at, "empty path after 'file:'")
	}
	if k := strings.IndexByte(v, 0); k >= 0 {
		return 0, p.errf(at, end-at, "path contains a NUL byte")
	}
	if err := p.setPath(t, v, at); err != nil {
		return 0, err
	}
	return end, nil
}

func (p *parser) item(t *Term, at int) (int, error) {
	i := at + 1
	if p.boundaryAt(i) {
		return 0, p.errf(at, 1, "'@' must be followed by an item id or a path in the library")
	}
	t.Kind = Item
	if p.in[i] == '"' {
		v, end, err := p.quoted(i)
		if err != nil {
			return 0, err
		}
		if v == "" {
			return 0, p.errf(at, end-at, "empty item path")
		}
		if k := strings.IndexByte(v, 0); k >= 0 {
			return 0, p.errf(at, end-at, "item path contains a NUL byte")
		}
		t.Value, t.Quoted = v, true
		return end, nil
	}
	end := p.runEnd(i, nil)
	v := p.in[i:end]
	if scanDigits(v) == len(v) {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, p.errf(at, end-at, "item id %s is too large", v)
		}
		if id <= 0 {
			return 0, p.errf(at, end-at, "item id must be positive, not %s", v)
		}
		t.ItemID = id
		return end, nil
	}
	if k := strings.IndexByte(v, 0); k >= 0 {
		return 0, p.errf(i+k, 1, "item path contains a NUL byte")
	}
	t.Value = v
	return end, nil
}

// uploadWord starts a reference to an uploaded image: "$upload", "$upload2".
const uploadWord = "$upload"

// upload reads "$upload", "$uploadN", "@upload" or "@uploadN" starting at
// at; name is where the word "upload" starts. The token must end after the
// number.
func (p *parser) upload(t *Term, at, name int) (int, error) {
	end := p.tokenEnd(at)
	num := p.in[name+len(uploadWord)-1 : end]
	word := p.in[at:end]
	if scanDigits(num) != len(num) {
		return 0, p.errf(at, end-at, "%q is not an upload: write %supload or %suploadN (N = 1 to %d) for an uploaded image, or quote it to search for the text", word, word[:1], word[:1], MaxUploads)
	}
	n := 1
	if num != "" {
		v, err := strconv.Atoi(num)
		if err != nil || v < 1 || v > MaxUploads {
			return 0, p.errf(at, end-at, "upload number %s is out of range: uploads are numbered 1 to %d", num, MaxUploads)
		}
		n = v
	}
	t.Kind, t.Upload = Upload, n
	return end, nil
}

// isUploadName reports whether s is "upload" followed by digits only.
func isUploadName(s string) bool {
	const w = "upload"
	return hasPrefixFold(s, w) && scanDigits(s[len(w):]) == len(s)-len(w)
}

func scanDigits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func (p *parser) webURL(t *Term, i int) (int, error) {
	end := p.tokenEnd(i)
	raw := p.in[i:end]
	if !utf8.ValidString(raw) {
		return 0, p.errf(i, end-i, "URL is not valid UTF-8")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return 0, p.errf(i, end-i, "bad URL: %v", unwrapURLError(err))
	}
	if u.Host == "" {
		return 0, p.errf(i, end-i, "bad URL %q: no host", raw)
	}
	t.Kind, t.Value = URL, raw
	return end, nil
}

func (p *parser) fileURL(t *Term, i int) (int, error) {
	end := p.tokenEnd(i)
	raw := p.in[i:end]
	u, err := url.Parse(raw)
	if err != nil {
		return 0, p.errf(i, end-i, "bad file URL: %v", unwrapURLError(err))
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return 0, p.errf(i, end-i, "file URL names host %q; only local files are supported", u.Host)
	}
	if u.Path == "" {
		return 0, p.errf(i, end-i, "file URL %q has no path", raw)
	}
	if strings.IndexByte(u.Path, 0) >= 0 {
		return 0, p.errf(i, end-i, "path contains a NUL byte")
	}
	t.Kind, t.Value = Path, u.Path
	return end, nil
}

// unwrapURLError drops net/url's repetition of the whole URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func (p *parser) path(t *Term, i int) (int, error) {
	end := p.runEnd(i, nil)
	v := p.in[i:end]
	if k := strings.IndexByte(v, 0); k >= 0 {
		return 0, p.errf(i+k, 1, "path contains a NUL byte")
	}
	if err := p.setPath(t, v, i); err != nil {
		return 0, err
	}
	return end, nil
}

// bareText reads unquoted words up to the next operator. A word with an
// operator glued to its front ("-dog") or one that reads as an image file
// name ("cat.jpg") is refused: the user almost certainly meant an operator
// or a file, and silently searching for the text would hide that.
func (p *parser) bareText(t *Term, i int) (int, error) {
	end := p.runEnd(i, suspicious)
	for w := i; w < end; {
		e := p.tokenEnd(w)
		if err := p.gluedOp(w); err != nil {
			return 0, err
		}
		if word := p.in[w:e]; imageFileName(word) {
			return 0, p.errf(w, e-w, "%q looks like a file name: write ./%s or file:%s for the image, or quote it (\"%s\") to search for the text", word, word, word, word)
		}
		w = e
		for w < end && p.spaceAt(w) > 0 {
			w += p.spaceAt(w)
		}
	}
	text := strings.Join(strings.FieldsFunc(p.in[i:end], unicode.IsSpace), " ")
	if !utf8.ValidString(text) {
		return 0, p.errf(i, end-i, "text is not valid UTF-8")
	}
	t.Kind, t.Value = Text, text
	return end, nil
}
