package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"mmsearch/models"
	onnxmodels "mmsearch/onnx-models"
)

// Exit codes that scripts can rely on.
const (
	exitOK       = 0 // success
	exitFailure  = 1 // the command ran and failed (I/O, model, index ...)
	exitUsage    = 2 // bad flags or arguments, bad query syntax
	exitNotFound = 3 // nothing matched / unknown item
	exitCanceled = 130
)

// usageError marks an error caused by how the command was called; it maps to exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// env is what every command gets: its streams and whether stdout is a terminal.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	isTerminal     bool       // stderr is a terminal (progress bars)
	interactive    bool       // stdin and stderr are terminals: a question can be asked
	termWidth      func() int // stderr's terminal's columns now (nil: 80)
	getenv         func(string) string
	// bundle is the embedded bundled model (nil in tests that build an
	// env by hand: the bundled model is then found on disk only).
	bundle fs.FS
}

// models is the resolve chain as this process sees it.
func (e *env) models() models.Resolver {
	return models.Resolver{Getenv: e.getenv, Bundle: e.bundle}
}

// command is one subcommand. Subcommands with children (bench, models) dispatch
// on their first argument.
type command struct {
	name     string
	summary  string
	usage    string // arguments after the name, e.g. "[flags] EXPR..."
	setFlags func(fs *flag.FlagSet)
	run      func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error
	children []*command
}

// exitCode maps an error from a command to the process exit status.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.Is(err, flag.ErrHelp):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitCanceled
	case errors.Is(err, errNotFound):
		return exitNotFound
	}
	return exitFailure
}

// errNotFound marks "nothing found" outcomes (exit status 3).
var errNotFound = errors.New("not found")

// dispatch finds the command for args and runs it.
func dispatch(ctx context.Context, e *env, prog string, cmds []*command, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printCommands(e.stdout, prog, cmds)
		if len(args) == 0 {
			return usageError{errors.New("no command given")}
		}
		return nil
	}
	name := args[0]
	if name == "--version" || name == "-version" {
		name = "version" // like 'version', as other CLIs do
	}
	for _, c := range cmds {
		if c.name != name {
			continue
		}
		full := prog + " " + c.name
		if len(c.children) > 0 {
			return dispatch(ctx, e, full, c.children, args[1:])
		}
		fs := flag.NewFlagSet(full, flag.ContinueOnError)
		fs.SetOutput(e.stderr)
		fs.Usage = func() {
			fmt.Fprintf(e.stderr, "usage: %s %s\n\n%s\n", full, c.usage, c.summary)
			if hasFlags(fs) {
				fmt.Fprintln(e.stderr, "\nflags:")
				fs.PrintDefaults()
			}
		}
		if c.setFlags != nil {
			c.setFlags(fs)
		}
		if err := fs.Parse(reorderFlags(fs, args[1:])); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return usageError{err}
		}
		return c.run(ctx, e, fs, fs.Args())
	}
	return usagef("unknown command %q (run '%s --help' for the list)", name, prog)
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// reorderFlags moves flags that follow positional arguments in front of them,
// so "mmsearch search dog -k 5" works like other CLIs. A lone "--" ends flags.
func reorderFlags(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || a == "-" {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if k := strings.IndexByte(name, '='); k >= 0 {
			flags = append(flags, a)
			continue
		}
		f := fs.Lookup(name) // before isNumber: "-0" is a flag of search
		if f == nil && isNumber(a) {
			pos = append(pos, a)
			continue
		}
		if f == nil {
			// Unknown: let flag.Parse report it, unless it looks like a query operator.
			flags = append(flags, a)
			continue
		}
		flags = append(flags, a)
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, append([]string{"--"}, pos...)...)
}

func isNumber(s string) bool {
	_, err := fmt.Sscanf(s, "%g", new(float64))
	return err == nil
}

func printCommands(w io.Writer, prog string, cmds []*command) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags] [args]\n\ncommands:\n", prog)
	sorted := append([]*command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags.\n", prog)
}

func newEnv() *env {
	return &env{
		stdout:      os.Stdout,
		stderr:      os.Stderr,
		stdin:       os.Stdin,
		isTerminal:  isTerminal(os.Stderr),
		interactive: isTerminal(os.Stdin) && isTerminal(os.Stderr),
		termWidth:   func() int { return terminalWidth(os.Stderr, os.Getenv) },
		getenv:      os.Getenv,
		bundle:      onnxmodels.EmojiCLIP(),
	}
}

// printJSON writes v as indented JSON, the --json output of every command.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
