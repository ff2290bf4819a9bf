package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident memory from /proc/self/status.
type Memory struct {
	RSSMiB  float64 `json:"rss_mib"`      // VmRSS: resident now
	PeakMiB float64 `json:"peak_rss_mib"` // VmHWM: the most resident so far
}

// ErrNoProcStatus is returned by ReadMemory where /proc/self/status is
// missing (not Linux).
var ErrNoProcStatus = errors.New("no /proc/self/status on this system")

// ReadMemory reads the calling process's resident set size and its peak.
func ReadMemory() (Memory, error) {
	return readMemory("/proc/self/status")
}

func readMemory(path string) (Memory, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Memory{}, ErrNoProcStatus
	}
	if err != nil {
		return Memory{}, fmt.Errorf("read memory: %w", err)
	}
	defer f.Close()
	var m Memory
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val) // "123456 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return Memory{}, fmt.Errorf("read memory: %s: unexpected %q", path, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("read memory: %s: %w", path, err)
		}
		if key == "VmRSS" {
			m.RSSMiB = float64(kb) / 1024
		} else {
			m.PeakMiB = float64(kb) / 1024
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return Memory{}, fmt.Errorf("read memory: %w", err)
	}
	if found != 2 {
		return Memory{}, fmt.Errorf("read memory: %s lacks VmRSS or VmHWM", path)
	}
	return m, nil
}
