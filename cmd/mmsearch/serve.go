package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"mmsearch/server"
)

// tokenEnv names the environment variable that may hold the server's token,
// so that it need not appear on the command line (and in `ps`).
const tokenEnv = "MMSEARCH_TOKEN"

func serveCommand() *command {
	var lf libraryFlags
	var addr, token, cors string
	var insecure bool
	return &command{
		name:    "serve",
		summary: "serve the JSON API and the web page for a library",
		usage: `[--library DIR] [--model NAME|DIR] [--addr HOST:PORT] [--token T | --insecure] [--cors-origin ORIGIN]

Serves a library over HTTP: the web page at /, the JSON API under /api/
(search, search by uploaded image, items, thumbnails, originals, stats) and
/healthz. Queries may use text and indexed items (@ID) only: file paths and
URLs in queries are refused, and only indexed files are ever read.

The server listens on loopback (` + server.DefaultAddr + `) unless --addr says
otherwise; any other address needs --token (or $` + tokenEnv + `), or
--insecure to serve without authentication. With a token, API clients send
"Authorization: Bearer TOKEN"; the web page asks for the token once and keeps
a session cookie (opening /?token=TOKEN does the same). Stop with Ctrl-C:
requests in flight are given time to finish.`,
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			fs.StringVar(&addr, "addr", server.DefaultAddr, "address to listen on, HOST:PORT")
			fs.StringVar(&token, "token", "", "require this bearer token (at least 16 characters; default $"+tokenEnv+")")
			fs.BoolVar(&insecure, "insecure", false, "allow a non-loopback address without a token")
			fs.StringVar(&cors, "cors-origin", "", "allow API calls from pages of this origin (scheme://host[:port]); off by default")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("serve takes no arguments (got %q)", args[0])
			}
			if token == "" {
				token = e.getenv(tokenEnv)
			}
			if token != "" && insecure {
				return usagef("--token and --insecure exclude each other")
			}
			loopback, err := server.IsLoopbackAddr(addr)
			if err != nil {
				return usagef("--addr %q: %v", addr, err)
			}
			if !loopback && token == "" && !insecure {
				return usageError{fmt.Errorf("--addr %s: %w", addr, server.ErrNeedToken)}
			}
			lib, err := lf.open(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			level := slog.LevelInfo
			if lf.verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
			srv, err := server.New(lib, server.Config{Addr: addr, Token: token, Insecure: insecure, CORSOrigin: cors, Logger: log})
			if err != nil {
				return usageError{err}
			}
			ln, err := srv.Listen()
			if err != nil {
				return err
			}
			st, err := lib.Stats(ctx)
			if err != nil {
				ln.Close()
				return err
			}
			fmt.Fprintf(e.stdout, "serving %s (%d items, model %s) at %s\n", st.Dir, st.Items, st.Model.Name, server.URL(ln))
			switch {
			case token != "":
				fmt.Fprintf(e.stdout, "a token is required: the page asks for it once; API clients send \"Authorization: Bearer TOKEN\"\n")
			case !loopback:
				fmt.Fprintf(e.stdout, "warning: serving without authentication on %s (--insecure)\n", ln.Addr())
			}
			fmt.Fprintf(e.stdout, "press Ctrl-C to stop\n")
			err = srv.Serve(ctx, ln)
			if err == nil {
				fmt.Fprintf(e.stdout, "stopped\n")
			}
			if errors.Is(err, server.ErrNeedToken) {
				return usageError{err}
			}
			return err
		},
	}
}
