package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"mmsearch/encoders/imageproc"
	"mmsearch/engine"
	"mmsearch/engine/store"
)

// QueueOptions shape the streams and the workers' consumer.
type QueueOptions struct {
	// Replicas is the streams' replication factor (0: 1; at most 5). An
	// existing NATS cluster of three servers takes 3.
	Replicas int
	// AckWait is how long a worker may hold a work item without a sign of
	// life before it is delivered again (0: DefaultAckWait).
	AckWait time.Duration
	// MaxDeliver is how many times a work item is delivered; its last
	// delivery is recorded as a failure (0: DefaultMaxDeliver; at most 100).
	MaxDeliver int
	// MaxAckPending bounds the work items handed out and not yet
	// acknowledged, over all workers (0: 1024).
	MaxAckPending int
}

// Defaults of QueueOptions.
const (
	DefaultAckWait    = 2 * time.Minute
	DefaultMaxDeliver = 5
	maxReplicas       = 5
	maxMaxDeliver     = 100
)

func (o QueueOptions) withDefaults() (QueueOptions, error) {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas < 1 || o.Replicas > maxReplicas {
		return o, fmt.Errorf("replicas %d: use 1 to %d", o.Replicas, maxReplicas)
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = DefaultMaxDeliver
	}
	if o.MaxDeliver < 1 || o.MaxDeliver > maxMaxDeliver {
		return o, fmt.Errorf("max deliveries %d: use 1 to %d", o.MaxDeliver, maxMaxDeliver)
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = 1024
	}
	return o, nil
}

// CoordinatorOptions configures a Coordinator.
type CoordinatorOptions struct {
	// Names are the queue's names (NamesFor).
	Names Names
	// Queue shapes the streams.
	Queue QueueOptions
	// Model is the library's model; results made with another are refused.
	Model store.Model
	// Image holds the decoding limits workers apply.
	Image imageproc.Options
	// Location is the time zone workers read EXIF capture times without an
	// offset in (nil: each worker's local zone).
	Location *time.Location
	// MaxOutstanding bounds the work items published and not yet answered
	// (0: 4096; at most 1<<20): the walk waits beyond it.
	MaxOutstanding int
	// Files, when set, serves the run's files to workers that read them
	// from the coordinator (WorkerOptions.ReadFromCoordinator); the job
	// tells them its URL and token.
	Files *FileServer
	// IdleWarn is how long without results, while items are outstanding,
	// before a warning that no worker may be running (0: 30 s).
	IdleWarn time.Duration
	// Logger receives diagnostics (nil: discard).
	Logger *slog.Logger
}

// CoordinatorStats counts what a coordinator's runs saw.
type CoordinatorStats struct {
	Published  int `json:"published"`
	Results    int `json:"results"`
	Duplicates int `json:"duplicates"` // results for a path answered already
	Stale      int `json:"stale"`      // results of an earlier run
	GaveUp     int `json:"gave_up"`    // items past their deliveries without a result
}

// Coordinator publishes an ingest's files as work items and hands the
// workers' results back to it: it is the engine.RemoteEmbedder of
// Library.Ingest.
type Coordinator struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	opt     CoordinatorOptions
	log     *slog.Logger
	work    jetstream.Stream
	results jetstream.Stream
	kv      jetstream.KeyValue

	mu    sync.Mutex
	stats CoordinatorStats
}

var _ engine.RemoteEmbedder = (*Coordinator)(nil)

