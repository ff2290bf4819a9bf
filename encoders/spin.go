package encoders

import (
	"encoding/json"
	"fmt"
)

// SpinMode says when ONNX Runtime's intra-op worker threads busy-wait for
// work instead of sleeping. Spinning saves the wake-up between the many
// short parallel sections of one inference (on the ViT-B/32-shaped tower,
// plain ONNX Runtime with spinning off ran 15% slower at batch 32:
// bench/results/encoder-vitb32-random.md), but a thread that keeps
// spinning after the inference has returned holds a core the decode
// workers of an ingest need.
type SpinMode int

const (
	// SpinDuringRun lets the workers spin inside an inference and stops
	// them as soon as the last concurrent inference on the session returns
	// (ONNX Runtime's session.force_spinning_stop). The default.
	SpinDuringRun SpinMode = iota
	// SpinNever keeps the workers from spinning at all.
	SpinNever
	// SpinAlways is ONNX Runtime's own default: the workers go on spinning
	// for a while after an inference returns, waiting for the next one.
	SpinAlways
)

// String names the mode as reports and flags spell it.
func (m SpinMode) String() string {
	switch m {
	case SpinDuringRun:
		return "during-run"
	case SpinNever:
		return "never"
	case SpinAlways:
		return "always"
	}
	return fmt.Sprintf("SpinMode(%d)", int(m))
}

// ParseSpinMode reads a mode as String spells it.
func ParseSpinMode(s string) (SpinMode, error) {
	for _, m := range []SpinMode{SpinDuringRun, SpinNever, SpinAlways} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("spin mode %q: want during-run, never or always", s)
}

// configEntries are the ONNX Runtime session config entries that set m.
func (m SpinMode) configEntries() [][2]string {
	switch m {
	case SpinNever:
		return [][2]string{{"session.intra_op.allow_spinning", "0"}}
	case SpinAlways:
		return [][2]string{{"session.intra_op.allow_spinning", "1"}}
	default:
		return [][2]string{{"session.intra_op.allow_spinning", "1"}, {"session.force_spinning_stop", "1"}}
	}
}

// MarshalText writes the mode as String spells it.
func (m SpinMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode as String spells it.
func (m *SpinMode) UnmarshalText(b []byte) error {
	v, err := ParseSpinMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// UnmarshalJSON reads a mode as a string, or as the true/false of reports
// written before spinning had modes: true was ONNX Runtime's default
// (SpinAlways), false turned spinning off (SpinNever).
func (m *SpinMode) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*m = SpinAlways
		return nil
	case "false":
		*m = SpinNever
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("spin mode: %w", err)
	}
	return m.UnmarshalText([]byte(s))
}
