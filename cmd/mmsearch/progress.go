package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
)

// progressState is one snapshot of a long job, shown by progressBar.
type progressState struct {
	Done int // units finished
	// Total is the units to do; < 0 while unknown.
	Total int
	// Counting, while Total is unknown, is how many units a count running
	// ahead has seen so far (< 0: no count running).
	Counting int
	Found    int // files the walk found (< 0: not shown)
	Failed   int // units that failed
	Skipped  int // files skipped as not still images (videos, sidecars, ...)
	Elapsed  time.Duration
}

// progressBar draws one line on a terminal that never wraps: its fields are
// shortened, then dropped, least important first, to fit the terminal's
// width, read again at every redraw (so a resized window is followed). When
// stderr is not a terminal it writes a JSON line at most once a second.
type progressBar struct {
	w        io.Writer
	terminal bool
	width    func() int // columns of the terminal
	label    string
	every    time.Duration

	mu   sync.Mutex
	last time.Time
}

// newProgressBar returns a progress bar writing to w; width (used only when
// terminal) reports the terminal's columns.
func newProgressBar(w io.Writer, terminal bool, width func() int, label string) *progressBar {
	every := time.Second
	if terminal {
		every = 100 * time.Millisecond
	}
	if width == nil {
		width = func() int { return defaultColumns }
	}
	return &progressBar{w: w, terminal: terminal, width: width, label: label, every: every}
}

