// Package encoder measures model throughput: the image encoder in images/s
// at given batch sizes and the text encoder's query latency, each beside
// plain ONNX Runtime running the same graph with preallocated tensors and no
// mmsearch code around it (the peer).
package encoder

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/models"
	"mmsearch/models/quantize"
)

// Config describes one run.
type Config struct {
	Model   string // model folder or name
	Batches []int  // batch sizes to time (default 1, 8, 32)
	Images  int    // images per batch size and round (default 64)
	Texts   int    // text queries timed (default 50)
	Threads int    // intra-op threads (0 = all cores)
	// Int8 names an INT8 model to time beside Model, in the same rounds;
	// "auto" quantizes Model into a temporary folder first (the defaults of
	// `mmsearch models quantize`).
	Int8 string
	// Rounds repeats every measurement, interleaved, and reports medians
	// (default 3), so load from other processes hits every figure alike.
	Rounds int
	// Variants also times plain ONNX Runtime under other session options
	// (optimization level, saved optimized graph, spinning, arena, threads)
	// at the largest batch.
	Variants bool
	// ClockMHz replaces /proc/cpuinfo's clock in the peak (0 = as listed).
	ClockMHz float64
	Runtime  encoders.RuntimeOptions
	Getenv   func(string) string
	Log      io.Writer
}

// Row is one batch size's figures for one model.
type Row struct {
	Batch       int     `json:"batch"`
	OursPerSec  float64 `json:"mmsearch_images_per_s"`
	PlainPerSec float64 `json:"plain_ort_images_per_s"`
	Ratio       float64 `json:"ratio"`
	ImagesTimed int     `json:"images_timed"`
	// Images per CPU-second (user + system time of the process): on a
	// shared machine these do not count the time other processes held the
	// cores, though they do count CPU burnt spinning.
	OursPerCPUSec  float64 `json:"mmsearch_images_per_cpu_s"`
	PlainPerCPUSec float64 `json:"plain_ort_images_per_cpu_s"`
	CPURatio       float64 `json:"cpu_ratio"`
	// CorePeakFraction is the counted operations per CPU-second against
	// one core's float32 peak.
	CorePeakFraction float64 `json:"core_peak_fraction"`
	// GOPs is the achieved rate of the counted operations through our
	// encoder (GFLOP/s; integer operations included for an INT8 model) and
	// PeakFraction that against the machine's float32 peak.
	GOPs         float64 `json:"gops_per_s"`
	PeakFraction float64 `json:"peak_fraction"`
}

// Int8Result holds the INT8 model's figures.
type Int8Result struct {
	Model          string                     `json:"model"`
	Quantization   *encoders.QuantizationInfo `json:"quantization,omitempty"`
	OpsPerImage    int64                      `json:"ops_per_image"`
	IntOpsPerImage int64                      `json:"int_ops_per_image"`
	Rows           []Row                      `json:"image"`
	// Speedup is INT8 over float32 images/s through our encoder, per
	// batch; CPUSpeedup the same in images per CPU-second.
	Speedup    []float64 `json:"speedup"`
	CPUSpeedup []float64 `json:"cpu_speedup"`
	TextP50Ms  float64   `json:"text_query_p50_ms"`
}

// Variant is plain ONNX Runtime under one set of session options.
type Variant struct {
	Model        string  `json:"model"` // "float32" or "int8"
	Name         string  `json:"name"`
	Batch        int     `json:"batch"`
	PerSec       float64 `json:"images_per_s"`
	PerCPUSec    float64 `json:"images_per_cpu_s"`
	LoadMs       float64 `json:"session_load_ms"`
	VsDefault    float64 `json:"vs_default"`
	CPUVsDefault float64 `json:"cpu_vs_default"`
}

// Result holds every figure.
type Result struct {
	Model        string           `json:"model"`
	Dim          int              `json:"dim"`
	ImageSize    int              `json:"image_size"`
	Rows         []Row            `json:"image"`
	TextP50Ms    float64          `json:"text_query_p50_ms"`
	TextP99Ms    float64          `json:"text_query_p99_ms"`
	PlainTextP50 float64          `json:"plain_ort_text_p50_ms"`
	Templates    int              `json:"templates"`
	OpsPerImage  int64            `json:"flops_per_image"`
	OpsByOp      map[string]int64 `json:"flops_by_op"`
	Peak         bench.Peak       `json:"peak"`
	Rounds       int              `json:"rounds"`
	Int8         *Int8Result      `json:"int8,omitempty"`
	Variants     []Variant        `json:"ort_variants,omitempty"`
}

