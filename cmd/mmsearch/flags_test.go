package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// leaf is a runnable command with the words that reach it.
type leaf struct {
	path []string
	cmd  *command
}

// leaves lists every runnable command, children of bench and models included.
func leaves(prefix []string, cmds []*command) []leaf {
	var out []leaf
	for _, c := range cmds {
		p := append(append([]string(nil), prefix...), c.name)
		if len(c.children) > 0 {
			out = append(out, leaves(p, c.children)...)
			continue
		}
		out = append(out, leaf{p, c})
	}
	return out
}

// flagsOf returns a command's flag set as its help would show it.
func flagsOf(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	if c.setFlags != nil {
		c.setFlags(fs)
	}
	return fs
}

// runCLI runs the CLI in-process and returns the exit code and both streams.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	err := dispatch(context.Background(), e, "mmsearch", commands(), args)
	if err != nil {
		fmt.Fprintf(&errb, "mmsearch: %v\n", err)
	}
	return exitCode(err), out.String(), errb.String()
}

// notCounts are integer flags that are not counts and have no bound.
var notCounts = map[string]bool{"seed": true}

// TestEveryCountFlagIsBounded walks every command's flags: no integer flag
// is an unbounded flag.IntVar, and for each bounded one a value just above
// its maximum (and just below its minimum) is a usage error, exit 2, that
// names the flag, before the command does anything.
func TestEveryCountFlagIsBounded(t *testing.T) {
	n := 0
	for _, l := range leaves(nil, commands()) {
		flagsOf(l.cmd).VisitAll(func(f *flag.Flag) {
			typ := fmt.Sprintf("%T", f.Value)
			switch typ {
			case "*flag.intValue", "*flag.int64Value", "*flag.uintValue", "*flag.uint64Value":
				if !notCounts[f.Name] {
					t.Errorf("%s --%s is an unbounded %s; define it with intVar or countVar", strings.Join(l.path, " "), f.Name, typ)
				}
				return
			}
			var bad []string
			switch v := f.Value.(type) {
			case *intFlag:
				bad = []string{strconv.Itoa(v.max + 1), "1" + strings.Repeat("0", 30), "x"}
				if v.zeroOK {
					bad = append(bad, "-1")
				} else {
					bad = append(bad, strconv.Itoa(v.min-1))
				}
			case *efFlag:
				bad = []string{"0", "-5", strconv.Itoa(maxEf + 1)}
			default:
				return
			}
			for _, b := range bad {
				n++
				args := append(append([]string(nil), l.path...), "--"+f.Name, b)
				code, _, stderr := runCLI(args...)
				if code != exitUsage || !strings.Contains(stderr, "-"+f.Name) {
					t.Errorf("%v: exit %d (want %d), stderr %q", args, code, exitUsage, stderr)
				}
			}
		})
	}
	t.Logf("%d out-of-range cases", n)
	if n < 60 {
		t.Fatalf("only %d out-of-range cases tried; the command walk is broken", n)
	}
}

// TestCountFlagBounds pins the bounds the outside run asked for.
func TestCountFlagBounds(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"index", "--threads", "100000", "x"}, "out of range"},
		{[]string{"index", "--workers", "257", "x"}, "out of range"},
		{[]string{"index", "--streams", "65", "x"}, "out of range"},
		{[]string{"index", "--batch", "1025", "x"}, "out of range"},
		{[]string{"index", "--batch", "-1", "x"}, "out of range"},
		{[]string{"search", "-k", "0", "cat"}, "out of range"},
		{[]string{"search", "-k", "10001", "cat"}, "out of range"},
		{[]string{"search", "--ef", "0", "cat"}, "out of range"},
		{[]string{"search", "--ef", "-3", "cat"}, "out of range"},
		{[]string{"search", "--ef", "100001", "cat"}, "out of range"},
		{[]string{"search", "--threads", "257", "cat"}, "out of range"},
		{[]string{"serve", "--threads", "100000"}, "out of range"},
		{[]string{"bench", "serve", "--clients", "1025"}, "out of range"},
		{[]string{"bench", "ann", "--threads", "100000"}, "out of range"},
		{[]string{"bench", "ann", "--ef", "10,100001"}, "out of range"},
		{[]string{"bench", "ingest", "--workers", "100000"}, "out of range"},
		{[]string{"sheet", "--thumb", "4096", "x.json"}, "out of range"},
		{[]string{"search", "--mode", "dot", "cat"}, "unknown scoring mode"},
		{[]string{"search", "--mode", "", "cat"}, ""}, // "" is add: not a flag error, fails later (no library)
	}
	for _, c := range cases {
		code, _, stderr := runCLI(c.args...)
		if c.want == "" {
			if code == exitUsage && strings.Contains(stderr, "invalid value") {
				t.Errorf("%v: refused as a flag error: %s", c.args, stderr)
			}
			continue
		}
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", c.args, code, exitUsage, stderr, c.want)
		}
	}
}

var helpFlag = regexp.MustCompile(`(?m)^  -(\S+)`)