// update shows s; final draws it whatever the time since the last redraw
// and ends the terminal line.
func (p *progressBar) update(s progressState, final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !final && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	rate := s.rate()
	if !p.terminal {
		rec := map[string]any{"progress": p.label, "done": s.Done, "total": s.Total, "failed": s.Failed, "skipped": s.Skipped,
			"rate_per_s": round2(rate), "elapsed_s": round2(s.Elapsed.Seconds())}
		if s.Found >= 0 {
			rec["found"] = s.Found
		}
		if s.Total < 0 && s.Counting >= 0 {
			rec["counting"] = s.Counting
		}
		if eta, ok := s.eta(); ok {
			rec["eta_s"] = math.Round(eta.Seconds())
		}
		if final {
			rec["final"] = true
		}
		b, _ := json.Marshal(rec)
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s", fitLine(p.width()-1, p.fields(s)))
	if final {
		fmt.Fprintln(p.w)
	}
}

// notice shows a message between progress lines: on a terminal it clears
// the line and prints message (the bar is drawn again below it at the next
// update); otherwise it writes one JSON line, an event beside the progress
// records: {"event":"notice","notice":kind,"message":...,"commands":[...]}.
func (p *progressBar) notice(kind, message string, commands []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.terminal {
		b, _ := json.Marshal(map[string]any{"event": "notice", "notice": kind, "message": message, "commands": commands})
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s\n", message)
	for _, c := range commands {
		fmt.Fprintf(p.w, "    %s\n", c)
	}
	p.last = time.Time{} // redraw the bar at the next update
}

// rate is units per second so far.
func (s progressState) rate() float64 {
	if sec := s.Elapsed.Seconds(); sec > 0 {
		return float64(s.Done) / sec
	}
	return 0
}

// eta estimates the time left, when the total is known and work has begun.
func (s progressState) eta() (time.Duration, bool) {
	r := s.rate()
	if s.Total < 0 || r <= 0 || s.Done >= s.Total {
		return 0, false
	}
	return time.Duration(float64(s.Total-s.Done) / r * float64(time.Second)), true
}

// fields are the parts of the terminal line, in the order shown, each
// with its importance and its forms from longest to shortest.
func (p *progressBar) fields(s progressState) []field {
	tot, short := "?", "?"
	if s.Total >= 0 {
		tot, short = fmt.Sprint(s.Total), shortCount(s.Total)
	}
	fs := []field{
		{rank: 7, forms: []string{p.label}},
		{rank: 5, bar: true},
		{rank: 0, forms: []string{fmt.Sprintf("%d/%s", s.Done, tot), shortCount(s.Done) + "/" + short}},
	}
	if s.Total > 0 {
		fs = append(fs, field{rank: 2, forms: []string{fmt.Sprintf("%d%%", min(100, s.Done*100/s.Total))}})
	}
	if r := s.rate(); r > 0 {
		fs = append(fs, field{rank: 4, forms: []string{fmt.Sprintf("%.1f/s", r), fmt.Sprintf("%.0f/s", r)}})
	}
	if eta, ok := s.eta(); ok {
		d := shortDuration(eta)
		fs = append(fs, field{rank: 1, forms: []string{"ETA " + d, d}})
	}
	if s.Failed > 0 {
		fs = append(fs, field{rank: 3, forms: []string{fmt.Sprintf("%d failed", s.Failed), fmt.Sprintf("%d!", s.Failed)}})
	}
	if s.Skipped > 0 {
		fs = append(fs, field{rank: 6, forms: []string{fmt.Sprintf("%d skipped", s.Skipped), shortCount(s.Skipped) + " skipped"}})
	}
	switch {
	case s.Total < 0 && s.Counting >= 0:
		fs = append(fs, field{rank: 3, forms: []string{fmt.Sprintf("counting: %d files", s.Counting), "counting " + shortCount(s.Counting), "counting"}})
	case s.Found >= 0:
		fs = append(fs, field{rank: 8, forms: []string{fmt.Sprintf("%d files found", s.Found), shortCount(s.Found) + " found"}})
	}
	switch {
	case s.Total > 0:
		fs[1].fill = float64(min(s.Done, s.Total)) / float64(s.Total)
	case s.Total == 0:
		fs[1].fill = 1 // nothing to do
	default:
		fs[1].fill = -1
	}
	return fs
}

// shortCount writes n in at most 4 columns: 999, 1.2k, 123k, 4.5M, 120M.
func shortCount(n int) string {
	f := float64(n)
	switch {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 9950:
		return fmt.Sprintf("%.1fk", f/1e3)
	case n < 999500:
		return fmt.Sprintf("%.0fk", f/1e3)
	case n < 9950000:
		return fmt.Sprintf("%.1fM", f/1e6)
	default:
		return fmt.Sprintf("%.0fM", f/1e6)
	}
}

// shortDuration writes d in at most two units: 45s, 3m05s, 2h07m.
func shortDuration(d time.Duration) string {
	sec := int64(d.Round(time.Second) / time.Second)
	switch {
	case sec < 60:
		return fmt.Sprintf("%ds", sec)
	case sec < 3600:
		return fmt.Sprintf("%dm%02ds", sec/60, sec%60)
	default:
		return fmt.Sprintf("%dh%02dm", sec/3600, sec%3600/60)
	}
}

// field is one part of a progress line.
type field struct {
	rank  int      // 0 is kept longest; higher ranks are shortened and dropped first
	forms []string // from longest to shortest
	bar   bool     // a bar that takes the room left, between barMin and barMax
	fill  float64  // a bar's filled share, < 0 when unknown
}

const (
	barMin         = 8 // a bar narrower than this is dropped
	barMax         = 40
	defaultColumns = 80
)

// fitLine lays fields out on one line of at most width columns (each byte
// of a form is one column: forms are ASCII): forms are shortened, then
// fields dropped, highest rank first, and the last field left is cut.
func fitLine(width int, fields []field) string {
	width = max(width, 1)
	form := make([]int, len(fields)) // index into forms; len(forms) = dropped
	size := func(i int) int {
		f := fields[i]
		if f.bar {
			if form[i] > 0 {
				return -1
			}
			return barMin
		}
		if form[i] >= len(f.forms) {
			return -1
		}
		return len(f.forms[form[i]])
	}
	length := func() int {
		n := -1
		for i := range fields {
			if s := size(i); s >= 0 {
				n += s + 1
			}
		}
		return max(n, 0)
	}
	for length() > width {
		// The highest-ranked field still shown gives way: a shorter form,
		// else it goes. A field of rank 0 is never dropped.
		worst := -1
		for i, f := range fields {
			if size(i) >= 0 && (worst < 0 || f.rank > fields[worst].rank) {
				worst = i
			}
		}
		if worst < 0 || fields[worst].rank == 0 && form[worst] == len(fields[worst].forms)-1 {
			break // cut below
		}
		form[worst]++
	}
	spare := width - length()
	var parts []string
	for i, f := range fields {
		if size(i) < 0 {
			continue
		}
		if f.bar {
			parts = append(parts, drawBar(min(barMax, barMin+spare), f.fill))
			continue
		}
		parts = append(parts, f.forms[form[i]])
	}
	line := strings.Join(parts, " ")
	if len(line) > width {
		line = line[:width]
	}
	return line
}

// drawBar draws a bar of width columns, brackets included; fill < 0 draws
// one of unknown extent.
func drawBar(width int, fill float64) string {
	in := width - 2
	if fill < 0 {
		return "[" + strings.Repeat(".", in) + "]"
	}
	n := min(in, int(fill*float64(in)))
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", in-n) + "]"
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
