package encoders

import (
	"fmt"
	"path/filepath"

	"mmsearch/encoders/tokenizer"
)

// modelTokenizer is a model's tokenizer framed by its text tower settings.
type modelTokenizer struct {
	tok *tokenizer.Tokenizer
	ctx int
}

// loadModelTokenizer loads the tokenizer files a text tower names and sets
// the tower's context length and start, end and pad ids.
func loadModelTokenizer(dir string, t TextTower) (*modelTokenizer, error) {
	spec := t.Tokenizer
	var tok *tokenizer.Tokenizer
	var err error
	switch {
	case spec.Vocab != "":
		tok, err = tokenizer.LoadVocabMerges(filepath.Join(dir, spec.Vocab), filepath.Join(dir, spec.Merges))
	case spec.TokenizerJSON != "":
		tok, err = tokenizer.LoadTokenizerJSON(filepath.Join(dir, spec.TokenizerJSON))
	case spec.BPE != "":
		tok, err = tokenizer.LoadCLIPGzip(filepath.Join(dir, spec.BPE))
	default:
		return nil, fmt.Errorf("%w: no tokenizer files", ErrManifest)
	}
	if err != nil {
		return nil, err
	}
	opts := tok.Options()
	opts.ContextLength = t.ContextLength
	opts.StartID, opts.EndID, opts.PadID = int(t.StartID), int(t.EndID), int(t.PadID)
	if tok, err = tok.WithOptions(opts); err != nil {
		return nil, fmt.Errorf("tokenizer does not fit the manifest: %w", err)
	}
	return &modelTokenizer{tok: tok, ctx: t.ContextLength}, nil
}

// batch tokenizes texts into rows of the context length.
func (m *modelTokenizer) batch(texts []string) (ids, mask [][]int64) {
	ids, mask, err := m.tok.EncodeBatch(texts, m.ctx)
	if err != nil {
		// The context length was validated when the tokenizer was loaded.
		panic(fmt.Sprintf("encoders: tokenizer context length: %v", err))
	}
	return ids, mask
}
