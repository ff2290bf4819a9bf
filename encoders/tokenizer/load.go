package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mmsearch/internal/regfile"
)

const (
	// clipMerges is the number of merges OpenAI CLIP uses from its file:
	// lines [1, 49152-256-2+1), giving a 49408-token vocabulary.
	clipMerges = 49152 - 256 - 2
	// maxFileSize bounds what a loader reads (after decompression); CLIP's
	// files are a few MB.
	maxFileSize = 256 << 20
)

// Names of the tokenizer files Load looks for in a folder, in order.
const (
	TokenizerJSONName = "tokenizer.json"
	VocabJSONName     = "vocab.json"
	MergesTxtName     = "merges.txt"
	CLIPGzipName      = "bpe_simple_vocab_16e6.txt.gz"
)

// Load loads a tokenizer from a file or a model folder. A folder is
// searched for tokenizer.json, then vocab.json with merges.txt, then
// bpe_simple_vocab_16e6.txt.gz. A file is read by its name: "*.gz" as
// CLIP's merges, "vocab.json" or "merges.txt" together with the other file
// of the pair in the same folder, any other "*.json" as tokenizer.json.
func Load(path string) (*Tokenizer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if fi.IsDir() {
		dir := path
		switch {
		case exists(filepath.Join(dir, TokenizerJSONName)):
			return LoadTokenizerJSON(filepath.Join(dir, TokenizerJSONName))
		case exists(filepath.Join(dir, VocabJSONName)) && exists(filepath.Join(dir, MergesTxtName)):
			return LoadVocabMerges(filepath.Join(dir, VocabJSONName), filepath.Join(dir, MergesTxtName))
		case exists(filepath.Join(dir, CLIPGzipName)):
			return LoadCLIPGzip(filepath.Join(dir, CLIPGzipName))
		}
		return nil, fmt.Errorf("tokenizer: %s: %w: looked for %s, %s + %s, %s", dir, ErrNoTokenizerFiles,
			TokenizerJSONName, VocabJSONName, MergesTxtName, CLIPGzipName)
	}
	dir, base := filepath.Split(path)
	switch {
	case strings.HasSuffix(base, ".gz"):
		return LoadCLIPGzip(path)
	case base == VocabJSONName:
		return LoadVocabMerges(path, filepath.Join(dir, MergesTxtName))
	case base == MergesTxtName:
		return LoadVocabMerges(filepath.Join(dir, VocabJSONName), path)
	case strings.HasSuffix(base, ".json"):
		return LoadTokenizerJSON(path)
	}
	return nil, fmt.Errorf("tokenizer: %s: %w: cannot tell the format from the name (want *.gz, *.json or merges.txt)", path, ErrNoTokenizerFiles)
}

func exists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// readFile reads a whole file of at most maxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, _, err := regfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	data, err := readLimited(f)
	if err != nil {
		return nil, withPath(err, path)
	}
	return data, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, formatErr(ErrTooLarge, 0, nil, "more than %d bytes", maxFileSize)
	}
	return data, nil
}

// LoadCLIPGzip loads OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz.
func LoadCLIPGzip(path string) (*Tokenizer, error) {
	f, _, err := regfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	t, err := ReadCLIPGzip(f)
	if err != nil {
		return nil, withPath(err, path)
	}
	return t, nil
}

// ReadCLIPGzip reads OpenAI CLIP's gzip-compressed merges file from r.
func ReadCLIPGzip(r io.Reader) (*Tokenizer, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		if errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, formatErr(ErrNotGzip, 0, err, "cannot read the gzip header")
		}
		return nil, fmt.Errorf("tokenizer: read gzip: %w", err)
	}
	defer zr.Close()
	data, err := readLimited(zr)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, formatErr(ErrNotGzip, 0, err, "corrupt compressed data")
	}
	return ReadCLIPMerges(bytes.NewReader(data))
}

// ReadCLIPMerges reads OpenAI CLIP's merges file, uncompressed, from r: a
// "#version" line, then one merge per line, of which CLIP uses the first
// 48894. The vocabulary is the 256 byte symbols, the same with "</w>", the
// merged symbols in order and the two special tokens: 49408 tokens, with
// <|startoftext|> = 49406 and <|endoftext|> = 49407.
func ReadCLIPMerges(r io.Reader) (*Tokenizer, error) {
	data, err := readLimited(r)
	if err != nil {
		return nil, err
	}
	return parseCLIPMerges(string(data), clipMerges)
}

