package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrUncleanRun is returned by CheckRun when a run meant for the committed
// results would start on a dirty tree or a busy machine without force.
var ErrUncleanRun = errors.New("refusing to write to the committed results from an unclean run")

// RunState is what a run knows at its start about the trust its figures
// deserve: the git tree it measures and the machine's load.
type RunState struct {
	Dirty     bool   // the tree at Revision has uncommitted changes to tracked files
	LoadAvg   string // the 1, 5 and 15 minute load averages at start (Machine.LoadAvg), or "" when unknown
	Cores     int    // logical CPUs
	ToResults bool   // the output folder is the repository's committed ResultsDir (or inside it)
}

// Load1 is the one-minute load average at start, or -1 when LoadAvg does
// not give it.
func (s RunState) Load1() float64 {
	f := strings.Fields(s.LoadAvg)
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// MaxLoadFraction is the highest one-minute load average, as a fraction of
// the cores, at which a run counts as quiet.
const MaxLoadFraction = 0.5

// Unclean lists why a run's figures deserve less trust: a dirty tree, a
// machine busy at the start (load average above half the cores). Empty
// means clean.
func (s RunState) Unclean() []string {
	var why []string
	if s.Dirty {
		why = append(why, "the git tree has uncommitted changes")
	}
	if l := s.Load1(); l >= 0 && s.Cores > 0 && l > MaxLoadFraction*float64(s.Cores) {
		why = append(why, fmt.Sprintf("load average %.2f at start is above half of the %d cores", l, s.Cores))
	}
	return why
}

// CheckRun applies the rules for runs meant for the committed results: one
// that writes to ResultsDir from a dirty tree or a busy machine is refused
// unless force is set, and then its header is marked unclean. It returns the
// reasons to record in the header (Header.Unclean) for any run, so that a
// report never hides that its figures were taken under load.
func CheckRun(s RunState, force bool) ([]string, error) {
	why := s.Unclean()
	if len(why) > 0 && s.ToResults && !force {
		return why, fmt.Errorf("%w: %s (commit first and wait for a quiet machine, or pass --force to write anyway with the report marked unclean)", ErrUncleanRun, strings.Join(why, "; "))
	}
	return why, nil
}

// ProbeRun learns the RunState of a run in the git work tree that holds
// dir (the working directory, as for GitRevision) writing to outDir.
func ProbeRun(ctx context.Context, dir, outDir string) RunState {
	m := DescribeMachine()
	s := RunState{Cores: m.Cores, LoadAvg: m.LoadAvg}
	top := gitTopLevel(ctx, dir)
	if top == "" {
		return s
	}
	s.Dirty = strings.HasSuffix(GitRevision(ctx, dir), "-dirty")
	s.ToResults = isWithin(outDir, filepath.Join(top, ResultsDir))
	return s
}

// gitTopLevel is the root of the git work tree holding dir, or "".
func gitTopLevel(ctx context.Context, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// isWithin reports whether path is folder or inside it, comparing absolute
// paths with symbolic links resolved as far as they exist.
func isWithin(path, folder string) bool {
	p, f := resolve(path), resolve(folder)
	if p == "" || f == "" {
		return false
	}
	rel, err := filepath.Rel(f, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resolve makes path absolute and resolves the symbolic links of its
// longest existing prefix (the rest may not exist yet).
func resolve(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	rest := ""
	for p := abs; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Join(real, rest)
			}
			return abs
		}
		if filepath.Dir(p) == p {
			return abs
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}