// helpFlags returns the flag names a command's --help lists.
func helpFlags(t *testing.T, args ...string) map[string]bool {
	t.Helper()
	code, _, stderr := runCLI(append(args, "--help")...)
	if code != exitOK {
		t.Fatalf("%v --help: exit %d %s", args, code, stderr)
	}
	got := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(stderr, -1) {
		got[m[1]] = true
	}
	return got
}

// TestHelpListsOnlyUsedFlags: a command's help names the flags it reads and
// not the ones only its neighbours read.
func TestHelpListsOnlyUsedFlags(t *testing.T) {
	cases := []struct {
		cmd      []string
		has, not []string
	}{
		{[]string{"index"}, []string{"library", "model", "threads", "batch", "workers", "streams", "json"}, nil},
		{[]string{"search"}, []string{"library", "threads", "k", "ef", "mode", "json", "f", "0", "print0", "batch"}, []string{"workers", "streams"}},
		{[]string{"stats"}, []string{"library", "json"}, []string{"batch", "threads", "workers", "streams", "k"}},
		{[]string{"errors"}, []string{"library", "json"}, []string{"batch", "threads", "workers", "streams", "k"}},
		{[]string{"serve"}, []string{"library", "threads", "addr"}, []string{"batch", "workers", "streams"}},
		{[]string{"bench", "query"}, []string{"items", "runs", "k", "out"}, []string{"threads", "batch"}},
		{[]string{"bench", "encoder"}, []string{"threads", "images", "out"}, []string{"batch"}},
		{[]string{"bench", "batch"}, []string{"queries", "items", "rounds", "k", "out", "force"}, []string{"batch", "mode", "ef", "threads"}},
		{[]string{"bench", "cli"}, []string{"items", "runs", "k", "out", "force"}, []string{"batch", "mode", "ef"}},
		{[]string{"coordinator"}, []string{"library", "batch", "nats", "listen", "replicas", "ack-wait", "max-deliver", "json", "exclude"}, []string{"threads", "workers", "streams", "k"}},
		{[]string{"worker"}, []string{"nats", "model", "threads", "batch", "streams", "decoders", "idle-exit", "json"}, []string{"library", "workers", "k"}},
		{[]string{"bench", "workers"}, []string{"dataset", "workers", "threads", "rounds", "out", "force"}, []string{"library", "streams"}},
		{[]string{"version"}, nil, []string{"library", "json", "k", "batch"}},
		{[]string{"sheet"}, []string{"thumb"}, []string{"batch", "k", "mode", "ef"}},
		{[]string{"serve"}, []string{"addr"}, []string{"k", "mode", "json", "f", "0"}},
	}
	for _, c := range cases {
		got := helpFlags(t, c.cmd...)
		for _, f := range c.has {
			if !got[f] {
				t.Errorf("%v --help lacks -%s: %v", c.cmd, f, got)
			}
		}
		for _, f := range c.not {
			if got[f] {
				t.Errorf("%v --help lists -%s, which it does not use", c.cmd, f)
			}
		}
	}
}

// TestVersionFlag: --version prints what the version command prints.
func TestVersionFlag(t *testing.T) {
	code, want, _ := runCLI("version")
	if code != exitOK || !strings.HasPrefix(want, "mmsearch ") {
		t.Fatalf("version: %d %q", code, want)
	}
	for _, arg := range []string{"--version", "-version"} {
		code, got, stderr := runCLI(arg)
		if code != exitOK || got != want {
			t.Errorf("%s: exit %d, %q (want %q) %s", arg, code, got, want, stderr)
		}
	}
}

// TestReorderFlagsKeepsNumbersAndFindsDashZero: "-0" is search's flag, a
// negative number is still a query word.
func TestReorderFlagsKeepsNumbersAndFindsDashZero(t *testing.T) {
	fs := flagsOf(searchCommand())
	got := reorderFlags(fs, []string{"cat", "-0", "-k", "3", "-1.5"})
	want := []string{"-0", "-k", "3", "--", "cat", "-1.5"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("reorderFlags = %q, want %q", got, want)
	}
}

// TestBenchOutDefaultsToCache: a bench run without --out writes under the
// cache folder and leaves the working folder's bench/results alone; with
// --out it writes where it is told.
func TestBenchOutDefaultsToCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an index; skipped with -short")
	}
	work := t.TempDir()
	t.Chdir(work)
	cache := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "MMSEARCH_CACHE_DIR" {
			return cache
		}
		return ""
	}}
	args := []string{"bench", "ann", "--n", "300", "--dim", "8", "--queries", "10", "--m", "8",
		"--ef-construction", "16", "--ef", "16", "--peers", "none", "--threads", "1", "--runs", "1"}
	if err := dispatch(context.Background(), e, "mmsearch", commands(), args); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if _, err := os.Stat(filepath.Join(cache, "bench", "ann.json")); err != nil {
		t.Errorf("no report under the cache folder: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(work, "bench")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bench wrote into the working folder: %v", err)
	}
	named := filepath.Join(work, "bench", "results")
	if err := dispatch(context.Background(), e, "mmsearch", commands(), append(args, "--out", named)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(named, "ann.json")); err != nil {
		t.Errorf("--out %s not written: %v", named, err)
	}
}
