package ingest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/engine"
)

// Photo size of the HEIC-vs-JPEG comparison: an iPhone's 12 MP.
const (
	PhotoWidth  = 4032
	PhotoHeight = 3024
)

// FormatsConfig describes the HEIC-vs-JPEG ingest comparison: the same
// pictures stored as JPEG and as HEIC, each set indexed into a fresh library
// with the same model, and one picture of each decoded on one core.
type FormatsConfig struct {
	Src string // folder of source pictures the photos are made from
	Dir string // cache folder: Dir/jpeg and Dir/heic-qQ-PRESET
	N   int    // photos
	// Width and Height of the photos (0 = PhotoWidth × PhotoHeight).
	Width, Height int
	HEICQuality   int    // heif-enc -q
	HEICPreset    string // x265 preset ("" = heif-enc's default)
	// Parallel bounds the heif-enc processes run at once (0 = the cores).
	Parallel    int
	Model       string // model name or folder
	Batch       int    // images per inference (0 = 32)
	Workers     int    // decode workers (0 = GOMAXPROCS)
	Streams     int    // inferences at once (0 = engine's choice)
	Threads     int    // threads per inference (0 = all cores)
	Rounds      int    // rounds of (JPEG, HEIC) ingests; the median ratio is reported (0 = 1)
	DecodeRuns  int    // timed decodes per format and path on one core (0 = 5)
	Runtime     encoders.RuntimeOptions
	Getenv      func(string) string
	Log         io.Writer // progress lines (nil = none)
	HEIFEncoder string    // heif-enc executable ("" = on $PATH)
}

// FormatIngest is one ingest of one format's set into a fresh library.
type FormatIngest struct {
	Format    string            `json:"format"`
	Images    int               `json:"images"`
	Failed    int               `json:"failed"`
	Seconds   float64           `json:"seconds"`
	PerSecond float64           `json:"images_per_s"`
	Stages    engine.StageTimes `json:"stages"`
}

// FormatsRound is one round: the JPEG set and the HEIC set ingested back to
// back (the order alternates between rounds).
type FormatsRound struct {
	JPEG  FormatIngest `json:"jpeg"`
	HEIC  FormatIngest `json:"heic"`
	Ratio float64      `json:"heic_over_jpeg"` // HEIC images/s ÷ JPEG images/s
	First string       `json:"first"`          // the format ingested first
}

// DecodeTiming is the time to decode one 12 MP picture on one core.
type DecodeTiming struct {
	Format string  `json:"format"`
	Path   string  `json:"path"` // "full" (Decode) or "tensor" (DecodeTensor to the model's input)
	Runs   int     `json:"runs"`
	WallMs float64 `json:"wall_ms"` // median
	CPUMs  float64 `json:"cpu_ms"`  // median CPU time of the process per decode
	Bytes  int64   `json:"bytes"`   // the file's size
}

// FormatsResult holds the comparison's figures: the round with the median
// ratio, every round, the single-core decode timings and the file sizes.
type FormatsResult struct {
	FormatsRound
	Rounds     []FormatsRound `json:"rounds"`
	Decode     []DecodeTiming `json:"decode_one_core"`
	Model      string         `json:"model"`
	Batch      int            `json:"batch"`
	Photos     int            `json:"photos"`
	JPEGBytes  int64          `json:"jpeg_bytes_total"`
	HEICBytes  int64          `json:"heic_bytes_total"`
	JPEGDir    string         `json:"jpeg_dir"`
	HEICDir    string         `json:"heic_dir"`
	HEIFEnc    string         `json:"heif_enc_version,omitempty"`
	LoadBefore string         `json:"load_average_before,omitempty"`
	LoadAfter  string         `json:"load_average_after,omitempty"`
}

// FormatsDirs are the cache folders of a comparison's JPEG and HEIC sets.
func FormatsDirs(cfg FormatsConfig) (jpegDir, heicDir string) {
	preset := cfg.HEICPreset
	if preset == "" {
		preset = "default"
	}
	return filepath.Join(cfg.Dir, "jpeg"), filepath.Join(cfg.Dir, fmt.Sprintf("heic-q%d-%s", cfg.HEICQuality, preset))
}

