package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"mmsearch/bench"
	"mmsearch/bench/ann"
)

// maxMergeSources bounds the scale reports one merge reads.
const maxMergeSources = 32

// maxRunFileBytes bounds each file copied from a run folder (reports and
// plots: kilobytes to a few megabytes).
const maxRunFileBytes = 64 << 20

func benchANNMergeCommand() *command {
	var out benchOutput
	var asJSON bool
	return &command{
		name:    "ann-merge",
		summary: "gather scale reports of bench ann --sizes, measured apart, into one report with its plots",
		usage: `[--out DIR] SCALEDIR...

Reads ann-scale.json from each SCALEDIR (as written by bench ann --sizes),
and writes into DIR one scale report with every run, the run folders copied
beside it, and the plots of cost against n drawn over all of them. Nothing
is measured: a collection too large to measure beside the small ones in one
sitting (a million vectors on two cores) is run on its own and merged. Each
row names its source, and a Sources table gives every source's revision,
date, load average at start, repetitions and cleanliness. A run (a
distribution at a size) may come from one source only; all sources must
share the dimension and the machine (CPU model and count). Writing into the
committed bench/results from a dirty tree is refused without --force (the
header's revision is the merging binary's); the machine's load is not
checked, as nothing is measured.`,
		setFlags: func(fs *flag.FlagSet) {
			out.register(fs, "folder for the merged report (may be one of the sources)")
			fs.BoolVar(&asJSON, "json", false, "print the merged report as JSON instead of tables")
		},
		run: func(ctx context.Context, e *env, fsys *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usagef("no scale report folder given")
			}
			if len(args) > maxMergeSources {
				return usagef("%d scale report folders: at most %d", len(args), maxMergeSources)
			}
			srcs := make([]ann.StoredScale, 0, len(args))
			for _, dir := range args {
				s, err := readScaleReport(dir)
				if err != nil {
					return err
				}
				srcs = append(srcs, s)
			}
			merged, machine, err := ann.MergeScale(srcs)
			if err != nil {
				return err
			}
			dir := out.path(e)
			state := bench.ProbeRun(ctx, ".", dir)
			state.LoadAvg = "" // nothing is measured: the machine's load touches no figure
			why, err := bench.CheckRun(state, out.force)
			if err != nil {
				return err
			}
			for _, s := range srcs {
				for _, run := range s.Result.Runs {
					if err := copyRunFolder(ctx, filepath.Join(s.Dir, run), filepath.Join(dir, run)); err != nil {
						return err
					}
				}
			}
			h := bench.NewHeader(ctx, ann.ScaleReportName, "")
			machine.LoadAvg = "" // each source's is in the Sources table
			h.Machine = machine
			h.Unclean = why
			for i, src := range merged.Sources {
				for _, why := range src.Unclean {
					h.Unclean = append(h.Unclean, fmt.Sprintf("source %d (%s): %s", i+1, src.Dir, why))
				}
			}
			rep := merged.Report(h)
			rep.Notes = append(rep.Notes, fmt.Sprintf("merged by bench ann-merge from %d scale reports: the git revision above is the merging binary's; each row's own is in the Sources table", len(args)))
			files, err := ann.WriteScaleOutputs(dir, merged, rep)
			if err != nil {
				return err
			}
			return printBenchReport(e, rep, files, asJSON)
		},
	}
}

// readScaleReport reads dir/ann-scale.json.
func readScaleReport(dir string) (ann.StoredScale, error) {
	path := filepath.Join(dir, ann.ScaleReportName+".json")
	b, err := readReportBytes(path)
	if err != nil {
		return ann.StoredScale{}, fmt.Errorf("scale report: %w", err)
	}
	var rep headerAndData
	if err := json.Unmarshal(b, &rep); err != nil {
		return ann.StoredScale{}, fmt.Errorf("scale report %s: %w", path, err)
	}
	s := ann.StoredScale{Dir: dir, Header: rep.Header}
	if err := json.Unmarshal(rep.Data, &s.Result); err != nil {
		return ann.StoredScale{}, fmt.Errorf("scale report %s: data: %w", path, err)
	}
	for key, run := range s.Result.Runs {
		if !filepath.IsLocal(run) || filepath.Base(run) != run {
			return ann.StoredScale{}, fmt.Errorf("scale report %s: run %q names folder %q, not a folder beside the report", path, key, run)
		}
	}
	fillMemorySources(dir, &s.Result)
	return s, nil
}

// fillMemorySources gives the rows of a scale report written before rows
// said how a peer measured its memory (ScaleRow.MemorySource) the source
// recorded in their run's own report, so a merged report can say which
// figures count what. A run report that cannot be read leaves its rows as
// they are: the source is then simply not named.
func fillMemorySources(dir string, s *ann.ScaleResult) {
	runs := map[string]*ann.Result{}
	for i := range s.Rows {
		row := &s.Rows[i]
		if row.MemorySource != "" || row.BytesPerVector <= 0 || row.Backend == ann.BackendHNSW || row.Backend == ann.BackendFlat {
			continue
		}
		run, ok := s.Runs[fmt.Sprintf("%s n=%d", row.Distribution, row.N)]
		if !ok {
			continue
		}
		res, seen := runs[run]
		if !seen {
			res = readRunResult(filepath.Join(dir, run, ann.ReportName+".json"))
			runs[run] = res
		}
		if res == nil {
			continue
		}
		if b := res.Backend(row.Backend); b != nil && b.Memory != nil {
			row.MemorySource = b.Memory.Source
		}
	}
}

// readRunResult reads the data of one run's ann.json, or nil.
func readRunResult(path string) *ann.Result {
	b, err := readReportBytes(path)
	if err != nil {
		return nil
	}
	var rep headerAndData
	var res ann.Result
	if json.Unmarshal(b, &rep) != nil || json.Unmarshal(rep.Data, &res) != nil {
		return nil
	}
	return &res
}

// copyRunFolder copies the regular files of one run folder (its reports
// and plots) from src to dst; nothing is copied when both are the same.
func copyRunFolder(ctx context.Context, src, dst string) error {
	if sameFile(src, dst) {
		return nil
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	for _, ent := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !ent.Type().IsRegular() {
			continue
		}
		if err := copyLimited(filepath.Join(src, ent.Name()), filepath.Join(dst, ent.Name()), maxRunFileBytes); err != nil {
			return fmt.Errorf("run folder %s: %w", src, err)
		}
	}
	return nil
}

// sameFile reports whether a and b name the same existing file or folder.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// copyLimited copies the file src to dst, refusing one larger than limit.
func copyLimited(src, dst string, limit int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if st.Size() > limit {
		return fmt.Errorf("%s: %d bytes, more than %d", src, st.Size(), limit)
	}
	outF, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(outF, io.LimitReader(in, limit)); err != nil {
		outF.Close()
		return err
	}
	return outF.Close()
}