// tower is one model under test.
type tower struct {
	label string // "float32" or "int8"
	dir   string
	m     *encoders.Model
	path  string // image ONNX file
	ops   quantize.Count
}

// Run times the model's towers.
func Run(ctx context.Context, cfg Config) (*bench.Report, *Result, error) {
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	if len(cfg.Batches) == 0 {
		cfg.Batches = []int{1, 8, 32}
	}
	if cfg.Images <= 0 {
		cfg.Images = 64
	}
	if cfg.Texts <= 0 {
		cfg.Texts = 50
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	resolver := models.Resolver{Getenv: cfg.Getenv}
	chosen, err := resolver.Resolve(models.Request{Flag: cfg.Model})
	if err != nil {
		return nil, nil, err
	}
	m, _, err := models.Open(chosen.Dir, models.OpenOptions{Runtime: cfg.Runtime, Getenv: cfg.Getenv})
	if err != nil {
		return nil, nil, err
	}
	mf := m.Manifest
	peak, err := bench.CPUPeak(cfg.ClockMHz)
	if err != nil {
		return nil, nil, err
	}
	res := &Result{Model: mf.Name, Dim: m.Dim(), ImageSize: mf.Image.Size, Templates: len(mf.Text.Templates), Peak: peak, Rounds: cfg.Rounds}
	dir := chosen.Dir
	towers := []*tower{{label: "float32", dir: dir, m: m, path: filepath.Join(dir, mf.Image.ONNX)}}
	if cfg.Int8 != "" {
		var qm *encoders.Model
		if cfg.Int8 == "auto" {
			tmp, err := os.MkdirTemp("", "mmsearch-int8-")
			if err != nil {
				return nil, nil, err
			}
			defer os.RemoveAll(tmp)
			qdir := filepath.Join(tmp, mf.Name+"-int8")
			if _, err := quantize.Model(ctx, dir, qdir, quantize.ModelOptions{Options: quantize.DefaultOptions(), Name: mf.Name + "-int8"}); err != nil {
				return nil, nil, err
			}
			// A temporary copy: verified in full, no stamp left behind.
			if qm, err = encoders.OpenModel(qdir, cfg.Runtime); err != nil {
				return nil, nil, err
			}
		} else {
			qdir, err := resolver.Lookup(cfg.Int8)
			if err != nil {
				return nil, nil, err
			}
			if qm, _, err = models.Open(qdir, models.OpenOptions{Runtime: cfg.Runtime, Getenv: cfg.Getenv}); err != nil {
				return nil, nil, err
			}
		}
		if qm.Manifest.Image.Size != mf.Image.Size || qm.Dim() != m.Dim() {
			return nil, nil, fmt.Errorf("int8 model %s: image size %d, dimension %d differ from %s's %d, %d", qm.Manifest.Name, qm.Manifest.Image.Size, qm.Dim(), mf.Name, mf.Image.Size, m.Dim())
		}
		towers = append(towers, &tower{label: "int8", dir: qm.Dir, m: qm, path: filepath.Join(qm.Dir, qm.Manifest.Image.ONNX)})
		res.Int8 = &Int8Result{Model: qm.Manifest.Name, Quantization: qm.Manifest.Quantization}
	}
	for _, t := range towers {
		if t.ops, err = ImageFLOPs(t.path, t.m.Manifest.Image.Input.Name, mf.Image.Size); err != nil {
			return nil, nil, err
		}
		logf("%s image tower: %.3f GFLOP per image (%d%% in integer nodes)", t.label, float64(t.ops.Ops)/1e9, 100*t.ops.IntOps/max(1, t.ops.Ops))
	}
	res.OpsPerImage, res.OpsByOp = towers[0].ops.Ops, towers[0].ops.ByOp
	if res.Int8 != nil {
		res.Int8.OpsPerImage, res.Int8.IntOpsPerImage = towers[1].ops.Ops, towers[1].ops.IntOps
	}

	rng := rand.New(rand.NewPCG(1, 2))
	per := 3 * mf.Image.Size * mf.Image.Size
	var batches []int
	for _, b := range cfg.Batches {
		if mf.MaxBatch == 0 || b <= mf.MaxBatch {
			batches = append(batches, b)
		}
	}
	// samples[tower][batch] = rates per round, ours and plain.
	ours := make([][][]rate, len(towers))
	plain := make([][][]rate, len(towers))
	for i := range towers {
		ours[i], plain[i] = make([][]rate, len(batches)), make([][]rate, len(batches))
	}
	inputs := make([][]float32, len(batches))
	for j, b := range batches {
		inputs[j] = make([]float32, b*per)
		for i := range inputs[j] {
			inputs[j][i] = float32(rng.NormFloat64())
		}
	}
	for r := 0; r < cfg.Rounds; r++ {
		for j, b := range batches {
			n := max(cfg.Images/b, 2) // inferences timed
			for i, t := range towers {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
				o, err := timeOurs(ctx, t.m, inputs[j], b, n, cfg.Threads)
				if err != nil {
					return nil, nil, err
				}
				p, _, err := plainImage(t.path, t.m.Manifest, inputs[j], b, n, cfg.Threads, nil)
				if err != nil {
					return nil, nil, err
				}
				ours[i][j], plain[i][j] = append(ours[i][j], o), append(plain[i][j], p)
				logf("round %d, %s, batch %d: mmsearch %.1f images/s (%.1f per CPU-s), plain ONNX Runtime %.1f images/s (%.1f per CPU-s)", r+1, t.label, b, o.wall, o.cpu, p.wall, p.cpu)
			}
		}
	}
	for i, t := range towers {
		var rows []Row
		for j, b := range batches {
			o, p := medianRate(ours[i][j]), medianRate(plain[i][j])
			gops := o.wall * float64(t.ops.Ops) / 1e9
			rows = append(rows, Row{Batch: b, OursPerSec: o.wall, PlainPerSec: p.wall, Ratio: o.wall / p.wall, ImagesTimed: max(cfg.Images/b, 2) * b * cfg.Rounds,
				GOPs: gops, PeakFraction: gops / peak.GFLOPs,
				OursPerCPUSec: o.cpu, PlainPerCPUSec: p.cpu, CPURatio: ratio(o.cpu, p.cpu),
				CorePeakFraction: o.cpu * float64(t.ops.Ops) / 1e9 / (peak.GFLOPs / float64(peak.Cores))})
		}
		if i == 0 {
			res.Rows = rows
		} else {
			res.Int8.Rows = rows
			for j := range rows {
				res.Int8.Speedup = append(res.Int8.Speedup, rows[j].OursPerSec/res.Rows[j].OursPerSec)
				res.Int8.CPUSpeedup = append(res.Int8.CPUSpeedup, ratio(rows[j].OursPerCPUSec, res.Rows[j].OursPerCPUSec))
			}
		}
	}
	if cfg.Variants && len(batches) > 0 {
		j := len(batches) - 1
		n := max(cfg.Images/batches[j], 2)
		for _, t := range towers {
			vs, err := variants(t, inputs[j], batches[j], n, cfg.Threads, cfg.Rounds)
			if err != nil {
				return nil, nil, err
			}
			for _, v := range vs {
				logf("%s batch %d, plain ONNX Runtime, %s: %.1f images/s (%.2f× default; per CPU-s %.2f×), session load %.0f ms", v.Model, v.Batch, v.Name, v.PerSec, v.VsDefault, v.CPUVsDefault, v.LoadMs)
			}
			res.Variants = append(res.Variants, vs...)
		}
	}

	if err := timeText(ctx, cfg, m, res); err != nil {
		return nil, nil, err
	}
	if res.Int8 != nil {
		lat, err := textLatency(ctx, towers[1].m, cfg)
		if err != nil {
			return nil, nil, err
		}
		res.Int8.TextP50Ms = pct(lat, 50)
	}
	return report(ctx, cfg, res), res, nil
}

// rate is images per wall-clock second and per CPU-second of the process.
type rate struct{ wall, cpu float64 }

// clock reads the wall clock and the process's CPU time (user + system).
type clock struct {
	wall time.Time
	cpu  float64
}

func now() clock {
	var ru syscall.Rusage
	cpu := 0.0
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	return clock{time.Now(), cpu}
}

// rateSince is images per second since c0.
func rateSince(c0 clock, images int) rate {
	c1 := now()
	r := rate{wall: float64(images) / c1.wall.Sub(c0.wall).Seconds()}
	if d := c1.cpu - c0.cpu; d > 0 {
		r.cpu = float64(images) / d
	}
	return r
}

// ratio is a/b, or 0 when b is 0 (a CPU time too short to register).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func medianRate(rs []rate) rate {
	w, c := make([]float64, len(rs)), make([]float64, len(rs))
	for i, r := range rs {
		w[i], c[i] = r.wall, r.cpu
	}
	return rate{median(w), median(c)}
}

