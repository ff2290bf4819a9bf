package bench

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestReadMemory(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, status string
		want         Memory
		err          bool
	}{
		{"both", "Name:\tx\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t4\n", Memory{RSSMiB: 100, PeakMiB: 200}, false},
		{"no peak", "VmRSS:\t 1024 kB\n", Memory{}, true},
		{"bad unit", "VmRSS:\t 1024 MB\nVmHWM:\t 1024 kB\n", Memory{}, true},
		{"bad number", "VmRSS:\t x kB\nVmHWM:\t 1024 kB\n", Memory{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, []byte(tt.status), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readMemory(p)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("readMemory = %+v, %v; want %+v, error %v", got, err, tt.want, tt.err)
			}
		})
	}
	if _, err := readMemory(filepath.Join(dir, "absent")); !errors.Is(err, ErrNoProcStatus) {
		t.Fatalf("absent file: %v", err)
	}
	if runtime.GOOS == "linux" {
		m, err := ReadMemory()
		if err != nil || m.RSSMiB <= 0 || m.PeakMiB < m.RSSMiB {
			t.Fatalf("ReadMemory = %+v, %v", m, err)
		}
	}
}