// NewCoordinator makes (or updates) the queue's streams, consumers and job
// bucket on the NATS server nc is connected to.
func NewCoordinator(ctx context.Context, nc *nats.Conn, opt CoordinatorOptions) (*Coordinator, error) {
	q, err := opt.Queue.withDefaults()
	if err != nil {
		return nil, err
	}
	opt.Queue = q
	if opt.Names.Queue == "" {
		if opt.Names, err = NamesFor(""); err != nil {
			return nil, err
		}
	}
	if opt.MaxOutstanding <= 0 {
		opt.MaxOutstanding = 4096
	}
	if opt.MaxOutstanding > 1<<20 {
		return nil, fmt.Errorf("max outstanding %d: at most %d", opt.MaxOutstanding, 1<<20)
	}
	if opt.IdleWarn <= 0 {
		opt.IdleWarn = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Model.Fingerprint == "" || opt.Model.Dim <= 0 {
		return nil, errors.New("coordinator: no model")
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	c := &Coordinator{nc: nc, js: js, opt: opt, log: opt.Logger}
	if err := c.setup(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// setup makes the streams, the workers' consumer and the job bucket.
func (c *Coordinator) setup(ctx context.Context) error {
	n, q := c.opt.Names, c.opt.Queue
	var err error
	c.work, err = c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: n.WorkStream, Subjects: []string{n.WorkSubject}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: q.Replicas, MaxMsgSize: maxMessage,
		Description: "mmsearch work items: files to embed",
	})
	if err != nil {
		return fmt.Errorf("coordinator: stream %s: %w", n.WorkStream, err)
	}
	c.results, err = c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: n.ResultsStream, Subjects: []string{n.ResultsSubject}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: q.Replicas, MaxMsgSize: maxMessage,
		Description: "mmsearch results: vectors and failures",
	})
	if err != nil {
		return fmt.Errorf("coordinator: stream %s: %w", n.ResultsStream, err)
	}
	if _, err := c.work.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: workersConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: q.AckWait,
		MaxDeliver: q.MaxDeliver, MaxAckPending: q.MaxAckPending,
		Description: "mmsearch workers",
	}); err != nil {
		return fmt.Errorf("coordinator: consumer %s: %w", workersConsumer, err)
	}
	c.kv, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.Bucket, Replicas: q.Replicas, History: 1, MaxValueSize: maxMessage,
		Description: "mmsearch job of the current coordinator run",
	})
	if err != nil {
		return fmt.Errorf("coordinator: bucket %s: %w", n.Bucket, err)
	}
	return nil
}

// Stats returns the counts so far.
func (c *Coordinator) Stats() CoordinatorStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Coordinator) count(f func(*CoordinatorStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.stats)
}

// maxDeliveriesAdvisory is the subject of JetStream's advisory for a
// message that reached its consumer's MaxDeliver.
func (c *Coordinator) maxDeliveriesAdvisory() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + c.opt.Names.WorkStream + "." + workersConsumer
}

// Embed runs one coordinator run: it starts a new run id, clears what an
// earlier run left in the streams, publishes the job, then one work item
// per job, and sends each work item's first result on results. It returns
// once jobs is closed and every item is answered, or when ctx ends (then
// the items not yet taken are withdrawn).
func (c *Coordinator) Embed(ctx context.Context, jobs <-chan engine.RemoteJob, results chan<- engine.RemoteResult) error {
	run, err := newRunID()
	if err != nil {
		return err
	}
	if err := c.work.Purge(ctx); err != nil {
		return fmt.Errorf("coordinator: clear %s: %w", c.opt.Names.WorkStream, err)
	}
	if err := c.results.Purge(ctx); err != nil {
		return fmt.Errorf("coordinator: clear %s: %w", c.opt.Names.ResultsStream, err)
	}
	job := Job{Run: run, Model: c.opt.Model, Image: c.opt.Image, MaxDeliver: c.opt.Queue.MaxDeliver, AckWait: c.opt.Queue.AckWait}
	if loc := c.opt.Location; loc != nil {
		job.Location = loc.String()
		if _, err := time.LoadLocation(job.Location); err != nil && job.Location != "Local" {
			// A fixed zone (no IANA name): workers get its offset.
			_, off := time.Now().In(loc).Zone()
			job.ZoneOffset = &off
		}
	}
	if f := c.opt.Files; f != nil {
		f.startRun(c.opt.Image.MaxFileBytes)
		defer f.startRun(0) // nothing is served between runs
		job.Files = f.source()
	}
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("coordinator: job: %w", err)
	}
	if _, err := c.kv.Put(ctx, jobKey, data); err != nil {
		return fmt.Errorf("coordinator: publish job: %w", err)
	}
	c.log.Info("coordinator run", "run", run, "work", c.opt.Names.WorkSubject, "model", c.opt.Model.Name)

	done := make(chan struct{})
	defer close(done)
	incoming := make(chan jetstream.Msg)
	cons, err := c.results.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: coordinatorConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 5 * time.Minute,
		MaxAckPending: 4096, Description: "mmsearch coordinator",
	})
	if err != nil {
		return fmt.Errorf("coordinator: results consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case incoming <- m:
		case <-done:
		}
	})
	if err != nil {
		return fmt.Errorf("coordinator: consume results: %w", err)
	}
	defer cc.Stop()
	maxed := make(chan []byte)
	sub, err := c.nc.Subscribe(c.maxDeliveriesAdvisory(), func(m *nats.Msg) {
		select {
		case maxed <- m.Data:
		case <-done:
		}
	})
	if err != nil {
		return fmt.Errorf("coordinator: advisories: %w", err)
	}
	defer sub.Unsubscribe()

	pubErr := make(chan error, 1)
	futures := make(chan jetstream.PubAckFuture, 1024)
	go watchPublishes(futures, pubErr, done)
	defer close(futures)

	r := &coordRun{c: c, run: run, pending: map[string]engine.RemoteJob{}, results: results}
	idle := time.NewTicker(c.opt.IdleWarn)
	defer idle.Stop()
	lastResult := time.Now()
	in := jobs
	for {
		if in == nil && len(r.pending) == 0 {
			return nil
		}
		take := in
		if len(r.pending) >= c.opt.MaxOutstanding {
			take = nil // the walk waits
		}
		select {
		case <-ctx.Done():
			c.withdraw()
			return ctx.Err()
		case err := <-pubErr:
			return fmt.Errorf("coordinator: publish work item: %w", err)
		case j, ok := <-take:
			if !ok {
				in = nil
				continue
			}
			if _, dup := r.pending[j.Path]; dup {
				continue // listed twice: one item is enough
			}
			f, err := r.publish(j)
			if err != nil {
				return err
			}
			futures <- f
		case m := <-incoming:
			lastResult = time.Now()
			if err := r.result(ctx, m); err != nil {
				return err
			}
		case data := <-maxed:
			if err := r.gaveUp(ctx, data); err != nil {
				return err
			}
		case <-idle.C:
			if len(r.pending) > 0 && time.Since(lastResult) >= c.opt.IdleWarn {
				c.log.Warn("no results from workers: is one running? (mmsearch worker --nats URL)",
					"waiting_for", len(r.pending), "since", time.Since(lastResult).Round(time.Second))
			}
		}
	}
}