// timeOurs times n batches of b images through our ImageEncoder.
func timeOurs(ctx context.Context, m *encoders.Model, pixels []float32, b, n, threads int) (rate, error) {
	enc, err := encoders.NewImageEncoder(m, encoders.SessionOptions{IntraOpThreads: threads, MaxBatch: b})
	if err != nil {
		return rate{}, err
	}
	defer enc.Close()
	if _, err := enc.EncodeTensors(ctx, pixels, b); err != nil { // warm-up
		return rate{}, err
	}
	c0 := now()
	for i := 0; i < n; i++ {
		if _, err := enc.EncodeTensors(ctx, pixels, b); err != nil {
			return rate{}, err
		}
	}
	return rateSince(c0, n*b), nil
}

var textWords = []string{"dog", "a red heart", "sunset over the sea", "woman cook", "golden retriever puppy", "cat"}

// textLatency times cfg.Texts queries through the model's TextEncoder.
func textLatency(ctx context.Context, m *encoders.Model, cfg Config) ([]float64, error) {
	txt, err := encoders.NewTextEncoder(m, encoders.SessionOptions{IntraOpThreads: cfg.Threads})
	if err != nil {
		return nil, err
	}
	defer txt.Close()
	if _, err := txt.EncodeQuery(ctx, textWords[0]); err != nil {
		return nil, err
	}
	var lat []float64
	for i := 0; i < cfg.Texts; i++ {
		t0 := time.Now()
		if _, err := txt.EncodeQuery(ctx, textWords[i%len(textWords)]); err != nil {
			return nil, err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	return lat, nil
}

// timeText fills the text figures of res: our query latency and plain ONNX
// Runtime's on the input our query path runs.
func timeText(ctx context.Context, cfg Config, m *encoders.Model, res *Result) error {
	lat, err := textLatency(ctx, m, cfg)
	if err != nil {
		return err
	}
	res.TextP50Ms, res.TextP99Ms = pct(lat, 50), pct(lat, 99)
	txt, err := encoders.NewTextEncoder(m, encoders.SessionOptions{IntraOpThreads: cfg.Threads})
	if err != nil {
		return err
	}
	ids, mask := txt.Tokenize([]string{textWords[0]})
	txt.Close()
	mf := m.Manifest
	if mf.Text.TrimPadding {
		ids, mask = encoders.TrimPadding(ids, mask) // the input our query path runs
	}
	res.PlainTextP50, err = plainText(filepath.Join(m.Dir, mf.Text.ONNX), mf, ids[0], mask[0], cfg.Texts, cfg.Threads)
	if err != nil {
		return err
	}
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "text query: mmsearch p50 %.2f ms (%d templates), plain ONNX Runtime one text p50 %.2f ms\n", res.TextP50Ms, res.Templates, res.PlainTextP50)
	}
	return nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(xs []float64, p int) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[min(len(s)-1, (len(s)*p)/100)]
}

