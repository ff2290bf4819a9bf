package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"mmsearch/engine"
	"mmsearch/engine/filekind"
	"mmsearch/engine/ignore"
	"mmsearch/engine/store"
)

// walkFlags are the options that choose what an indexing run (index,
// coordinator) walks and what it does with the library's earlier items:
// hidden files, excludes, deleted and failed files, metadata refresh.
type walkFlags struct {
	patterns     []string
	noDefaults   bool
	noIgnoreFile bool
	hidden       bool
	keepMissing  bool
	retryFailed  bool
	refreshMeta  bool
}

// register adds the flags; refreshNote ends --refresh-metadata's help (how
// this command reads the metadata).
func (f *walkFlags) register(fs *flag.FlagSet, refreshNote string) {
	fs.BoolVar(&f.hidden, "hidden", false, "include files and folders whose names start with '.'")
	fs.BoolVar(&f.keepMissing, "keep-missing", false, "keep items whose files were deleted")
	fs.BoolVar(&f.retryFailed, "retry-failed", false, "also try again files whose content failed before and has not changed since\n(failures that can pass, such as I/O errors and permissions, are tried again on every run)")
	fs.BoolVar(&f.refreshMeta, "refresh-metadata", false, "read the photo metadata (EXIF time, camera, GPS) of unchanged files again, "+refreshNote+"\n(items indexed before the library had metadata get it on any run)")
	fs.Func("exclude", "leave out files and folders matching this gitignore-style `GLOB`, relative to each PATH (repeatable; "+
		"also read from "+ignore.FileName+" files in any folder). Excluded by default: "+strings.Join(ignore.Defaults, " "),
		func(s string) error {
			if len(f.patterns) >= ignore.MaxPatterns {
				return fmt.Errorf("more than %d --exclude patterns", ignore.MaxPatterns)
			}
			f.patterns = append(f.patterns, s)
			return nil
		})
	fs.BoolVar(&f.noDefaults, "no-default-excludes", false, "do not exclude "+strings.Join(ignore.Defaults, " "))
	fs.BoolVar(&f.noIgnoreFile, "no-ignore-files", false, "disregard "+ignore.FileName+" files")
}

// check compiles the patterns, so a bad one is a usage error.
func (f *walkFlags) check() error {
	if _, err := ignore.New(nil, ignore.Options{Patterns: f.patterns, NoDefaults: f.noDefaults}); err != nil {
		return usageError{err}
	}
	return nil
}

// apply sets the options these flags choose.
func (f *walkFlags) apply(o *engine.IngestOptions) {
	o.IncludeHidden, o.KeepMissing, o.RetryFailed, o.RefreshMetadata = f.hidden, f.keepMissing, f.retryFailed, f.refreshMeta
	o.Exclude, o.NoDefaultExcludes, o.NoIgnoreFiles = f.patterns, f.noDefaults, f.noIgnoreFile
}

// thousands writes n with comma separators: 1,204.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// skippedSummary says "312 videos, 1,204 sidecars skipped", kinds in
// filekind.Kinds order, "" when nothing was skipped.
func skippedSummary(by map[string]int) string {
	var parts []string
	done := map[string]bool{}
	for _, k := range filekind.Kinds {
		if n := by[string(k)]; n > 0 {
			parts = append(parts, thousands(n)+" "+plural(k, n))
		}
		done[string(k)] = true
	}
	var rest []string
	for k, n := range by {
		if !done[k] && n > 0 {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, thousands(by[k])+" "+plural(filekind.Kind(k), by[k]))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " skipped"
}

func plural(k filekind.Kind, n int) string {
	if n == 1 {
		switch k {
		case filekind.Text:
			return "text file"
		case filekind.Audio:
			return "audio file"
		}
		return string(k)
	}
	return k.Plural()
}

func forgetCommand() *command {
	var lf libraryFlags
	var asJSON bool
	return &command{
		name:    "forget",
		summary: "remove every item under these paths (files and folders) from a library, in one transaction; the files are untouched",
		usage:   "[--library DIR] [--json] PATH...",
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			fs.BoolVar(&asJSON, "json", false, "print what was removed as JSON")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usagef("no PATH given")
			}
			if len(args) > 10000 {
				return usagef("%d paths given, at most 10000", len(args))
			}
			lib, err := lf.open(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			rep, err := lib.Forget(ctx, args)
			if errors.Is(err, engine.ErrNotInLibrary) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, rep)
			}
			fmt.Fprintf(e.stdout, "forgot %s items (%s failure and %s skip records)\n",
				thousands(rep.Items), thousands(rep.Errors), thousands(rep.Skipped))
			return nil
		},
	}
}

