package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseCPUInfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		model   string
		virtual bool
	}{
		{"x86", "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t\t: fpu vme hypervisor avx2\n\nprocessor\t: 1\nmodel name\t: Other\n", "Intel(R) Xeon(R) CPU @ 2.20GHz", true},
		{"x86 bare metal", "model name : AMD EPYC 7B13\nflags : fpu avx2\n", "AMD EPYC 7B13", false},
		{"arm", "processor : 0\nBogoMIPS : 50.00\nModel : Raspberry Pi 4 Model B Rev 1.4\n", "Raspberry Pi 4 Model B Rev 1.4", false},
		{"empty", "", "unknown", false},
		{"no model", "processor : 0\nflags : sse\n", "unknown", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model, virtual := parseCPUInfo(bufio.NewScanner(strings.NewReader(tt.in)))
			if model != tt.model || virtual != tt.virtual {
				t.Errorf("parseCPUInfo = %q, %v; want %q, %v", model, virtual, tt.model, tt.virtual)
			}
		})
	}
}

func TestParseMemTotal(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"MemTotal:       16337780 kB\nMemFree: 1 kB\n", 15954},
		{"MemFree: 1 kB\n", 0},
		{"MemTotal: lots kB\n", 0},
	}
	for _, tt := range tests {
		if got := parseMemTotal(bufio.NewScanner(strings.NewReader(tt.in))); got != tt.want {
			t.Errorf("parseMemTotal(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestDescribeMachine(t *testing.T) {
	m := DescribeMachine()
	if m.Cores != runtime.NumCPU() || m.GOMAXPROCS != runtime.GOMAXPROCS(0) {
		t.Errorf("cores %d gomaxprocs %d, want %d %d", m.Cores, m.GOMAXPROCS, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	}
	if m.OS != runtime.GOOS || m.Arch != runtime.GOARCH || m.GoVersion != runtime.Version() {
		t.Errorf("platform %s/%s %s", m.OS, m.Arch, m.GoVersion)
	}
	if m.CPU == "" {
		t.Error("empty CPU name; want a model or \"unknown\"")
	}
	if runtime.GOOS == "linux" && (m.CPU == "unknown" || len(strings.Fields(m.LoadAvg)) != 3 || m.MemoryMiB <= 0) {
		t.Errorf("Linux machine not fully described: %+v", m)
	}
	s := m.String()
	for _, want := range []string{m.CPU, runtime.GOOS + "/" + runtime.GOARCH, runtime.Version()} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q lacks %q", s, want)
		}
	}
}

func TestGitRevision(t *testing.T) {
	ctx := context.Background()
	if got := GitRevision(ctx, t.TempDir()); got != "unknown" {
		t.Errorf("GitRevision(not a repository) = %q, want unknown", got)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed; skipping the repository case")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	if got := GitRevision(ctx, dir); got != "unknown" {
		t.Errorf("GitRevision(no commit) = %q, want unknown", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "f")
	git("commit", "-q", "-m", "c")
	clean := GitRevision(ctx, dir)
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(clean) {
		t.Errorf("GitRevision(clean) = %q, want 40 hex digits", clean)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := GitRevision(ctx, dir); got != clean+"-dirty" {
		t.Errorf("GitRevision(dirty) = %q, want %q", got, clean+"-dirty")
	}
}

func TestTable(t *testing.T) {
	tb := Table{Title: "T", Columns: []string{"name", "value"}}
	tb.AddRow("a", 1)
	tb.AddRow("longer|name", 2.5)
	var text bytes.Buffer
	if err := tb.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(text.String(), "\n"), "\n")
	if len(lines) != 4 || lines[0] != "T" {
		t.Fatalf("text table:\n%s", text.String())
	}
	// Columns are aligned: "value", "1" and "2.5" start at the same offset.
	col := strings.Index(lines[1], "value")
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if strings.Index(l, f[len(f)-1]) != col {
			t.Errorf("misaligned row %q (value column at %d)", l, col)
		}
	}
	var md bytes.Buffer
	if err := tb.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	want := "| name | value |\n| --- | --- |\n| a | 1 |\n| longer\\|name | 2.5 |\n"
	if md.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", md.String(), want)
	}

	bad := []Table{
		{Title: "no columns"},
		{Title: "ragged", Columns: []string{"a", "b"}, Rows: [][]string{{"1"}}},
	}
	for _, b := range bad {
		if err := b.WriteText(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), b.Title) {
			t.Errorf("WriteText(%s) error = %v, want one naming the table", b.Title, err)
		}
		if err := b.WriteMarkdown(&bytes.Buffer{}); err == nil {
			t.Errorf("WriteMarkdown(%s) succeeded, want an error", b.Title)
		}
	}
}

func testReport() *Report {
	h := Header{
		Benchmark: "demo",
		Date:      time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		GitRev:    "abc123",
		Machine:   Machine{CPU: "Test CPU", Cores: 2, GOMAXPROCS: 2, OS: "linux", Arch: "amd64", GoVersion: "go1.26"},
		Dataset:   "toy set",
		Peers:     []Peer{{Name: "hnswlib", Version: "0.6.2"}},
	}
	h.AddParam("M", 16)
	h.AddParam("ef", "10,20")
	tb := Table{Title: "Results", Columns: []string{"x"}}
	tb.AddRow(1)
	return &Report{
		Header:   h,
		Headline: []string{"we are fast"},
		Tables:   []Table{tb},
		Plots:    []string{"demo.png"},
		Notes:    []string{"a note"},
		Data:     map[string]int{"answer": 42},
	}
}

