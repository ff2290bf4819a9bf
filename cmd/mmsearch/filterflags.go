package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mmsearch/engine"
)

// filterFlags are search's filter and ordering flags: --after, --before,
// --camera, --format, --min-pixels, --path (alias --prefix), --min-score
// and --sort. Each value is checked as it is parsed, so a bad one is a
// usage error (exit 2) naming its flag.
type filterFlags struct {
	after, before dateFlag
	camera        string
	formats       formatsFlag
	minPixels     int
	path          pathFlag
	minScore      scoreFlag
	sort          sortFlag
}

// register defines the flags on fs.
func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.after, "after", "only items taken at or after `DATE` (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] local time, or RFC 3339): the EXIF capture time, else the file's modification time")
	fs.Var(&f.before, "before", "only items taken before `DATE` (same forms as --after)")
	fs.StringVar(&f.camera, "camera", "", "only items whose camera make or model contains `TEXT` (ignoring case)")
	fs.Var(&f.formats, "format", "only items in these `FORMATS`, comma-separated: "+strings.Join(engine.Formats, ",")+" (jpg, tif, hif accepted)")
	intVar(fs, &f.minPixels, "min-pixels", 0, 0, engine.MaxMinPixels, "only items with at least this many pixels, width × height")
	fs.Var(&f.path, "path", "only items whose path starts with `PREFIX` (a relative prefix is taken from the working folder)")
	fs.Var(&f.path, "prefix", "the same as --path")
	fs.Var(&f.minScore, "min-score", "drop results scoring below `X` (add mode: a cosine similarity in [-1, 1])")
	fs.Var(&f.sort, "sort", "result `ORDER`: score (best first, the default) or date (the k best, newest first)")
}

// apply sets opt's filter, minimum score and order, checking what single
// flags cannot: that the dates are in order, that a minimum score can be
// met in the scoring mode.
func (f *filterFlags) apply(opt *engine.SearchOptions) error {
	opt.Filter = engine.Filter{After: f.after.t, Before: f.before.t, Camera: f.camera,
		Formats: f.formats.names, MinPixels: int64(f.minPixels), PathPrefix: f.path.prefix}
	if err := opt.Filter.Validate(); err != nil {
		return usageError{err}
	}
	if f.minScore.set {
		if opt.Mode != engine.ModeMul && (f.minScore.x < -1 || f.minScore.x > 1) {
			return usagef("--min-score %v can never be met: scores in add mode are cosine similarities in [-1, 1]", f.minScore.x)
		}
		x := float32(f.minScore.x)
		opt.MinScore = &x
	}
	opt.Sort = f.sort.s
	return nil
}

// dateFlag is --after or --before.
type dateFlag struct{ t time.Time }

func (f *dateFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *dateFlag) Set(s string) error {
	t, err := engine.ParseDate(s, time.Local)
	if err != nil {
		return stripBadFilter(err) // the form wanted, not only "bad filter"
	}
	f.t = t
	return nil
}

// formatsFlag is --format.
type formatsFlag struct{ names []string }

func (f *formatsFlag) String() string {
	if f == nil {
		return ""
	}
	return strings.Join(f.names, ",")
}

func (f *formatsFlag) Set(s string) error {
	names, err := engine.ParseFormats(s)
	if err != nil {
		return stripBadFilter(err)
	}
	f.names = names
	return nil
}

// pathFlag is --path (and --prefix): a relative prefix is made absolute
// against the working folder, keeping a trailing separator (so that
// "photos/" matches inside the folder photos only).
type pathFlag struct{ prefix string }

func (f *pathFlag) String() string {
	if f == nil {
		return ""
	}
	return f.prefix
}

func (f *pathFlag) Set(s string) error {
	if s == "" {
		f.prefix = ""
		return nil
	}
	if len(s) > engine.MaxFilterText || strings.ContainsRune(s, 0) {
		return fmt.Errorf("a path prefix is at most %d bytes without NUL", engine.MaxFilterText)
	}
	p := s
	if !filepath.IsAbs(p) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("cannot resolve %q against the working folder: %w", s, err)
		}
		p = abs
		if strings.HasSuffix(s, string(os.PathSeparator)) || strings.HasSuffix(s, "/") {
			p += string(os.PathSeparator)
		}
	}
	f.prefix = p
	return nil
}

// scoreFlag is --min-score.
type scoreFlag struct {
	x   float64
	set bool
}

func (f *scoreFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatFloat(f.x, 'g', -1, 64)
}

func (f *scoreFlag) Set(s string) error {
	x, err := strconv.ParseFloat(s, 32)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("%q is not a finite number", s)
	}
	f.x, f.set = x, true
	return nil
}

// sortFlag is --sort.
type sortFlag struct{ s engine.Sort }

func (f *sortFlag) String() string {
	if f == nil {
		return ""
	}
	return string(f.s)
}

func (f *sortFlag) Set(s string) error {
	o, err := engine.ParseSort(s)
	if err != nil {
		return stripBadFilter(err)
	}
	f.s = o
	return nil
}

// stripBadFilter drops the "bad filter: " the engine's errors start with:
// the flag package already says the value is invalid.
func stripBadFilter(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), engine.ErrBadFilter.Error()+": "))
}