func sessionOptions(threads int) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	if threads > 0 {
		if err := so.SetIntraOpNumThreads(threads); err != nil {
			so.Destroy()
			return nil, err
		}
	}
	return so, nil
}

// plainImage runs the image graph with onnxruntime_go's AdvancedSession on
// preallocated input and output tensors: ONNX Runtime and nothing else. It
// returns images/s and the session's load time; tune, when set, changes
// the session options first.
func plainImage(path string, mf *encoders.Manifest, pixels []float32, b, n, threads int, tune func(*ort.SessionOptions) error) (rate, float64, error) {
	s := int64(mf.Image.Size)
	in, err := ort.NewTensor(ort.NewShape(int64(b), 3, s, s), pixels)
	if err != nil {
		return rate{}, 0, err
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(b), int64(mf.EmbeddingDim)))
	if err != nil {
		return rate{}, 0, err
	}
	defer out.Destroy()
	so, err := sessionOptions(threads)
	if err != nil {
		return rate{}, 0, err
	}
	defer so.Destroy()
	if tune != nil {
		if err := tune(so); err != nil {
			return rate{}, 0, err
		}
	}
	t0 := time.Now()
	sess, err := ort.NewAdvancedSession(path, []string{mf.Image.Input.Name}, []string{mf.Image.Output.Name}, []ort.Value{in}, []ort.Value{out}, so)
	if err != nil {
		return rate{}, 0, err
	}
	defer sess.Destroy()
	load := ms(time.Since(t0))
	if err := sess.Run(); err != nil {
		return rate{}, 0, err
	}
	c0 := now()
	for i := 0; i < n; i++ {
		if err := sess.Run(); err != nil {
			return rate{}, 0, err
		}
	}
	return rateSince(c0, n*b), load, nil
}