func duplicatesCommand() *command {
	var lf libraryFlags
	var asJSON bool
	var near float64
	var neighbours int
	return &command{
		name:    "duplicates",
		summary: "list groups of files with identical content, or with --near of near-duplicates",
		usage:   "[--library DIR] [--near SIMILARITY] [--json]",
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			fs.BoolVar(&asJSON, "json", false, "print the groups as JSON")
			fs.Float64Var(&near, "near", 0, "also group different files whose vectors have cosine similarity at least this (e.g. 0.95), found with the HNSW index")
			intVar(fs, &neighbours, "neighbours", 16, 1, engine.MaxNeighbours, "with --near: nearest contents compared with each")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("duplicates takes no arguments (got %q)", args[0])
			}
			if near < 0 || near > 1 {
				return usagef("--near %v out of range (0, 1]", near)
			}
			if neighbours < 1 || neighbours > engine.MaxNeighbours {
				return usagef("--neighbours %d out of range [1, %d]", neighbours, engine.MaxNeighbours)
			}
			lib, err := lf.open(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			groups, err := lib.Duplicates(ctx, engine.DuplicateOptions{Near: float32(near), Neighbours: neighbours})
			if err != nil {
				return err
			}
			if asJSON {
				if groups == nil {
					groups = []engine.DuplicateGroup{}
				}
				return printJSON(e.stdout, groups)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "GROUP\tKIND\tSIMILARITY\tID\tPATH\n")
			files := 0
			for i, g := range groups {
				for _, m := range g.Members {
					kind := "near"
					if m.SHA256 == g.Members[0].SHA256 {
						kind = "identical"
					}
					fmt.Fprintf(tw, "%d\t%s\t%.4f\t%d\t%s\n", i+1, kind, m.Similarity, m.ID, quotePath(m.Path))
					files++
				}
			}
			tw.Flush()
			what := "identical content"
			if near > 0 {
				what = fmt.Sprintf("identical or near (cosine ≥ %g) content", near)
			}
			fmt.Fprintf(e.stdout, "%s groups of %s, %s files\n", thousands(len(groups)), what, thousands(files))
			if len(groups) == 0 {
				return fmt.Errorf("%w: no duplicates", errNotFound)
			}
			return nil
		},
	}
}

// printPhotoStats writes stats' photo lines: the capture date range with
// where the times come from, the top cameras and the formats.
func printPhotoStats(w io.Writer, p store.MetaStats) {
	if !p.First.IsZero() {
		var src []string
		for _, s := range []struct{ key, what string }{
			{"exif", "EXIF"}, {"exif-no-offset", "EXIF without offset"}, {"mtime", "file time"}, {"unread", "not read yet"},
		} {
			if n := p.BySource[s.key]; n > 0 {
				src = append(src, thousands(int(n))+" "+s.what)
			}
		}
		fmt.Fprintf(w, "taken       %s to %s (%s)\n", p.First.Format("2006-01-02"), p.Last.Format("2006-01-02"), strings.Join(src, ", "))
	} else if n := p.BySource["unread"]; n > 0 {
		fmt.Fprintf(w, "taken       not read yet for %s items: run 'mmsearch index' on their folders\n", thousands(int(n)))
	}
	counts := func(cs []store.Count) string {
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = fmt.Sprintf("%s (%s)", c.Name, thousands(int(c.Count)))
		}
		return strings.Join(parts, ", ")
	}
	if len(p.Cameras) > 0 {
		fmt.Fprintf(w, "cameras     %s\n", counts(p.Cameras))
	}
	if len(p.Formats) > 0 {
		fmt.Fprintf(w, "formats     %s\n", counts(p.Formats))
	}
	if p.WithGPS > 0 {
		fmt.Fprintf(w, "with GPS    %s\n", thousands(int(p.WithGPS)))
	}
}
