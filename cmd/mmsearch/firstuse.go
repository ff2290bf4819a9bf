package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"mmsearch/models"
)

// autoPull is what a command that takes a model by name needs to download a
// registry model that is not installed yet: --yes, for scripts, answers the
// question a terminal would be asked.
type autoPull struct {
	yes     bool
	enabled bool // the command registered --yes: it may download
}

func (a *autoPull) register(fs *flag.FlagSet) {
	a.enabled = true
	fs.BoolVar(&a.yes, "yes", false, "download a registry model named by --model (or NAME) that is not installed, without asking")
}

// errDeclined is the answer "no" to the download question.
var errDeclined = errors.New("download declined")

// ensureModel makes sure that spec, a model named on the command line,
// can be found: a folder or an installed model is left alone; a name the
// registry lists is downloaded (models.Hub.Pull: progress bar, checksums,
// atomic install) after the user agreed — on a terminal by answering the
// question, elsewhere by --yes. Anything else is left for the resolve chain
// to report. registry is an explicit registry location ("" = the usual
// search: $MMSEARCH_REGISTRY, onnx-models/registry.json).
func ensureModel(ctx context.Context, e *env, spec, registry string, yes bool) error {
	if spec == "" || strings.ContainsRune(spec, os.PathSeparator) || spec == "." || spec == ".." {
		return nil
	}
	if _, err := e.models().Lookup(spec); err == nil || !errors.Is(err, models.ErrModelNotFound) {
		return nil
	}
	loc, err := models.FindRegistry(registry, e.getenv)
	if err != nil {
		return nil // no registry: "model not found" from the resolve chain says it
	}
	reg, err := models.LoadRegistry(ctx, loc, nil)
	if err != nil {
		return nil
	}
	entry, err := reg.Lookup(spec)
	if err != nil {
		return nil
	}
	from := strings.Join(entry.Hosts(), ", ")
	if !yes {
		if !e.interactive {
			return fmt.Errorf("model %s is not installed; it can be downloaded from %s (%s): pass --yes to download it now, or run 'mmsearch models pull %s' first",
				spec, from, entry.SizeText(), spec)
		}
		ok, err := askYesNo(ctx, e.stdin, e.stderr, fmt.Sprintf("Download %s (%s) from %s? [y/N] ", spec, entry.SizeText(), from))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: model %s is not installed (nothing was downloaded); 'mmsearch models pull %s' installs it", errDeclined, spec, spec)
		}
	}
	// The command's own output stays clean (search -f, --json): the pull
	// reports on stderr.
	_, err = pullModel(ctx, e, &modelsFlags{}, reg, spec, models.PullOptions{}, e.stderr)
	return err
}

// askYesNo writes question to w and reads one line from r: y or yes (any
// case) is true, anything else — an empty line, end of input — false. It
// gives up when ctx ends (Ctrl-C) with ctx's error.
func askYesNo(ctx context.Context, r io.Reader, w io.Writer, question string) (bool, error) {
	fmt.Fprint(w, question)
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(io.LimitReader(r, 1024)).ReadString('\n')
		got <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(w)
		return false, context.Cause(ctx)
	case a := <-got:
		if a.err != nil && !errors.Is(a.err, io.EOF) {
			return false, fmt.Errorf("read the answer: %w", a.err)
		}
		if errors.Is(a.err, io.EOF) && a.line == "" {
			fmt.Fprintln(w)
		}
		switch strings.ToLower(strings.TrimSpace(a.line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}

// pullModel downloads and installs the registry model name with a progress
// bar on stderr and says what it installed: the summary line on summary
// (or the result as JSON on stdout with f.asJSON), warnings and any files
// trusted on first use on stderr. When the server cannot be reached at all
// the error says how to install the model by hand (Entry.ImportHint).
func pullModel(ctx context.Context, e *env, f *modelsFlags, reg *models.Registry, name string, opt models.PullOptions, summary io.Writer) (*models.PullResult, error) {
	bar := newDownloadProgress(e.stderr, e.isTerminal)
	h := f.hub(e, bar)
	opt.Progress = bar.update
	res, err := h.Pull(ctx, reg, name, opt)
	bar.finish()
	if errors.Is(err, models.ErrOffline) {
		if entry, lerr := reg.Lookup(name); lerr == nil {
			return nil, fmt.Errorf("%w\n%s", err, entry.ImportHint())
		}
	}
	if err != nil {
		return nil, modelsClassify(err)
	}
	if f.asJSON {
		if err := printJSON(e.stdout, res); err != nil {
			return nil, err
		}
	} else {
		fmt.Fprintf(summary, "installed %s in %s (%d files, %s)\n", res.Name, res.Dir, len(res.Files), modelBytes(res.Bytes))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	if n := len(res.TrustedOnFirstUse); n > 0 {
		fmt.Fprintf(e.stderr, "\nWARNING: %d file(s) of %s have no published sha256; the digests received were recorded (trust on first use):\n", n, res.Name)
		for _, pf := range res.TrustedOnFirstUse {
			fmt.Fprintf(e.stderr, "  %-32s sha256 %s\n", pf.Path, pf.SHA256)
		}
		fmt.Fprintf(e.stderr, "Compare them with the publisher's before trusting the model. From now on 'mmsearch models verify %s' checks the files against them.\n", res.Name)
	}
	return res, nil
}
