package main

import (
	"os"
	"strconv"

	"golang.org/x/term"
)

// isTerminal reports whether f is an interactive terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// terminalWidth returns the columns of the terminal f, asked anew at each
// call so that a resized window is followed; else $COLUMNS, else 80.
func terminalWidth(f *os.File, getenv func(string) string) int {
	if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
		return w
	}
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 && n <= 10000 {
		return n
	}
	return defaultColumns
}
