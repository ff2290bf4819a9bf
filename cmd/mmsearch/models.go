package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"mmsearch/encoders"
	"mmsearch/models"
)

// modelsCommand is `mmsearch models`: list, info, pull, import, verify, use.
func modelsCommand() *command {
	return &command{
		name:    "models",
		summary: "list, download, import, verify, choose and quantize CLIP models",
		usage:   "list|info|pull|import|verify|use|quantize ...",
		children: []*command{
			modelsListCommand(),
			modelsInfoCommand(),
			modelsPullCommand(),
			modelsImportCommand(),
			modelsVerifyCommand(),
			modelsUseCommand(),
			modelsQuantizeCommand(),
		},
	}
}

// modelsFlags are the flags the models subcommands share.
type modelsFlags struct {
	registry   string
	ortLibrary string
	asJSON     bool
}

func (f *modelsFlags) registerRegistry(fs *flag.FlagSet) {
	fs.StringVar(&f.registry, "registry", "", "model registry: a registry.json file or an http(s) URL (default: $"+models.RegistryEnv+", then onnx-models/registry.json beside the executable or in the current folder)")
}

func (f *modelsFlags) registerRuntime(fs *flag.FlagSet) {
	fs.StringVar(&f.ortLibrary, "ort-library", "", "ONNX Runtime shared library (default: $"+encoders.LibraryEnv+", then the set-up cache)")
}

func (f *modelsFlags) registerJSON(fs *flag.FlagSet) {
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
}

// hub returns a Hub on the data folder, logging warnings to w.
func (f *modelsFlags) hub(e *env, w io.Writer) *models.Hub {
	h := models.New(e.getenv)
	h.Bundle = e.bundle
	h.Runtime = encoders.RuntimeOptions{LibraryPath: f.ortLibrary, Getenv: e.getenv}
	h.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return h
}

// loadRegistry finds and reads the registry; with optional set, a missing
// registry is not an error (nil is returned).
func (f *modelsFlags) loadRegistry(ctx context.Context, e *env, optional bool) (*models.Registry, error) {
	loc, err := models.FindRegistry(f.registry, e.getenv)
	if err != nil {
		if optional && errors.Is(err, models.ErrNoRegistry) {
			return nil, nil
		}
		return nil, err
	}
	return models.LoadRegistry(ctx, loc, nil)
}

// modelsNotFoundErr keeps an error's message and adds errNotFound (exit status 3).
type modelsNotFoundErr struct{ err error }

func (n modelsNotFoundErr) Error() string   { return n.err.Error() }
func (n modelsNotFoundErr) Unwrap() []error { return []error{errNotFound, n.err} }

func modelsClassify(err error) error {
	if errors.Is(err, models.ErrUnknownModel) || errors.Is(err, models.ErrModelNotFound) {
		return modelsNotFoundErr{err}
	}
	return err
}

// modelBytes formats a byte count in decimal units.
func modelBytes(n int64) string {
	if n < 0 {
		return "?"
	}
	return models.DecimalBytes(n)
}

