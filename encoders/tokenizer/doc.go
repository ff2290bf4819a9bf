// Package tokenizer implements the byte-level BPE tokenizer of OpenAI CLIP.
//
// It reproduces the ids of CLIP's reference SimpleTokenizer: the same text
// cleaning, the same pre-tokenization pattern, the GPT-2 byte-to-unicode
// mapping, BPE merges ranked by their position in the merges file with the
// "</w>" end-of-word marker on the last symbol of each word, and the
// <|startoftext|> / <|endoftext|> special tokens.
//
// Three vocabulary formats load into the same Tokenizer:
//
//   - OpenAI's original bpe_simple_vocab_16e6.txt.gz ([LoadCLIPGzip]);
//   - the Hugging Face pair vocab.json + merges.txt ([LoadVocabMerges]);
//   - a Hugging Face tokenizers tokenizer.json with a BPE model
//     ([LoadTokenizerJSON]).
//
// [Load] picks the right one for a file or a model folder.
//
// # Text cleaning
//
// The reference cleans text with ftfy.fix_text, then html.unescape twice,
// collapses whitespace, strips and lower-cases. ftfy is a Python library;
// this package implements the deterministic, table-driven parts of ftfy 6's
// default fix_text: HTML entities in text without '<', C1 control
// characters read as Windows-1252, Latin ligatures, full-width and
// half-width forms, curly quotes, line breaks, terminal escapes, control
// characters and NFC, repeated until nothing changes as ftfy does (at most
// 64 passes, so that deeply nested escapes such as "&amp;amp;amp;" cannot
// make cleaning quadratic). ftfy's mojibake repair (fix_encoding), which
// relies on statistical heuristics, is not implemented: double-encoded
// UTF-8 such as "cafÃ©" is tokenized as written.
//
// Python's html.unescape, str.strip, str.lower (with its final-sigma rule
// and U+0130) and the regex module's \s and case-insensitive matching are
// reproduced exactly. Character properties come from Go's Unicode tables
// (Unicode 15), which may differ from the Python side's for characters
// added in later Unicode versions. Invalid UTF-8 is replaced by U+FFFD
// before cleaning.
//
// All loaders share this cleaning: the normalizer and pre-tokenizer of a
// tokenizer.json are not read, so Hugging Face files give OpenAI's ids.
//
// # Concurrency
//
// A Tokenizer is safe for concurrent use. Its word cache is sharded, locked
// and bounded ([Options.CacheSize]).
package tokenizer
