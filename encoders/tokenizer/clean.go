package tokenizer

import (
	"html"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// cleanText applies the reference's cleaning: ftfy.fix_text, html.unescape
// twice, strip, whitespace collapse, strip, lower-case.
func cleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = fixText(s)
	s = pyHTMLUnescape(pyHTMLUnescape(s))
	s = pyStrip(s)
	s = collapseSpace(s)
	s = pyStrip(s)
	return pyLower(s)
}

// isPySpace reports what Python's str.isspace reports: Unicode White_Space
// plus the information separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1C && r <= 0x1F)
}

// pyStrip is Python's str.strip().
func pyStrip(s string) string {
	return strings.TrimFunc(s, isPySpace)
}

// collapseSpace replaces every run of whitespace (the regex module's \s,
// which is Unicode White_Space) with one space.
func collapseSpace(s string) string {
	if !needsCollapse(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return b.String()
}

// needsCollapse reports whether s has whitespace other than single spaces.
func needsCollapse(s string) bool {
	prevSpace := false
	for _, r := range s {
		space := unicode.IsSpace(r)
		if space && (r != ' ' || prevSpace) {
			return true
		}
		prevSpace = space
	}
	return false
}

// pyLower is Python's str.lower(): the simple lower-case mapping, except
// U+0130 (which becomes "i" + U+0307) and capital sigma, which becomes
// final sigma at the end of a word.
func pyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range rs {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3A3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3C2)
			} else {
				b.WriteRune(0x3C3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at rs[i] is in the
// Final_Sigma context: a cased letter before it and none after it, skipping
// case-ignorable characters on both sides.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased is the Unicode Cased property.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable is the Unicode Case_Ignorable property: marks, format
// characters, modifiers and the word-break MidLetter, MidNumLet and
// Single_Quote characters.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// cp1252 maps the C1 range 0x80..0x9F as Windows-1252 does; the five
// undefined positions keep their code point (ftfy's "sloppy" codec and
// Python's html module agree on this).
var cp1252 = [32]rune{
	0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
	0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
}

// pyHTMLUnescape is Python's html.unescape.
func pyHTMLUnescape(s string) string {
	i := strings.IndexByte(s, '&')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		if s[i] != '&' {
			j := strings.IndexByte(s[i:], '&')
			if j < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		repl, n := unescapeAt(s[i:])
		b.WriteString(repl)
		i += n
	}
	return b.String()
}

// unescapeAt decodes the character reference at the start of s, which
// begins with '&', as html.unescape does. It returns the replacement and
// the number of bytes consumed; a lone '&' comes back as itself.
func unescapeAt(s string) (string, int) {
	if len(s) > 1 && s[1] == '#' {
		i := 2
		hex := false
		if i < len(s) && (s[i] == 'x' || s[i] == 'X') && i+1 < len(s) && isHexDigit(s[i+1]) {
			hex = true
			i++
		}
		start := i
		var num int64
		big := false
		for i < len(s) && (isDigit(s[i]) || (hex && isHexDigit(s[i]))) {
			if hex {
				num = num*16 + int64(hexValue(s[i]))
			} else {
				num = num*10 + int64(s[i]-'0')
			}
			if num > 0x10FFFF {
				big = true
				num = 0x110000
			}
			i++
		}
		if i == start {
			return "&", 1
		}
		if i < len(s) && s[i] == ';' {
			i++
		}
		if big {
			return "\uFFFD", i
		}
		return charRef(rune(num)), i
	}
	// A named reference: up to 32 characters other than \t \n \f space < & # ;
	// then an optional ';'.
	end, count := 1, 0
	for end < len(s) && count < 32 {
		r, size := utf8.DecodeRuneInString(s[end:])
		if strings.ContainsRune("\t\n\f <&#;", r) {
			break
		}
		end += size
		count++
	}
	if count == 0 {
		return "&", 1
	}
	if end < len(s) && s[end] == ';' {
		end++
	}
	return resolveNamed(s[1:end]), end
}

// charRef is the character a numeric reference stands for, following
// Python's html module: Windows-1252 for the C1 range, U+FFFD for 0,
// surrogates and out-of-range numbers, nothing for other invalid code points.
func charRef(n rune) string {
	switch {
	case n == 0:
		return "\uFFFD"
	case n == 0x0D:
		return "\r"
	case n >= 0x80 && n <= 0x9F:
		return string(cp1252[n-0x80])
	case n >= 0xD800 && n <= 0xDFFF, n > 0x10FFFF:
		return "\uFFFD"
	case n >= 0x1 && n <= 0x8, n == 0xB, n >= 0xE && n <= 0x1F, n == 0x7F,
		n >= 0xFDD0 && n <= 0xFDEF, n&0xFFFE == 0xFFFE:
		return ""
	}
	return string(n)
}

// resolveNamed resolves a named reference (without its '&') as Python does:
// the whole name if it is an HTML5 entity, else its longest prefix that is a
// legacy entity (written without ';'), else nothing.
func resolveNamed(name string) string {
	if isAlnumName(name) && isEntity(name) {
		return html.UnescapeString("&" + name)
	}
	alnum := 0
	for alnum < len(name) && isAlnum(name[alnum]) {
		alnum++
	}
	maxLen := min(alnum, utf8.RuneCountInString(name)-1, 6) // legacy entities are at most 6 letters
	for x := maxLen; x >= 2; x-- {
		if isEntity(name[:x]) {
			return html.UnescapeString("&"+name[:x]) + name[x:]
		}
	}
	return "&" + name
}

// isAlnumName reports whether name is ASCII letters and digits with an
// optional final ';' — the only shape an HTML5 entity name has.
func isAlnumName(name string) bool {
	name = strings.TrimSuffix(name, ";")
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isAlnum(name[i]) {
			return false
		}
	}
	return true
}

// isEntity reports whether name (ASCII letters and digits with an optional
// final ';') is, as a whole, a key of the HTML5 entity table. The standard
// library resolves a name that is not a key by its longest legacy prefix, so
// the name is a key exactly when resolving it differs from resolving it
// without its last character and appending that character.
func isEntity(name string) bool {
	if len(name) < 2 {
		return false
	}
	whole := html.UnescapeString("&" + name)
	shorter := html.UnescapeString("&"+name[:len(name)-1]) + name[len(name)-1:]
	return whole != shorter
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
func isAlnum(c byte) bool    { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') }

func hexValue(c byte) int {
	if isDigit(c) {
		return int(c - '0')
	}
	return int(c|0x20-'a') + 10
}

// fixText is the part of ftfy 6's fix_text this package implements (see the
// package documentation): the text is fixed line by line, HTML entities are
// decoded until a line with '<' is seen, and each line's fixes repeat until
// nothing changes.
func fixText(s string) string {
	if isPlainASCII(s) {
		return s
	}
	const maxSegment = 1_000_000 // ftfy's max_decode_length, in code points
	var b strings.Builder
	b.Grow(len(s))
	unescape := true
	for len(s) > 0 {
		end := strings.IndexByte(s, '\n') + 1
		if end == 0 {
			end = len(s)
		}
		if n := utf8.RuneCountInString(s[:end]); n > maxSegment {
			end = runeOffset(s, maxSegment)
		}
		seg := s[:end]
		s = s[end:]
		if unescape && strings.Contains(seg, "<") {
			unescape = false
		}
		b.WriteString(fixSegment(seg, unescape))
	}
	return b.String()
}

// isPlainASCII reports whether s holds only printable ASCII, tab, line
// feed, form feed and carriage return, and no '&': text that every ftfy
// fix leaves as it is.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r') || c >= 0x7F || c == '&' {
			return false
		}
	}
	return true
}

