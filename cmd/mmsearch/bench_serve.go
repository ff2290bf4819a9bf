package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"mmsearch/bench"
	"mmsearch/engine"
	"mmsearch/server"
)

// benchServeFlags are the flags of `mmsearch bench serve`.
type benchServeFlags struct {
	lf          libraryFlags
	clients     int
	duration    time.Duration
	maxRequests int
	k           int
	images      int
	seed        uint64
	out         string
	json        bool
}

// serveQueryTexts are the text terms of the load's queries.
var serveQueryTexts = []string{
	"dog", "cat", "red heart", "blue circle", "a smiling face", "pizza", "rocket", "tree",
	"green apple", "car", "sun", "flower", "house", "fish", "star", "moon",
}

func benchServeCommand() *command {
	f := &benchServeFlags{}
	return &command{
		name:    "serve",
		summary: "requests/s and p50/p99 latency of the HTTP API under concurrent clients on loopback",
		usage: `[--library DIR | --images N] [--model NAME|DIR] [--clients 16] [--duration 10s] [--max-requests N]

Starts the server on 127.0.0.1 (a free port) over --library, or over a
library generated in a temporary folder from --images synthetic pictures,
then runs --clients concurrent clients for --duration (or until
--max-requests answers). Each client sends GET /api/search with a mix of
queries: 50% text ("dog"), 30% indexed items ("@12"), 20% analogies
("@12 - \"dog\" + \"cat\""). Prints requests/s, latency percentiles and the
error count, and writes serve.json and serve.md under --out.`,
		setFlags: func(fs *flag.FlagSet) {
			f.lf.register(fs)
			fs.IntVar(&f.clients, "clients", 16, "concurrent clients")
			fs.DurationVar(&f.duration, "duration", 10*time.Second, "length of the load")
			fs.IntVar(&f.maxRequests, "max-requests", 1_000_000, "stop after this many requests")
			fs.IntVar(&f.k, "k", 10, "results per query")
			fs.IntVar(&f.images, "images", 200, "pictures in the generated library (without --library)")
			fs.Uint64Var(&f.seed, "seed", 1, "seed of the query mix")
			fs.StringVar(&f.out, "out", bench.DefaultOutDir, "folder for serve.json and serve.md")
			fs.BoolVar(&f.json, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("bench serve takes no arguments (got %q)", args[0])
			}
			switch {
			case f.clients < 1 || f.clients > 1024:
				return usagef("--clients %d: want 1..1024", f.clients)
			case f.duration < 100*time.Millisecond || f.duration > time.Hour:
				return usagef("--duration %s: want 100ms..1h", f.duration)
			case f.maxRequests < 1:
				return usagef("--max-requests %d: want at least 1", f.maxRequests)
			case f.k < 1 || f.k > server.DefaultMaxK:
				return usagef("--k %d: want 1..%d", f.k, server.DefaultMaxK)
			case f.lf.library == "" && (f.images < 2 || f.images > 100000):
				return usagef("--images %d: want 2..100000", f.images)
			}
			r, err := runBenchServe(ctx, e, f)
			if err != nil {
				return err
			}
			return writeReport(e, r, f.out, "serve", f.json)
		},
	}
}

// serveSample is one request's outcome.
type serveSample struct {
	kind    string
	latency time.Duration
	err     string // "" for a 200 answer
}

// serveLatency summarizes a set of samples.
type serveLatency struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	MeanMs   float64 `json:"mean_ms"`
}

// serveBenchData is the machine-readable part of the report.
type serveBenchData struct {
	Clients        int                     `json:"clients"`
	WallSeconds    float64                 `json:"wall_seconds"`
	RequestsPerSec float64                 `json:"requests_per_second"`
	Overall        serveLatency            `json:"overall"`
	ByKind         map[string]serveLatency `json:"by_kind"`
	ErrorSamples   []string                `json:"error_samples,omitempty"`
	LibraryItems   int64                   `json:"library_items"`
	Model          string                  `json:"model"`
}

