package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Peak is the machine's float32 arithmetic peak as /proc/cpuinfo lets one
// derive it: cores × clock × FMA lanes × FMA units × 2 operations.
type Peak struct {
	Cores      int     `json:"cores"`       // physical cores ("cpu cores" × sockets), else logical CPUs
	MHz        float64 `json:"mhz"`         // the highest "cpu MHz" listed (or the override)
	VectorBits int     `json:"vector_bits"` // 512 with avx512f, 256 with avx2/fma, 128 otherwise
	FMAUnits   int     `json:"fma_units"`   // FMA pipes per core (assumed 2 on x86-64 server CPUs)
	// FLOPsPerCycle is per core: FMAUnits × VectorBits/32 lanes × 2.
	FLOPsPerCycle int      `json:"flops_per_cycle"`
	GFLOPs        float64  `json:"gflops"`
	VNNI          bool     `json:"vnni"`  // avx512_vnni or avx_vnni listed
	Flags         []string `json:"flags"` // the vector flags found
	Derivation    string   `json:"derivation"`
}

// CPUPeak reads /proc/cpuinfo; mhz > 0 replaces its clock (virtual
// machines often list the base clock, not the boost clock).
func CPUPeak(mhz float64) (Peak, error) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return Peak{}, fmt.Errorf("machine peak: %w", err)
	}
	defer f.Close()
	return parsePeak(f, mhz)
}

func parsePeak(r io.Reader, overrideMHz float64) (Peak, error) {
	var p Peak
	logical := 0
	sockets := map[string]bool{}
	coresPerSocket := 0
	flags := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "processor":
			logical++
		case "physical id":
			sockets[val] = true
		case "cpu cores":
			coresPerSocket, _ = strconv.Atoi(val)
		case "cpu MHz":
			if v, err := strconv.ParseFloat(val, 64); err == nil && v > p.MHz {
				p.MHz = v
			}
		case "flags":
			for _, fl := range strings.Fields(val) {
				flags[fl] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Peak{}, fmt.Errorf("machine peak: read /proc/cpuinfo: %w", err)
	}
	coresHow := fmt.Sprintf("%d logical CPUs", logical)
	p.Cores = logical
	if coresPerSocket > 0 {
		n := max(1, len(sockets))
		p.Cores = coresPerSocket * n
		coresHow = fmt.Sprintf("%d socket(s) × %d 'cpu cores'", n, coresPerSocket)
	}
	clockHow := "highest 'cpu MHz'"
	if overrideMHz > 0 {
		p.MHz, clockHow = overrideMHz, "given clock"
	}
	if p.Cores <= 0 || p.MHz <= 0 {
		return Peak{}, fmt.Errorf("machine peak: /proc/cpuinfo lists no cores or clock")
	}
	for _, fl := range []string{"avx512f", "avx2", "fma", "avx512_vnni", "avx_vnni"} {
		if flags[fl] {
			p.Flags = append(p.Flags, fl)
		}
	}
	p.VNNI = flags["avx512_vnni"] || flags["avx_vnni"]
	switch {
	case flags["avx512f"]:
		p.VectorBits = 512
	case flags["avx2"] && flags["fma"]:
		p.VectorBits = 256
	default:
		p.VectorBits = 128
	}
	p.FMAUnits = 2
	p.FLOPsPerCycle = p.FMAUnits * p.VectorBits / 32 * 2
	p.GFLOPs = float64(p.Cores) * p.MHz / 1000 * float64(p.FLOPsPerCycle)
	p.Derivation = fmt.Sprintf("%d cores (%s) × %.0f MHz (%s) × %d FMA units × %d float32 lanes (%d-bit: %s) × 2 = %.1f GFLOP/s float32",
		p.Cores, coresHow, p.MHz, clockHow, p.FMAUnits, p.VectorBits/32, p.VectorBits, strings.Join(p.Flags, " "), p.GFLOPs)
	return p, nil
}
