// Package query parses the mmsearch query language, a superset of rclip's.
//
// Grammar:
//
//	expr  := [ op ] term { op term }
//	op    := '+' | '-' | '−' | '–' | '—' | '－' | '＋'   (a token of its own)
//	term  := [ weight ':' ] atom
//	atom  := "quoted text" | 'quoted text' | bare words
//	       | ./path | ../path | ~/path | /abs/path | "./quoted path" | './quoted path'
//	       | file:path | file:"path" | file:'path' | file://url | http(s)://url | @ITEM
//	       | $upload | $uploadN | @upload | @uploadN
//
// Rules, in the order they matter:
//
//   - Operators are tokens of their own: an operator character with
//     whitespace (or the start or end of the query) on both sides. Besides
//     '+' and '-', U+2212 '−' (minus sign), U+2013 '–' (en dash), U+2014 '—'
//     (em dash) and the full-width U+FF0D '－' subtract and U+FF0B '＋' adds.
//     "t-shirt" and "a+b" are words.
//   - An operator glued to the front of a word ("cat -dog", "-2", "a -- b")
//     is an error pointing at the word: it is refused rather than guessed,
//     since "cat -dog" silently read as the text "cat -dog" hides a mistake.
//     Spaces make it an operator ("cat - dog"), quotes make it text
//     ("\"cat -dog\"").
//   - A leading operator is allowed: "- dog + cat" makes the first term
//     negative; "+ dog" is the same as "dog". A query may consist of negative
//     terms only; whether that is useful is for the caller to decide.
//   - Bare words run until the next operator, so "golden retriever + cat" has
//     two terms. Runs of whitespace between words of a text term become one
//     space.
//   - A weight is a prefix "W:" where W is an unsigned decimal number
//     (2, 0.5, .5, 2.). Anything else before a colon is text: "re:zero" is
//     the text "re:zero". The sign of a term comes from its operator, never from
//     its weight, so "-2:dog" is refused. A weight must be positive and finite
//     and must be followed directly by its atom: "2:" or "2: dog" is an error.
//   - Quoted strings use double or single quotes. Inside double quotes \"
//     stands for a quote and \\ for a backslash; inside single quotes \' and
//     \\ do, and a single quote not followed by whitespace or the end is an
//     apostrophe ('dog's toy'). A single quote that is never closed starts
//     bare text ('90s fashion) unless what follows looks like a path. A
//     weight may be written inside the quotes as rclip does ("2:golden
//     retriever"); with a weight outside the quotes the inside is taken
//     literally, so 1:"2:00 pm" is the text "2:00 pm" with weight 1.
//   - A quoted string whose contents start with "./", "../", "/" or "~/" is a
//     path, spaces and all ('./camera roll/cat.jpg'); any other quoted
//     string is text. Whether the file exists is the caller's check, so a
//     quoted path that names nothing is an error there, never text.
//   - "file:" (any case, not followed by "//") makes the rest a path, also a
//     relative one without "./": file:cat.jpg, file:'a b.jpg'.
//   - A term whose first word starts with "./", "../", "/", "~/" or "file://"
//     is a path. Like rclip, a path runs to the next operator and keeps its
//     inner whitespace exactly, so "./my photo.jpg - dog" works. "~/" is
//     expanded with [Options.Home]. A path may hold any bytes but NUL.
//   - A bare word ending in an image file extension (cat.jpg, IMG_1.HEIC) is
//     an error, not text: write ./cat.jpg or file:cat.jpg for the file, or
//     "cat.jpg" in quotes for the text.
//   - A term starting with "http://" or "https://" is a URL; it must be one
//     word.
//   - "@123" names an indexed item by id; "@some/path" and "@\"a path\"" name
//     one by its path in the library. Like a path, an unquoted item path runs
//     to the next operator ("@12 dog" is the path "12 dog"). A quoted item is
//     always a path, so "@\"123\"" is the item whose path is "123".
//   - "$upload" and "$uploadN" (N = 1 to [MaxUploads]) stand for an image
//     uploaded with the query (the HTTP API's POST /api/search/image):
//     "$upload" is "$upload1", the first upload. With [Options.Uploads] set,
//     "@upload" and "@uploadN" mean the same; without it they name the item
//     whose path is "upload". The word must stand alone: "$uploads" is an
//     error, and so is "$upload0" or a number above [MaxUploads]. Whether the
//     upload was given is the caller's check.
//   - Inside a text term, a later word that starts with "./", "../", "~/",
//     "file:", "http://", "https://", "@" and a digit, a double quote or a
//     single quote and a path is refused with "missing operator": it almost
//     always means a forgotten '+' or '-'.
//   - Text and URLs must be valid UTF-8. A query is at most
//     [DefaultMaxBytes] long and has at most [DefaultMaxTerms] terms unless
//     [Options] says otherwise.
//
// Existence of files is not checked here; the caller does that and reports a
// failure at the term's position with [Term.Errorf].
package query

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Default limits used when [Options] leaves them zero.
const (
	DefaultMaxBytes = 4096
	DefaultMaxTerms = 64
)

