package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/engine/photohint"
	"mmsearch/engine/query"
	"mmsearch/engine/store"
	"mmsearch/index"
	"mmsearch/models"
)

// libraryFlags are shared by the commands that open a library.
type libraryFlags struct {
	runtimeFlags
	pull    autoPull // --yes, for the commands that download a model named by --model
	library string
	batch   int
	verbose bool
	// decodeMiB is the decode memory budget in MiB (0 = the engine default).
	decodeMiB int
	// remote selects a remote index (--index weaviate://...).
	remote remoteFlags
	// resolved is the remote index openLibrary chose (nil: the own HNSW).
	resolved *remote
	// oneQuery: the command answers one query and exits
	// (engine.Options.ShortLived).
	oneQuery bool
}

// Bounds of --decode-memory, in MiB.
const (
	minDecodeMiB = 16
	maxDecodeMiB = 1 << 20
)

// register adds the flags every library command uses; registerThreads and
// registerBatch add those only some use, so that a command's help lists only
// the flags it reads.
func (f *libraryFlags) register(fs *flag.FlagSet) {
	f.runtimeFlags.register(fs)
	fs.StringVar(&f.library, "library", "", "library folder (default $XDG_DATA_HOME/mmsearch/default)")
	fs.StringVar(&f.device, "device", encoders.DeviceCPU, "where the encoders run: cpu, cuda (ONNX Runtime's CUDA provider; an error without it) or auto (cuda when usable, else cpu)")
	fs.BoolVar(&f.verbose, "v", false, "log diagnostics to stderr")
	intVar(fs, &f.decodeMiB, "decode-memory", int(engine.DefaultDecodeMemory>>20), minDecodeMiB, maxDecodeMiB,
		"MiB that the image decodes running at once may use together; one needing more runs alone")
	f.remote.register(fs)
}

// registerBatch adds --batch, for the commands that index pictures.
func (f *libraryFlags) registerBatch(fs *flag.FlagSet) {
	countVar(fs, &f.batch, "batch", 0, maxBatch, "images per inference and per transaction (0 = 32)")
}

// open opens the library, creating it when it does not exist (index).
func (f *libraryFlags) open(ctx context.Context, e *env) (*engine.Library, error) {
	return f.openLibrary(ctx, e, false)
}

// openExisting opens a library that must exist: read-only commands (stats,
// errors, search, serve) never create one at a mistyped path. A library
// this process cannot write opens with a note that writes are disabled.
func (f *libraryFlags) openExisting(ctx context.Context, e *env) (*engine.Library, error) {
	lib, err := f.openLibrary(ctx, e, true)
	if err != nil {
		return nil, err
	}
	if lib.ReadOnly() {
		fmt.Fprintf(e.stderr, "mmsearch: note: library %s is read-only here (read-only file system or no write permission): searching works, writes are disabled\n", lib.Dir())
	}
	return lib, nil
}