// parseCLIPMerges builds CLIP's vocabulary from the first n merges of text.
func parseCLIPMerges(text string, n int) (*Tokenizer, error) {
	lines := strings.SplitN(text, "\n", n+2)
	if !strings.Contains(lines[0], "#version") {
		return nil, formatErr(ErrNoVersionHeader, 1, nil, "first line is %q", truncate(lines[0], 40))
	}
	if avail := len(lines) - 1; avail <= n {
		if lines[len(lines)-1] == "" { // the file's final newline
			avail--
		}
		if avail < n {
			return nil, formatErr(ErrTooFewMerges, 0, nil, "found %d merge lines, CLIP uses %d", avail, n)
		}
	}
	merges := make([][2]string, n)
	for i := range n {
		f := strings.Fields(lines[i+1])
		if len(f) != 2 {
			return nil, formatErr(ErrMergeSyntax, i+2, nil, "want two symbols separated by a space, got %q", truncate(lines[i+1], 40))
		}
		merges[i] = [2]string{f[0], f[1]}
	}
	tokens := make([]string, 0, 512+n+2)
	for _, b := range bytesToRunes.order {
		tokens = append(tokens, byteSymbol(b, false))
	}
	for _, b := range bytesToRunes.order {
		tokens = append(tokens, byteSymbol(b, true))
	}
	for _, mg := range merges {
		tokens = append(tokens, mg[0]+mg[1])
	}
	tokens = append(tokens, startToken, endToken)
	return newTokenizer(tokens, merges)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// LoadVocabMerges loads a Hugging Face vocab.json (token -> id) and
// merges.txt (an optional "#version" line, then "left right" per line).
func LoadVocabMerges(vocabPath, mergesPath string) (*Tokenizer, error) {
	vdata, err := readFile(vocabPath)
	if err != nil {
		return nil, err
	}
	mdata, err := readFile(mergesPath)
	if err != nil {
		return nil, err
	}
	vocab, err := parseVocab(vdata)
	if err != nil {
		return nil, withPath(err, vocabPath)
	}
	merges, err := parseMergesTxt(string(mdata))
	if err != nil {
		return nil, withPath(err, mergesPath)
	}
	t, err := New(vocab, merges)
	if err != nil {
		return nil, withPath(err, vocabPath)
	}
	return t, nil
}

// ReadVocabMerges reads a Hugging Face vocab.json and merges.txt from two
// readers.
func ReadVocabMerges(vocabJSON, mergesTxt io.Reader) (*Tokenizer, error) {
	vdata, err := readLimited(vocabJSON)
	if err != nil {
		return nil, err
	}
	mdata, err := readLimited(mergesTxt)
	if err != nil {
		return nil, err
	}
	vocab, err := parseVocab(vdata)
	if err != nil {
		return nil, err
	}
	merges, err := parseMergesTxt(string(mdata))
	if err != nil {
		return nil, err
	}
	return New(vocab, merges)
}

// parseMergesTxt parses merges.txt: lines starting with "#version" are
// skipped, every other line but trailing empty ones is "left right".
func parseMergesTxt(text string) ([][2]string, error) {
	lines := strings.Split(text, "\n")
	for len(lines) > 0 && strings.TrimRight(lines[len(lines)-1], "\r") == "" {
		lines = lines[:len(lines)-1]
	}
	merges := make([][2]string, 0, len(lines))
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "#version") {
			continue
		}
		mg, ok := splitMerge(line)
		if !ok {
			return nil, formatErr(ErrMergeSyntax, i+1, nil, "want two symbols separated by one space, got %q", truncate(line, 40))
		}
		merges = append(merges, mg)
	}
	return merges, nil
}

func splitMerge(s string) ([2]string, bool) {
	a, b, ok := strings.Cut(s, " ")
	if !ok || a == "" || b == "" || strings.Contains(b, " ") {
		return [2]string{}, false
	}
	return [2]string{a, b}, true
}

// parseVocab parses a JSON object of token -> integer id, refusing
// duplicate tokens.
func parseVocab(data []byte) (map[string]int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	jsonErr := func(err error) error {
		return formatErr(ErrBadJSON, lineOf(data, dec.InputOffset()), err, "vocabulary")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, formatErr(ErrBadJSON, lineOf(data, dec.InputOffset()), nil, "vocabulary is not a JSON object")
	}
	vocab := make(map[string]int)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		key := kt.(string) // object keys are always strings
		vt, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		num, ok := vt.(json.Number)
		if !ok {
			return nil, formatErr(ErrBadID, lineOf(data, dec.InputOffset()), nil, "token %q: id %v is not a number", key, vt)
		}
		id, err := strconv.Atoi(num.String())
		if err != nil {
			return nil, formatErr(ErrBadID, lineOf(data, dec.InputOffset()), nil, "token %q: id %s is not an integer", key, num)
		}
		if _, dup := vocab[key]; dup {
			return nil, formatErr(ErrDuplicateToken, lineOf(data, dec.InputOffset()), nil, "token %q appears twice", key)
		}
		vocab[key] = id
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, formatErr(ErrBadJSON, lineOf(data, dec.InputOffset()), err, "data after the vocabulary object")
	}
	return vocab, nil
}

// lineOf returns the 1-based line of byte offset off in data.
func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// tokenizerJSON is the part of a Hugging Face tokenizer.json this package
// reads.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID      *int    `json:"id"`
		Content *string `json:"content"`
	} `json:"added_tokens"`
	Model *struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		Dropout                 *float64        `json:"dropout"`
	} `json:"model"`
}

