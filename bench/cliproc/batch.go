package cliproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"mmsearch/bench"
)

// MaxBatchQueries bounds BatchConfig.Queries.
const MaxBatchQueries = 10_000

// BatchConfig describes a run of the batch benchmark: the library and
// processes as in Config (its Query seeds the synthetic library), plus the
// number of text queries.
type BatchConfig struct {
	Config
	// Queries is the number of distinct text queries (default 100).
	Queries int
}

// BatchResult holds the figures of a batch run.
type BatchResult struct {
	Items    int    `json:"items"`
	Queries  int    `json:"queries"`
	Rounds   int    `json:"rounds"`
	K        int    `json:"k"`
	Model    string `json:"model"`
	ModelDir string `json:"model_dir"`
	// PerProcessS and BatchS are each round's wall time for all the
	// queries: one mmsearch search process per query, one mmsearch search
	// --batch process for them all.
	PerProcessS []float64 `json:"per_process_s"`
	BatchS      []float64 `json:"batch_s"`
	// P50s are the medians over the rounds; SpeedUp is
	// PerProcessP50S / BatchP50S.
	PerProcessP50S float64 `json:"per_process_p50_s"`
	BatchP50S      float64 `json:"batch_p50_s"`
	SpeedUp        float64 `json:"speed_up"`
	// Identical reports that every query's results (ids, in order) were
	// the same both ways; the run fails otherwise.
	Identical bool `json:"identical_results"`
}

// BatchQueries returns n distinct text queries ("red cat", "blue cat",
// ...), n at most MaxBatchQueries.
func BatchQueries(n int) []string {
	adjectives := []string{"red", "blue", "green", "yellow", "black", "white", "small", "big", "happy", "old"}
	nouns := []string{"cat", "dog", "car", "house", "tree", "flower", "face", "heart", "pizza", "rocket"}
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		q := adjectives[i%len(adjectives)] + " " + nouns[(i/len(adjectives))%len(nouns)]
		if r := i / (len(adjectives) * len(nouns)); r > 0 {
			q += " " + strconv.Itoa(r)
		}
		out = append(out, q)
	}
	return out
}

// RunBatch prepares the library as Run does, then times Queries text
// queries answered by one process each against the same queries answered
// by one search --batch process, Runs rounds of each after an untimed
// warm-up of both, and checks that both ways give the same results.
func RunBatch(ctx context.Context, cfg BatchConfig) (*bench.Report, *BatchResult, error) {
	if cfg.Queries == 0 {
		cfg.Queries = 100
	}
	if cfg.Queries < 1 || cfg.Queries > MaxBatchQueries {
		return nil, nil, fmt.Errorf("bench batch: queries %d out of range [1, %d]", cfg.Queries, MaxBatchQueries)
	}
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	tmp, err := os.MkdirTemp("", "mmsearch-bench-batch-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	if cfg.Library == "" {
		cfg.Library = filepath.Join(tmp, "library")
	}
	prep := &Result{Items: cfg.Items, Runs: cfg.Runs, Query: cfg.Query, K: cfg.K}
	if err := prepare(ctx, cfg.Config, prep, logf); err != nil {
		return nil, nil, err
	}
	queries := BatchQueries(cfg.Queries)
	file := filepath.Join(tmp, "queries.txt")
	var buf bytes.Buffer
	for _, q := range queries {
		buf.WriteString(q + "\n")
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return nil, nil, err
	}
	base := []string{"search", "--library", cfg.Library, "-k", strconv.Itoa(cfg.K), "--json"}
	if cfg.Runtime.LibraryPath != "" {
		base = append(base, "--ort-library", cfg.Runtime.LibraryPath)
	}
	res := &BatchResult{Items: cfg.Items, Queries: cfg.Queries, Rounds: cfg.Runs, K: cfg.K, Model: prep.Model, ModelDir: prep.ModelDir}
	var single, batched [][]int64
	for round := -1; round < cfg.Runs; round++ {
		logf("batch: round %d of %d: %d processes, then one --batch process ...", round+1, cfg.Runs, len(queries))
		t0 := time.Now()
		single = single[:0]
		for _, q := range queries {
			out, err := runProcess(ctx, cfg.Config, append(slices.Clone(base), q))
			if err != nil {
				return nil, nil, err
			}
			ids, err := resultIDs(out)
			if err != nil {
				return nil, nil, fmt.Errorf("bench batch: search %q: %w", q, err)
			}
			single = append(single, ids)
		}
		perProcess := time.Since(t0).Seconds()
		t0 = time.Now()
		out, err := runProcess(ctx, cfg.Config, append(slices.Clone(base), "--batch", file))
		batch := time.Since(t0).Seconds()
		if err != nil {
			return nil, nil, err
		}
		if batched, err = batchIDs(out, len(queries)); err != nil {
			return nil, nil, err
		}
		if round < 0 {
			continue // warm-up: page cache and graph cache
		}
		res.PerProcessS = append(res.PerProcessS, perProcess)
		res.BatchS = append(res.BatchS, batch)
	}
	for i := range queries {
		if !slices.Equal(single[i], batched[i]) {
			return nil, nil, fmt.Errorf("bench batch: %q gave %v in its own process but %v in the batch", queries[i], single[i], batched[i])
		}
	}
	res.Identical = true
	res.PerProcessP50S, res.BatchP50S = median(res.PerProcessS), median(res.BatchS)
	res.SpeedUp = res.PerProcessP50S / res.BatchP50S
	return batchReport(ctx, cfg, res), res, nil
}