// PrepareFormats makes (or finds, from an earlier run) the JPEG set and its
// HEIC copies, and returns their folders.
func PrepareFormats(ctx context.Context, cfg FormatsConfig) (jpegDir, heicDir string, err error) {
	jpegDir, heicDir = FormatsDirs(cfg)
	logf := logger(cfg.Log)
	w, h := cfg.size()
	logf("photos: %d %dx%d JPEGs in %s (made once, then reused) ...", cfg.N, w, h, jpegDir)
	if _, err := bench.MakeCollection(ctx, bench.Collection{Src: cfg.Src, Out: jpegDir, N: cfg.N, Width: w, Height: h, Format: "jpeg"}); err != nil {
		return "", "", err
	}
	logf("photos: HEIC copies in %s (heif-enc -q %d, preset %q; made once, then reused) ...", heicDir, cfg.HEICQuality, cfg.HEICPreset)
	t0 := time.Now()
	if _, err := bench.MakeHEICs(ctx, bench.HEICSet{JPEGDir: jpegDir, Out: heicDir, Quality: cfg.HEICQuality, Preset: cfg.HEICPreset,
		Parallel: cfg.Parallel, Encoder: cfg.HEIFEncoder, Log: logf}); err != nil {
		return "", "", err
	}
	logf("photos: HEIC copies ready in %s", time.Since(t0).Round(time.Second))
	return jpegDir, heicDir, nil
}

// size is the photos' size.
func (cfg FormatsConfig) size() (w, h int) {
	if cfg.Width > 0 && cfg.Height > 0 {
		return cfg.Width, cfg.Height
	}
	return PhotoWidth, PhotoHeight
}

