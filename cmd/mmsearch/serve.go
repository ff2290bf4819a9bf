package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"mmsearch/server"
)

// tokenEnv names the environment variable that may hold the server's token,
// so that it need not appear on the command line (and in `ps`).
const tokenEnv = "MMSEARCH_TOKEN"

// maxRoots bounds --root.
const maxRoots = 64

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set adds one value.
func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

func serveCommand() *command {
	var lf libraryFlags
	var addr, token, cors string
	var insecure, resolve, hidePaths bool
	var roots stringList
	return &command{
		name:    "serve",
		summary: "serve the JSON API and the web page for a library",
		usage: `[--library DIR] [--model NAME|DIR] [--addr HOST:PORT [--resolve]] [--token T | --insecure] [--cors-origin ORIGIN] [--hide-paths --root DIR...]

Serves a library over HTTP: the web page at /, the JSON API under /api/
(search, search by uploaded image, items, thumbnails, originals, stats) and
/healthz. Queries may use text and indexed items (@ID) only: file paths and
URLs in queries are refused, and only indexed files are ever read.

The server listens on loopback (` + server.DefaultAddr + `) unless --addr says
otherwise; any other address needs --token (or $` + tokenEnv + `), or
--insecure to serve without authentication. With a token, API clients send
"Authorization: Bearer TOKEN"; the web page asks for the token once and keeps
a session cookie (opening /?token=TOKEN does the same). The token must be
at least 32 random characters (head -c 24 /dev/urandom | base64).

--addr takes an IP address, localhost or an empty host; a host name is only
looked up (DNS) with --resolve. Requests from other sites' pages are
refused (see the README). Answers show absolute file paths and the library
folder; for a server shared with others, --hide-paths shows each file
relative to the indexed folder (--root, repeatable) that holds it, under
that folder's name ("Photos/2024/a.jpg"), and the library by its name.
Stop with Ctrl-C: requests in flight are given time to finish.`,
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			lf.registerThreads(fs)
			fs.StringVar(&addr, "addr", server.DefaultAddr, "address to listen on, HOST:PORT")
			fs.StringVar(&token, "token", "", "require this bearer token (at least 32 random characters; default $"+tokenEnv+")")
			fs.BoolVar(&insecure, "insecure", false, "allow a non-loopback address without a token")
			fs.StringVar(&cors, "cors-origin", "", "allow API calls from pages of this origin (scheme://host[:port]); off by default")
			fs.BoolVar(&resolve, "resolve", false, "look up a host name given to --addr (without it: IP addresses and localhost only)")
			fs.BoolVar(&hidePaths, "hide-paths", false, "show file paths relative to the --root folders, never absolute paths")
			fs.Var(&roots, "root", "an indexed folder paths are shown relative to with --hide-paths (repeatable, at most 64)")
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
			if hidePaths && len(roots) == 0 {
				return usagef("--hide-paths needs the indexed folders: --root DIR (repeatable)")
			}
			if !hidePaths && len(roots) > 0 {
				return usagef("--root is used with --hide-paths only")
			}
			if len(roots) > maxRoots {
				return usagef("--root given %d times: at most %d", len(roots), maxRoots)
			}
			var loopback bool
			var err error
			if resolve {
				loopback, err = server.LookupLoopbackAddr(ctx, nil, addr)
			} else {
				loopback, err = server.IsLoopbackAddr(addr)
			}
			if err != nil {
				return usagef("--addr %q: %v", addr, err)
			}
			if !loopback && token == "" && !insecure {
				return usageError{fmt.Errorf("--addr %s: %w", addr, server.ErrNeedToken)}
			}
			lib, err := lf.openExisting(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			level := slog.LevelInfo
			if lf.verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
			srv, err := server.New(lib, server.Config{Addr: addr, Resolve: resolve, Token: token, Insecure: insecure, CORSOrigin: cors,
				HidePaths: hidePaths, Roots: roots, Logger: log})
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
			if hidePaths {
				fmt.Fprintf(e.stdout, "file paths are shown relative to %s\n", strings.Join(roots, ", "))
			}
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
