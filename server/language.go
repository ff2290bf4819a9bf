package server

import (
	"fmt"
	"unicode"

	"mmsearch/engine"
)

// Non-English text and English-only models.
//
// A model whose manifest lists English alone (text.languages ["en"]) knows
// next to nothing of other languages, and a query in them quietly returns
// poor matches. Telling languages apart properly needs a language model;
// this check is deliberately cheap and only catches other scripts: the
// letters of all text terms are counted together, and when more than half
// of them are not the ASCII letters A–Z and a–z (Chinese, Japanese, Korean,
// Cyrillic, Greek, Arabic, Hebrew, Thai, Devanagari, ...) the answer carries
// a notice. Digits, punctuation and spaces do not count. An English word
// with an accent ("café", "naïve") stays well under half; German, French or
// Spanish written in Latin letters pass unnoticed.

// looksNonEnglish reports whether more than half of the letters in s are
// letters other than ASCII A–Z and a–z; text without letters does not.
func looksNonEnglish(s string) bool {
	letters, other := 0, 0
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		letters++
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			other++
		}
	}
	return 2*other > letters
}

// languageNotice returns a notice for the answer when the model is
// English-only (langs is exactly ["en"]) and the query's text terms look
// non-English by looksNonEnglish; "" otherwise.
func languageNotice(langs []string, terms []engine.TermInfo) string {
	if len(langs) != 1 || langs[0] != "en" {
		return ""
	}
	text := ""
	for _, t := range terms {
		if t.Kind == "text" {
			text += t.Value + " "
		}
	}
	if !looksNonEnglish(text) {
		return ""
	}
	return fmt.Sprintf("This library's model understands English only: text in another script (%q) will match poorly. Try the English words.", truncateRunes(text[:len(text)-1], 40))
}

// truncateRunes cuts s to at most n characters, marking a cut with "…".
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