func logger(w io.Writer) func(string, ...any) {
	return func(format string, args ...any) {
		if w != nil {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
}

// RunFormats prepares the sets (PrepareFormats), ingests each in cfg.Rounds
// rounds, times the single-core decodes and builds the report.
func RunFormats(ctx context.Context, cfg FormatsConfig) (*bench.Report, *FormatsResult, error) {
	if cfg.N < 1 {
		return nil, nil, fmt.Errorf("bench ingest: %d photos, want at least 1", cfg.N)
	}
	if !imageproc.HEIFCompiled {
		return nil, nil, errors.New("bench ingest: this build has no libheif (built with imageproc_noheif or without cgo): HEIC cannot be decoded")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 1
	}
	if cfg.DecodeRuns <= 0 {
		cfg.DecodeRuns = 5
	}
	logf := logger(cfg.Log)
	jpegDir, heicDir, err := PrepareFormats(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	res := &FormatsResult{Batch: cfg.Batch, Photos: cfg.N, JPEGDir: jpegDir, HEICDir: heicDir, HEIFEnc: heifEncVersion(ctx, cfg.HEIFEncoder)}
	res.JPEGBytes, res.HEICBytes = folderBytes(jpegDir, ".jpg"), folderBytes(heicDir, ".heic")
	res.LoadBefore = bench.DescribeMachine().LoadAvg
	for i := range cfg.Rounds {
		round := FormatsRound{First: "jpeg"}
		order := []string{"jpeg", "heic"}
		if i%2 == 1 {
			order, round.First = []string{"heic", "jpeg"}, "heic"
		}
		for _, format := range order {
			dir := map[string]string{"jpeg": jpegDir, "heic": heicDir}[format]
			logf("round %d of %d: ingest %d %s files ...", i+1, cfg.Rounds, cfg.N, strings.ToUpper(format))
			fi, model, err := ingestFormat(ctx, cfg, format, dir)
			if err != nil {
				return nil, nil, err
			}
			if fi.Images != cfg.N {
				return nil, nil, fmt.Errorf("bench ingest: %d of the %d %s files were indexed (%d failed): see 'mmsearch errors' after indexing %s", fi.Images, cfg.N, format, fi.Failed, dir)
			}
			res.Model = model
			logf("round %d: %s %.2f images/s (%.1f s)", i+1, strings.ToUpper(format), fi.PerSecond, fi.Seconds)
			if format == "jpeg" {
				round.JPEG = fi
			} else {
				round.HEIC = fi
			}
		}
		round.Ratio = round.HEIC.PerSecond / round.JPEG.PerSecond
		res.Rounds = append(res.Rounds, round)
	}
	sorted := slices.Clone(res.Rounds)
	slices.SortFunc(sorted, func(a, b FormatsRound) int { return cmp.Compare(a.Ratio, b.Ratio) })
	res.FormatsRound = sorted[len(sorted)/2]

	entries, _ := os.ReadDir(jpegDir)
	first := ""
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jpg") {
			first = e.Name()
			break
		}
	}
	logf("decode on one core: %s as JPEG and HEIC, %d runs each ...", first, cfg.DecodeRuns)
	res.Decode, err = decodeOneCore(filepath.Join(jpegDir, first), filepath.Join(heicDir, bench.HEICName(first)), cfg.DecodeRuns)
	if err != nil {
		return nil, nil, err
	}
	res.LoadAfter = bench.DescribeMachine().LoadAvg
	return formatsReport(ctx, cfg, res), res, nil
}

// ingestFormat indexes dir into a fresh temporary library.
func ingestFormat(ctx context.Context, cfg FormatsConfig, format, dir string) (FormatIngest, string, error) {
	fi := FormatIngest{Format: format}
	tmp, err := os.MkdirTemp("", "mmsearch-bench-formats-")
	if err != nil {
		return fi, "", err
	}
	defer os.RemoveAll(tmp)
	lib, err := engine.Open(ctx, tmp, engine.Options{Model: cfg.Model, Runtime: cfg.Runtime, Threads: cfg.Threads, BatchSize: cfg.Batch, Getenv: cfg.Getenv})
	if err != nil {
		return fi, "", err
	}
	defer lib.Close()
	rep, err := lib.Ingest(ctx, []string{dir}, engine.IngestOptions{Workers: cfg.Workers, BatchSize: cfg.Batch, Streams: cfg.Streams})
	if err != nil {
		return fi, "", fmt.Errorf("ingest %s: %w", dir, err)
	}
	fi.Images, fi.Failed = rep.Indexed, rep.Failed
	fi.Seconds = rep.Elapsed.Seconds()
	fi.PerSecond = float64(rep.Indexed) / fi.Seconds
	fi.Stages = rep.Stages
	return fi, lib.Model().Manifest.Name, nil
}

// decodeOneCore times decoding the JPEG and the HEIC of one picture on one
// core: the calling thread is pinned to the first CPU the process may use (libheif decodes
// on the calling thread; any thread a decoder starts inherits the pin),
// each file is decoded runs times at full resolution (imageproc.Decode) and
// to a CLIP 224 tensor (imageproc.DecodeTensor; JPEGs are decoded reduced
// there, HEVC has no reduced decode), and the medians of wall and process
// CPU time are kept.
func decodeOneCore(jpegPath, heicPath string, runs int) ([]DecodeTiming, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("decode timing: %w", err)
	}
	var one unix.CPUSet
	for c := range 1024 {
		if old.IsSet(c) {
			one.Set(c)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		return nil, fmt.Errorf("decode timing: pin to one core: %w", err)
	}
	defer unix.SchedSetaffinity(0, &old)

	p := imageproc.CLIP(224)
	dst := make([]float32, p.Len())
	var out []DecodeTiming
	for _, f := range []struct{ format, path string }{{"jpeg", jpegPath}, {"heic", heicPath}} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("decode timing: %w", err)
		}
		for _, how := range []string{"full", "tensor"} {
			var walls, cpus []float64
			for range runs {
				c0, t0 := processCPU(), time.Now()
				switch how {
				case "full":
					_, _, err = imageproc.Decode(bytes.NewReader(data), f.path, int64(len(data)), imageproc.Options{})
				default:
					_, err = imageproc.DecodeTensor(bytes.NewReader(data), f.path, int64(len(data)), imageproc.Options{}, p, dst)
				}
				wall, used := time.Since(t0), processCPU()-c0
				if err != nil {
					return nil, fmt.Errorf("decode %s: %w", f.path, err)
				}
				walls, cpus = append(walls, ms(wall)), append(cpus, ms(used))
			}
			out = append(out, DecodeTiming{Format: f.format, Path: how, Runs: runs, WallMs: median(walls), CPUMs: median(cpus), Bytes: int64(len(data))})
		}
	}
	return out, nil
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// folderBytes sums the sizes of the files in dir ending in ext.
func folderBytes(dir, ext string) int64 {
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ext) {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
	}
	return n
}

