package engine

import "fmt"

// Mode is a scoring mode of a search: how the weighted query terms rank the
// items. The zero value means ModeAdd.
type Mode string

// Scoring modes.
const (
	// ModeAdd ranks by cosine similarity to the normalized weighted sum of
	// the terms.
	ModeAdd Mode = "add"
	// ModeMul re-ranks the nearest candidates by 3CosMul (Levy & Goldberg
	// 2014) generalized to weighted terms.
	ModeMul Mode = "mul"
)

// Modes lists the scoring modes in the order help texts show them.
var Modes = []Mode{ModeAdd, ModeMul}

// ParseMode reads a scoring mode as the CLI and the HTTP API accept it:
// "add" or "mul", exactly. The empty string is ModeAdd, the default.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeAdd:
		return ModeAdd, nil
	case ModeMul:
		return ModeMul, nil
	}
	return "", fmt.Errorf("unknown scoring mode %q (want %s or %s)", s, ModeAdd, ModeMul)
}

// String returns the mode's name; the zero Mode is "add".
func (m Mode) String() string {
	if m == "" {
		return string(ModeAdd)
	}
	return string(m)
}

// Set parses s into m, so a *Mode is a flag.Value.
func (m *Mode) Set(s string) error {
	v, err := ParseMode(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}