func TestReportFiles(t *testing.T) {
	r := testReport()
	dir := filepath.Join(t.TempDir(), "sub")
	paths, err := r.WriteFiles(dir, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || filepath.Base(paths[0]) != "demo.json" || filepath.Base(paths[1]) != "demo.md" {
		t.Fatalf("paths = %v", paths)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Header
		Headline []string
		Tables   []Table
		Data     map[string]int
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("report JSON does not decode: %v", err)
	}
	if back.Benchmark != "demo" || back.GitRev != "abc123" || back.Machine.CPU != "Test CPU" ||
		len(back.Params) != 2 || back.Params[0] != (Param{"M", "16"}) || back.Data["answer"] != 42 ||
		len(back.Peers) != 1 || back.Peers[0].Version != "0.6.2" || !back.Date.Equal(r.Date) {
		t.Errorf("decoded report differs: %+v", back)
	}
	md, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# demo benchmark", "**machine:** Test CPU (2 logical CPUs", "**dataset:** toy set",
		"**parameters:** M=16, ef=10,20", "**peers:** hnswlib 0.6.2", "**git revision:** abc123",
		"**date:** 2025-03-04T05:06:07Z", "- we are fast", "## Results", "| x |", "![demo](demo.png)", "- a note"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"demo benchmark", "machine: Test CPU", "Results", "we are fast"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	for _, bad := range []string{"", "a/b"} {
		if _, err := r.WriteFiles(dir, bad); err == nil {
			t.Errorf("WriteFiles(%q) succeeded, want an error", bad)
		}
	}
}

func TestNewHeader(t *testing.T) {
	h := NewHeader(context.Background(), "x", "d")
	if h.Benchmark != "x" || h.Dataset != "d" || h.GitRev == "" || h.Machine.Cores == 0 || time.Since(h.Date) > time.Minute {
		t.Errorf("NewHeader = %+v", h)
	}
}

// decodePNG checks that path is a PNG of the given size in pixels.
func decodePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s does not decode as PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
}

func TestLinePlot(t *testing.T) {
	dir := t.TempDir()
	good := LinePlot{
		Title: "recall vs qps", XLabel: "recall@10", YLabel: "q/s", LogY: true,
		Series: []Series{
			{Name: "a", Points: []Point{{0.5, 10000, "ef=10"}, {0.9, 3000, "ef=64"}, {0.99, 800, "ef=256"}}},
			{Name: "one point", Points: []Point{{1, 50, ""}}},
			{Name: "empty"},
		},
	}
	p := filepath.Join(dir, "ok.png")
	if err := good.SavePNG(p); err != nil {
		t.Fatal(err)
	}
	decodePNG(t, p, 768, 576) // 8×6 in at 96 dpi

	single := LinePlot{Title: "single", Width: 4, Height: 3, LogY: true, Series: []Series{{Name: "flat", Points: []Point{{1, 20, ""}}}}}
	p = filepath.Join(dir, "single.png")
	if err := single.SavePNG(p); err != nil {
		t.Fatal(err)
	}
	decodePNG(t, p, 384, 288)

	bad := []struct {
		name string
		lp   LinePlot
		want string
	}{
		{"no series", LinePlot{Title: "x"}, "no series"},
		{"all empty", LinePlot{Series: []Series{{Name: "e"}}}, "empty"},
		{"zero on log", LinePlot{LogY: true, Series: []Series{{Name: "z", Points: []Point{{0.5, 0, ""}}}}}, "log axis"},
		{"NaN", LinePlot{Series: []Series{{Name: "n", Points: []Point{{math.NaN(), 1, ""}}}}}, "not finite"},
		{"Inf", LinePlot{Series: []Series{{Name: "n", Points: []Point{{1, math.Inf(1), ""}}}}}, "not finite"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.png")
			err := tt.lp.SavePNG(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SavePNG error = %v, want one containing %q", err, tt.want)
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("a failed plot left a file behind")
			}
		})
	}
}

func TestBarChart(t *testing.T) {
	dir := t.TempDir()
	one := 1.0
	bc := BarChart{
		Title: "recall@k by family", YLabel: "recall", Groups: []string{"@1", "@5", "@10"},
		Series: []BarSeries{{"objects", []float64{0.5, 0.7, 0.8}}, {"colours", []float64{0.2, 0.4, 0.6}}, {"styles", []float64{0.1, 0.3, 0.35}}},
		YMax:   &one,
	}
	p := filepath.Join(dir, "bars.png")
	if err := bc.SavePNG(p); err != nil {
		t.Fatal(err)
	}
	decodePNG(t, p, 768, 576)

	bad := []struct {
		name string
		bc   BarChart
		want string
	}{
		{"no groups", BarChart{Series: []BarSeries{{"a", nil}}}, "no groups"},
		{"no series", BarChart{Groups: []string{"g"}}, "no series"},
		{"ragged", BarChart{Groups: []string{"g", "h"}, Series: []BarSeries{{"a", []float64{1}}}}, "1 values for 2 groups"},
		{"NaN", BarChart{Groups: []string{"g"}, Series: []BarSeries{{"a", []float64{math.NaN()}}}}, "not finite"},
	}
	for _, tt := range bad {
		if err := tt.bc.SavePNG(filepath.Join(dir, "bad.png")); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: SavePNG error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}
