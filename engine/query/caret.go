package query

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// DefaultCaretWidth is the line width [SyntaxError.Caret] fits the query in.
const DefaultCaretWidth = 80

// Caret renders the input on one line and a caret line under it that marks
// the error's position (and its length, with '~'), fitted to
// DefaultCaretWidth terminal columns. See [SyntaxError.CaretWidth].
func (e *SyntaxError) Caret() string { return e.CaretWidth(DefaultCaretWidth) }

// CaretWidth is [SyntaxError.Caret] for a terminal of maxCols columns (at
// least 20). Control characters (tabs, newlines) are shown as spaces and
// invalid UTF-8 bytes as U+FFFD so that the caret lines up; wide characters
// count two columns, combining marks none. A query too long for the line is
// cut around the caret and the cuts are marked with "…".
func (e *SyntaxError) CaretWidth(maxCols int) string {
	maxCols = max(maxCols, 20)
	type cell struct {
		off  int // byte offset of the rune
		size int // its length in bytes
		text string
		cols int
	}
	var cells []cell
	for off := 0; off < len(e.Input); {
		r, size := utf8.DecodeRuneInString(e.Input[off:])
		c := cell{off: off, size: size}
		switch {
		case r == utf8.RuneError && size == 1:
			c.text, c.cols = "\uFFFD", 1
		case unicode.IsControl(r) || (unicode.IsSpace(r) && r != ' '):
			c.text, c.cols = " ", 1
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
			c.text, c.cols = string(r), 0
		default:
			c.text, c.cols = string(r), 1
			if k := width.LookupRune(r).Kind(); k == width.EastAsianWide || k == width.EastAsianFullwidth {
				c.cols = 2
			}
		}
		cells = append(cells, c)
		off += size
	}
	// Column of every cell, and of the end of the input.
	cols := make([]int, len(cells)+1)
	for i, c := range cells {
		cols[i+1] = cols[i] + c.cols
	}
	cellAt := func(pos int) int { // index of the cell holding byte pos
		for i, c := range cells {
			if c.off <= pos && pos < c.off+c.size {
				return i
			}
		}
		return len(cells)
	}
	first := cellAt(min(max(e.Pos, 0), len(e.Input)))
	last := first
	if e.Len > 1 {
		last = cellAt(min(e.Pos+e.Len-1, len(e.Input)))
		last = max(last, first)
	}
	caretCol := cols[first]
	markEnd := cols[min(last+1, len(cells))]
	if markEnd <= caretCol {
		markEnd = caretCol + 1
	}

	// Choose the window of cells to show.
	lo, hi := 0, len(cells)
	budget := maxCols - 2 // room for the two "…" marks
	if cols[len(cells)] > maxCols {
		// Keep about a quarter of the line before the caret.
		startCol := max(caretCol-budget/4, 0)
		for lo < len(cells) && cols[lo] < startCol {
			lo++
		}
		for hi > lo && cols[hi]-cols[lo] > budget {
			hi--
		}
	}
	var top, bottom strings.Builder
	shift := cols[lo]
	if lo > 0 {
		top.WriteString("…")
		bottom.WriteByte(' ')
	}
	for i := lo; i < hi; i++ {
		top.WriteString(cells[i].text)
	}
	if hi < len(cells) {
		top.WriteString("…")
	}
	bottom.WriteString(strings.Repeat(" ", caretCol-shift))
	bottom.WriteByte('^')
	if n := min(markEnd, cols[hi]) - caretCol - 1; n > 0 {
		bottom.WriteString(strings.Repeat("~", n))
	}
	return top.String() + "\n" + bottom.String()
}