// Kind says what a term's atom refers to.
type Kind int

// Kinds of atom.
const (
	// Text is a phrase for the text encoder.
	Text Kind = iota + 1
	// Path is an image file on disk (Value holds the path, "~/" expanded).
	Path
	// URL is an image to fetch over http or https.
	URL
	// Item is an already indexed item, by id (ItemID > 0) or by path (Value).
	Item
	// Upload is an image uploaded with the query, numbered from 1 in Upload.
	Upload
)

// MaxUploads is the highest upload number "$uploadN" may name.
const MaxUploads = 9

// String returns the lower-case name of the kind.
func (k Kind) String() string {
	switch k {
	case Text:
		return "text"
	case Path:
		return "path"
	case URL:
		return "url"
	case Item:
		return "item"
	case Upload:
		return "upload"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Term is one weighted, signed atom of a query.
type Term struct {
	// Sign is +1 or -1, from the operator before the term (+1 when none).
	Sign float32
	// Weight is the positive weight (1 when none was written).
	Weight float32
	// Kind says how Value is to be read.
	Kind Kind
	// Value is the text, the path ("~/" expanded), the URL, or the item's
	// path. It is empty for an item given by id.
	Value string
	// ItemID is the id of an item written as "@123"; 0 otherwise.
	ItemID int64
	// Upload is the number (1 to MaxUploads) of the uploaded image an
	// Upload term names: 1 for "$upload" and "$upload1"; 0 otherwise.
	Upload int
	// Quoted reports whether the atom was written in quotes (double or
	// single, a quoted path or file:"path" included).
	Quoted bool
	// Pos is the byte offset of the term in the input, weight included.
	Pos int
	// Len is the term's length in bytes: Input[Pos:Pos+Len] is its source.
	Len int
	// OpPos is the byte offset of the operator before the term, or -1.
	OpPos int

	input string
}

// Coef returns the signed weight, Sign*Weight.
func (t *Term) Coef() float32 { return t.Sign * t.Weight }

// Source returns the term as written in the input.
func (t *Term) Source() string {
	if t.Pos < 0 || t.Pos+t.Len > len(t.input) {
		return ""
	}
	return t.input[t.Pos : t.Pos+t.Len]
}

// Errorf returns a *SyntaxError positioned at the term, for failures the
// parser cannot see, such as a file that does not exist or is not an image.
func (t *Term) Errorf(format string, args ...any) error {
	return &SyntaxError{Pos: t.Pos, Len: t.Len, Msg: fmt.Sprintf(format, args...), Input: t.input}
}

// Span returns a *SyntaxError that covers every term of the query, for
// failures of the query as a whole (such as terms that cancel out); err is
// kept for errors.Is and msg is the message.
func (q *Query) Span(err error, msg string) error {
	pos, end := 0, len(q.Input)
	if n := len(q.Terms); n > 0 {
		first, last := &q.Terms[0], &q.Terms[n-1]
		pos, end = first.Pos, last.Pos+last.Len
		if first.OpPos >= 0 && first.OpPos < pos {
			pos = first.OpPos
		}
	}
	return &SyntaxError{Pos: pos, Len: end - pos, Msg: msg, Input: q.Input, Err: err}
}

// Query is a parsed query.
type Query struct {
	// Input is the text that was parsed.
	Input string
	// Terms are the terms in input order; there is at least one.
	Terms []Term
}

// String returns the query in canonical form: explicit operators between
// terms, texts quoted, weights other than 1 written out. Parsing the result
// with the same options gives the same terms (positions aside), provided no
// path contains a standalone "+" or "-" word.
func (q *Query) String() string {
	var b strings.Builder
	for i := range q.Terms {
		t := &q.Terms[i]
		writeOperator(&b, i, t.Sign, "- ", " - ")
		needOne := t.Kind == Text && hasWeightPrefix(t.Value)
		if t.Weight != 1 || needOne {
			b.WriteString(strconv.FormatFloat(float64(t.Weight), 'f', -1, 32))
			b.WriteByte(':')
		}
		switch t.Kind {
		case Text:
			writeQuoted(&b, t.Value)
		case Item:
			b.WriteByte('@')
			if t.ItemID > 0 {
				b.WriteString(strconv.FormatInt(t.ItemID, 10))
			} else {
				writeQuoted(&b, t.Value)
			}
		case URL:
			b.WriteString(t.Value)
		case Upload:
			b.WriteString("$upload")
			b.WriteString(strconv.Itoa(t.Upload))
		default:
			writePath(&b, t.Value)
		}
	}
	return b.String()
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// writePath writes a path bare when parsing it back gives the same path, and
// as a file:// URL otherwise (an absolute path with leading or trailing
// whitespace, or with a word that would read as an operator).
func writePath(b *strings.Builder, v string) {
	if hasAnyPrefix(v, []string{"./", "../", "/"}) {
		p := &parser{in: v}
		if p.runEnd(0, nil) == len(v) {
			b.WriteString(v)
			return
		}
	}
	if !strings.HasPrefix(v, "/") {
		// A relative path without "./" (file:cat.jpg) or one holding an
		// operator word ('./a - b.jpg').
		b.WriteString("file:")
		writeQuoted(b, v)
		return
	}
	u := url.URL{Scheme: "file", Path: v}
	b.WriteString(u.String())
}

// Describe returns how the query was read, one "COEF × KIND VALUE" per term
// joined by " + " and " − ", as in
//
//	1.0 × image ./a.jpg − 1.0 × text "cat"
//
// Paths are shown after "~/" expansion, texts and unusual paths quoted.
func (q *Query) Describe() string {
	var b strings.Builder
	for i := range q.Terms {
		t := &q.Terms[i]
		writeOperator(&b, i, t.Sign, "−", " − ")
		w := strconv.FormatFloat(float64(t.Weight), 'f', -1, 32)
		if !strings.ContainsAny(w, ".e") {
			w += ".0"
		}
		b.WriteString(w)
		b.WriteString(" × ")
		switch t.Kind {
		case Text:
			b.WriteString("text ")
			b.WriteString(strconv.Quote(t.Value))
		case Path, URL:
			b.WriteString("image ")
			b.WriteString(showPath(t.Value))
		case Item:
			b.WriteString("item @")
			if t.ItemID > 0 {
				b.WriteString(strconv.FormatInt(t.ItemID, 10))
			} else {
				b.WriteString(showPath(t.Value))
			}
		case Upload:
			b.WriteString("upload $upload")
			b.WriteString(strconv.Itoa(t.Upload))
		default:
			b.WriteString(t.Kind.String())
		}
	}
	return b.String()
}

// showPath shows a path bare when it is plain printable text without
// spaces or quotes, in single quotes when it only has spaces, and as a Go
// string literal otherwise (control characters, invalid UTF-8).
func showPath(v string) string {
	plain := utf8.ValidString(v) && strings.IndexFunc(v, func(r rune) bool {
		return !unicode.IsPrint(r) && r != ' '
	}) < 0 && !strings.ContainsAny(v, `'"\`)
	switch {
	case plain && !strings.Contains(v, " "):
		return v
	case plain:
		return "'" + v + "'"
	default:
		return strconv.Quote(v)
	}
}

// hasWeightPrefix reports whether s starts with something the parser would
// read as a weight.
func hasWeightPrefix(s string) bool {
	n := scanNumber(s, 0)
	return n > 0 && n < len(s) && s[n] == ':'
}

// Options tunes [Parse].
type Options struct {
	// Home is the directory "~/" expands to. When empty, a "~/" path is an
	// error. The parser never reads the process environment.
	Home string
	// MaxBytes limits the input length; 0 means DefaultMaxBytes.
	MaxBytes int
	// MaxTerms limits the number of terms; 0 means DefaultMaxTerms.
	MaxTerms int
	// Uploads makes "@upload" and "@uploadN" upload terms like "$upload"
	// (for callers that take uploads, where they are not item paths).
	Uploads bool
}

// SyntaxError is a parse error (or a term-level error made by
// [Term.Errorf]) with its position in the input.
type SyntaxError struct {
	// Pos is the 0-based byte offset the error points at.
	Pos int
	// Len is the length in bytes of the offending text (0 when it is a point).
	Len int
	// Msg says what is wrong.
	Msg string
	// Input is the whole query.
	Input string
	// Err, when set, is the error behind Msg (such as engine.ErrZeroQuery),
	// for errors.Is; it is not part of the message.
	Err error
}

// Unwrap returns Err.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Error returns "query: position N: MSG", N being the 0-based byte offset.
func (e *SyntaxError) Error() string {
	return "query: position " + strconv.Itoa(e.Pos) + ": " + e.Msg
}

// writeOperator writes what stands before term i with the given sign: lead
// for a negative first term, minus or " + " between terms.
func writeOperator(b *strings.Builder, i int, sign float32, lead, minus string) {
	switch {
	case i == 0 && sign < 0:
		b.WriteString(lead)
	case i > 0 && sign < 0:
		b.WriteString(minus)
	case i > 0:
		b.WriteString(" + ")
	}
}