// heifEncVersion is heif-enc's first output line ("heif-enc libheif version: 1.15.1").
func heifEncVersion(ctx context.Context, enc string) string {
	if enc == "" {
		enc = "heif-enc"
	}
	out, _ := exec.CommandContext(ctx, enc, "--help").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// Figures returns the headline's numbers by name.
func (r *FormatsResult) Figures() map[string]float64 {
	f := map[string]float64{
		"jpeg_ingest_images_per_s": r.JPEG.PerSecond,
		"heic_ingest_images_per_s": r.HEIC.PerSecond,
		"ratio_heic_over_jpeg":     r.Ratio,
		"rounds":                   float64(len(r.Rounds)),
		"photos":                   float64(r.Photos),
	}
	if len(r.Rounds) > 0 {
		lo, hi := r.Rounds[0].Ratio, r.Rounds[0].Ratio
		for _, rd := range r.Rounds {
			lo, hi = min(lo, rd.Ratio), max(hi, rd.Ratio)
		}
		f["ratio_min"], f["ratio_max"] = lo, hi
	}
	for _, d := range r.Decode {
		f[fmt.Sprintf("decode_one_core_%s_%s_cpu_ms", d.Format, d.Path)] = d.CPUMs
		f[fmt.Sprintf("decode_one_core_%s_%s_wall_ms", d.Format, d.Path)] = d.WallMs
	}
	return f
}

// decodeOf finds a timing.
func (r *FormatsResult) decodeOf(format, path string) DecodeTiming {
	for _, d := range r.Decode {
		if d.Format == format && d.Path == path {
			return d
		}
	}
	return DecodeTiming{}
}

func formatsReport(ctx context.Context, cfg FormatsConfig, res *FormatsResult) *bench.Report {
	pw, ph := cfg.size()
	h := bench.NewHeader(ctx, "ingest-heic-vs-jpeg", fmt.Sprintf("%d generated %dx%d photos from %s, as JPEG (%s) and HEIC (%s)", cfg.N, pw, ph, cfg.Src, res.JPEGDir, res.HEICDir))
	h.AddParam("model", res.Model)
	h.AddParam("photos", cfg.N)
	h.AddParam("JPEG", "quality 90 (Go image/jpeg), decoded by libjpeg-turbo")
	h.AddParam("HEIC", fmt.Sprintf("heif-enc -q %d -p preset=%s from the JPEG (the same pixels), decoded by libheif", cfg.HEICQuality, cmp.Or(cfg.HEICPreset, "(default)")))
	h.AddParam("batch", res.Batch)
	h.AddParam("workers", max(cfg.Workers, 0))
	h.AddParam("threads per inference", cfg.Threads)
	h.AddParam("streams", cfg.Streams)
	h.AddParam("GOMAXPROCS", runtime.GOMAXPROCS(0))
	h.AddParam("rounds", len(res.Rounds))
	h.Peers = []bench.Peer{{Name: "the same pictures as JPEG through the same ingest", Version: "libjpeg-turbo"}, {Name: "heif-enc", Version: res.HEIFEnc}}
	r := &bench.Report{Header: h, Figures: res.Figures(), Data: res}
	rng := ""
	if len(res.Rounds) > 1 {
		rng = fmt.Sprintf(" (median of %d rounds, range %.2f-%.2f)", len(res.Rounds), r.Figures["ratio_min"], r.Figures["ratio_max"])
	}
	hf, jf := res.decodeOf("heic", "full"), res.decodeOf("jpeg", "full")
	ht, jt := res.decodeOf("heic", "tensor"), res.decodeOf("jpeg", "tensor")
	r.Headline = append(r.Headline,
		fmt.Sprintf("ingest with %s: HEIC %.2f images/s vs JPEG %.2f images/s: ratio %.2f%s", res.Model, res.HEIC.PerSecond, res.JPEG.PerSecond, res.Ratio, rng),
		fmt.Sprintf("one %dx%d picture on one core: HEIC decode %.0f ms CPU vs JPEG %.0f ms (full resolution); to the 224 tensor %.0f ms vs %.0f ms",
			pw, ph, hf.CPUMs, jf.CPUMs, ht.CPUMs, jt.CPUMs))
	rt := bench.Table{Title: "Rounds (each set ingested into a fresh library)", Columns: []string{"round", "first", "JPEG images/s", "HEIC images/s", "HEIC/JPEG"}}
	for i, rd := range res.Rounds {
		rt.AddRow(i+1, rd.First, fmt.Sprintf("%.2f", rd.JPEG.PerSecond), fmt.Sprintf("%.2f", rd.HEIC.PerSecond), fmt.Sprintf("%.2f", rd.Ratio))
	}
	r.Tables = append(r.Tables, rt)
	st := bench.Table{Title: "Time by stage in the median round (seconds; decode-side stages summed over workers)", Columns: []string{"stage", "JPEG", "HEIC"}}
	for _, row := range []struct {
		name string
		j, h time.Duration
	}{
		{"read", res.JPEG.Stages.Read, res.HEIC.Stages.Read},
		{"hash", res.JPEG.Stages.Hash, res.HEIC.Stages.Hash},
		{"decode+preprocess", res.JPEG.Stages.Preprocess, res.HEIC.Stages.Preprocess},
		{"encode (ONNX Runtime)", res.JPEG.Stages.Encode, res.HEIC.Stages.Encode},
		{"store (SQLite)", res.JPEG.Stages.Store, res.HEIC.Stages.Store},
		{"index (HNSW)", res.JPEG.Stages.Index, res.HEIC.Stages.Index},
	} {
		st.AddRow(row.name, fmt.Sprintf("%.2f", row.j.Seconds()), fmt.Sprintf("%.2f", row.h.Seconds()))
	}
	st.AddRow("wall", fmt.Sprintf("%.2f", res.JPEG.Seconds), fmt.Sprintf("%.2f", res.HEIC.Seconds))
	r.Tables = append(r.Tables, st)
	dt := bench.Table{Title: "One picture decoded on one core (medians)", Columns: []string{"format", "path", "file bytes", "CPU ms", "wall ms", "runs"}}
	for _, d := range res.Decode {
		dt.AddRow(d.Format, d.Path, d.Bytes, fmt.Sprintf("%.1f", d.CPUMs), fmt.Sprintf("%.1f", d.WallMs), d.Runs)
	}
	r.Tables = append(r.Tables, dt)
	r.Notes = append(r.Notes,
		fmt.Sprintf("files: %d JPEGs, %.1f MB in all; %d HEICs, %.1f MB", res.Photos, float64(res.JPEGBytes)/1e6, res.Photos, float64(res.HEICBytes)/1e6),
		fmt.Sprintf("load average before the ingests %s, after the decode timing %s (cores: %d)", res.LoadBefore, res.LoadAfter, runtime.NumCPU()),
		"\"full\" decodes at full resolution; \"tensor\" is the ingest's path to the model's 224 px input: JPEGs are decoded reduced by libjpeg-turbo's DCT scaling, HEVC has no reduced decode",
		"x265's speed preset changes the coding tools a HEIC uses and so its decode time; phones encode with their own (hardware) encoders")
	return r
}
