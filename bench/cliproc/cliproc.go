// Package cliproc times whole mmsearch processes, the way a user at a shell
// sees them: start, model open, index load, query, output, exit. It fills a
// library with synthetic items, then runs `mmsearch version` (the floor every
// process pays: exec, Go runtime and cgo start-up) and `mmsearch stats` and
// `mmsearch search QUERY` against that library, and reports the wall time of
// each, with an in-process breakdown of where a search's time goes.
package cliproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"time"

	"mmsearch/bench"
	"mmsearch/bench/latency"
	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/models"
)

// Limits of Config's counts.
const (
	MaxItems = 10_000_000
	MaxRuns  = 10_000
)

// Config describes one run.
type Config struct {
	// Binary is the mmsearch executable to time.
	Binary string
	// Library is the library folder. An empty or new folder is filled with
	// Items synthetic items and its index built and saved; a folder that
	// already holds exactly Items items is reused as is. "" = a temporary
	// library, removed at the end.
	Library string
	// Items is the library size.
	Items int
	// Runs is the number of timed processes per command (after one warm-up).
	Runs int
	// Query is the search expression.
	Query string
	// K is the number of results the search asks for.
	K int
	// Model names the library's model ("" = the resolve chain).
	Model string
	// Models resolves model names in this process.
	Models models.Resolver
	// Runtime locates ONNX Runtime; a LibraryPath is passed on as --ort-library.
	Runtime encoders.RuntimeOptions
	// Getenv reads the environment (nil = os.Getenv).
	Getenv func(string) string
	// Env is the environment of the timed processes (nil = this process's).
	Env []string
	// Log receives progress lines (nil = discard).
	Log io.Writer
}

// Command is one timed command line.
type Command struct {
	Name     string    `json:"name"`
	Args     []string  `json:"args"`
	WallMs   []float64 `json:"wall_ms"`
	P50Ms    float64   `json:"p50_ms"`
	MinMs    float64   `json:"min_ms"`
	MaxMs    float64   `json:"max_ms"`
	CPUP50Ms float64   `json:"cpu_p50_ms"` // user + system
}

// Breakdown is where one search's time goes, measured inside this process
// with ONNX Runtime already started (so it excludes process and runtime
// start-up, which the version and stats commands show).
type Breakdown struct {
	OpenMs        float64 `json:"library_open_ms"`     // store + model (stamp check)
	FirstSearchMs float64 `json:"first_search_ms"`     // index load + text session + encode + search
	WarmSearchMs  float64 `json:"warm_search_ms"`      // encode + search
	TextSessionMs float64 `json:"text_session_ms"`     // opening the text tower alone, through the graph cache and without prepacking, as a CLI search does
	IndexLoadMs   float64 `json:"index_load_ms_estim"` // first − warm − text session
	IndexBytes    int64   `json:"index_bytes"`
	ModelVerified bool    `json:"model_verified_at_open"`
}

// Result holds the figures of a run.
type Result struct {
	Items     int       `json:"items"`
	Runs      int       `json:"runs"`
	Query     string    `json:"query"`
	K         int       `json:"k"`
	Model     string    `json:"model"`
	ModelDir  string    `json:"model_dir"`
	Dim       int       `json:"dim"`
	FillS     float64   `json:"fill_seconds,omitempty"`
	Commands  []Command `json:"commands"`
	Breakdown Breakdown `json:"breakdown"`
}

