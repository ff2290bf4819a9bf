package tokenizer

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of malformed input. Every error returned for a malformed file is a
// [*FormatError] that matches [ErrMalformed] and exactly one of these with
// errors.Is.
var (
	// ErrMalformed matches every [*FormatError].
	ErrMalformed = errors.New("malformed tokenizer file")
	// ErrNotGzip: a file expected to be gzip-compressed is not.
	ErrNotGzip = errors.New("not gzip data")
	// ErrTooLarge: a file exceeds the size this package is willing to read.
	ErrTooLarge = errors.New("file too large")
	// ErrNoVersionHeader: CLIP's merges file lacks its "#version" first line.
	ErrNoVersionHeader = errors.New("missing #version header")
	// ErrTooFewMerges: CLIP's merges file holds fewer merges than CLIP uses.
	ErrTooFewMerges = errors.New("too few merges")
	// ErrMergeSyntax: a merge is not exactly two non-empty symbols.
	ErrMergeSyntax = errors.New("bad merge")
	// ErrUnknownToken: a token the tokenizer needs is not in the vocabulary
	// (a merge's part or result, a byte symbol, a special token).
	ErrUnknownToken = errors.New("token not in vocabulary")
	// ErrDuplicateToken: the same token appears twice, or two tokens share an id.
	ErrDuplicateToken = errors.New("duplicate token")
	// ErrBadID: an id that is not an integer in [0, vocabulary size).
	ErrBadID = errors.New("bad token id")
	// ErrBadJSON: a JSON file that does not parse or has the wrong shape.
	ErrBadJSON = errors.New("bad JSON")
	// ErrUnsupportedModel: a tokenizer.json whose model is not CLIP-style
	// byte-level BPE (another model type, a different end-of-word suffix,
	// a continuing-subword prefix, dropout).
	ErrUnsupportedModel = errors.New("unsupported tokenizer model")
	// ErrNoTokenizerFiles: Load found no tokenizer file in a folder.
	ErrNoTokenizerFiles = errors.New("no tokenizer files")
)

// FormatError describes a malformed tokenizer file.
type FormatError struct {
	// Path is the file the problem was found in; empty when read from an
	// io.Reader.
	Path string
	// Line is the 1-based line of a line-oriented file, 0 when not known.
	Line int
	// Kind is one of the Err* variables of this package.
	Kind error
	// Detail says what exactly is wrong.
	Detail string
	// Err is an underlying cause (a gzip or JSON error), or nil.
	Err error
}

// Error implements error.
func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("tokenizer: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the error's kind, [ErrMalformed] and the underlying cause,
// so that errors.Is matches any of them.
func (e *FormatError) Unwrap() []error {
	errs := []error{e.Kind, ErrMalformed}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// formatErr builds a *FormatError without a path; loaders reading a named
// file fill the path in with withPath.
func formatErr(kind error, line int, cause error, format string, args ...any) *FormatError {
	return &FormatError{Kind: kind, Line: line, Detail: fmt.Sprintf(format, args...), Err: cause}
}

// withPath sets the path of err when it is a *FormatError without one.
func withPath(err error, path string) error {
	var fe *FormatError
	if errors.As(err, &fe) && fe.Path == "" {
		fe.Path = path
	}
	return err
}
