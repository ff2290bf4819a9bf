package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"mmsearch/bench"
)

// benchOutput is the --out and --force of a bench command and what the
// run learnt at its start about its own trustworthiness.
type benchOutput struct {
	dir     string
	force   bool
	unclean []string // bench.RunState.Unclean at the start of the run
	// startLoad is the load averages at the start of the run: the header
	// says "at start", and most reports make their header at the end.
	startLoad string
}

// register defines --out (described by what) and --force on fs.
func (o *benchOutput) register(fs *flag.FlagSet, what string) {
	fs.StringVar(&o.dir, "out", "", what+" ("+benchOutHelp+")")
	fs.BoolVar(&o.force, "force", false, "write to the committed bench/results even from a dirty tree or a busy machine (the report is then marked unclean)")
}

// begin checks the run before it measures anything: a run writing to the
// repository's bench/results from a dirty tree or on a machine whose load
// average exceeds half its cores is refused without --force; any unclean
// start is reported on stderr and recorded for the report's header.
func (o *benchOutput) begin(ctx context.Context, e *env) error {
	state := bench.ProbeRun(ctx, ".", o.path(e))
	why, err := bench.CheckRun(state, o.force)
	if err != nil {
		return err
	}
	o.unclean, o.startLoad = why, state.LoadAvg
	if len(why) > 0 {
		fmt.Fprintf(e.stderr, "mmsearch bench: warning: unclean run: %s; its report says so\n", strings.Join(why, "; "))
	}
	return nil
}

// path is the folder the reports go to.
func (o *benchOutput) path(e *env) string { return benchOut(e, o.dir) }

// mark records the start's findings in a report's header: why the run is
// unclean, if it is, and the load averages at the start.
func (o *benchOutput) mark(r *bench.Report) {
	r.Unclean = o.unclean
	if o.startLoad != "" {
		r.Machine.LoadAvg = o.startLoad
	}
}