// withdraw removes the work items left after a stop, so that workers do
// not embed files for a run that will not collect them.
func (c *Coordinator) withdraw() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.work.Purge(ctx); err != nil {
		c.log.Warn("withdraw work items", "err", err)
	}
}

// watchPublishes reports the first failed publish.
func watchPublishes(futures <-chan jetstream.PubAckFuture, errs chan<- error, done <-chan struct{}) {
	for f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			select {
			case errs <- err:
			default:
			}
		case <-done:
			return
		}
	}
}

// coordRun is the state of one Embed: the items published and not yet
// answered, by path.
type coordRun struct {
	c       *Coordinator
	run     string
	pending map[string]engine.RemoteJob
	results chan<- engine.RemoteResult
}

func (r *coordRun) publish(j engine.RemoteJob) (jetstream.PubAckFuture, error) {
	w := WorkItem{Run: r.run, filePath: pathOf(j.Path), Size: j.Size, MtimeNs: j.MtimeNs}
	if j.HasOldHash {
		w.OldHash = j.OldHash.String()
	}
	data, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("coordinator: work item %q: %w", j.Path, err)
	}
	if len(data) > maxMessage {
		return nil, fmt.Errorf("coordinator: work item %q: %d bytes, over %d", j.Path, len(data), maxMessage)
	}
	f, err := r.c.js.PublishAsync(r.c.opt.Names.WorkSubject, data, jetstream.WithMsgID(msgID(r.run, j.Path, j.Size, j.MtimeNs)))
	if err != nil {
		return nil, fmt.Errorf("coordinator: publish work item %q: %w", j.Path, err)
	}
	r.pending[j.Path] = j
	if f := r.c.opt.Files; f != nil {
		f.allow(j.Path)
	}
	r.c.count(func(s *CoordinatorStats) { s.Published++ })
	return f, nil
}

