// Command mmsearch indexes pictures and answers vector-arithmetic queries over
// them, such as `./dog.jpg - "dog" + "cat"`.
//
// Run `mmsearch --help` for the commands and `mmsearch COMMAND --help` for
// each command's flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	e := newEnv()
	ctx, stop := interruptContext(e.stderr)
	defer stop()
	err := dispatch(ctx, e, "mmsearch", commands(), os.Args[1:])
	if err != nil {
		fmt.Fprintf(e.stderr, "mmsearch: %v\n", err)
	}
	os.Exit(exitCode(err))
}

// interruptContext returns a context that the first SIGINT or SIGTERM
// cancels, so the running command winds down (committing what it finished)
// and exits with status 130. A second signal ends the process at once.
func interruptContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		cancel(fmt.Errorf("%w: %v signal received", context.Canceled, sig))
		if sig, ok = <-sigs; ok {
			fmt.Fprintf(stderr, "mmsearch: second %v: exiting now\n", sig)
			os.Exit(exitCanceled)
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

// commands is the table of top-level subcommands.
func commands() []*command {
	return []*command{
		versionCommand(),
		doctorCommand(),
		tokenizeCommand(),
		preprocessCommand(),
		embedCommand(),
		indexCommand(),
		searchCommand(),
		statsCommand(),
		errorsCommand(),
		forgetCommand(),
		duplicatesCommand(),
		benchCommand(),
		sheetCommand(),
		modelsCommand(),
		serveCommand(),
		coordinatorCommand(),
		workerCommand(),
	}
}
