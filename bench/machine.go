// Package bench holds what mmsearch's benchmarks share: a description of the
// machine a run happened on, the git revision measured, reports written as JSON
// and Markdown, terminal tables, and PNG plots (recall against queries per
// second, grouped recall@k bars).
//
// Benchmarks are commands, not timed tests. Each one (bench/ann, and later
// retrieval, analogy, ingest and serve) builds a Report whose Header names the
// machine, dataset, parameters, date, revision and the peers measured in the
// same run, and writes it under an output folder (the CLI's --out; the
// committed ResultsDir only when named).
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ResultsDir is the repository folder of the committed reports. Commands
// write there only when it is named as --out; by default they write under
// the cache folder, so a run never overwrites the committed figures.
const ResultsDir = "bench/results"

// Machine describes the computer a benchmark ran on.
type Machine struct {
	CPU        string `json:"cpu"`         // model name from /proc/cpuinfo, or "unknown"
	Cores      int    `json:"cores"`       // logical CPUs usable by the process (runtime.NumCPU)
	GOMAXPROCS int    `json:"gomaxprocs"`  // Go's parallelism limit during the run
	MemoryMiB  int64  `json:"memory_mib"`  // total RAM from /proc/meminfo; 0 when unknown
	OS         string `json:"os"`          // runtime.GOOS
	Arch       string `json:"arch"`        // runtime.GOARCH
	GoVersion  string `json:"go_version"`  // runtime.Version()
	Hostname   string `json:"hostname"`    // os.Hostname, or "" when unknown
	Kernel     string `json:"kernel"`      // /proc/sys/kernel/osrelease, or ""
	Virtual    bool   `json:"virtualized"` // cpuinfo lists the "hypervisor" flag
	// LoadAvg is the 1, 5 and 15 minute load averages when the description
	// was taken (/proc/loadavg), or "". A load near or above Cores means other
	// work competed with the benchmark.
	LoadAvg string `json:"load_average,omitempty"`
}

// DescribeMachine reads the machine's description from the runtime and, on
// Linux, from /proc. Fields it cannot learn are left at their zero values
// (CPU is "unknown").
func DescribeMachine() Machine {
	m := Machine{
		CPU:        "unknown",
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		GoVersion:  runtime.Version(),
	}
	if h, err := os.Hostname(); err == nil {
		m.Hostname = h
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPU, m.Virtual = parseCPUInfo(bufio.NewScanner(f))
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		m.MemoryMiB = parseMemTotal(bufio.NewScanner(f))
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadAvg = LoadAverage()
	return m
}

// LoadAverage returns the 1, 5 and 15 minute load averages now
// (/proc/loadavg), or "" when they cannot be read.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// parseCPUInfo returns the first "model name" (x86) or "Model"/"Hardware"
// (ARM) of a /proc/cpuinfo listing and whether the hypervisor flag is set.
func parseCPUInfo(sc *bufio.Scanner) (model string, virtual bool) {
	model = "unknown"
	found := false
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key = strings.TrimSpace(key)
		val = strings.TrimSpace(val)
		switch key {
		case "model name", "Model", "Hardware", "cpu model":
			if !found && val != "" {
				model, found = val, true
			}
		case "flags":
			for _, f := range strings.Fields(val) {
				if f == "hypervisor" {
					virtual = true
				}
			}
		}
	}
	return model, virtual
}

// parseMemTotal returns MemTotal of a /proc/meminfo listing in MiB, or 0.
func parseMemTotal(sc *bufio.Scanner) int64 {
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}

// String is a one-line description, e.g.
// "Intel(R) Xeon(R) ... (2 logical CPUs, GOMAXPROCS 2, 7.8 GiB RAM), linux/amd64, go1.26".
func (m Machine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d logical CPUs, GOMAXPROCS %d", m.CPU, m.Cores, m.GOMAXPROCS)
	if m.MemoryMiB > 0 {
		fmt.Fprintf(&b, ", %.1f GiB RAM", float64(m.MemoryMiB)/1024)
	}
	if m.Virtual {
		b.WriteString(", virtualized")
	}
	if m.LoadAvg != "" {
		fmt.Fprintf(&b, ", load average %s at start", m.LoadAvg)
	}
	fmt.Fprintf(&b, "), %s/%s, %s", m.OS, m.Arch, m.GoVersion)
	return b.String()
}

// GitRevision returns the commit checked out in dir (`git rev-parse HEAD`),
// with "-dirty" appended when tracked files differ from it, or "unknown" when
// git is missing, dir is not a work tree, or the branch has no commit yet.
func GitRevision(ctx context.Context, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "HEAD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if rev == "" {
		return "unknown"
	}
	diff := exec.CommandContext(ctx, "git", "diff", "--quiet", "HEAD", "--")
	diff.Dir = dir
	if err := diff.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			rev += "-dirty"
		}
	}
	return rev
}