func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// maxFixPasses bounds fixSegment's loop. ftfy repeats until nothing
// changes; each pass decodes one level of nested HTML escaping
// ("&amp;amp;"), so unbounded repetition would make adversarial input
// quadratic. Real text needs a handful of passes.
const maxFixPasses = 64

// fixSegment applies ftfy's fixes, in ftfy's order, until a pass changes
// nothing (or maxFixPasses passes).
func fixSegment(s string, unescape bool) string {
	for range maxFixPasses {
		orig := s
		if unescape {
			s = ftfyUnescapeHTML(s)
		}
		s = mapRunes(s, fixC1)
		s = mapRunes(s, fixLigature)
		s = mapRunes(s, fixWidth)
		s = mapRunes(s, uncurlQuote)
		s = fixLineBreaks(s)
		s = removeTerminalEscapes(s)
		s = mapRunes(s, removeControl)
		s = norm.NFC.String(s)
		if s == orig {
			break
		}
	}
	return s
}

// mapRunes replaces each rune r of s by f(r) when f reports a change.
func mapRunes(s string, f func(rune) (string, bool)) string {
	for i, r := range s {
		if _, ok := f(r); !ok {
			continue
		}
		var b strings.Builder
		b.Grow(len(s))
		b.WriteString(s[:i])
		for _, r := range s[i:] {
			if rep, ok := f(r); ok {
				b.WriteString(rep)
			} else {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return s
}

// fixC1 reads C1 control characters as Windows-1252 (ftfy's fix_c1_controls).
func fixC1(r rune) (string, bool) {
	if r >= 0x80 && r <= 0x9F {
		return string(cp1252[r-0x80]), true
	}
	return "", false
}

// fixLigature splits Latin ligatures and digraphs (ftfy's fix_latin_ligatures).
func fixLigature(r rune) (string, bool) {
	switch r {
	case 'Ĳ':
		return "IJ", true
	case 'ĳ':
		return "ij", true
	case 'ŉ':
		return "ʼn", true
	case 'Ǳ':
		return "DZ", true
	case 'ǲ':
		return "Dz", true
	case 'ǳ':
		return "dz", true
	case 'Ǆ':
		return "DŽ", true
	case 'ǅ':
		return "Dž", true
	case 'ǆ':
		return "dž", true
	case 'Ǉ':
		return "LJ", true
	case 'ǈ':
		return "Lj", true
	case 'ǉ':
		return "lj", true
	case 'Ǌ':
		return "NJ", true
	case 'ǋ':
		return "Nj", true
	case 'ǌ':
		return "nj", true
	case 'ﬀ':
		return "ff", true
	case 'ﬁ':
		return "fi", true
	case 'ﬂ':
		return "fl", true
	case 'ﬃ':
		return "ffi", true
	case 'ﬄ':
		return "ffl", true
	case 'ﬅ':
		return "ſt", true
	case 'ﬆ':
		return "st", true
	}
	return "", false
}

// widthMap holds the NFKC form of U+FF01..U+FFEF where it differs.
var widthMap = sync.OnceValue(func() map[rune]string {
	m := map[rune]string{0x3000: " "}
	for r := rune(0xFF01); r < 0xFFF0; r++ {
		if k := norm.NFKC.String(string(r)); k != string(r) {
			m[r] = k
		}
	}
	return m
})

// fixWidth replaces full-width and half-width forms, and the ideographic
// space, by their standard forms (ftfy's fix_character_width).
func fixWidth(r rune) (string, bool) {
	if r != 0x3000 && (r < 0xFF01 || r > 0xFFEF) {
		return "", false
	}
	s, ok := widthMap()[r]
	return s, ok
}

// uncurlQuote straightens curly quotes (ftfy's uncurl_quotes).
func uncurlQuote(r rune) (string, bool) {
	switch {
	case r == 0x2BC, r >= 0x2018 && r <= 0x201B:
		return "'", true
	case r >= 0x201C && r <= 0x201F:
		return "\"", true
	}
	return "", false
}

// removeControl drops control characters that are not whitespace (ftfy's
// remove_control_chars).
func removeControl(r rune) (string, bool) {
	switch {
	case r <= 0x08, r == 0x0B, r >= 0x0E && r <= 0x1F, r == 0x7F,
		r >= 0x206A && r <= 0x206F, r == 0xFEFF, r >= 0xFFF9 && r <= 0xFFFC:
		return "", true
	}
	return "", false
}

// fixLineBreaks turns CRLF, CR, U+2028, U+2029 and U+0085 into '\n'.
func fixLineBreaks(s string) string {
	if !strings.ContainsAny(s, "\r\u2028\u2029\u0085") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer("\r", "\n", "\u2028", "\n", "\u2029", "\n", "\u0085", "\n").Replace(s)
}

// removeTerminalEscapes drops ANSI escapes: ESC '[' then digits and ';',
// then an ASCII letter. Digits are any Unicode decimal digits, as \d is in
// Python.
func removeTerminalEscapes(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + 2
		for j < len(s) {
			r, size := utf8.DecodeRuneInString(s[j:])
			if r != ';' && !unicode.IsDigit(r) {
				break
			}
			j += size
		}
		if j < len(s) && (s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z') {
			b.WriteString(s[:i])
			s = s[j+1:]
			continue
		}
		b.WriteString(s[:i+1])
		s = s[i+1:]
	}
}

// ftfyUnescapeHTML is ftfy's unescape_html: it decodes "&name;" for the
// HTML5 entities that end in ';', upper-case spellings of the lower-case
// ones ("&EACUTE;" -> "É"), and numeric references that end in ';'.
func ftfyUnescapeHTML(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		n := ftfyEntityLen(s)
		if n == 0 {
			b.WriteByte('&')
			s = s[1:]
			continue
		}
		b.WriteString(ftfyEntity(s[:n]))
		s = s[n:]
	}
}

// ftfyEntityLen returns the length of the match of &#?[0-9A-Za-z]{1,24};
// at the start of s, or 0.
func ftfyEntityLen(s string) int {
	i := 1
	if i < len(s) && s[i] == '#' {
		i++
	}
	start := i
	for i < len(s) && isAlnum(s[i]) && i-start < 25 {
		i++
	}
	if n := i - start; n < 1 || n > 24 || i >= len(s) || s[i] != ';' {
		return 0
	}
	return i + 1
}

// ftfyEntity decodes one matched entity t ("&...;").
func ftfyEntity(t string) string {
	name := t[1:]
	if name[0] != '#' {
		if isEntity(name) {
			return html.UnescapeString(t)
		}
		lower := strings.ToLower(name)
		if lower != name && strings.ToUpper(name) == name && isEntity(lower) && pyHTMLUnescape(t) == t {
			return pyUpper(html.UnescapeString("&" + lower))
		}
		return t
	}
	if u := pyHTMLUnescape(t); !strings.Contains(u, ";") {
		return u
	}
	return t
}

// pyUpper is Python's str.upper() for the values of HTML entities: the
// simple mapping, except the characters whose upper case is longer.
func pyUpper(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case 'ß':
			b.WriteString("SS")
		case 'ﬀ':
			b.WriteString("FF")
		case 'ﬁ':
			b.WriteString("FI")
		case 'ﬂ':
			b.WriteString("FL")
		case 'ﬃ':
			b.WriteString("FFI")
		case 'ﬄ':
			b.WriteString("FFL")
		case 'ŉ':
			b.WriteString("ʼN")
		default:
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}
