package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"time"
	"unicode/utf8"
)

// Stage is the step of ingestion at which a file failed.
type Stage string

// Stages of ingestion.
const (
	StageWalk   Stage = "walk"   // listing folders, following links
	StageRead   Stage = "read"   // opening or reading the file
	StageDecode Stage = "decode" // not an image, or a broken one
	StageEncode Stage = "encode" // the model failed on it
)

// Valid reports whether s is one of the known stages.
func (s Stage) Valid() bool {
	switch s {
	case StageWalk, StageRead, StageDecode, StageEncode:
		return true
	}
	return false
}

// Class says whether a failure can pass without the file changing.
type Class string

// Classes of failure.
const (
	// ClassContent: the file's content is the problem (not an image, corrupt,
	// too large). The file is not tried again while its size and
	// modification time stay the same, unless asked to (--retry-failed).
	ClassContent Class = "content"
	// ClassTransient: the cause can pass without the file changing (an I/O
	// error, a permission, a file that vanished while read, a folder that
	// could not be walked, the model failing on a batch). Such files are
	// tried again on every run.
	ClassTransient Class = "transient"
)

// Valid reports whether c is one of the known classes.
func (c Class) Valid() bool { return c == ClassContent || c == ClassTransient }

// DefaultClass is the class of a failure at stage s recorded without one:
// decoding failures are about content, the others can pass.
func DefaultClass(s Stage) Class {
	if s == StageDecode {
		return ClassContent
	}
	return ClassTransient
}

// FileError records a file that could not be indexed. A content failure is
// kept so that the next run skips the file while its size and modification
// time stay the same, and tries again when they change; a transient one is
// tried again on every run.
type FileError struct {
	// Path is the file's path as given, byte for byte.
	Path string
	// Size and MtimeNs describe the file when it failed.
	Size, MtimeNs int64
	// Stage is where it failed.
	Stage Stage
	// Class says whether the failure can pass without the file changing
	// (DefaultClass(Stage) when empty).
	Class Class
	// Reason is the error message.
	Reason string
	// At is when it failed (the time of recording when zero).
	At time.Time
}

func (e *FileError) validate() error {
	if err := checkPath(e.Path); err != nil {
		return err
	}
	if !e.Stage.Valid() {
		return fmt.Errorf("%q: unknown stage %q", e.Path, e.Stage)
	}
	if e.Class != "" && !e.Class.Valid() {
		return fmt.Errorf("%q: unknown failure class %q", e.Path, e.Class)
	}
	return nil
}

// Errors returns the recorded failures, ordered by path (bytewise).
func (s *Store) Errors(ctx context.Context) ([]FileError, error) {
	out, err := fileErrors(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("store: errors: %w", err)
	}
	return out, nil
}

