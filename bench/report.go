package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Param is one named parameter of a run, kept in the order it was added so
// reports read the same way every time.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Peer is another implementation measured in the same run, with its version.
type Peer struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Header is what every report states before its figures: which benchmark,
// when, at which revision, on which machine, over which dataset, with which
// parameters, and against which peers.
type Header struct {
	Benchmark string    `json:"benchmark"`
	Date      time.Time `json:"date"`
	GitRev    string    `json:"git_revision"`
	Machine   Machine   `json:"machine"`
	Dataset   string    `json:"dataset"`
	Params    []Param   `json:"params"`
	Peers     []Peer    `json:"peers"`
	// Unclean lists why the figures deserve less trust (RunState.Unclean: a
	// dirty tree, a busy machine at the start); empty for a clean run.
	Unclean []string `json:"unclean,omitempty"`
}

// NewHeader fills a Header for benchmark with the current machine, the git
// revision of the working directory and the current time (UTC, seconds).
func NewHeader(ctx context.Context, benchmark, dataset string) Header {
	return Header{
		Benchmark: benchmark,
		Date:      time.Now().UTC().Truncate(time.Second),
		GitRev:    GitRevision(ctx, "."),
		Machine:   DescribeMachine(),
		Dataset:   dataset,
	}
}

// AddParam appends a parameter; value is formatted with %v.
func (h *Header) AddParam(name string, value any) {
	h.Params = append(h.Params, Param{Name: name, Value: fmt.Sprint(value)})
}

// Table is a titled grid of already formatted cells.
type Table struct {
	Title   string     `json:"title"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// AddRow appends a row; values are formatted with %v.
func (t *Table) AddRow(values ...any) {
	row := make([]string, len(values))
	for i, v := range values {
		row[i] = fmt.Sprint(v)
	}
	t.Rows = append(t.Rows, row)
}

// Report is a benchmark's outcome: its header, headline sentences, tables,
// the plot files drawn beside it, free-form notes, and Data, the benchmark's
// own machine-readable results (written to JSON only).
type Report struct {
	Header
	Headline []string `json:"headline"`
	// Figures are the headline's numbers as data, by name (such as
	// "qps_ratio_ours_over_hnswlib_at_recall10_0.95"), for scripts: the
	// headline sentences hold the same figures as prose.
	Figures map[string]float64 `json:"figures,omitempty"`
	Tables  []Table            `json:"tables"`
	Plots   []string           `json:"plots"` // file names relative to the report's folder
	Notes   []string           `json:"notes"`
	Data    any                `json:"data,omitempty"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}

// WriteMarkdown writes the report as a Markdown document: a title, the header
// as a list, the headline, the tables, the plots as images, and the notes.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s benchmark\n\n", r.Benchmark)
	r.writeHeader(&b, "- ", "**", "**")
	if len(r.Headline) > 0 {
		b.WriteString("\n## Headline\n\n")
		for _, h := range r.Headline {
			fmt.Fprintf(&b, "- %s\n", h)
		}
	}
	for _, t := range r.Tables {
		b.WriteString("\n")
		if t.Title != "" {
			fmt.Fprintf(&b, "## %s\n\n", t.Title)
		}
		if err := t.WriteMarkdown(&b); err != nil {
			return err
		}
	}
	for _, p := range r.Plots {
		fmt.Fprintf(&b, "\n![%s](%s)\n", strings.TrimSuffix(p, filepath.Ext(p)), p)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := w.Write(b.Bytes())
	if err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

// WriteText writes the report for a terminal: the header, the tables aligned
// with text/tabwriter, the headline and the notes.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s benchmark\n", r.Benchmark)
	r.writeHeader(&b, "  ", "", "")
	for _, t := range r.Tables {
		b.WriteString("\n")
		if err := t.WriteText(&b); err != nil {
			return err
		}
	}
	if len(r.Headline) > 0 {
		b.WriteString("\nheadline:\n")
		for _, h := range r.Headline {
			fmt.Fprintf(&b, "  %s\n", h)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func (r *Report) writeHeader(b *bytes.Buffer, bullet, strong, strongEnd string) {
	line := func(k, v string) { fmt.Fprintf(b, "%s%s%s:%s %s\n", bullet, strong, k, strongEnd, v) }
	if len(r.Unclean) > 0 {
		line("UNCLEAN RUN", strings.Join(r.Unclean, "; ")+": compare its figures with care")
	}
	line("date", r.Date.Format(time.RFC3339))
	line("git revision", r.GitRev)
	line("machine", r.Machine.String())
	line("dataset", r.Dataset)
	if len(r.Params) > 0 {
		ps := make([]string, len(r.Params))
		for i, p := range r.Params {
			ps[i] = p.Name + "=" + p.Value
		}
		line("parameters", strings.Join(ps, ", "))
	}
	if len(r.Peers) > 0 {
		ps := make([]string, len(r.Peers))
		for i, p := range r.Peers {
			ps[i] = p.Name + " " + p.Version
		}
		line("peers", strings.Join(ps, ", "))
	} else {
		line("peers", "none")
	}
}

// WriteFiles writes the report into dir (created if needed) as base.json and
// base.md and returns the paths written. Existing files of the same names are
// replaced.
func (r *Report) WriteFiles(dir, base string) ([]string, error) {
	if base == "" || strings.ContainsAny(base, `/\`) {
		return nil, fmt.Errorf("report file name %q: want a plain name without folders", base)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create report folder: %w", err)
	}
	var paths []string
	for _, f := range []struct {
		ext   string
		write func(io.Writer) error
	}{
		{".json", r.WriteJSON},
		{".md", r.WriteMarkdown},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return paths, err
		}
		p := filepath.Join(dir, base+f.ext)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return paths, fmt.Errorf("write report: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// WriteText writes the table aligned in columns with text/tabwriter, its
// title on the line above.
func (t Table) WriteText(w io.Writer) error {
	if err := t.check(); err != nil {
		return err
	}
	var b bytes.Buffer
	if t.Title != "" {
		fmt.Fprintf(&b, "%s\n", t.Title)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Columns, "\t")+"\t")
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format table: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// WriteMarkdown writes the table as a GitHub-flavoured Markdown table (no
// title). Pipes inside cells are escaped.
func (t Table) WriteMarkdown(w io.Writer) error {
	if err := t.check(); err != nil {
		return err
	}
	var b bytes.Buffer
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	row(t.Columns)
	sep := make([]string, len(t.Columns))
	for i := range sep {
		sep[i] = "---"
	}
	row(sep)
	for _, r := range t.Rows {
		row(r)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func (t Table) check() error {
	if len(t.Columns) == 0 {
		return fmt.Errorf("table %q has no columns", t.Title)
	}
	for i, r := range t.Rows {
		if len(r) != len(t.Columns) {
			return fmt.Errorf("table %q: row %d has %d cells, want %d", t.Title, i, len(r), len(t.Columns))
		}
	}
	return nil
}

// Figurer is a benchmark result that can state its headline figures as
// data; see Report.Figures.
type Figurer interface {
	Figures() map[string]float64
}