func modelsListCommand() *command {
	var f modelsFlags
	return &command{
		name:    "list",
		summary: "list installed, bundled and downloadable models (* marks the default)",
		usage:   "[--registry FILE|URL] [--json]",
		setFlags: func(fs *flag.FlagSet) {
			f.registerRegistry(fs)
			f.registerJSON(fs)
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("list takes no arguments")
			}
			reg, err := f.loadRegistry(ctx, e, f.registry == "")
			if err != nil {
				return err
			}
			h := f.hub(e, e.stderr)
			list, err := h.List(reg)
			if err != nil {
				return err
			}
			if f.asJSON {
				if list == nil {
					list = []models.ModelInfo{}
				}
				return printJSON(e.stdout, list)
			}
			def, _ := h.Default()
			if def == "" {
				def = models.BundledModel
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\tNAME\tSTATUS\tDIM\tIMAGE\tSIZE\tDESCRIPTION")
			for _, m := range list {
				mark := ""
				if m.Name == def {
					mark = "*"
				}
				desc := m.Description
				if m.Error != "" {
					desc = "ERROR: " + m.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", mark, m.Name, m.Status, m.EmbeddingDim, m.ImageSize, modelSize(m.Bytes), desc)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if reg == nil {
				fmt.Fprintf(e.stderr, "no model registry found: downloadable models are not listed (use --registry or $%s)\n", models.RegistryEnv)
			}
			return nil
		},
	}
}

func modelsInfoCommand() *command {
	var f modelsFlags
	return &command{
		name:    "info",
		summary: "describe a model: manifest, files, provenance",
		usage:   "[--registry FILE|URL] [--json] NAME|DIR",
		setFlags: func(fs *flag.FlagSet) {
			f.registerRegistry(fs)
			f.registerJSON(fs)
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one model NAME or DIR")
			}
			reg, err := f.loadRegistry(ctx, e, f.registry == "")
			if err != nil {
				return err
			}
			info, err := f.hub(e, e.stderr).Info(args[0], reg)
			if err != nil {
				return modelsClassify(err)
			}
			if f.asJSON {
				return printJSON(e.stdout, info)
			}
			w := e.stdout
			fmt.Fprintf(w, "name:          %s\nstatus:        %s\n", info.Name, info.Status)
			if info.Default {
				fmt.Fprintln(w, "default:       yes")
			}
			if info.Dir != "" {
				fmt.Fprintf(w, "folder:        %s\n", info.Dir)
			}
			if info.Link != "" {
				fmt.Fprintf(w, "links to:      %s\n", info.Link)
			}
			fmt.Fprintf(w, "description:   %s\n", info.Description)
			fmt.Fprintf(w, "embedding dim: %d\nimage size:    %d\n", info.EmbeddingDim, info.ImageSize)
			if info.ContextLength > 0 {
				fmt.Fprintf(w, "context:       %d tokens\n", info.ContextLength)
			}
			if info.Pooling != "" {
				fmt.Fprintf(w, "pooling:       %s\n", info.Pooling)
			}
			if info.Layout != "" {
				fmt.Fprintf(w, "layout:        %s\n", info.Layout)
			}
			if info.Fingerprint != "" {
				fmt.Fprintf(w, "fingerprint:   %s\n", info.Fingerprint)
			}
			if info.Bytes > 0 {
				fmt.Fprintf(w, "size:          %s\n", modelBytes(info.Bytes))
			}
			if m := info.Manifest; m != nil {
				fmt.Fprintf(w, "image tower:   %s (%s -> %s), %s resize to %d, mean %v, std %v\n", m.Image.ONNX, m.Image.Input.Name, m.Image.Output.Name, m.Image.Interpolation, m.Image.Size, m.Image.Mean, m.Image.Std)
				mask := "no attention mask"
				if m.Text.AttentionMask != nil {
					mask = m.Text.AttentionMask.Name
				}
				fmt.Fprintf(w, "text tower:    %s (%s %s, %s -> %s), ids start %d end %d pad %d\n", m.Text.ONNX, m.Text.InputIDs.Name, m.Text.InputIDs.DType, mask, m.Text.Output.Name, m.Text.StartID, m.Text.EndID, m.Text.PadID)
				fmt.Fprintf(w, "templates:     %q\n", m.Text.Templates)
			}
			if p := info.Provenance; p != nil {
				fmt.Fprintf(w, "origin:        %s (%s layout) on %s\n", p.Origin, p.Layout, p.Created.Format(time.RFC3339))
				for _, pf := range p.Files {
					fmt.Fprintf(w, "  %-32s %10s  sha256 %s  (%s)\n", pf.Path, modelBytes(pf.Size), pf.SHA256, pf.Checksum)
				}
			}
			if r := info.Registry; r != nil && info.Status == models.StatusAvailable {
				fmt.Fprintf(w, "homepage:      %s\nfiles:\n", r.Homepage)
				for _, rf := range r.Files {
					digest := rf.SHA256
					if digest == "" {
						digest = "(none published: " + models.VerifyTrustOnFirstUse + ")"
					}
					fmt.Fprintf(w, "  %-32s %10s  sha256 %s\n", rf.Path, modelSize(rf.Size), digest)
				}
			}
			if info.Error != "" {
				fmt.Fprintf(w, "error:         %s\n", info.Error)
			}
			return nil
		},
	}
}

// modelSize formats a size that may be unknown (0).
func modelSize(n int64) string {
	if n <= 0 {
		return "?"
	}
	return modelBytes(n)
}