func fileErrors(ctx context.Context, q queryer) ([]FileError, error) {
	rows, err := q.QueryContext(ctx, "SELECT path, size, mtime_ns, stage, class, reason, at FROM errors ORDER BY path")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FileError
	for rows.Next() {
		var (
			e     FileError
			path  []byte
			stage string
			class string
			at    int64
		)
		if err := rows.Scan(&path, &e.Size, &e.MtimeNs, &stage, &class, &e.Reason, &at); err != nil {
			return nil, err
		}
		e.Path, e.Stage, e.Class, e.At = string(path), Stage(stage), Class(class), time.Unix(0, at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Status is what the incremental walk should do with a file.
type Status int

// Statuses returned by Snapshot.Check.
const (
	// StatusNew: neither indexed nor failed before; index it.
	StatusNew Status = iota + 1
	// StatusUnchanged: indexed and unchanged; skip it.
	StatusUnchanged
	// StatusChanged: indexed, but its size or time changed; index it again.
	StatusChanged
	// StatusFailed: failed before for its content and unchanged since;
	// skip it.
	StatusFailed
	// StatusRetry: failed before, but changed since or for a cause that
	// can pass (ClassTransient); try again.
	StatusRetry
)

// String returns the status's name.
func (s Status) String() string {
	switch s {
	case StatusNew:
		return "new"
	case StatusUnchanged:
		return "unchanged"
	case StatusChanged:
		return "changed"
	case StatusFailed:
		return "failed"
	case StatusRetry:
		return "retry"
	case StatusSkipped:
		return "skipped"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Snapshot is the recorded state of every item and every failure, read at
// one moment, for the incremental walk.
type Snapshot struct {
	// Items maps item paths to their states.
	Items map[string]State
	// Errors maps failed paths to their records.
	Errors map[string]FileError
	// Skipped maps skipped paths (not still images) to their records.
	Skipped map[string]SkippedFile
}

// Snapshot reads the state of every item and failure in one read
// transaction.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	defer tx.Rollback()
	items, err := fileStates(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	errs, err := fileErrors(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	skipped, err := skippedFiles(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	snap := &Snapshot{Items: items, Errors: make(map[string]FileError, len(errs)),
		Skipped: make(map[string]SkippedFile, len(skipped))}
	for _, e := range errs {
		snap.Errors[e.Path] = e
	}
	for _, f := range skipped {
		snap.Skipped[f.Path] = f
	}
	return snap, nil
}

// Check says what to do with the file at path that now has this size and
// modification time. A failure recorded for exactly this size and time wins
// over an older indexed version of the same path: a content failure is
// skipped, a transient one tried again.
func (s *Snapshot) Check(path string, size, mtimeNs int64) Status {
	e, failed := s.Errors[path]
	if failed && e.Size == size && e.MtimeNs == mtimeNs {
		if e.Class == ClassTransient {
			return StatusRetry
		}
		return StatusFailed
	}
	if sk, ok := s.Skipped[path]; ok && sk.Size == size && sk.MtimeNs == mtimeNs {
		return StatusSkipped
	}
	if st, ok := s.Items[path]; ok {
		if st.Same(size, mtimeNs) {
			return StatusUnchanged
		}
		return StatusChanged
	}
	if failed {
		return StatusRetry
	}
	return StatusNew
}

// Stats summarizes a library.
type Stats struct {
	// Items is the number of indexed items.
	Items int64
	// Errors is the number of recorded failures.
	Errors int64
	// ErrorsByStage counts the failures by stage.
	ErrorsByStage map[Stage]int64
	// Generation is the change counter (see Store.Generation).
	Generation int64
	// Model is the library's model, when HasModel.
	Model Model
	// HasModel is false before SetModel.
	HasModel bool
	// DBBytes is the size on disk of the database and its write-ahead log.
	DBBytes int64
	// SchemaVersion is the database's schema version.
	SchemaVersion int
}

// Stats returns counts read from one consistent snapshot, and file sizes.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ErrorsByStage: make(map[Stage]int64)}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("store: stats: %w", err)
	}
	defer tx.Rollback()
	if st.Generation, err = generation(ctx, tx); err != nil {
		return st, fmt.Errorf("store: stats: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&st.Items); err != nil {
		return st, fmt.Errorf("store: stats: count items: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT stage, count(*) FROM errors GROUP BY stage")
	if err != nil {
		return st, fmt.Errorf("store: stats: count errors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			stage string
			n     int64
		)
		if err := rows.Scan(&stage, &n); err != nil {
			return st, fmt.Errorf("store: stats: count errors: %w", err)
		}
		st.ErrorsByStage[Stage(stage)] = n
		st.Errors += n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("store: stats: count errors: %w", err)
	}
	if st.Model, st.HasModel, err = model(ctx, tx); err != nil {
		return st, fmt.Errorf("store: stats: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&st.SchemaVersion); err != nil {
		return st, fmt.Errorf("store: stats: schema version: %w", err)
	}
	for _, p := range []string{s.path, s.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			st.DBBytes += fi.Size()
		}
	}
	return st, nil
}

// MarshalJSON writes the error with the field names of its Go fields, plus
// PathBytes, the path's exact bytes (base64), when Path is not valid UTF-8:
// JSON strings cannot carry such names, so Path alone would lose bytes.
func (e FileError) MarshalJSON() ([]byte, error) {
	type plain FileError // without this method
	var raw []byte
	if !utf8.ValidString(e.Path) {
		raw = []byte(e.Path)
	}
	return json.Marshal(struct {
		plain
		PathBytes []byte `json:",omitempty"`
	}{plain(e), raw})
}