// Run prepares the library and times the commands.
func Run(ctx context.Context, cfg Config) (*bench.Report, *Result, error) {
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	if cfg.Library == "" {
		tmp, err := os.MkdirTemp("", "mmsearch-bench-cli-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(tmp)
		cfg.Library = tmp
	}
	res := &Result{Items: cfg.Items, Runs: cfg.Runs, Query: cfg.Query, K: cfg.K}
	if err := prepare(ctx, cfg, res, logf); err != nil {
		return nil, nil, err
	}
	var rtArgs []string
	if cfg.Runtime.LibraryPath != "" {
		rtArgs = []string{"--ort-library", cfg.Runtime.LibraryPath}
	}
	lib := []string{"--library", cfg.Library}
	cmds := []Command{
		{Name: "version (process floor)", Args: []string{"version"}},
		{Name: "stats (open library + model)", Args: append(append([]string{"stats"}, lib...), rtArgs...)},
		{Name: "search " + strconv.Quote(cfg.Query), Args: append(append(append([]string{"search", "-k", strconv.Itoa(cfg.K)}, lib...), rtArgs...), cfg.Query)},
	}
	for i := range cmds {
		logf("cli: timing %d runs of mmsearch %v ...", cfg.Runs, cmds[i].Args)
		if err := timeCommand(ctx, cfg, &cmds[i]); err != nil {
			return nil, nil, err
		}
	}
	res.Commands = cmds
	return report(ctx, cfg, res), res, nil
}

func (cfg *Config) check() error {
	switch {
	case cfg.Binary == "":
		return errors.New("bench cli: no mmsearch executable given")
	case cfg.Items < 1 || cfg.Items > MaxItems:
		return fmt.Errorf("bench cli: items %d out of range [1, %d]", cfg.Items, MaxItems)
	case cfg.Runs < 1 || cfg.Runs > MaxRuns:
		return fmt.Errorf("bench cli: runs %d out of range [1, %d]", cfg.Runs, MaxRuns)
	case cfg.Query == "":
		return errors.New("bench cli: empty query")
	}
	if cfg.K <= 0 {
		cfg.K = 10
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	return nil
}

// prepare fills the library when it is new, saves its index, and measures
// the in-process breakdown on a fresh open.
func prepare(ctx context.Context, cfg Config, res *Result, logf func(string, ...any)) error {
	opts := engine.Options{Model: cfg.Model, Models: cfg.Models, Runtime: cfg.Runtime, Getenv: cfg.Getenv}
	lib, err := engine.Open(ctx, cfg.Library, opts)
	if err != nil {
		return err
	}
	st, err := lib.Stats(ctx)
	if err == nil && st.Items != int64(cfg.Items) && st.Items != 0 {
		err = fmt.Errorf("bench cli: library %s holds %d items, want %d (use another --library)", cfg.Library, st.Items, cfg.Items)
	}
	if err == nil && (st.Items == 0 || !st.IndexFresh) {
		err = fill(ctx, lib, cfg, st.Items == 0, res, logf)
	}
	if cerr := lib.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	// The breakdown, on a fresh open like a new process's, opened as the
	// CLI's search opens it (for one query: no weight prepacking).
	opts.ShortLived = true
	t0 := time.Now()
	lib, err = engine.Open(ctx, cfg.Library, opts)
	if err != nil {
		return err
	}
	defer lib.Close()
	res.Breakdown.OpenMs = ms(time.Since(t0))
	m := lib.Model()
	res.Model, res.ModelDir, res.Dim = m.Manifest.Name+" "+m.Manifest.Version, m.Dir, m.Dim()
	search := func() (float64, error) {
		t0 := time.Now()
		r, err := lib.Search(ctx, cfg.Query, engine.SearchOptions{K: cfg.K})
		if err == nil && len(r.Results) != cfg.K {
			err = fmt.Errorf("bench cli: %q gave %d results, want %d", cfg.Query, len(r.Results), cfg.K)
		}
		return ms(time.Since(t0)), err
	}
	if res.Breakdown.FirstSearchMs, err = search(); err != nil {
		return err
	}
	if res.Breakdown.WarmSearchMs, err = search(); err != nil {
		return err
	}
	t0 = time.Now()
	txt, err := encoders.NewTextEncoder(m, encoders.SessionOptions{GraphCache: models.GraphCacheDir(cfg.Getenv), NoPrepack: true})
	if err != nil {
		return err
	}
	res.Breakdown.TextSessionMs = ms(time.Since(t0))
	txt.Close()
	b := &res.Breakdown
	b.IndexLoadMs = max(0, b.FirstSearchMs-b.WarmSearchMs-b.TextSessionMs)
	st, err = lib.Stats(ctx)
	if err != nil {
		return err
	}
	b.IndexBytes = st.IndexBytes
	_, opened, err := models.Open(m.Dir, models.OpenOptions{Runtime: cfg.Runtime, Getenv: cfg.Getenv})
	b.ModelVerified = opened.Verified
	return err
}

// fill adds the synthetic items (when the library is empty) and has an
// ingest of an empty folder build and save the index, keeping the items,
// whose files do not exist.
func fill(ctx context.Context, lib *engine.Library, cfg Config, empty bool, res *Result, logf func(string, ...any)) error {
	t0 := time.Now()
	if empty {
		logf("cli: writing %d synthetic items into %s ...", cfg.Items, cfg.Library)
		txt, err := encoders.NewTextEncoder(lib.Model(), encoders.SessionOptions{})
		if err != nil {
			return err
		}
		centres, err := txt.EncodeTexts(ctx, []string{cfg.Query, "dog face", "red heart", "woman cook", "blue circle", "pizza", "rocket"})
		txt.Close()
		if err != nil {
			return err
		}
		if err := latency.FillSynthetic(ctx, lib, cfg.Items, centres, 1); err != nil {
			return err
		}
	}
	logf("cli: building and saving the index ...")
	emptyDir, err := os.MkdirTemp("", "mmsearch-bench-cli-empty-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(emptyDir)
	if _, err := lib.Ingest(ctx, []string{emptyDir}, engine.IngestOptions{KeepMissing: true}); err != nil {
		return fmt.Errorf("bench cli: build the index: %w", err)
	}
	res.FillS = time.Since(t0).Seconds()
	logf("cli: library ready in %.1fs", res.FillS)
	return nil
}

// timeCommand runs c once to warm the page cache, then cfg.Runs times.
func timeCommand(ctx context.Context, cfg Config, c *Command) error {
	var cpu []float64
	for i := -1; i < cfg.Runs; i++ {
		cmd := exec.CommandContext(ctx, cfg.Binary, c.Args...)
		cmd.Env = cfg.Env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		t0 := time.Now()
		err := cmd.Run()
		wall := time.Since(t0)
		if err != nil {
			return fmt.Errorf("bench cli: mmsearch %v: %w: %s", c.Args, err, bytes.TrimSpace(errb.Bytes()))
		}
		if out.Len() == 0 {
			return fmt.Errorf("bench cli: mmsearch %v printed nothing", c.Args)
		}
		if i < 0 {
			continue
		}
		c.WallMs = append(c.WallMs, ms(wall))
		ps := cmd.ProcessState
		cpu = append(cpu, ms(ps.UserTime()+ps.SystemTime()))
	}
	c.P50Ms, c.CPUP50Ms = median(c.WallMs), median(cpu)
	s := append([]float64(nil), c.WallMs...)
	sort.Float64s(s)
	c.MinMs, c.MaxMs = s[0], s[len(s)-1]
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func report(ctx context.Context, cfg Config, res *Result) *bench.Report {
	h := bench.NewHeader(ctx, "cli", fmt.Sprintf("library of %d synthetic items (model text embeddings + noise, and random unit vectors)", res.Items))
	h.AddParam("model", res.Model)
	h.AddParam("model dir", res.ModelDir)
	h.AddParam("dim", res.Dim)
	h.AddParam("runs per command", res.Runs)
	h.AddParam("query", res.Query)
	h.AddParam("k", res.K)
	h.AddParam("binary", cfg.Binary)
	h.AddParam("page cache", "warm (one untimed run per command first)")
	r := &bench.Report{Header: h, Figures: res.Figures(), Data: res}
	var floor, search Command
	for _, c := range res.Commands {
		switch c.Args[0] {
		case "version":
			floor = c
		case "search":
			search = c
		}
	}
	r.Headline = []string{fmt.Sprintf("mmsearch search %q on %d items (%s): wall p50 %.1f ms over %d processes, beside mmsearch version at %.1f ms (the process-start floor)",
		res.Query, res.Items, res.Model, search.P50Ms, res.Runs, floor.P50Ms)}
	t := bench.Table{Title: "Whole processes (wall time)", Columns: []string{"command", "p50 ms", "min ms", "max ms", "CPU p50 ms (user+sys)"}}
	for _, c := range res.Commands {
		t.AddRow(c.Name, f1(c.P50Ms), f1(c.MinMs), f1(c.MaxMs), f1(c.CPUP50Ms))
	}
	b := res.Breakdown
	bt := bench.Table{Title: "Where a search's time goes (in-process, ONNX Runtime already started)", Columns: []string{"step", "ms"}}
	bt.AddRow("open library: store + model (stamp check)", f1(b.OpenMs))
	bt.AddRow("first search: index load + text session + encode + search", f1(b.FirstSearchMs))
	bt.AddRow("warm search: encode + search", f1(b.WarmSearchMs))
	bt.AddRow("text session alone", f1(b.TextSessionMs))
	bt.AddRow(fmt.Sprintf("index load (estimate: first − warm − session; file %.1f MB)", float64(b.IndexBytes)/1e6), f1(b.IndexLoadMs))
	r.Tables = []bench.Table{t, bt}
	return r
}

func f1(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }
