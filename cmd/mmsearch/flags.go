package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strconv"

	"mmsearch/encoders"
)

// Upper bounds of the count flags. A count above its bound is a usage error
// (exit 2), so a typo such as --threads 100000 cannot start 100,000 threads.
const (
	maxThreads = 256    // ONNX Runtime threads per inference
	maxWorkers = 256    // decode workers
	maxStreams = 64     // inferences run at once
	maxBatch   = 1024   // images per inference
	maxK       = 10000  // results per query
	maxEf      = 100000 // HNSW search beam width
)

// intFlag is an int flag with an inclusive range. When zeroOK is set, 0 is
// accepted besides [min, max] (it means "the default").
type intFlag struct {
	name     string
	p        *int
	min, max int
	zeroOK   bool
}

// intVar defines an int flag whose values must lie in [min, max].
func intVar(fs *flag.FlagSet, p *int, name string, def, min, max int, usage string) {
	*p = def
	fs.Var(&intFlag{name: name, p: p, min: min, max: max}, name, fmt.Sprintf("%s (`N`: %d..%d)", usage, min, max))
}

// countVar defines an int flag where 0 means "the default" and other values
// must lie in [1, max].
func countVar(fs *flag.FlagSet, p *int, name string, def, max int, usage string) {
	*p = def
	fs.Var(&intFlag{name: name, p: p, min: 1, max: max, zeroOK: true}, name, fmt.Sprintf("%s (`N`: 0 or 1..%d)", usage, max))
}

func (f *intFlag) String() string {
	if f == nil || f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f *intFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("--%s %s: not a whole number", f.name, s)
	}
	if (n < f.min || n > f.max) && !(f.zeroOK && n == 0) {
		if f.zeroOK {
			return fmt.Errorf("--%s %d out of range: want 0 (default) or %d..%d", f.name, n, f.min, f.max)
		}
		return fmt.Errorf("--%s %d out of range: want %d..%d", f.name, n, f.min, f.max)
	}
	*f.p = n
	return nil
}

// efFlag is --ef: unset means the engine's default; a value given must lie
// in [1, maxEf] (0 and negative values are refused, not read as "default").
type efFlag struct{ n int }

func (f *efFlag) String() string {
	if f == nil || f.n == 0 {
		return ""
	}
	return strconv.Itoa(f.n)
}

func (f *efFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("--ef %s: not a whole number", s)
	}
	if n < 1 || n > maxEf {
		return fmt.Errorf("--ef %d out of range: want 1..%d", n, maxEf)
	}
	f.n = n
	return nil
}

// registerEf defines --ef on fs.
func registerEf(fs *flag.FlagSet, f *efFlag) {
	fs.Var(f, "ef", fmt.Sprintf("HNSW search beam width (`N`: 1..%d; default: the engine's, max(64, 2k))", maxEf))
}

// benchOutHelp describes the default of every bench command's --out.
const benchOutHelp = "default: bench/ under the cache folder; the committed bench/results is written only when named"

// benchOut is the folder a bench command writes its reports to: out when
// given, else bench/ under the cache folder, so that a run never overwrites
// the committed bench/results of the checkout it runs in by accident.
func benchOut(e *env, out string) string {
	if out != "" {
		return out
	}
	return filepath.Join(encoders.CacheDir(e.getenv), "bench")
}
