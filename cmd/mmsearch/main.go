// Command mmsearch indexes pictures and answers vector-arithmetic queries over
// them, such as `./dog.jpg - "dog" + "cat"`.
//
// Run `mmsearch --help` for the commands and `mmsearch COMMAND --help` for
// each command's flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := newEnv()
	err := dispatch(ctx, e, "mmsearch", commands(), os.Args[1:])
	if err != nil {
		fmt.Fprintf(e.stderr, "mmsearch: %v\n", err)
	}
	os.Exit(exitCode(err))
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
	}
}