// plainText times one text through the text graph with preallocated tensors.
func plainText(path string, mf *encoders.Manifest, ids, mask []int64, n, threads int) (float64, error) {
	if mf.Text.Pooling != encoders.PoolingProjected || mf.Text.InputIDs.DType != "int64" {
		return 0, nil // the peer covers the common export only
	}
	shape := ort.NewShape(1, int64(len(ids)))
	idT, err := ort.NewTensor(shape, ids)
	if err != nil {
		return 0, err
	}
	defer idT.Destroy()
	inputs := []ort.Value{idT}
	names := []string{mf.Text.InputIDs.Name}
	if mf.Text.AttentionMask != nil {
		mT, err := ort.NewTensor(shape, mask)
		if err != nil {
			return 0, err
		}
		defer mT.Destroy()
		inputs = append(inputs, mT)
		names = append(names, mf.Text.AttentionMask.Name)
	}
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, int64(mf.EmbeddingDim)))
	if err != nil {
		return 0, err
	}
	defer out.Destroy()
	so, err := sessionOptions(threads)
	if err != nil {
		return 0, err
	}
	defer so.Destroy()
	sess, err := ort.NewAdvancedSession(path, names, []string{mf.Text.Output.Name}, inputs, []ort.Value{out}, so)
	if err != nil {
		return 0, err
	}
	defer sess.Destroy()
	sess.Run()
	var lat []float64
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := sess.Run(); err != nil {
			return 0, err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	return pct(lat, 50), nil
}

