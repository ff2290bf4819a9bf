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
	"slices"
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

// peerOutput is the JSON a peer program prints: the Python script or a Go
// peer binary.
type peerOutput struct {
	Python string `json:"python"` // the Python peers' interpreter version
	Numpy  string `json:"numpy"`
	Go     string `json:"go"` // the Go peers' toolchain version
	Peers  []struct {
		Name     string  `json:"name"`
		Version  string  `json:"version"`
		Build1   float64 `json:"build_seconds_1_thread"`
		BuildAll float64 `json:"build_seconds_all"`
		Threads  int     `json:"threads"`
		Note     string  `json:"note"`
		// Memory is the index's memory and how the peer measured it;
		// Persist its save/load round trip (absent when the peer has none).
		Memory *struct {
			IndexBytes int64  `json:"index_bytes"`
			Source     string `json:"source"`
		} `json:"memory"`
		Persist *Persist `json:"persist"`
		Points  []struct {
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

// runPython runs the Python peer script for names and scores its ids.
func (s *sweeper) runPython(ctx context.Context, names []string) ([]BackendResult, string, error) {
	cfg := s.cfg
	launch := func(dir string, args []string) ([]byte, error) {
		return peers.Run(ctx, cfg.Python, peers.ANNScript, dir, args, func(line string) {
			s.progress("python peers: "+line, 0, 0)
		})
	}
	res, po, err := s.runPeerProcess(ctx, "python peers", names, launch,
		"timed in Python: single-thread q/s from one batch call on 1 thread; latency from one call per query (includes Python call overhead)")
	if err != nil {
		return nil, "", err
	}
	return res, po.Python, nil
}

// runPeerProcess writes the vectors as .npy files into a scratch folder,
// has launch run a peer program there with the peer command line (the
// contract of bench/peers/ann_peer.py), decodes the JSON it prints and
// scores the ids it saved against the ground truth. note is each backend's
// note unless the peer gives its own.
func (s *sweeper) runPeerProcess(ctx context.Context, label string, names []string,
	launch func(dir string, args []string) ([]byte, error), note string) ([]BackendResult, *peerOutput, error) {
	cfg := s.cfg
	fail := func(err error) ([]BackendResult, *peerOutput, error) {
		return nil, nil, fmt.Errorf("ann benchmark: %s: %w", label, err)
	}
	dir, err := os.MkdirTemp(cfg.TempDir, "mmsearch-ann-peers-*")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	s.progress(label+": writing vectors", 0, 0)
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
		"--check-ef", strconv.Itoa(peerCheckEf(cfg.Efs)),
	}
	if cfg.Threads > 1 && !cfg.timeOneThreadBuild() {
		args = append(args, "--skip-one-thread-build")
	}
	out, err := launch(dir, args)
	if err != nil {
		return fail(err)
	}
	var po peerOutput
	if err := json.Unmarshal(out, &po); err != nil {
		return fail(fmt.Errorf("decode peer output: %w (output began %q)", err, truncate(string(out), 200)))
	}
	if len(po.Peers) != len(names) {
		return fail(fmt.Errorf("peer reported %d peers, asked for %d", len(po.Peers), len(names)))
	}
	base, baseNote := s.graphBaseline()
	var res []BackendResult
	for _, pp := range po.Peers {
		if !slices.Contains(names, pp.Name) {
			return fail(fmt.Errorf("peer reported %q, asked for %s", pp.Name, strings.Join(names, ", ")))
		}
		b := BackendResult{
			Name: pp.Name, Version: pp.Version, Threads: pp.Threads,
			Build1Seconds: pp.Build1, BuildAllSeconds: pp.BuildAll, Note: note,
		}
		if pp.Note != "" {
			b.Note = pp.Note
		}
		if m := pp.Memory; m != nil && m.IndexBytes > 0 {
			b.Memory = &Memory{IndexBytes: m.IndexBytes, Source: m.Source, Baseline: base, BaselineNote: baseNote}
			if base > 0 {
				b.Memory.Ratio = float64(m.IndexBytes) / float64(base)
			}
		}
		if p := pp.Persist; p != nil {
			if p.Queries != len(cfg.Dataset.Queries) || p.Mismatches < 0 || p.Mismatches > p.Queries {
				return fail(fmt.Errorf("%s: save/load check over %d queries with %d differing, for %d queries", pp.Name, p.Queries, p.Mismatches, len(cfg.Dataset.Queries)))
			}
			saved := *p
			b.Persist = &saved
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
	return res, &po, nil
}

// peerCheckEf is the ef at which a peer compares its loaded index with the
// built one: the middle of the sweep (64 in the default sweep).
func peerCheckEf(efs []int) int {
	return efs[len(efs)/2]
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