// result takes one message of the results stream: the first answer for a
// pending path goes to the ingest, acknowledged once committed; anything
// else is acknowledged and dropped.
func (r *coordRun) result(ctx context.Context, m jetstream.Msg) error {
	res, err := decodeResult(m.Data())
	if err != nil {
		r.c.log.Warn("bad result dropped", "err", err)
		_ = m.Term()
		return nil
	}
	path := res.Path()
	j, ok := r.pending[path]
	switch {
	case res.Run != r.run:
		r.c.count(func(s *CoordinatorStats) { s.Stale++ })
		_ = m.Ack()
		return nil
	case !ok || j.Size != res.Size || j.MtimeNs != res.MtimeNs:
		r.c.count(func(s *CoordinatorStats) { s.Duplicates++ })
		_ = m.Ack()
		return nil
	}
	r.answered(path)
	rr := r.c.remoteResult(j, res)
	rr.Done = func(committed bool) {
		if committed {
			_ = m.Ack()
		} else {
			_ = m.Nak()
		}
	}
	r.c.count(func(s *CoordinatorStats) { s.Results++ })
	select {
	case r.results <- rr:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gaveUp records a pending item that JetStream stopped delivering without
// a result (its last delivery went to a worker that died too).
func (r *coordRun) gaveUp(ctx context.Context, advisory []byte) error {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries int    `json:"deliveries"`
	}
	if err := json.Unmarshal(advisory, &adv); err != nil || adv.StreamSeq == 0 {
		return nil
	}
	raw, err := r.c.work.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return nil // answered and removed meanwhile
	}
	w, err := decodeWork(raw.Data)
	if err != nil || w.Run != r.run {
		return nil
	}
	j, ok := r.pending[w.Path()]
	if !ok {
		return nil
	}
	r.answered(w.Path())
	r.c.count(func(s *CoordinatorStats) { s.GaveUp++ })
	fe := gaveUpFailure(j.Path, j.Size, j.MtimeNs, adv.Deliveries)
	rr := engine.RemoteResult{Job: j, Err: &fe, Done: func(bool) {
		_ = r.c.work.DeleteMsg(context.Background(), adv.StreamSeq)
	}}
	select {
	case r.results <- rr:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// answered ends a pending path: its file is no longer served.
func (r *coordRun) answered(path string) {
	delete(r.pending, path)
	if f := r.c.opt.Files; f != nil {
		f.forget(path)
	}
}

// gaveUpFailure is the record of a file delivered n times without a result.
func gaveUpFailure(path string, size, mtimeNs int64, n int) store.FileError {
	return store.FileError{Path: path, Size: size, MtimeNs: mtimeNs, Stage: store.StageDecode, Class: store.ClassContent,
		Reason: fmt.Sprintf("gave up after %d deliveries to workers without a result (each worker died or timed out on it)", n)}
}

// remoteResult turns a worker's result into the ingest's, refusing vectors
// from another model and malformed ones as failures of the file.
func (c *Coordinator) remoteResult(j engine.RemoteJob, res Result) engine.RemoteResult {
	rr := engine.RemoteResult{Job: j}
	fail := func(stage store.Stage, class store.Class, reason string) engine.RemoteResult {
		rr.Err = &store.FileError{Path: j.Path, Size: j.Size, MtimeNs: j.MtimeNs, Stage: stage, Class: class, Reason: reason}
		return rr
	}
	switch {
	case res.Error != nil:
		reason := truncate(res.Error.Reason, maxReason)
		if !res.Error.Stage.Valid() || !res.Error.Class.Valid() {
			return fail(store.StageEncode, store.ClassTransient, "worker "+res.Worker+" sent a failure of unknown stage or class: "+reason)
		}
		return fail(res.Error.Stage, res.Error.Class, reason)
	case res.Skip != nil:
		rr.Skip = &store.SkippedFile{Path: j.Path, Size: j.Size, MtimeNs: j.MtimeNs, Kind: res.Skip.Kind, Format: res.Skip.Format}
		return rr
	case res.Model != c.opt.Model.Fingerprint:
		return fail(store.StageEncode, store.ClassTransient,
			fmt.Sprintf("worker %s embeds with model fingerprint %s, the library's is %s", res.Worker, res.Model, c.opt.Model.Fingerprint))
	}
	h, err := hashOf(res.Hash)
	if err != nil {
		return fail(store.StageEncode, store.ClassTransient, "worker "+res.Worker+": "+err.Error())
	}
	vec, err := vectorOf(res.Vector, c.opt.Model.Dim)
	if err != nil {
		return fail(store.StageEncode, store.ClassTransient, "worker "+res.Worker+": "+err.Error())
	}
	if res.Width < 0 || res.Height < 0 || len(res.Format) > maxFormat {
		return fail(store.StageEncode, store.ClassTransient, fmt.Sprintf("worker %s: image facts out of range (%dx%d, format of %d bytes)", res.Worker, res.Width, res.Height, len(res.Format)))
	}
	if res.Meta != nil {
		if err := res.Meta.Validate(); err != nil {
			return fail(store.StageEncode, store.ClassTransient, "worker "+res.Worker+": metadata: "+err.Error())
		}
		rr.Meta = *res.Meta
	}
	rr.Hash, rr.Vector, rr.Width, rr.Height, rr.Format = h, vec, res.Width, res.Height, res.Format
	return rr
}

// Bounds on what a worker's result may carry.
const (
	maxReason = 4096
	maxFormat = 32
)

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func newRunID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// msgID names a message for JetStream's duplicate detection: one per run,
// file and version of the file.
func msgID(run, path string, size, mtimeNs int64) string {
	h := sha256.Sum256([]byte(path))
	return fmt.Sprintf("%s-%x-%d-%d", run, h[:12], size, mtimeNs)
}