func runBenchServe(ctx context.Context, e *env, f *benchServeFlags) (*bench.Report, error) {
	dataset := ""
	lf := f.lf
	if lf.library == "" {
		tmp, err := os.MkdirTemp("", "mmsearch-bench-serve-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		photos := filepath.Join(tmp, "photos")
		if err := writeServeBenchImages(photos, f.images); err != nil {
			return nil, err
		}
		lf.library = filepath.Join(tmp, "library")
		lib, err := lf.open(ctx, e)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(e.stderr, "indexing %d generated pictures...\n", f.images)
		rep, err := lib.Index(ctx, []string{photos}, engine.IngestOptions{})
		lib.Close()
		if err != nil {
			return nil, fmt.Errorf("index the generated pictures: %w", err)
		}
		if rep.Failed > 0 {
			return nil, fmt.Errorf("index the generated pictures: %d failed", rep.Failed)
		}
		dataset = fmt.Sprintf("generated library: %d synthetic 96x96 PNG pictures", f.images)
	}
	lib, err := lf.open(ctx, e)
	if err != nil {
		return nil, err
	}
	defer lib.Close()
	st, err := lib.Stats(ctx)
	if err != nil {
		return nil, err
	}
	if st.Items == 0 {
		return nil, fmt.Errorf("%w: library %s has no items", errNotFound, st.Dir)
	}
	if dataset == "" {
		dataset = fmt.Sprintf("library %s (%d items)", st.Dir, st.Items)
	}

	srv, err := server.New(lib, server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	ln, err := srv.Listen()
	if err != nil {
		return nil, err
	}
	srvCtx, stopServer := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(srvCtx, ln) }()
	defer func() {
		stopServer()
		<-served
	}()
	base := server.URL(ln)

	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: f.clients, MaxIdleConnsPerHost: f.clients, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	ids, err := serveBenchItemIDs(ctx, client, base)
	if err != nil {
		return nil, err
	}

	fmt.Fprintf(e.stderr, "load: %d clients for %s against %s (%d items)\n", f.clients, f.duration, base, st.Items)
	samples, wall := runServeLoad(ctx, client, base, ids, f)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data := summarizeServe(samples, wall, f.clients)
	data.LibraryItems, data.Model = st.Items, st.Model.Name

	r := &bench.Report{Header: bench.NewHeader(ctx, "serve", dataset), Data: data}
	r.AddParam("clients", f.clients)
	r.AddParam("duration", f.duration)
	r.AddParam("max_requests", f.maxRequests)
	r.AddParam("k", f.k)
	r.AddParam("mix", "50% text, 30% @item, 20% analogy")
	r.AddParam("seed", f.seed)
	r.AddParam("model", st.Model.Name)
	r.Headline = []string{fmt.Sprintf("%.0f requests/s with %d clients; p50 %.2f ms, p99 %.2f ms; %d errors in %d requests",
		data.RequestsPerSec, f.clients, data.Overall.P50ms, data.Overall.P99ms, data.Overall.Errors, data.Overall.Requests)}
	overall := bench.Table{Title: "Load", Columns: []string{"clients", "requests", "errors", "wall s", "requests/s", "p50 ms", "p90 ms", "p99 ms", "max ms"}}
	o := data.Overall
	overall.AddRow(f.clients, o.Requests, o.Errors, fmt.Sprintf("%.2f", data.WallSeconds), fmt.Sprintf("%.1f", data.RequestsPerSec),
		ms2(o.P50ms), ms2(o.P90ms), ms2(o.P99ms), ms2(o.MaxMs))
	byKind := bench.Table{Title: "By query kind", Columns: []string{"kind", "requests", "errors", "mean ms", "p50 ms", "p99 ms"}}
	for _, k := range []string{"text", "item", "analogy"} {
		l := data.ByKind[k]
		byKind.AddRow(k, l.Requests, l.Errors, ms2(l.MeanMs), ms2(l.P50ms), ms2(l.P99ms))
	}
	r.Tables = []bench.Table{overall, byKind}
	r.Notes = append(r.Notes,
		"client and server run in one process over loopback and share the machine's cores",
		"every request goes through HTTP, JSON, the query parser, the text encoder (text terms are embedded on every request, no cache), the HNSW index and the SQLite store",
		"latency is measured by the client from sending the request to reading the whole body")
	for _, s := range data.ErrorSamples {
		r.Notes = append(r.Notes, "error: "+s)
	}
	return r, nil
}

func ms2(v float64) string { return fmt.Sprintf("%.2f", v) }

// serveBenchItemIDs asks the server for item ids to use in queries.
func serveBenchItemIDs(ctx context.Context, client *http.Client, base string) ([]int64, error) {
	u := base + "api/search?" + url.Values{"q": {"photo"}, "k": {fmt.Sprint(server.DefaultMaxK)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("warm-up search: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("warm-up search: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var res server.SearchResponse
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, fmt.Errorf("warm-up search: %w", err)
	}
	ids := make([]int64, 0, len(res.Results))
	for _, h := range res.Results {
		ids = append(ids, h.ID)
	}
	if len(ids) == 0 {
		return nil, errors.New("warm-up search found no items")
	}
	return ids, nil
}

// runServeLoad runs the clients until the duration is over, the request cap
// is reached or ctx ends, and returns every sample and the wall time.
func runServeLoad(ctx context.Context, client *http.Client, base string, ids []int64, f *benchServeFlags) ([]serveSample, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, f.duration)
	defer cancel()
	var issued atomic.Int64
	per := make([][]serveSample, f.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range f.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(f.seed, uint64(c)))
			for ctx.Err() == nil && issued.Add(1) <= int64(f.maxRequests) {
				kind, q := serveBenchQuery(rng, ids)
				u := base + "api/search?" + url.Values{"q": {q}, "k": {fmt.Sprint(f.k)}}.Encode()
				t0 := time.Now()
				errText := serveBenchGet(ctx, client, u)
				lat := time.Since(t0)
				if errText != "" && ctx.Err() != nil {
					break // cut off by the end of the run, not a server error
				}
				per[c] = append(per[c], serveSample{kind: kind, latency: lat, err: errText})
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	var all []serveSample
	for _, s := range per {
		all = append(all, s...)
	}
	return all, wall
}

// serveBenchQuery draws one query of the mix.
func serveBenchQuery(rng *rand.Rand, ids []int64) (kind, q string) {
	text := func() string { return serveQueryTexts[rng.IntN(len(serveQueryTexts))] }
	item := func() int64 { return ids[rng.IntN(len(ids))] }
	switch p := rng.IntN(100); {
	case p < 50:
		return "text", text()
	case p < 80:
		return "item", fmt.Sprintf("@%d", item())
	default:
		a, b := text(), text()
		for b == a {
			b = text()
		}
		return "analogy", fmt.Sprintf("@%d - %q + %q", item(), a, b)
	}
}

// serveBenchGet sends one request and reads the whole answer; it returns ""
// for a 200, else a short description of the failure.
func serveBenchGet(ctx context.Context, client *http.Client, u string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return ""
}

// summarizeServe computes the report's figures from the samples.
func summarizeServe(samples []serveSample, wall time.Duration, clients int) serveBenchData {
	d := serveBenchData{Clients: clients, WallSeconds: wall.Seconds(), ByKind: map[string]serveLatency{}}
	d.Overall = latencyOf(samples)
	if wall > 0 {
		d.RequestsPerSec = float64(len(samples)) / wall.Seconds()
	}
	byKind := map[string][]serveSample{}
	seen := map[string]bool{}
	for _, s := range samples {
		byKind[s.kind] = append(byKind[s.kind], s)
		if s.err != "" && !seen[s.err] && len(d.ErrorSamples) < 5 {
			seen[s.err] = true
			d.ErrorSamples = append(d.ErrorSamples, s.err)
		}
	}
	for k, ss := range byKind {
		d.ByKind[k] = latencyOf(ss)
	}
	return d
}

// latencyOf returns the count, errors and latency percentiles (nearest
// rank) of samples.
func latencyOf(samples []serveSample) serveLatency {
	l := serveLatency{Requests: len(samples)}
	if len(samples) == 0 {
		return l
	}
	lats := make([]time.Duration, len(samples))
	var sum time.Duration
	for i, s := range samples {
		lats[i] = s.latency
		sum += s.latency
		if s.err != "" {
			l.Errors++
		}
	}
	slices.Sort(lats)
	pct := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(lats)))) - 1
		return msOf(lats[min(max(i, 0), len(lats)-1)])
	}
	l.P50ms, l.P90ms, l.P99ms = pct(50), pct(90), pct(99)
	l.MaxMs = msOf(lats[len(lats)-1])
	l.MeanMs = msOf(sum / time.Duration(len(lats)))
	return l
}