func (f *libraryFlags) openLibrary(ctx context.Context, e *env, mustExist bool) (*engine.Library, error) {
	dir := f.library
	if dir == "" {
		dir = engine.DefaultLibrary(e.getenv)
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	device, err := encoders.ParseDevice(f.device)
	if err != nil {
		return nil, usagef("--device: %v", err)
	}
	if f.pull.enabled && f.model != "" && (!mustExist || exists(filepath.Join(dir, engine.DBFile))) {
		// A registry model named by --model and not installed yet is
		// downloaded first (asked on a terminal, --yes elsewhere); a
		// missing library is reported before anything is downloaded.
		if err := ensureModel(ctx, e, f.model, "", f.pull.yes); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	rem, err := f.remote.resolve(abs, e.getenv)
	if err != nil {
		return nil, err
	}
	f.resolved = rem
	var backend index.Backend
	if rem != nil {
		backend = rem.backend()
	}
	lib, err := engine.Open(ctx, dir, engine.Options{
		Backend:      backend,
		Device:       device,
		Model:        f.model,
		Models:       e.models(),
		Runtime:      f.runtimeOptions(e),
		Threads:      f.threads,
		BatchSize:    f.batch,
		Getenv:       e.getenv,
		Logger:       log,
		DecodeMemory: int64(f.decodeMiB) << 20,
		MustExist:    mustExist,
		ShortLived:   f.oneQuery,
	})
	if err != nil {
		return nil, err
	}
	if rem != nil && !lib.ReadOnly() {
		if err := rem.save(lib.Dir()); err != nil {
			lib.Close()
			return nil, err
		}
	}
	return lib, nil
}

func indexCommand() *command {
	var lf libraryFlags
	var wf walkFlags
	var workers, streams int
	var asJSON, rebuildRemote bool
	return &command{
		name:    "index",
		summary: "add folders and images to a library, incrementally",
		usage:   "[--library DIR] [--model NAME|DIR] [flags] PATH...",
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			lf.registerThreads(fs)
			lf.registerBatch(fs)
			lf.pull.register(fs)
			countVar(fs, &workers, "workers", 0, maxWorkers, "decode workers (0 = all cores)")
			countVar(fs, &streams, "streams", 0, maxStreams, "inferences run at once, each on a share of the cores (0 = chosen from the core count)")
			fs.BoolVar(&asJSON, "json", false, "print the final report as JSON on stdout")
			fs.BoolVar(&rebuildRemote, "rebuild-remote", false, "make the remote collection anew and re-send every vector and its properties from the library's store\n(PATHs, when given, are indexed afterwards)")
			wf.register(fs, "without embedding them")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 && !rebuildRemote {
				return usagef("no PATH given")
			}
			if err := wf.check(); err != nil {
				return err
			}
			lib, err := lf.open(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			if rebuildRemote {
				if lf.resolved == nil {
					return usagef("--rebuild-remote: library %s has no remote index (create one with --index weaviate://HOST:PORT/COLLECTION)", lib.Dir())
				}
				start := time.Now()
				if err := lib.RebuildIndex(ctx); err != nil {
					return err
				}
				ms, err := lib.CheckMirror(ctx, engine.DefaultMirrorSample)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "re-sent %s items to %s in %s\n", thousands(int(ms.StoreItems)), ms.Where, time.Since(start).Round(time.Millisecond))
				if !ms.InStep() {
					return fmt.Errorf("after the rebuild the remote index is still out of step: %s", ms.Problem)
				}
				if len(args) == 0 {
					return nil
				}
			}
			bar := newProgressBar(e.stderr, e.isTerminal, e.termWidth, "indexing")
			opts := engine.IngestOptions{
				Workers: workers, Streams: streams, BatchSize: lf.batch,
				Progress: func(p engine.Progress) { bar.update(ingestProgress(p), false) },
			}
			wf.apply(&opts)
			if lib.Model().Manifest.Name == models.BundledModel {
				opts.FirstImages = func(s []photohint.Sample) {
					if photohint.CameraPhotos(s) {
						msg, cmds := photoModelNotice(args)
						bar.notice(noticePhotoModel, msg, cmds)
					}
				}
			}
			rep, err := lib.Ingest(ctx, args, opts)
			return reportIngest(e, bar, rep, err, asJSON)
		},
	}
}

// photoModel is the registry model the camera-photo notice recommends.
const photoModel = "openai-clip-vit-b32"

// noticePhotoModel names the camera-photo notice in JSON-lines output.
const noticePhotoModel = "photo_model"

// photoModelNotice is the notice index prints, once per run, when a library
// on the bundled model gets pictures that look like camera photos, and the
// commands it recommends: pull a real CLIP model, index the same paths with
// it into a new library (one library holds one model's vectors).
func photoModelNotice(roots []string) (string, []string) {
	msg := fmt.Sprintf("mmsearch: note: these look like camera photos, and this library uses the bundled %s model, "+
		"trained on emoji artwork: on photos its results are close to random. For photos, download a CLIP model "+
		"and index with it into a new library (one library holds one model's vectors):", models.BundledModel)
	quoted := make([]string, len(roots))
	for i, r := range roots {
		quoted[i] = shellQuote(r)
	}
	return msg, []string{
		"mmsearch models pull " + photoModel,
		"mmsearch index --model " + photoModel + " --library NEW-LIBRARY " + strings.Join(quoted, " "),
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+,:@%=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// reportIngest prints an ingest's final progress and its report (a summary
// with the first failures, or JSON), as index and coordinator do, and
// returns the ingest's error.
func reportIngest(e *env, bar *progressBar, rep engine.IngestReport, err error, asJSON bool) error {
	if err != nil && !rep.Stopped && rep.Found == 0 && rep.Failed == 0 {
		// Nothing started (the library is locked by another
		// index, a root is missing): the error says it all.
		return err
	}
	bar.update(finalProgress(rep), true)
	if asJSON {
		printJSON(e.stdout, rep)
	} else {
		if rep.Stopped {
			fmt.Fprintln(e.stdout, stoppedSummary(rep))
		} else {
			fmt.Fprintln(e.stdout, indexSummary(rep))
		}
		if s := skippedSummary(rep.SkippedByKind); s != "" {
			fmt.Fprintf(e.stdout, "not still images: %s\n", s)
		}
		if rep.ExcludedRemoved > 0 {
			fmt.Fprintf(e.stdout, "%s items and records removed: now excluded\n", thousands(rep.ExcludedRemoved))
		}
		if rep.Failed > 0 {
			fmt.Fprintf(e.stdout, "failures:\n")
			for i, fe := range rep.Errors {
				if i == 10 {
					fmt.Fprintf(e.stdout, "  ... and %d more; run 'mmsearch errors'\n", len(rep.Errors)-10)
					break
				}
				fmt.Fprintf(e.stdout, "  %s [%s]: %s\n", quotePath(fe.Path), fe.Stage, fe.Reason)
			}
		}
		if rep.Stopped {
			fmt.Fprintf(e.stdout, "the batches committed so far are kept; run the same command again to continue\n")
		}
	}
	return err
}

// ingestProgress turns an ingest's progress into the bar's: the files to
// index out of those queued, a total from the counting walk while the real
// walk, held back by the workers, is still going.
func ingestProgress(p engine.Progress) progressState {
	s := progressState{Done: p.Done, Total: p.Queued, Counting: -1, Found: p.Found, Failed: p.Failed, Skipped: p.Skipped, Elapsed: p.Elapsed}
	if p.Walking {
		switch {
		case p.Counted:
			// The files to do may have changed since they were counted.
			s.Total = max(p.ToDo, p.Queued)
		default:
			s.Total, s.Counting = -1, p.Total
		}
		s.Found = max(p.Total, p.Found)
	}
	return s
}

// finalProgress is the bar's last state: files finished (indexed, reused,
// failed, or skipped as not still images) of those queued (failures of the
// walk itself, such as a link loop, were never queued), and all files found.
func finalProgress(rep engine.IngestReport) progressState {
	walkFailed := 0
	for _, fe := range rep.Errors {
		if fe.Stage == store.StageWalk {
			walkFailed++
		}
	}
	return progressState{Done: rep.Indexed + rep.Reused + rep.Failed - walkFailed + rep.SkippedNew, Total: rep.New + rep.Changed + rep.Retried,
		Counting: -1, Found: rep.Found, Failed: rep.Failed, Skipped: rep.SkippedTotal(), Elapsed: rep.Elapsed}
}

// indexSummary is the line a finished index prints.
func indexSummary(rep engine.IngestReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d files found: %d new, %d changed, %d unchanged, %d reused by content, %d deleted, %d failed (%d skipped, failed before",
		rep.Found, rep.New, rep.Changed, rep.Unchanged, rep.Reused, rep.Deleted, rep.Failed, rep.Skipped)
	if rep.Retried > 0 {
		fmt.Fprintf(&b, "; %d failed before, tried again", rep.Retried)
	}
	b.WriteString(")")
	for _, x := range []struct {
		n    int
		what string
	}{
		{rep.Dropped, "changed files no longer indexable, their old entries removed"},
		{rep.Cleared, "failure records no longer applying, cleared"},
		{rep.SkippedSpecial, "pipes, sockets or devices skipped"},
		{rep.Revisited, "folders reached again through a link, walked once"},
		{rep.Excluded, "library or cache folders not walked"},
		{rep.MetadataRead, "unchanged files' photo metadata read"},
	} {
		if x.n > 0 {
			fmt.Fprintf(&b, ", %d %s", x.n, x.what)
		}
	}
	fmt.Fprintf(&b, " in %s", rep.Elapsed.Round(time.Millisecond))
	return b.String()
}

// stoppedSummary is the line an interrupted index prints: what was
// committed, not what the walk had found.
func stoppedSummary(rep engine.IngestReport) string {
	committed := rep.Indexed + rep.Reused + rep.Failed
	return fmt.Sprintf("stopped after committing %d files (%d indexed, %d reused by content, %d failures recorded) of %d queued; the walk had found %d files, %d unchanged, in %s",
		committed, rep.Indexed, rep.Reused, rep.Failed, rep.New+rep.Changed+rep.Retried, rep.Found, rep.Unchanged, rep.Elapsed.Round(time.Millisecond))
}

// quotePath shows a path readably even when it is not valid UTF-8.
func quotePath(p string) string {
	if strings.ToValidUTF8(p, "") == p && !strings.ContainsAny(p, "\n\r\t") {
		return p
	}
	return fmt.Sprintf("%q", p)
}

func searchCommand() *command {
	var lf libraryFlags
	var k int
	var ef efFlag
	mode := engine.ModeAdd
	var ff filterFlags
	var asJSON, filesOnly, print0, include bool
	var batchFile string
	return &command{
		name:    "search",
		summary: "answer a query such as './dog.jpg - \"dog\" + \"cat\"', or a file of queries",
		usage:   "[--library DIR] [-k N] [--json | -f | -0] [--mode add|mul] [--after DATE] [--before DATE] [--camera TEXT] [--format LIST] [--min-pixels N] [--path PREFIX] [--min-score X] [--sort score|date] EXPR... | --batch FILE",
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			lf.registerThreads(fs)
			lf.pull.register(fs)
			intVar(fs, &k, "k", 10, 1, maxK, "number of results")
			registerEf(fs, &ef)
			fs.Var(&mode, "mode", "scoring `MODE`: add (cosine to the weighted sum, the default) or mul (3CosMul re-ranking)")
			ff.register(fs)
			fs.BoolVar(&asJSON, "json", false, "print results as JSON")
			fs.BoolVar(&filesOnly, "f", false, "print result paths only, one a line")
			fs.BoolVar(&print0, "0", false, "print result paths only, each ended by a NUL byte (for xargs -0)")
			fs.BoolVar(&print0, "print0", false, "the same as -0")
			fs.BoolVar(&include, "include-inputs", false, "keep items used in the query in the results")
			fs.StringVar(&batchFile, "batch", "", "answer the queries of `FILE` (- for standard input) in one process, one JSON line out for each: a line is a query, or a JSON object with \"q\" and its own k, ef, mode, include_inputs and filters (after, before, camera, format, min_pixels, path, min_score, sort); the flags are every query's defaults")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if batchFile != "" {
				if len(args) > 0 {
					return usagef("--batch reads the queries from its file: give no query arguments")
				}
				if filesOnly || print0 {
					return usagef("--batch writes JSON lines: -f and -0 do not apply")
				}
				d := &searchDefaults{k: k, ef: ef.n, mode: mode, include: include, filters: ff, home: e.getenv("HOME")}
				if _, err := d.options(&batchLine{}); err != nil {
					return usageError{err}
				}
				lib, err := lf.openExisting(ctx, e)
				if err != nil {
					return err
				}
				defer lib.Close()
				return searchBatch(ctx, e, lib, batchFile, d)
			}
			if len(args) == 0 {
				return usagef("no query given")
			}
			if n := btoi(asJSON) + btoi(filesOnly) + btoi(print0); n > 1 {
				return usagef("--json, -f and -0 exclude each other")
			}
			expr := strings.Join(args, " ")
			opt := engine.SearchOptions{
				K: k, Ef: ef.n, Mode: mode, IncludeInputs: include,
				Home: e.getenv("HOME"), AllowPaths: true, AllowURLs: true,
			}
			if err := ff.apply(&opt); err != nil {
				return err
			}
			lf.oneQuery = true
			lib, err := lf.openExisting(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			res, err := lib.Search(ctx, expr, opt)
			if errors.Is(err, engine.ErrBadFilter) || errors.Is(err, engine.ErrNoCameraData) {
				return usageError{err}
			}
			var se *query.SyntaxError
			if errors.As(err, &se) {
				fmt.Fprintln(e.stderr, se.Caret())
				return usageError{err}
			}
			if errors.Is(err, engine.ErrEmptyLibrary) {
				return fmt.Errorf("%w: %w", errNotFound, err)
			}
			if err != nil {
				return err
			}
			switch {
			case asJSON:
				if err := printJSON(e.stdout, res); err != nil {
					return err
				}
			case filesOnly:
				for _, r := range res.Results {
					fmt.Fprintln(e.stdout, r.Path)
				}
			case print0:
				for _, r := range res.Results {
					fmt.Fprintf(e.stdout, "%s\x00", r.Path)
				}
			default:
				fmt.Fprintf(e.stderr, "query: %s\n", res.ReadAs)
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "RANK\tSCORE\tID\tPATH\n")
				for i, r := range res.Results {
					path := quotePath(r.Path)
					if n := r.Copies(); n == 1 {
						path += "  +1 copy"
					} else if n > 1 {
						path += fmt.Sprintf("  +%d copies", n)
					}
					fmt.Fprintf(tw, "%d\t%.4f\t%d\t%s\n", i+1, r.Score, r.ID, path)
				}
				tw.Flush()
			}
			if len(res.Results) == 0 {
				return fmt.Errorf("%w: no results", errNotFound)
			}
			return nil
		},
	}
}

func statsCommand() *command {
	var lf libraryFlags
	var asJSON bool
	var mirrorSample int
	return &command{
		name:    "stats",
		summary: "show a library's size, model and health",
		usage:   "[--library DIR] [--json]",
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			fs.BoolVar(&asJSON, "json", false, "print as JSON")
			countVar(fs, &mirrorSample, "sample", engine.DefaultMirrorSample, engine.MaxMirrorSample, "vectors of a remote index compared with the store's")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			lib, err := lf.openExisting(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			st, err := lib.Stats(ctx)
			if err != nil {
				return err
			}
			var ms *engine.MirrorState
			if lf.resolved != nil {
				m, err := lib.CheckMirror(ctx, mirrorSample)
				if err != nil {
					return err
				}
				ms = &m
			}
			if asJSON {
				if err := printJSON(e.stdout, struct {
					engine.Stats
					Remote *engine.MirrorState `json:"remote_index,omitempty"`
				}{st, ms}); err != nil {
					return err
				}
				return mirrorErr(ms)
			}
			fmt.Fprintf(e.stdout, "library     %s\nmodel       %s\nitems       %d\nerrors      %d\ngeneration  %d\ndatabase    %s\nindex       %s (fresh: %v)\n",
				st.Dir, st.Model, st.Items, st.Errors, st.Generation, humanBytes(st.DBBytes), humanBytes(st.IndexBytes), st.IndexFresh)
			if st.IndexProblem != "" {
				fmt.Fprintf(e.stdout, "            index file %s; the next search rebuilds and saves it\n", st.IndexProblem)
			}
			if st.ReadOnly {
				fmt.Fprintf(e.stdout, "read-only   yes (writes are disabled)\n")
			}
			skipped := map[string]int{}
			for k, v := range st.SkippedBy {
				skipped[k] = int(v)
			}
			if s := skippedSummary(skipped); s != "" {
				fmt.Fprintf(e.stdout, "skipped     %s\n", strings.TrimSuffix(s, " skipped"))
			}
			printPhotoStats(e.stdout, st.Photos)
			printMirror(e.stdout, ms)
			return mirrorErr(ms)
		},
	}
}

func errorsCommand() *command {
	var lf libraryFlags
	var asJSON bool
	return &command{
		name:    "errors",
		summary: "list the files that could not be indexed, with reasons",
		usage:   "[--library DIR] [--json]",
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			fs.BoolVar(&asJSON, "json", false, "print as JSON")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			lib, err := lf.openExisting(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			errs, err := lib.Errors(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				type row struct {
					Path      string `json:"path"`
					PathBytes []byte `json:"path_bytes,omitempty"` // exact bytes when Path is not valid UTF-8
					Stage     string `json:"stage"`
					Class     string `json:"class"` // content: skipped until the file changes; transient: tried every run
					Reason    string `json:"reason"`
					Size      int64  `json:"size"`
				}
				rows := make([]row, 0, len(errs))
				for _, fe := range errs {
					rows = append(rows, row{fe.Path, engine.RawBytes(fe.Path), string(fe.Stage), string(fe.Class), fe.Reason, fe.Size})
				}
				return printJSON(e.stdout, rows)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "STAGE\tCLASS\tPATH\tREASON\n")
			for _, fe := range errs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", fe.Stage, fe.Class, quotePath(fe.Path), fe.Reason)
			}
			tw.Flush()
			if st, err := lib.Stats(ctx); err == nil {
				skipped := map[string]int{}
				for k, v := range st.SkippedBy {
					skipped[k] = int(v)
				}
				if s := skippedSummary(skipped); s != "" {
					fmt.Fprintf(e.stdout, "(not errors: %s as not still images)\n", s)
				}
			}
			return nil
		},
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