func modelsPullCommand() *command {
	var f modelsFlags
	var force, requireChecksums, withInt8 bool
	var q quantizeFlags
	return &command{
		name:    "pull",
		summary: "download a model from the registry, verify it and install it",
		usage:   "[--registry FILE|URL] [--force] [--require-checksums] [--int8 [quantize flags]] [--json] NAME",
		setFlags: func(fs *flag.FlagSet) {
			f.registerRegistry(fs)
			f.registerRuntime(fs)
			f.registerJSON(fs)
			fs.BoolVar(&force, "force", false, "download and replace a model that is already installed")
			fs.BoolVar(&requireChecksums, "require-checksums", false, "refuse files that have no published sha256")
			fs.BoolVar(&withInt8, "int8", false, "also install an INT8 copy as NAME-int8 (see 'models quantize')")
			q.register(fs)
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one model NAME (see 'mmsearch models list')")
			}
			qopt, err := q.options()
			if err != nil {
				return err
			}
			reg, err := f.loadRegistry(ctx, e, false)
			if err != nil {
				return err
			}
			res, err := pullModel(ctx, e, &f, reg, args[0], models.PullOptions{Force: force, RequireChecksums: requireChecksums}, e.stdout)
			if err != nil {
				return err
			}
			h := f.hub(e, e.stderr)
			if withInt8 {
				return quantizeInto(ctx, h, res.Dir, res.Name+"-int8", qopt, force, f.asJSON, e.stdout)
			}
			return nil
		},
	}
}

func modelsImportCommand() *command {
	var f modelsFlags
	var name, layout, description string
	var inPlace, force, withInt8 bool
	var q quantizeFlags
	return &command{
		name:    "import",
		summary: "make a Hugging Face or OpenCLIP ONNX export folder usable (writes model.json)",
		usage:   "[--name NAME] [--layout auto|huggingface|openclip] [--in-place] [--force] [--int8 [quantize flags]] [--json] DIR",
		setFlags: func(fs *flag.FlagSet) {
			f.registerRuntime(fs)
			f.registerJSON(fs)
			fs.StringVar(&name, "name", "", "model name (default: the folder's name)")
			fs.StringVar(&layout, "layout", "auto", "folder layout: auto, huggingface (onnx/vision_model.onnx, onnx/text_model.onnx, ...) or openclip (visual/model.onnx, textual/model.onnx, ...)")
			fs.StringVar(&description, "description", "", "one-line description for the manifest")
			fs.BoolVar(&inPlace, "in-place", false, "write model.json into DIR and link the model to it instead of copying the files")
			fs.BoolVar(&force, "force", false, "replace an installed model of the same name (or DIR's model.json with --in-place)")
			fs.BoolVar(&withInt8, "int8", false, "also install an INT8 copy as NAME-int8 (see 'models quantize')")
			q.register(fs)
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one folder DIR")
			}
			switch layout {
			case "auto":
				layout = ""
			case models.LayoutHuggingFace, models.LayoutOpenCLIP:
			default:
				return usagef("--layout %q: want auto, %s or %s", layout, models.LayoutHuggingFace, models.LayoutOpenCLIP)
			}
			qopt, err := q.options()
			if err != nil {
				return err
			}
			res, err := f.hub(e, e.stderr).Import(ctx, args[0], name, models.ImportOptions{Layout: layout, InPlace: inPlace, Force: force, Description: description})
			if err != nil {
				return err
			}
			if f.asJSON {
				if err := printJSON(e.stdout, res); err != nil {
					return err
				}
			} else {
				how := "copied into"
				if res.InPlace {
					how = "manifest written in"
				}
				m := res.Manifest
				fmt.Fprintf(e.stdout, "imported %s (%s layout, %d-d, %d px, text pooling %s): %s %s\n", res.Name, res.Layout, m.EmbeddingDim, m.Image.Size, m.Text.Pooling, how, res.Dir)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(e.stderr, "warning: %s\n", w)
			}
			if withInt8 {
				return quantizeInto(ctx, f.hub(e, e.stderr), res.Dir, res.Name+"-int8", qopt, force, f.asJSON, e.stdout)
			}
			return nil
		},
	}
}

func modelsVerifyCommand() *command {
	var f modelsFlags
	return &command{
		name:    "verify",
		summary: "re-hash a model's files and check its graphs against model.json",
		usage:   "[--json] NAME|DIR",
		setFlags: func(fs *flag.FlagSet) {
			f.registerRuntime(fs)
			f.registerJSON(fs)
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one model NAME or DIR")
			}
			rep, err := f.hub(e, e.stderr).Verify(ctx, args[0])
			if rep == nil {
				return modelsClassify(err)
			}
			if f.asJSON {
				if jerr := printJSON(e.stdout, rep); jerr != nil {
					return jerr
				}
				return err
			}
			for _, c := range rep.Files {
				status := "ok"
				if !c.OK {
					status = "FAILED: " + c.Error
				}
				fmt.Fprintf(e.stdout, "%-36s %-20s %s\n", c.Path, c.Checksum, status)
			}
			graphs := "ok"
			if !rep.GraphsOK {
				graphs = "FAILED"
			}
			fmt.Fprintf(e.stdout, "%-36s %-20s %s\n", "graphs", "inputs/outputs", graphs)
			if err == nil {
				fmt.Fprintf(e.stdout, "%s: verified (%s)\n", rep.Name, rep.Dir)
			}
			return err
		},
	}
}