func msOf(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// writeServeBenchImages writes n distinct 96x96 PNG pictures into dir: a
// hue of their own, a disc and a band placed by their index.
func writeServeBenchImages(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	const size = 96
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, size, size))
		hue := float64(i) / float64(n)
		bg, fg := hueColour(hue, 0.8), hueColour(math.Mod(hue+0.37, 1), 0.5)
		cx, cy := float64(16+(i*7)%64), float64(16+(i*13)%64)
		r := float64(10 + i%20)
		band := (i * 5) % size
		for y := range size {
			for x := range size {
				c := bg
				if dx, dy := float64(x)-cx, float64(y)-cy; dx*dx+dy*dy < r*r {
					c = fg
				} else if y >= band && y < band+8 {
					c = color.NRGBA{uint8(255 - bg.R), uint8(255 - bg.G), uint8(255 - bg.B), 255}
				}
				img.SetNRGBA(x, y, c)
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		p := filepath.Join(dir, fmt.Sprintf("pic%05d.png", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

// hueColour is a saturated colour of hue h in [0, 1) and value v.
func hueColour(h, v float64) color.NRGBA {
	f := func(n float64) uint8 {
		k := math.Mod(n+h*6, 6)
		return uint8(255 * (v - v*math.Max(0, math.Min(math.Min(k, 4-k), 1))))
	}
	return color.NRGBA{f(5), f(3), f(1), 255}
}