// runProcess runs mmsearch with args and returns its standard output.
func runProcess(ctx context.Context, cfg Config, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, cfg.Binary, args...)
	cmd.Env = cfg.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench batch: mmsearch %v: %w: %s", args, err, bytes.TrimSpace(errb.Bytes()))
	}
	return out.Bytes(), nil
}

// idsOnly is the part of a search answer the comparison reads.
type idsOnly struct {
	Results []struct {
		ID int64 `json:"id"`
	} `json:"results"`
	Error json.RawMessage `json:"error"`
}

func (a *idsOnly) ids() []int64 {
	out := make([]int64, len(a.Results))
	for i, r := range a.Results {
		out[i] = r.ID
	}
	return out
}

// resultIDs reads the result ids of a search --json answer.
func resultIDs(out []byte) ([]int64, error) {
	var a idsOnly
	if err := json.Unmarshal(out, &a); err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	return a.ids(), nil
}

// batchIDs reads the result ids of each of n lines of a search --batch
// answer.
func batchIDs(out []byte, n int) ([][]int64, error) {
	var all [][]int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		var a idsOnly
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, fmt.Errorf("bench batch: read answer line %d: %w", len(all)+1, err)
		}
		if a.Error != nil {
			return nil, fmt.Errorf("bench batch: answer line %d is an error: %s", len(all)+1, a.Error)
		}
		all = append(all, a.ids())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(all) != n {
		return nil, errors.New("bench batch: " + strconv.Itoa(len(all)) + " answer lines for " + strconv.Itoa(n) + " queries")
	}
	return all, nil
}

// Figures returns the report's numbers by name.
func (r *BatchResult) Figures() map[string]float64 {
	return map[string]float64{
		"per_process_p50_s": r.PerProcessP50S,
		"batch_p50_s":       r.BatchP50S,
		"batch_speed_up":    r.SpeedUp,
	}
}

func batchReport(ctx context.Context, cfg BatchConfig, res *BatchResult) *bench.Report {
	h := bench.NewHeader(ctx, "batch", fmt.Sprintf("library of %d synthetic items (model text embeddings + noise, and random unit vectors); %d distinct text queries", res.Items, res.Queries))
	h.AddParam("model", res.Model)
	h.AddParam("model dir", res.ModelDir)
	h.AddParam("queries", res.Queries)
	h.AddParam("rounds", res.Rounds)
	h.AddParam("k", res.K)
	h.AddParam("binary", cfg.Binary)
	h.AddParam("page cache", "warm (one untimed round of both first)")
	r := &bench.Report{Header: h, Data: res, Figures: res.Figures()}
	n := float64(res.Queries)
	r.Headline = []string{fmt.Sprintf("%d text queries on %d items (%s): one process per query %.2f s (%.1f ms a query), one search --batch process %.2f s (%.1f ms a query): %.1f× faster; the same results both ways",
		res.Queries, res.Items, res.Model, res.PerProcessP50S, 1000*res.PerProcessP50S/n, res.BatchP50S, 1000*res.BatchP50S/n, res.SpeedUp)}
	t := bench.Table{Title: "All the queries, wall time per round", Columns: []string{"round", "one process per query (s)", "one --batch process (s)", "speed-up"}}
	for i := range res.BatchS {
		t.AddRow(strconv.Itoa(i+1), f2(res.PerProcessS[i]), f2(res.BatchS[i]), f1(res.PerProcessS[i]/res.BatchS[i]))
	}
	t.AddRow("median", f2(res.PerProcessP50S), f2(res.BatchP50S), f1(res.SpeedUp))
	r.Tables = []bench.Table{t}
	r.Notes = []string{"Each process opens the library and the model, loads the index and starts the text encoder; the batch pays that once and then only encodes and searches."}
	return r
}

func f2(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
