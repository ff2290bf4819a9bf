package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the mmsearch version, Go version and VCS revision",
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			rev := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			fmt.Fprintf(e.stdout, "mmsearch %s (%s, %s/%s, rev %s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, rev)
			return nil
		},
	}
}