// LoadTokenizerJSON loads a Hugging Face tokenizers tokenizer.json whose
// model is CLIP-style BPE: type "BPE", end_of_word_suffix "</w>", merges as
// "left right" strings or ["left", "right"] pairs, and the special tokens
// in the vocabulary or in added_tokens. The file's normalizer,
// pre-tokenizer and post-processor are not read: text is always cleaned and
// split as the reference CLIP tokenizer does.
func LoadTokenizerJSON(path string) (*Tokenizer, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	t, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, withPath(err, path)
	}
	return t, nil
}

// ReadTokenizerJSON reads a Hugging Face tokenizer.json from r; see
// LoadTokenizerJSON.
func ReadTokenizerJSON(r io.Reader) (*Tokenizer, error) {
	data, err := readLimited(r)
	if err != nil {
		return nil, err
	}
	return parseTokenizerJSON(data)
}

func parseTokenizerJSON(data []byte) (*Tokenizer, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		line := 0
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line = lineOf(data, se.Offset)
		case errors.As(err, &te):
			line = lineOf(data, te.Offset)
		}
		return nil, formatErr(ErrBadJSON, line, err, "tokenizer.json")
	}
	m := tj.Model
	switch {
	case m == nil:
		return nil, formatErr(ErrBadJSON, 0, nil, "no \"model\" object")
	case m.Type != "" && m.Type != "BPE":
		return nil, formatErr(ErrUnsupportedModel, 0, nil, "model type %q, want \"BPE\"", m.Type)
	case m.Vocab == nil:
		return nil, formatErr(ErrBadJSON, 0, nil, "model has no \"vocab\"")
	case m.Merges == nil:
		return nil, formatErr(ErrBadJSON, 0, nil, "model has no \"merges\"")
	case m.EndOfWordSuffix == nil || *m.EndOfWordSuffix != endOfWord:
		got := "null"
		if m.EndOfWordSuffix != nil {
			got = strconv.Quote(*m.EndOfWordSuffix)
		}
		return nil, formatErr(ErrUnsupportedModel, 0, nil, "end_of_word_suffix is %s, want %q", got, endOfWord)
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, formatErr(ErrUnsupportedModel, 0, nil, "continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	case m.Dropout != nil && *m.Dropout != 0:
		return nil, formatErr(ErrUnsupportedModel, 0, nil, "BPE dropout %g is not supported", *m.Dropout)
	}
	vocab, err := parseVocab(m.Vocab)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Line = 0 // a line inside the raw sub-document would mislead
		}
		return nil, err
	}
	for i, at := range tj.AddedTokens {
		if at.ID == nil || at.Content == nil {
			return nil, formatErr(ErrBadJSON, 0, nil, "added token %d lacks \"id\" or \"content\"", i+1)
		}
		if id, ok := vocab[*at.Content]; ok {
			if id != *at.ID {
				return nil, formatErr(ErrDuplicateToken, 0, nil, "added token %q has id %d, the vocab gives it %d", *at.Content, *at.ID, id)
			}
			continue
		}
		vocab[*at.Content] = *at.ID
	}
	merges, err := parseMergesJSON(m.Merges)
	if err != nil {
		return nil, err
	}
	return New(vocab, merges)
}

// parseMergesJSON reads tokenizer.json's merges: a list of "left right"
// strings or of ["left", "right"] pairs (or a mix).
func parseMergesJSON(raw json.RawMessage) ([][2]string, error) {
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		merges := make([][2]string, len(strs))
		for i, s := range strs {
			mg, ok := splitMerge(s)
			if !ok {
				return nil, formatErr(ErrMergeSyntax, 0, nil, "merge %d is %q, want \"left right\"", i+1, truncate(s, 60))
			}
			merges[i] = mg
		}
		return merges, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		merges := make([][2]string, len(pairs))
		for i, p := range pairs {
			if len(p) != 2 || p[0] == "" || p[1] == "" {
				return nil, formatErr(ErrMergeSyntax, 0, nil, "merge %d is %q, want two non-empty symbols", i+1, p)
			}
			merges[i] = [2]string{p[0], p[1]}
		}
		return merges, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, formatErr(ErrBadJSON, 0, err, "\"merges\" is not a list")
	}
	merges := make([][2]string, len(items))
	for i, item := range items {
		mg, ok := parseMergeJSON(item)
		if !ok {
			return nil, formatErr(ErrMergeSyntax, 0, nil, "merge %d is %s, want \"left right\" or [\"left\", \"right\"]", i+1, truncate(string(item), 60))
		}
		merges[i] = mg
	}
	return merges, nil
}

// parseMergeJSON reads one merge of tokenizer.json: "left right" or
// ["left", "right"].
func parseMergeJSON(raw json.RawMessage) ([2]string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return splitMerge(s)
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 || pair[0] == "" || pair[1] == "" {
		return [2]string{}, false
	}
	return [2]string{pair[0], pair[1]}, true
}
