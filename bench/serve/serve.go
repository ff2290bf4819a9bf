// Package serve measures the HTTP API under load: it starts mmsearch's
// server on a loopback port over a library, runs concurrent clients that send
// a mix of searches, and reports requests per second, latency percentiles by
// query kind, errors and the process's resident memory before and after the
// load.
package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// Bounds of Config, checked by Config.Check.
const (
	MaxClients  = 1024
	MinDuration = 100 * time.Millisecond
	MaxDuration = time.Hour
	MaxImages   = 100000
)

// Config describes one load run.
type Config struct {
	Clients     int           // concurrent clients, 1..MaxClients
	Duration    time.Duration // length of the load, MinDuration..MaxDuration
	MaxRequests int           // stop after this many requests (≥ 1)
	K           int           // results per query, 1..server.DefaultMaxK
	Seed        uint64        // seed of the query mix
	Log         io.Writer     // progress lines (nil = none)
}

// Check reports the first field out of its bounds, naming it as the CLI's
// flag does.
func (c Config) Check() error {
	switch {
	case c.Clients < 1 || c.Clients > MaxClients:
		return fmt.Errorf("--clients %d: want 1..%d", c.Clients, MaxClients)
	case c.Duration < MinDuration || c.Duration > MaxDuration:
		return fmt.Errorf("--duration %s: want %s..%s", c.Duration, MinDuration, MaxDuration)
	case c.MaxRequests < 1:
		return fmt.Errorf("--max-requests %d: want at least 1", c.MaxRequests)
	case c.K < 1 || c.K > server.DefaultMaxK:
		return fmt.Errorf("--k %d: want 1..%d", c.K, server.DefaultMaxK)
	}
	return nil
}

// queryTexts are the text terms of the load's queries.
var queryTexts = []string{
	"dog", "cat", "red heart", "blue circle", "a smiling face", "pizza", "rocket", "tree",
	"green apple", "car", "sun", "flower", "house", "fish", "star", "moon",
}

// Mix describes the query mix in reports.
const Mix = "50% text, 30% @item, 20% analogy"

// GenerateLibrary writes n synthetic pictures under dir/photos, opens the
// library dir/library with open and indexes them; the caller closes the
// library. It returns the dataset's description for the report.
func GenerateLibrary(ctx context.Context, dir string, n int, open func(ctx context.Context, dir string) (*engine.Library, error), log io.Writer) (*engine.Library, string, error) {
	if n < 2 || n > MaxImages {
		return nil, "", fmt.Errorf("--images %d: want 2..%d", n, MaxImages)
	}
	photos := filepath.Join(dir, "photos")
	if err := WriteImages(photos, n); err != nil {
		return nil, "", err
	}
	lib, err := open(ctx, filepath.Join(dir, "library"))
	if err != nil {
		return nil, "", err
	}
	if log != nil {
		fmt.Fprintf(log, "indexing %d generated pictures...\n", n)
	}
	rep, err := lib.Ingest(ctx, []string{photos}, engine.IngestOptions{})
	if err == nil && rep.Failed > 0 {
		err = fmt.Errorf("%d failed", rep.Failed)
	}
	if err != nil {
		lib.Close()
		return nil, "", fmt.Errorf("index the generated pictures: %w", err)
	}
	return lib, fmt.Sprintf("generated library: %d synthetic 96x96 PNG pictures", n), nil
}

// Run serves lib on 127.0.0.1 (a free port), runs the load described by cfg
// against it and returns the report (its Data is a *Data). dataset
// describes the library for the report ("" = its folder and size). An empty
// library is an error wrapping engine.ErrEmptyLibrary.
func Run(ctx context.Context, lib server.Library, cfg Config, dataset string) (*bench.Report, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	st, err := lib.Stats(ctx)
	if err != nil {
		return nil, err
	}
	if st.Items == 0 {
		return nil, fmt.Errorf("%w: library %s", engine.ErrEmptyLibrary, st.Dir)
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
		Transport: &http.Transport{MaxIdleConns: cfg.Clients, MaxIdleConnsPerHost: cfg.Clients, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	ids, err := itemIDs(ctx, client, base)
	if err != nil {
		return nil, err
	}

	header := bench.NewHeader(ctx, "serve", dataset) // the load average before the load
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "load: %d clients for %s against %s (%d items)\n", cfg.Clients, cfg.Duration, base, st.Items)
	}
	before, _ := bench.ReadMemory() // zero where /proc is missing
	samples, wall := runLoad(ctx, client, base, ids, cfg)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	after, _ := bench.ReadMemory()
	data := summarize(samples, wall, cfg.Clients)
	data.LibraryItems, data.Model = st.Items, st.Model.Name
	data.MemoryBefore, data.MemoryAfter = before, after
	return report(header, &data, cfg), nil
}

