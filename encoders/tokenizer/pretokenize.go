package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// pieceKind says what a pre-token is.
type pieceKind uint8

const (
	pieceWord  pieceKind = iota // text to run through BPE
	pieceStart                  // the literal <|startoftext|>
	pieceEnd                    // the literal <|endoftext|>
)

// ypogegrammeni is U+0345, which the case-insensitive pattern skips.
const ypogegrammeni = 0x345

// contractions are the reference pattern's alternatives after the special
// tokens, in its order.
var contractions = [...]string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// nextPiece finds the first pre-token of s at or after byte offset i. It
// matches what the reference finds with
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// compiled case-insensitively, on text that is already cleaned and
// lower-cased. Case-insensitivity matters for two things: 's' in a literal
// also matches U+017F (long s), and U+0345 (combining ypogegrammeni), whose
// case variants are letters, matches none of the alternatives and is
// skipped like whitespace.
func nextPiece(s string, i int) (start, end int, kind pieceKind, ok bool) {
	for i < len(s) {
		r, size := decodeAt(s, i)
		switch r {
		case '<':
			for _, sp := range [...]struct {
				lit  string
				kind pieceKind
			}{{startToken, pieceStart}, {endToken, pieceEnd}} {
				if n := matchFold(s[i:], sp.lit); n > 0 {
					if s[i:i+n] == sp.lit {
						return i, i + n, sp.kind, true
					}
					return i, i + n, pieceWord, true // a case variant is ordinary text
				}
			}
		case '\'':
			for _, c := range contractions {
				if n := matchFold(s[i:], c); n > 0 {
					return i, i + n, pieceWord, true
				}
			}
		}
		switch {
		case isLetter(r):
			j := i + size
			for j < len(s) {
				r2, size2 := decodeAt(s, j)
				if !isLetter(r2) {
					break
				}
				j += size2
			}
			return i, j, pieceWord, true
		case isNumber(r):
			return i, i + size, pieceWord, true
		case unicode.IsSpace(r), r == ypogegrammeni:
			i += size
		default:
			j := i + size
			for j < len(s) {
				r2, size2 := decodeAt(s, j)
				if isLetter(r2) || isNumber(r2) || unicode.IsSpace(r2) || r2 == ypogegrammeni {
					break
				}
				j += size2
			}
			return i, j, pieceWord, true
		}
	}
	return 0, 0, pieceWord, false
}

func decodeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return (r|0x20) >= 'a' && (r|0x20) <= 'z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

// matchFold returns the length in bytes of the case-insensitive match of
// the ASCII literal lit at the start of s, or 0. Case folding is Unicode
// simple folding, as in the reference's regex: besides the upper-case
// letter, 's' also matches U+017F (long s) and 'k' U+212A (Kelvin sign).
func matchFold(s, lit string) int {
	j := 0
	for k := 0; k < len(lit); k++ {
		if j >= len(s) {
			return 0
		}
		c := rune(lit[k])
		r, size := decodeAt(s, j)
		if !foldEq(r, c) {
			return 0
		}
		j += size
	}
	return j
}

func foldEq(r, c rune) bool {
	if r == c {
		return true
	}
	if c >= 'a' && c <= 'z' {
		switch {
		case r == c-'a'+'A':
			return true
		case c == 's' && r == 0x17F, c == 'k' && r == 0x212A:
			return true
		}
	}
	return false
}
