// Package cluster runs a library's ingest on many machines over NATS
// JetStream: a Coordinator walks the roots (through engine.Library.Ingest,
// which keeps the walk, the commits, progress and failure records) and
// publishes one work item per file to a replicated work-queue stream;
// Workers, on any machine with the same files mounted, pull the items,
// read, decode and embed the files with the same model and publish the
// vectors (or the failures) to a results stream, which the coordinator
// applies to the library.
//
// # Delivery
//
// Work items are acknowledged explicitly by workers, and only after their
// results are stored in the results stream; an item whose worker died is
// delivered again after AckWait, and an item delivered MaxDeliver times
// without a result (a file that kills or stalls every worker) is recorded
// as a failure by the worker that gets its last delivery. The coordinator
// acknowledges a result only after the catalog committed it, keeps one
// pending entry per path (a second result for a path is dropped), and the
// catalog upserts by path with the content hash, so every file ends up in
// the library exactly once. Each coordinator run has its own run id: at its
// start it purges both streams, so a restarted coordinator re-walks (files
// applied before the restart are unchanged and skipped) and re-publishes
// only what is left.
//
// # Names
//
// For a queue name Q (default "mmsearch") the streams are Q_WORK (subject
// Q.work) and Q_RESULTS (subject Q.results), their durable consumers
// "workers" and "coordinator", and the job description (run id, model,
// decoding limits, delivery limits) is the key "job" of the key-value
// bucket Q_job.
package cluster

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"
	"unicode/utf8"

	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/engine/store"
)

// DefaultQueue is the default queue name.
const DefaultQueue = "mmsearch"

// Names are the JetStream names of one queue.
type Names struct {
	Queue          string
	WorkStream     string
	WorkSubject    string
	ResultsStream  string
	ResultsSubject string
	Bucket         string
}

// Durable consumer names and the job key.
const (
	workersConsumer     = "workers"
	coordinatorConsumer = "coordinator"
	jobKey              = "job"
)

var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// NamesFor returns the names of queue q (empty: DefaultQueue). A queue name
// is 1 to 32 letters, digits, '-' or '_'.
func NamesFor(q string) (Names, error) {
	if q == "" {
		q = DefaultQueue
	}
	if !queueName.MatchString(q) {
		return Names{}, fmt.Errorf("queue name %q: use 1 to 32 letters, digits, '-' or '_'", q)
	}
	return Names{Queue: q, WorkStream: q + "_WORK", WorkSubject: q + ".work",
		ResultsStream: q + "_RESULTS", ResultsSubject: q + ".results", Bucket: q + "_job"}, nil
}

// LibraryModel is how a library records model m: workers must embed with
// one of the same fingerprint and dimension.
func LibraryModel(m *encoders.Model) store.Model {
	return store.Model{Name: m.Manifest.Name, Version: m.Manifest.Version, Dim: m.Dim(), Fingerprint: m.Manifest.Fingerprint()}
}

// Job describes the current coordinator run to its workers.
type Job struct {
	// Run identifies the coordinator run; work items carry it.
	Run string `json:"run"`
	// Model is the library's model: workers must embed with one of the same
	// fingerprint and dimension.
	Model store.Model `json:"model"`
	// Image holds the decoding limits of the run.
	Image imageproc.Options `json:"image"`
	// MaxDeliver is how many times a work item is delivered; its last
	// delivery is recorded as a failure instead of being tried.
	MaxDeliver int `json:"max_deliver"`
	// AckWait is how long a worker may hold an item without a sign of life.
	AckWait time.Duration `json:"ack_wait_ns"`
	// Location is the IANA name of the time zone EXIF capture times
	// without an offset are read in ("Local" or empty: the worker's own).
	Location string `json:"location,omitempty"`
	// ZoneOffset, when set, is the UTC offset in seconds of Location, a
	// fixed zone that has no IANA name.
	ZoneOffset *int `json:"zone_offset_s,omitempty"`
	// Files, when set, is where the coordinator serves the run's files to
	// workers that do not have them mounted.
	Files *FileSource `json:"files,omitempty"`
}