// report lays out the figures.
func report(header bench.Header, data *Data, cfg Config) *bench.Report {
	r := &bench.Report{Header: header, Figures: data.Figures(), Data: data}
	r.AddParam("clients", cfg.Clients)
	r.AddParam("duration", cfg.Duration)
	r.AddParam("max_requests", cfg.MaxRequests)
	r.AddParam("k", cfg.K)
	r.AddParam("mix", Mix)
	r.AddParam("seed", cfg.Seed)
	r.AddParam("model", data.Model)
	o := data.Overall
	r.Headline = []string{fmt.Sprintf("%.0f requests/s with %d clients; p50 %.2f ms, p99 %.2f ms; %d errors in %d requests; RSS %.0f MiB before, %.0f MiB after (peak %.0f MiB)",
		data.RequestsPerSec, cfg.Clients, o.P50ms, o.P99ms, o.Errors, o.Requests,
		data.MemoryBefore.RSSMiB, data.MemoryAfter.RSSMiB, data.MemoryAfter.PeakMiB)}
	overall := bench.Table{Title: "Load", Columns: []string{"clients", "requests", "errors", "wall s", "requests/s", "p50 ms", "p90 ms", "p99 ms", "max ms"}}
	overall.AddRow(cfg.Clients, o.Requests, o.Errors, fmt.Sprintf("%.2f", data.WallSeconds), fmt.Sprintf("%.1f", data.RequestsPerSec),
		ms2(o.P50ms), ms2(o.P90ms), ms2(o.P99ms), ms2(o.MaxMs))
	byKind := bench.Table{Title: "By query kind", Columns: []string{"kind", "requests", "errors", "mean ms", "p50 ms", "p99 ms"}}
	for _, k := range []string{"text", "item", "analogy"} {
		l := data.ByKind[k]
		byKind.AddRow(k, l.Requests, l.Errors, ms2(l.MeanMs), ms2(l.P50ms), ms2(l.P99ms))
	}
	memory := bench.Table{Title: "Process memory", Columns: []string{"when", "RSS MiB", "peak RSS MiB"}}
	memory.AddRow("before the load", fmt.Sprintf("%.1f", data.MemoryBefore.RSSMiB), fmt.Sprintf("%.1f", data.MemoryBefore.PeakMiB))
	memory.AddRow("after the load", fmt.Sprintf("%.1f", data.MemoryAfter.RSSMiB), fmt.Sprintf("%.1f", data.MemoryAfter.PeakMiB))
	r.Tables = []bench.Table{overall, byKind, memory}
	r.Notes = append(r.Notes,
		"client and server run in one process over loopback and share the machine's cores; the memory figures are that process's (server, library and clients)",
		"every request goes through HTTP, JSON, the query parser, the text encoder (text terms are embedded on every request, no cache), the HNSW index and the SQLite store",
		"latency is measured by the client from sending the request to reading the whole body")
	for _, s := range data.ErrorSamples {
		r.Notes = append(r.Notes, "error: "+s)
	}
	return r
}

// sample is one request's outcome.
type sample struct {
	kind    string
	latency time.Duration
	err     string // "" for a 200 answer
}

// Latency summarizes a set of samples.
type Latency struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	MeanMs   float64 `json:"mean_ms"`
}

// Data is the machine-readable part of the report.
type Data struct {
	Clients        int                `json:"clients"`
	WallSeconds    float64            `json:"wall_seconds"`
	RequestsPerSec float64            `json:"requests_per_second"`
	Overall        Latency            `json:"overall"`
	ByKind         map[string]Latency `json:"by_kind"`
	ErrorSamples   []string           `json:"error_samples,omitempty"`
	LibraryItems   int64              `json:"library_items"`
	Model          string             `json:"model"`
	// Memory of the process (server and clients) after the warm-up
	// request, before the load, and after it; Peak is the most resident
	// during the whole run. Zero where /proc is missing.
	MemoryBefore bench.Memory `json:"memory_before"`
	MemoryAfter  bench.Memory `json:"memory_after"`
}

func ms2(v float64) string { return fmt.Sprintf("%.2f", v) }

// itemIDs asks the server for item ids to use in queries.
func itemIDs(ctx context.Context, client *http.Client, base string) ([]int64, error) {
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

// runLoad runs the clients until the duration is over, the request cap
// is reached or ctx ends, and returns every sample and the wall time.
func runLoad(ctx context.Context, client *http.Client, base string, ids []int64, cfg Config) ([]sample, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var issued atomic.Int64
	per := make([][]sample, cfg.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(c)))
			for ctx.Err() == nil && issued.Add(1) <= int64(cfg.MaxRequests) {
				kind, q := drawQuery(rng, ids)
				u := base + "api/search?" + url.Values{"q": {q}, "k": {fmt.Sprint(cfg.K)}}.Encode()
				t0 := time.Now()
				errText := get(ctx, client, u)
				lat := time.Since(t0)
				if errText != "" && ctx.Err() != nil {
					break // cut off by the end of the run, not a server error
				}
				per[c] = append(per[c], sample{kind: kind, latency: lat, err: errText})
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	var all []sample
	for _, s := range per {
		all = append(all, s...)
	}
	return all, wall
}

// drawQuery draws one query of the mix.
func drawQuery(rng *rand.Rand, ids []int64) (kind, q string) {
	text := func() string { return queryTexts[rng.IntN(len(queryTexts))] }
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

// get sends one request and reads the whole answer; it returns ""
// for a 200, else a short description of the failure.
func get(ctx context.Context, client *http.Client, u string) string {
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

// summarize computes the report's figures from the samples.
func summarize(samples []sample, wall time.Duration, clients int) Data {
	d := Data{Clients: clients, WallSeconds: wall.Seconds(), ByKind: map[string]Latency{}}
	d.Overall = latencyOf(samples)
	if wall > 0 {
		d.RequestsPerSec = float64(len(samples)) / wall.Seconds()
	}
	byKind := map[string][]sample{}
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
func latencyOf(samples []sample) Latency {
	l := Latency{Requests: len(samples)}
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

// WriteImages writes n distinct 96x96 PNG pictures into dir: a
// hue of their own, a disc and a band placed by their index.
func WriteImages(dir string, n int) error {
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