func modelsUseCommand() *command {
	var f modelsFlags
	var pull autoPull
	return &command{
		name:    "use",
		summary: "make a model the default (recorded in the data folder's config.json); a registry model not installed yet is downloaded first",
		usage:   "[--yes] [--registry FILE|URL] NAME|DIR",
		setFlags: func(fs *flag.FlagSet) {
			f.registerRegistry(fs)
			pull.register(fs)
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one model NAME or DIR")
			}
			if err := ensureModel(ctx, e, args[0], f.registry, pull.yes); err != nil {
				return err
			}
			h := models.New(e.getenv)
			if err := h.Use(args[0]); err != nil {
				return modelsClassify(err)
			}
			def, err := h.Default()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "default model: %s\n", def)
			return nil
		},
	}
}

// downloadProgress shows download progress on stderr: on a terminal one line
// redrawn in place (bar, bytes, rate, ETA); otherwise a plain line per file
// at each 25% step. It also serves as the log writer, so warnings do not
// tangle with the bar.
type downloadProgress struct {
	w        io.Writer
	terminal bool

	mu       sync.Mutex
	file     string
	base     int64 // bytes present when the file's transfer started (resumed)
	start    time.Time
	lastDraw time.Time
	lastStep int64
	drawn    bool
	phase    string
}

func newDownloadProgress(w io.Writer, terminal bool) *downloadProgress {
	return &downloadProgress{w: w, terminal: terminal}
}

// Write prints a log line, clearing the bar first.
func (p *downloadProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	return p.w.Write(b)
}

func (p *downloadProgress) update(pr models.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if pr.Phase != models.PhaseDownload {
		if pr.Phase != p.phase {
			p.endLine()
			fmt.Fprintf(p.w, "%s %s ...\n", pr.Phase, pr.Model)
		}
		p.phase = pr.Phase
		return
	}
	p.phase = pr.Phase
	if pr.File != p.file {
		p.endLine()
		p.file, p.base, p.start, p.lastStep = pr.File, pr.Done, now, -1
		if !p.terminal {
			resumed := ""
			if pr.Done > 0 && pr.Done < pr.Total {
				resumed = fmt.Sprintf(", resuming at %s", modelBytes(pr.Done))
			}
			fmt.Fprintf(p.w, "download %s (%d/%d, %s%s)\n", pr.File, pr.Index, pr.Count, modelBytes(pr.Total), resumed)
		}
	}
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(pr.Done-p.base) / elapsed
	}
	complete := pr.Total > 0 && pr.Done >= pr.Total
	if !p.terminal {
		if pr.Total > 0 {
			step := pr.Done * 4 / pr.Total // quarters
			if step > p.lastStep && step > 0 {
				p.lastStep = step
				fmt.Fprintf(p.w, "  %s: %d%% (%s of %s, %s/s)\n", pr.File, step*25, modelBytes(pr.Done), modelBytes(pr.Total), modelBytes(int64(rate)))
			}
		}
		return
	}
	if !complete && now.Sub(p.lastDraw) < 100*time.Millisecond {
		return
	}
	p.lastDraw = now
	const width = 24
	bar := strings.Repeat(".", width)
	eta := ""
	if pr.Total > 0 {
		filled := int(min(int64(width), pr.Done*width/pr.Total))
		bar = strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		if rate > 0 && !complete {
			eta = " ETA " + (time.Duration(float64(pr.Total-pr.Done)/rate) * time.Second).Round(time.Second).String()
		}
	}
	fmt.Fprintf(p.w, "\r\033[K%s [%s] %s/%s %s/s%s (%d/%d)", pr.File, bar, modelBytes(pr.Done), modelBytes(pr.Total), modelBytes(int64(rate)), eta, pr.Index, pr.Count)
	p.drawn = true
}

// endLine finishes a drawn bar line.
func (p *downloadProgress) endLine() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *downloadProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
}