// WorkItem is one file to embed.
type WorkItem struct {
	Run string `json:"run"`
	filePath
	Size    int64 `json:"size"`
	MtimeNs int64 `json:"mtime_ns"`
	// OldHash is the hex SHA-256 of the content the library holds for this
	// path, when it holds any.
	OldHash string `json:"old_sha256,omitempty"`
	// URL, when set, is where a worker without the shared mount may fetch
	// the file from the coordinator over HTTP. Reserved: coordinators do
	// not set it yet and workers record items that carry it as failures.
	URL string `json:"url,omitempty"`
}

// Result is what a worker made of a work item.
type Result struct {
	Run string `json:"run"`
	filePath
	Size    int64 `json:"size"`
	MtimeNs int64 `json:"mtime_ns"`
	// Model is the fingerprint of the worker's model; Worker names it.
	Model  string `json:"model"`
	Worker string `json:"worker"`
	Hash   string `json:"sha256,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	Format string `json:"format,omitempty"`
	// Vector is the embedding, float32 little-endian.
	Vector []byte `json:"vector,omitempty"`
	// Meta is the photo metadata read from the file, sent with a vector.
	Meta  *store.Metadata `json:"meta,omitempty"`
	Error *Failure        `json:"error,omitempty"`
	Skip  *Skip           `json:"skip,omitempty"`
}

// Failure is a file that could not be embedded.
type Failure struct {
	Stage  store.Stage `json:"stage"`
	Class  store.Class `json:"class"`
	Reason string      `json:"reason"`
}

// Skip is a file that is not a still image.
type Skip struct {
	Kind   string `json:"kind"`
	Format string `json:"format"`
}

// filePath carries a path byte for byte: as a string when it is valid
// UTF-8, else as raw bytes (JSON strings cannot hold other bytes).
type filePath struct {
	PathText string `json:"path,omitempty"`
	PathRaw  []byte `json:"path_raw,omitempty"`
}

func pathOf(p string) filePath {
	if utf8.ValidString(p) {
		return filePath{PathText: p}
	}
	return filePath{PathRaw: []byte(p)}
}

// Path is the file's path.
func (f filePath) Path() string {
	if f.PathRaw != nil {
		return string(f.PathRaw)
	}
	return f.PathText
}

// maxMessage bounds the messages this package decodes.
const maxMessage = 1 << 20

func decode(data []byte, v any) error {
	if len(data) > maxMessage {
		return fmt.Errorf("message of %d bytes over the %d-byte limit", len(data), maxMessage)
	}
	return json.Unmarshal(data, v)
}

func decodeWork(data []byte) (WorkItem, error) {
	var w WorkItem
	if err := decode(data, &w); err != nil {
		return w, fmt.Errorf("work item: %w", err)
	}
	if w.Path() == "" || w.Run == "" {
		return w, errors.New("work item: no path or run id")
	}
	return w, nil
}

func decodeResult(data []byte) (Result, error) {
	var r Result
	if err := decode(data, &r); err != nil {
		return r, fmt.Errorf("result: %w", err)
	}
	if r.Path() == "" || r.Run == "" {
		return r, errors.New("result: no path or run id")
	}
	return r, nil
}

// vectorBytes packs a vector as float32 little-endian.
func vectorBytes(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
	}
	return out
}

// vectorOf unpacks a vector of dim float32s.
func vectorOf(b []byte, dim int) ([]float32, error) {
	if len(b) != 4*dim {
		return nil, fmt.Errorf("vector of %d bytes, want %d (%d dimensions)", len(b), 4*dim, dim)
	}
	v := make([]float32, dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(v[i])) || math.IsInf(float64(v[i]), 0) {
			return nil, fmt.Errorf("vector value %d is not finite", i)
		}
	}
	return v, nil
}

func hashOf(s string) (store.Hash, error) {
	var h store.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("content hash %q is not a hex SHA-256", s)
	}
	copy(h[:], b)
	return h, nil
}
