package ann

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mmsearch/bench"
	"mmsearch/internal/atomicfile"
)

// Checkpoint keeps the finished steps of a run on disk (the ground truth,
// and each backend of each repetition), so that a run killed after hours,
// as a million-vector sweep on a small machine can be, resumes at the
// step it was in instead of starting again. A step is saved when it
// finishes; a step that was running when the process died is measured
// again whole.
//
// Steps are reused only under the key they were saved with: the caller
// makes the key name everything that decides the figures (the program
// that measures, the data, the parameters), and a checkpoint folder whose
// key differs is emptied.
type Checkpoint struct {
	dir string
	key string
	// resumed lists the steps read back from disk, for the report.
	resumed []string
}

// checkpointKeyFile holds a checkpoint folder's key.
const checkpointKeyFile = "key"

// checkpointStep is one finished step as saved.
type checkpointStep struct {
	Key      string          `json:"key"`
	Finished time.Time       `json:"finished"`
	Load     string          `json:"load_average_at_finish,omitempty"`
	Backends []BackendResult `json:"backends,omitempty"`
	Python   string          `json:"python,omitempty"`
	Truth    [][]uint64      `json:"truth,omitempty"`
	Seconds  float64         `json:"seconds,omitempty"`
}

// OpenCheckpoint opens the checkpoint folder dir for a run identified by
// key, creating it. With resume the steps saved there under the same key
// are kept for the run to reuse; without it, or when the folder's key
// differs, whatever the folder held is removed first.
func OpenCheckpoint(dir, key string, resume bool) (*Checkpoint, error) {
	if dir == "" || key == "" {
		return nil, errors.New("checkpoint: empty folder or key")
	}
	old, err := os.ReadFile(filepath.Join(dir, checkpointKeyFile))
	switch {
	case err == nil && resume && string(old) == key:
		return &Checkpoint{dir: dir, key: key}, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("checkpoint: clear %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, checkpointKeyFile), []byte(key), 0o644); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return &Checkpoint{dir: dir, key: key}, nil
}

// Dir is the checkpoint's folder.
func (c *Checkpoint) Dir() string { return c.dir }

// Resumed lists the steps this run read back instead of measuring, each
// with when it finished, in the order they were read.
func (c *Checkpoint) Resumed() []string {
	if c == nil {
		return nil
	}
	return c.resumed
}

// Remove deletes the checkpoint folder; a run calls it once its report is
// written.
func (c *Checkpoint) Remove() error { return os.RemoveAll(c.dir) }

// load reads the step named name, reporting whether it was saved under
// this checkpoint's key. A step that cannot be read counts as not saved:
// it is measured again.
func (c *Checkpoint) load(name string) (checkpointStep, bool) {
	var st checkpointStep
	if c == nil {
		return st, false
	}
	b, err := os.ReadFile(c.stepPath(name))
	if err != nil || json.Unmarshal(b, &st) != nil || st.Key != c.key {
		return checkpointStep{}, false
	}
	c.resumed = append(c.resumed, fmt.Sprintf("%s (finished %s)", name, st.Finished.UTC().Format(time.RFC3339)))
	return st, true
}

// save records the step named name as finished now.
func (c *Checkpoint) save(name string, st checkpointStep) error {
	if c == nil {
		return nil
	}
	st.Key, st.Finished, st.Load = c.key, time.Now().UTC().Truncate(time.Second), bench.LoadAverage()
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	if err := atomicfile.WriteFile(c.stepPath(name), b, 0o644); err != nil {
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return nil
}

func (c *Checkpoint) stepPath(name string) string {
	return filepath.Join(c.dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".json")
}
