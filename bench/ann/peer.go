package ann

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mmsearch/bench/peers"
	"mmsearch/index"
)

// pythonRequirement is what the Python peers named in names need.
func pythonRequirement(python string, names []string) peers.Requirement {
	r := peers.Requirement{Python: python}
	for _, n := range names {
		switch n {
		case BackendHnswlib:
			r.Modules = append(r.Modules, "numpy", "hnswlib")
			r.Packages = append(r.Packages, "python3-hnswlib")
		case BackendFAISS:
			r.Modules = append(r.Modules, "numpy", "faiss")
			r.Packages = append(r.Packages, "python3-faiss")
		}
	}
	return r
}

// PythonPeersAvailable reports whether python (or Debian's when "") can
// import the named Python peers, and if not, why.
func PythonPeersAvailable(ctx context.Context, python string, names ...string) error {
	return pythonRequirement(python, names).Check(ctx)
}

// progressWriter turns each line written to it into a progress stage.
func progressWriter(cfg *Config) io.Writer {
	return &lineWriter{fn: func(line string) { cfg.progress(line, 0, 0) }}
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	buf []byte
	fn  func(string)
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.buf[:i])); line != "" {
			l.fn(line)
		}
		l.buf = l.buf[i+1:]
	}
	return len(b), nil
}

// peerOutput is the JSON the peer script prints.
type peerOutput struct {
	Python string `json:"python"`
	Numpy  string `json:"numpy"`
	Peers  []struct {
		Name     string  `json:"name"`
		Version  string  `json:"version"`
		Build1   float64 `json:"build_seconds_1_thread"`
		BuildAll float64 `json:"build_seconds_all"`
		Threads  int     `json:"threads"`
		Points   []struct {
			Ef       int               `json:"ef"`
			IDs      string            `json:"ids"`
			ExtraIDs map[string]string `json:"extra_ids"`
			QPS1     float64           `json:"qps_1_thread"`
			QPSAll   float64           `json:"qps_all_threads"`
			P50Ms    float64           `json:"p50_ms"`
			P99Ms    float64           `json:"p99_ms"`
		} `json:"points"`
	} `json:"peers"`
}

// runPython writes the vectors as .npy files, runs the peer script and scores
// the ids it saved against the ground truth.
func (s *sweeper) runPython(ctx context.Context, names []string) ([]BackendResult, string, error) {
	cfg := s.cfg
	fail := func(err error) ([]BackendResult, string, error) {
		return nil, "", fmt.Errorf("ann benchmark: python peers: %w", err)
	}
	dir, err := os.MkdirTemp(cfg.TempDir, "mmsearch-ann-peers-*")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	s.progress("python peers: writing vectors", 0, 0)
	if err := writeNpyFile(filepath.Join(dir, "base.npy"), cfg.Dataset.Base); err != nil {
		return fail(err)
	}
	if err := writeNpyFile(filepath.Join(dir, "queries.npy"), cfg.Dataset.Queries); err != nil {
		return fail(err)
	}
	metric := "ip"
	if cfg.Metric == index.L2 {
		metric = "l2"
	}
	var extra []string
	for _, l := range RecallLevels {
		if l > cfg.K {
			extra = append(extra, strconv.Itoa(l))
		}
	}
	efs := make([]string, len(cfg.Efs))
	for i, e := range cfg.Efs {
		efs[i] = strconv.Itoa(e)
	}
	args := []string{
		"--dir", dir,
		"--peers", strings.Join(names, ","),
		"--metric", metric,
		"--m", strconv.Itoa(cfg.M),
		"--ef-construction", strconv.Itoa(cfg.EfConstruction),
		"--efs", strings.Join(efs, ","),
		"--k", strconv.Itoa(cfg.K),
		"--extra-k", strings.Join(extra, ","),
		"--threads", strconv.Itoa(cfg.Threads),
		"--runs", strconv.Itoa(cfg.Runs),
		"--seed", strconv.FormatInt(cfg.Seed, 10),
	}
	out, err := peers.Run(ctx, cfg.Python, peers.ANNScript, dir, args, func(line string) {
		s.progress("python peers: "+line, 0, 0)
	})
	if err != nil {
		return fail(err)
	}
	var po peerOutput
	if err := json.Unmarshal(out, &po); err != nil {
		return fail(fmt.Errorf("decode script output: %w (output began %q)", err, truncate(string(out), 200)))
	}
	if len(po.Peers) != len(names) {
		return fail(fmt.Errorf("script reported %d peers, asked for %d", len(po.Peers), len(names)))
	}
	var res []BackendResult
	for _, pp := range po.Peers {
		b := BackendResult{
			Name: pp.Name, Version: pp.Version, Threads: pp.Threads,
			Build1Seconds: pp.Build1, BuildAllSeconds: pp.BuildAll,
			Note: "timed in Python: single-thread q/s from one batch call on 1 thread; latency from one call per query (includes Python call overhead)",
		}
		if len(pp.Points) != len(cfg.Efs) {
			return fail(fmt.Errorf("%s: %d points for %d ef values", pp.Name, len(pp.Points), len(cfg.Efs)))
		}
		for _, pt := range pp.Points {
			p := Point{Ef: pt.Ef, QPS1: pt.QPS1, QPSAll: pt.QPSAll, P50Ms: pt.P50Ms, P99Ms: pt.P99Ms}
			for _, level := range RecallLevels {
				file := pt.IDs
				if level > cfg.K {
					file = pt.ExtraIDs[strconv.Itoa(level)]
				}
				if file == "" || filepath.Base(file) != file {
					return fail(fmt.Errorf("%s ef=%d: bad ids file name %q for recall@%d", pp.Name, pt.Ef, file, level))
				}
				ids, err := readIDsFile(filepath.Join(dir, file))
				if err != nil {
					return fail(fmt.Errorf("%s ef=%d: %w", pp.Name, pt.Ef, err))
				}
				r, err := Recall(ids, s.truth, level)
				if err != nil {
					return fail(fmt.Errorf("%s ef=%d: %w", pp.Name, pt.Ef, err))
				}
				p.setRecall(level, r)
			}
			b.Points = append(b.Points, p)
		}
		res = append(res, b)
	}
	return res, po.Python, nil
}

func writeNpyFile(path string, rows [][]float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteNpyFloat32(f, rows); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readIDsFile(path string) ([][]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := readNpyIDs(bufio.NewReader(f), 0, true)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return ids, nil
}
