package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws one line on a terminal (bar, counts, rate, ETA), or
// writes a JSON line at most once a second when stderr is not a terminal.
type progressBar struct {
	w        io.Writer
	terminal bool
	label    string
	every    time.Duration

	mu   sync.Mutex
	last time.Time
	drew bool
}

func newProgressBar(w io.Writer, terminal bool, label string) *progressBar {
	every := time.Second
	if terminal {
		every = 100 * time.Millisecond
	}
	return &progressBar{w: w, terminal: terminal, label: label, every: every}
}

// update reports done of total (total < 0: unknown yet) after elapsed.
// extra is appended on terminals and added as fields in JSON.
func (p *progressBar) update(done, total int, elapsed time.Duration, final bool, extra map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !final && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	if !p.terminal {
		rec := map[string]any{"progress": p.label, "done": done, "total": total, "rate_per_s": round2(rate), "elapsed_s": round2(elapsed.Seconds())}
		for k, v := range extra {
			rec[k] = v
		}
		b, _ := json.Marshal(rec)
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	const width = 28
	var bar, eta string
	if total > 0 {
		filled := min(width, done*width/total)
		bar = "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]"
		if rate > 0 && done < total {
			eta = " ETA " + (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
		}
	} else {
		bar = "[" + strings.Repeat(".", width) + "]"
	}
	tot := "?"
	if total >= 0 {
		tot = fmt.Sprint(total)
	}
	var ex strings.Builder
	for _, k := range sortedKeys(extra) {
		fmt.Fprintf(&ex, " %s %v", k, extra[k])
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s %d/%s %.1f/s%s%s", p.label, bar, done, tot, rate, eta, ex.String())
	p.drew = true
	if final {
		fmt.Fprintln(p.w)
	}
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
