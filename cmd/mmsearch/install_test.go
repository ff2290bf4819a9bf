package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/bench/cliproc"
	"mmsearch/encoders"
	"mmsearch/models"
)

// TestBinaryOutsideRepositoryFindsBundledModel copies the built binary to a
// folder with no onnx-models beside it, runs it from a working folder outside
// the repository with HOME and the XDG folders pointed at empty temporary
// folders, and indexes and searches without --model: the bundled model must
// come from the copy embedded in the binary, unpacked once into the data
// folder, and doctor must say where it and ONNX Runtime are.
func TestBinaryOutsideRepositoryFindsBundledModel(t *testing.T) {
	shared, err := filepath.Abs("../../../shared/images/formats")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("shared test images absent (%v)", err)
	}
	ortLib, err := encoders.FindLibrary("", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	bin := filepath.Join(root, "opt", "bin", "mmsearch")
	copyExecutable(t, mmsearchBin, bin)
	home, data, cache, cwd := filepath.Join(root, "home"), filepath.Join(root, "xdg-data"), filepath.Join(root, "xdg-cache"), filepath.Join(root, "elsewhere")
	for _, d := range []string{home, cwd} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_DATA_HOME=" + data, "XDG_CACHE_HOME=" + cache, encoders.LibraryEnv + "=" + ortLib}
	runOutside := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = cwd, env
		return runCmd(t, cmd)
	}

	r := runOutside("index", shared)
	if r.code != 0 || !strings.Contains(r.stdout, "23 files found") {
		t.Fatalf("index: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	unpacked, _ := filepath.Glob(filepath.Join(data, "mmsearch", models.BundledDir, models.BundledModel+"-*", "model.json"))
	if len(unpacked) != 1 {
		t.Fatalf("bundled model unpacked %d times under %s", len(unpacked), data)
	}
	modelDir := filepath.Dir(unpacked[0])
	if _, err := os.Stat(filepath.Join(data, "mmsearch", "default", "library.db")); err != nil {
		t.Fatalf("no default library in the XDG data folder: %v", err)
	}
	r = runOutside("search", "-f", "-k", "3", "cat")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], shared) {
		t.Fatalf("search: code %d %q %s", r.code, r.stdout, r.stderr)
	}
	stamps, _ := filepath.Glob(filepath.Join(cache, "mmsearch", "stamps", "*.json"))
	if len(stamps) != 1 {
		t.Fatalf("%d verification stamps in the XDG cache folder, want 1", len(stamps))
	}

	r = runOutside("doctor", "--json")
	var rep doctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("doctor: %v code %d %s %s", err, r.code, r.stdout, r.stderr)
	}
	if rep.ModelDir != modelDir || rep.ModelSource != models.FromBundled || !rep.EmbeddedModel || rep.ORTLibrary != ortLib || !rep.Checks["model"] || !rep.Checks["onnxruntime"] {
		t.Fatalf("doctor report %+v; want model %s (bundled, embedded) and ONNX Runtime %s", rep, modelDir, ortLib)
	}
	r = runOutside("doctor")
	if !strings.Contains(r.stdout, modelDir) || !strings.Contains(r.stdout, ortLib) {
		t.Fatalf("doctor does not say where the model and ONNX Runtime are:\n%s", r.stdout)
	}
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBenchCLI runs `bench cli` on a small library with the tiny model: every
// command is timed the number of runs asked for, and the search really
// answered (the benchmark fails a search that returns fewer than k items).
func TestBenchCLI(t *testing.T) {
	lib := t.TempDir()
	r := run(t, "bench", "cli", "--items", "300", "--runs", "2", "--model", tinyModel, "--library", lib, "--json")
	if r.code != 0 {
		t.Fatalf("bench cli: code %d\n%s", r.code, r.stderr)
	}
	var rep struct {
		Data cliproc.Result `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	d := rep.Data
	if d.Items != 300 || len(d.Commands) != 3 || d.Breakdown.FirstSearchMs <= 0 || d.Breakdown.WarmSearchMs <= 0 {
		t.Fatalf("report %+v", d)
	}
	for i, want := range []string{"version", "stats", "search"} {
		c := d.Commands[i]
		if c.Args[0] != want || len(c.WallMs) != 2 || c.P50Ms <= 0 || c.MinMs > c.MaxMs {
			t.Fatalf("command %d: %+v, want %s timed twice", i, c, want)
		}
	}
	// The library is reused: a second run with another size is refused.
	r = run(t, "bench", "cli", "--items", "400", "--runs", "1", "--model", tinyModel, "--library", lib, "--json")
	if r.code != exitFailure || !strings.Contains(r.stderr, "holds 300 items, want 400") {
		t.Fatalf("reuse with another size: code %d %s", r.code, r.stderr)
	}
	r = run(t, "bench", "cli", "--runs", "0")
	if r.code != exitUsage {
		t.Fatalf("--runs 0: code %d, want %d", r.code, exitUsage)
	}
}