func report(ctx context.Context, cfg Config, res *Result) *bench.Report {
	h := bench.NewHeader(ctx, "encoder", "random input tensors")
	h.AddParam("model", res.Model)
	if res.Int8 != nil {
		h.AddParam("int8 model", res.Int8.Model)
		if q := res.Int8.Quantization; q != nil {
			h.AddParam("int8 settings", fmt.Sprintf("per-channel %t, 7-bit weights %t, format %s, %d image + %d text nodes quantized", q.PerChannel, q.ReduceRange, q.Format, q.ImageNodes, q.TextNodes))
		}
	}
	h.AddParam("image size", res.ImageSize)
	h.AddParam("threads per inference", cfg.Threads)
	h.AddParam("rounds (interleaved; medians)", res.Rounds)
	h.AddParam("text templates per query", res.Templates)
	h.AddParam("machine peak", res.Peak.Derivation)
	if info, ok := encoders.Running(); ok {
		h.AddParam("ONNX Runtime library", info.LibraryPath)
	}
	h.Peers = []bench.Peer{{Name: "plain ONNX Runtime (onnxruntime_go AdvancedSession, preallocated tensors, default session options)", Version: encoders.RunningVersion()}}
	r := &bench.Report{Header: h, Figures: res.Figures(), Data: res}
	r.Headline = append(r.Headline, fmt.Sprintf("image tower: %.3f GFLOP per image (matrix products and convolutions, counted from the graph)", float64(res.OpsPerImage)/1e9))
	t := bench.Table{Title: "Image encoder", Columns: []string{"model", "batch", "mmsearch images/s", "plain ORT images/s", "ratio",
		"mmsearch images/CPU-s", "plain ORT images/CPU-s", "CPU ratio", "GOP/s", "of machine fp32 peak", "GOP per CPU-s, of one core's peak", "int8 / fp32", "int8 / fp32 per CPU-s"}}
	add := func(label string, rows []Row, speedup, cpuSpeedup []float64) {
		for i, row := range rows {
			sp, csp := "", ""
			if speedup != nil {
				sp, csp = fmt.Sprintf("%.2f×", speedup[i]), fmt.Sprintf("%.2f×", cpuSpeedup[i])
			}
			t.AddRow(label, row.Batch, fmt.Sprintf("%.1f", row.OursPerSec), fmt.Sprintf("%.1f", row.PlainPerSec), fmt.Sprintf("%.2f", row.Ratio),
				fmt.Sprintf("%.1f", row.OursPerCPUSec), fmt.Sprintf("%.1f", row.PlainPerCPUSec), fmt.Sprintf("%.2f", row.CPURatio),
				fmt.Sprintf("%.1f", row.GOPs), fmt.Sprintf("%.0f%%", 100*row.PeakFraction), fmt.Sprintf("%.0f%%", 100*row.CorePeakFraction), sp, csp)
		}
	}
	add("float32", res.Rows, nil, nil)
	for _, row := range res.Rows {
		r.Headline = append(r.Headline, fmt.Sprintf("float32 batch %d: %.1f images/s = %.1f GFLOP/s, %.0f%% of the machine's peak; %.1f images per CPU-second, %.0f%% of one core's peak (plain ONNX Runtime %.1f images/s, ratio %.2f; per CPU-second %.2f)",
			row.Batch, row.OursPerSec, row.GOPs, 100*row.PeakFraction, row.OursPerCPUSec, 100*row.CorePeakFraction, row.PlainPerSec, row.Ratio, row.CPURatio))
	}
	if q := res.Int8; q != nil {
		add("int8", q.Rows, q.Speedup, q.CPUSpeedup)
		for i, row := range q.Rows {
			r.Headline = append(r.Headline, fmt.Sprintf("int8 batch %d: %.1f images/s, %.2f× float32; per CPU-second %.2f× (plain ONNX Runtime on the int8 graph %.1f images/s; ratio %.2f)", row.Batch, row.OursPerSec, q.Speedup[i], q.CPUSpeedup[i], row.PlainPerSec, row.Ratio))
		}
	}
	r.Tables = append(r.Tables, t)
	ft := bench.Table{Title: "Operations per image (image tower)", Columns: []string{"model", "operator", "GOP"}}
	for _, op := range sortedKeys(res.OpsByOp) {
		ft.AddRow("float32", op, fmt.Sprintf("%.4f", float64(res.OpsByOp[op])/1e9))
	}
	if q := res.Int8; q != nil {
		ft.AddRow("int8", "all (integer part)", fmt.Sprintf("%.4f (%.4f)", float64(q.OpsPerImage)/1e9, float64(q.IntOpsPerImage)/1e9))
	}
	r.Tables = append(r.Tables, ft)
	if len(res.Variants) > 0 {
		vt := bench.Table{Title: "Plain ONNX Runtime session options", Columns: []string{"model", "batch", "options", "images/s", "vs default", "images/CPU-s", "vs default per CPU-s", "session load ms"}}
		for _, v := range res.Variants {
			vt.AddRow(v.Model, v.Batch, v.Name, fmt.Sprintf("%.1f", v.PerSec), fmt.Sprintf("%.2f", v.VsDefault), fmt.Sprintf("%.1f", v.PerCPUSec), fmt.Sprintf("%.2f", v.CPUVsDefault), fmt.Sprintf("%.0f", v.LoadMs))
		}
		r.Tables = append(r.Tables, vt)
	}
	tt := bench.Table{Title: "Text encoder", Columns: []string{"model", "mmsearch query p50 ms", "p99 ms", "templates", "plain ORT one text p50 ms"}}
	tt.AddRow("float32", fmt.Sprintf("%.2f", res.TextP50Ms), fmt.Sprintf("%.2f", res.TextP99Ms), res.Templates, fmt.Sprintf("%.2f", res.PlainTextP50))
	if q := res.Int8; q != nil {
		tt.AddRow("int8", fmt.Sprintf("%.2f", q.TextP50Ms), "", res.Templates, "")
	}
	r.Tables = append(r.Tables, tt)
	r.Headline = append(r.Headline, fmt.Sprintf("text query p50 %.2f ms through %d templates (plain ONNX Runtime, one text: %.2f ms)", res.TextP50Ms, res.Templates, res.PlainTextP50))
	r.Notes = append(r.Notes,
		"GOP/s counts 2 × the multiply-adds of the image tower's matrix products and convolutions (element-wise work not counted); for the int8 model the quantized products count as integer operations, shown against the same float32 peak.",
		"The peak is derived from /proc/cpuinfo: "+res.Peak.Derivation+". FMA units per core are not listed there; 2 is assumed. A CPU that boosts above the listed clock can exceed the 'peak'.",
		"Per CPU-second figures divide images by the process's user + system time: on a shared machine they leave out the time other processes held the cores (the wall-clock figures do not), but they count the CPU ONNX Runtime burns spinning (on by default in the plain peer, and kept up after a run returns; in mmsearch's encoder only while an inference runs).",
	)
	if !res.Peak.VNNI {
		r.Notes = append(r.Notes, "This CPU has no VNNI: int8 products run on AVX2's vpmaddubsw/vpmaddwd, at best about 2× the float32 multiply-add rate on paper.")
	}
	return r
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
