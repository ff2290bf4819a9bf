package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/engine/store"
	"mmsearch/internal/membudget"
	"mmsearch/models"
)

// WorkerOptions configures a Worker.
type WorkerOptions struct {
	// Names are the queue's names (NamesFor).
	Names Names
	// Model is the model to embed with (--model: a name or a folder); empty
	// takes the job's model name through Models' resolve chain.
	Model string
	// Models resolves model names.
	Models models.Resolver
	// Runtime locates ONNX Runtime.
	Runtime encoders.RuntimeOptions
	// Device is where the encoder runs (encoders.DeviceCPU, ...).
	Device string
	// Threads is the number of threads per inference (0: cores / Streams).
	Threads int
	// Streams is the number of batches in hand at once, each fetched,
	// decoded and embedded on its own (0: 2; at most 16): one decodes while
	// another is in the model.
	Streams int
	// Batch is the number of work items fetched at once (0: 16; at most
	// 256). Streams × Batch bounds the items in flight.
	Batch int
	// Decoders is the number of files decoded at once per batch (0: cores).
	Decoders int
	// DecodeMemory bounds the memory of the decodes that run at once
	// (0: engine.DefaultDecodeMemory).
	DecodeMemory int64
	// Name identifies the worker in results (empty: host name and pid).
	Name string
	// ReadFromCoordinator reads the files over HTTP from the coordinator's
	// file server (CoordinatorOptions.Files) instead of the local file
	// system: for a worker without the files mounted. A job without a file
	// server is refused with ErrNoFileServer.
	ReadFromCoordinator bool
	// IdleExit, when set, ends Run (with nil) once the worker has had no
	// work item for this long after it got its first job: a worker started
	// for one batch job leaves when the queue is empty.
	IdleExit time.Duration
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
	// Logger receives diagnostics (nil: discard).
	Logger *slog.Logger

	// testHookEncode runs after a batch is decoded, before it is embedded
	// (tests only).
	testHookEncode func()
}

// WorkerStats counts a worker's work.
type WorkerStats struct {
	Items    int `json:"items"`    // work items answered
	Embedded int `json:"embedded"` // of those, files embedded
	Failed   int `json:"failed"`   // files that failed (read, decode, encode, given up)
}

// ErrNoJob is returned when no coordinator published a job before the wait ended.
var ErrNoJob = errors.New("no coordinator job")

// Worker pulls work items, embeds the files and publishes the results.
type Worker struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	opt WorkerOptions
	log *slog.Logger
	mem *membudget.Budget

	jobMu sync.Mutex
	job   Job
	model *encoders.Model
	enc   *encoders.ImageEncoder
	mine  store.Model
	loc   *time.Location // the job's time zone
	files *fileClient    // the coordinator's file server, with ReadFromCoordinator

	statsMu sync.Mutex
	stats   WorkerStats

	busy     atomic.Int32 // batches in hand
	lastBusy atomic.Int64 // unix ns when a batch was last in hand
}

// NewWorker checks the options; Run does the work.
func NewWorker(nc *nats.Conn, opt WorkerOptions) (*Worker, error) {
	if opt.Names.Queue == "" {
		n, err := NamesFor("")
		if err != nil {
			return nil, err
		}
		opt.Names = n
	}
	if opt.Streams == 0 {
		opt.Streams = 2
	}
	if opt.Streams < 1 || opt.Streams > 16 {
		return nil, fmt.Errorf("worker streams %d: use 1 to 16", opt.Streams)
	}
	if opt.Batch == 0 {
		opt.Batch = 16
	}
	if opt.Batch < 1 || opt.Batch > 256 {
		return nil, fmt.Errorf("worker batch %d: use 1 to 256", opt.Batch)
	}
	if opt.Decoders <= 0 {
		opt.Decoders = runtime.GOMAXPROCS(0)
	}
	if opt.Threads <= 0 {
		opt.Threads = max(1, runtime.GOMAXPROCS(0)/opt.Streams)
	}
	if opt.DecodeMemory <= 0 {
		opt.DecodeMemory = engine.DefaultDecodeMemory
	}
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	if opt.Models.Getenv == nil {
		opt.Models.Getenv = opt.Getenv
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Name == "" {
		host, _ := os.Hostname()
		opt.Name = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4*opt.Batch*opt.Streams))
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return &Worker{nc: nc, js: js, opt: opt, log: opt.Logger, mem: membudget.New(opt.DecodeMemory)}, nil
}

// Name is the worker's name in results and logs.
func (w *Worker) Name() string { return w.opt.Name }

// Stats returns the counts so far.
func (w *Worker) Stats() WorkerStats {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	return w.stats
}

// Close releases the encoder.
func (w *Worker) Close() error {
	w.jobMu.Lock()
	defer w.jobMu.Unlock()
	if w.enc != nil {
		err := w.enc.Close()
		w.enc = nil
		return err
	}
	return nil
}

// Run waits for a coordinator's job, checks that this worker's model is the
// library's (a different one is refused with an error wrapping
// store.ErrModelMismatch), then takes work items until ctx ends. On ctx's
// end it drains: the batches in hand are finished and answered, no new ones
// are fetched. It returns an error when the connection fails.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.loadJob(ctx, ""); err != nil {
		return err
	}
	var cons jetstream.Consumer
	err := poll(ctx, func() (bool, error) {
		c, err := w.js.Consumer(ctx, w.opt.Names.WorkStream, workersConsumer)
		if err == nil {
			cons = c
			return true, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			return false, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("worker: work queue %s: %w", w.opt.Names.WorkStream, err)
	}
	w.log.Info("worker ready", "worker", w.opt.Name, "model", w.mine.Name, "streams", w.opt.Streams, "batch", w.opt.Batch)
	if w.opt.IdleExit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		w.lastBusy.Store(time.Now().UnixNano())
		go w.exitWhenIdle(ctx, cancel)
	}
	errs := make(chan error, w.opt.Streams)
	for range w.opt.Streams {
		go func() { errs <- w.loop(ctx, cons) }()
	}
	var first error
	for range w.opt.Streams {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// exitWhenIdle cancels the worker's run once no batch has been in hand for
// IdleExit.
func (w *Worker) exitWhenIdle(ctx context.Context, cancel context.CancelFunc) {
	t := time.NewTicker(min(time.Second, max(10*time.Millisecond, w.opt.IdleExit/4)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if w.busy.Load() == 0 && time.Since(time.Unix(0, w.lastBusy.Load())) >= w.opt.IdleExit {
				w.log.Info("worker idle: leaving", "worker", w.opt.Name, "idle", w.opt.IdleExit)
				cancel()
				return
			}
		}
	}
}

// loop fetches and answers batches until ctx ends.
func (w *Worker) loop(ctx context.Context, cons jetstream.Consumer) error {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(w.opt.Batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if w.nc.IsClosed() {
				return fmt.Errorf("worker: %w", nats.ErrConnectionClosed)
			}
			w.log.Warn("fetch work items", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && len(msgs) == 0 {
			if w.nc.IsClosed() {
				return fmt.Errorf("worker: %w", nats.ErrConnectionClosed)
			}
			w.log.Debug("fetch", "err", err)
		}
		if len(msgs) == 0 {
			continue
		}
		// Items fetched are answered even when ctx ends meanwhile: a
		// drain finishes the batch in hand.
		w.busy.Add(1)
		err = w.answer(context.WithoutCancel(ctx), msgs)
		w.lastBusy.Store(time.Now().UnixNano())
		w.busy.Add(-1)
		if err != nil {
			return err
		}
	}
	return nil
}

// item is one work item of a batch on its way.
type item struct {
	msg    jetstream.Msg
	work   WorkItem
	res    Result
	tensor []float32
	answer bool // res is final (no inference needed)
	drop   bool // not answered: given back for redelivery
}

// answer decodes, embeds and publishes the results of one batch, then
// acknowledges its items.
func (w *Worker) answer(ctx context.Context, msgs []jetstream.Msg) error {
	job, enc, err := w.current()
	if err != nil {
		return err
	}
	items := make([]*item, 0, len(msgs))
	for _, m := range msgs {
		wi, err := decodeWork(m.Data())
		if err != nil {
			w.log.Warn("bad work item dropped", "err", err)
			_ = m.Term()
			continue
		}
		if wi.Run != job.Run {
			// A new coordinator run: its job may name another model.
			if err := w.loadJob(ctx, wi.Run); err != nil {
				for _, m := range msgs {
					_ = m.Nak()
				}
				return err
			}
			if job, enc, err = w.current(); err != nil {
				return err
			}
			if wi.Run != job.Run {
				_ = m.Term() // an item of a run that is over
				continue
			}
		}
		it := &item{msg: m, work: wi, res: Result{Run: wi.Run, filePath: wi.filePath, Size: wi.Size, MtimeNs: wi.MtimeNs,
			Model: w.mine.Fingerprint, Worker: w.opt.Name}}
		if md, err := m.Metadata(); err == nil && job.MaxDeliver > 0 && md.NumDelivered >= uint64(job.MaxDeliver) {
			fe := gaveUpFailure(wi.Path(), wi.Size, wi.MtimeNs, int(md.NumDelivered)-1)
			it.res.Error = &Failure{Stage: fe.Stage, Class: fe.Class, Reason: fe.Reason}
			it.answer = true
		} else if wi.URL != "" {
			it.res.Error = &Failure{Stage: store.StageRead, Class: store.ClassTransient,
				Reason: "reading files over HTTP is not supported by this worker: mount the files at the same path"}
			it.answer = true
		}
		items = append(items, it)
	}
	stopBeat := w.heartbeat(job, items)
	defer stopBeat()
	w.decode(ctx, job, enc, items)
	if w.opt.testHookEncode != nil {
		w.opt.testHookEncode()
	}
	w.encode(ctx, enc, items)
	return w.publish(ctx, items)
}

// heartbeat tells JetStream the batch's items are being worked on, so that
// a slow batch is not delivered again meanwhile.
func (w *Worker) heartbeat(job Job, items []*item) (stop func()) {
	every := job.AckWait / 3
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				for _, it := range items {
					_ = it.msg.InProgress()
				}
			case <-done:
				return
			}
		}
	}()
	return func() { t.Stop(); close(done) }
}

// decode reads and decodes the batch's files, Decoders at a time.
func (w *Worker) decode(ctx context.Context, job Job, enc *encoders.ImageEncoder, items []*item) {
	dec := &engine.FileDecoder{Image: job.Image, Preprocess: w.model.Manifest.Image.Preprocess(), Memory: w.mem, Location: w.loc}
	w.jobMu.Lock()
	if w.files != nil {
		dec.Files = w.files
	}
	w.jobMu.Unlock()
	sem := make(chan struct{}, w.opt.Decoders)
	var wg sync.WaitGroup
	for _, it := range items {
		if it.answer {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tensor := make([]float32, enc.TensorLen())
			d, ok := dec.Decode(ctx, it.work.Path(), it.work.Size, it.work.MtimeNs, tensor)
			switch {
			case !ok:
				it.drop = true
			case d.Err != nil:
				it.res.Error = &Failure{Stage: d.Err.Stage, Class: d.Err.Class, Reason: d.Err.Reason}
				it.answer = true
			case d.Skip != nil:
				it.res.Skip = &Skip{Kind: d.Skip.Kind, Format: d.Skip.Format}
				it.answer = true
			default:
				it.res.Hash = d.Hash.String()
				it.res.Width, it.res.Height, it.res.Format = d.Info.Width, d.Info.Height, d.Info.Format
				it.res.Meta = &d.Meta
				it.tensor = tensor
			}
		}()
	}
	wg.Wait()
}

// encode embeds the decoded files, the encoder's batch at a time.
func (w *Worker) encode(ctx context.Context, enc *encoders.ImageEncoder, items []*item) {
	var todo []*item
	for _, it := range items {
		if it.tensor != nil {
			todo = append(todo, it)
		}
	}
	for len(todo) > 0 {
		n := min(len(todo), max(1, enc.MaxBatch()))
		chunk := todo[:n]
		todo = todo[n:]
		pixels := make([]float32, 0, n*enc.TensorLen())
		for _, it := range chunk {
			pixels = append(pixels, it.tensor...)
		}
		vecs, err := enc.EncodeTensors(ctx, pixels, n)
		for i, it := range chunk {
			it.tensor = nil
			it.answer = true
			if err != nil {
				it.res.Error = &Failure{Stage: store.StageEncode, Class: store.ClassTransient, Reason: err.Error()}
				it.res.Hash = ""
				continue
			}
			it.res.Vector = vectorBytes(vecs[i])
		}
	}
}

// publish sends the batch's results to the results stream and acknowledges
// each item whose result is stored; an item whose result could not be
// stored is given back for redelivery.
func (w *Worker) publish(ctx context.Context, items []*item) error {
	type sent struct {
		it *item
		f  jetstream.PubAckFuture
	}
	var out []sent
	var firstErr error
	for _, it := range items {
		if it.drop || !it.answer {
			_ = it.msg.Nak()
			continue
		}
		data, err := json.Marshal(it.res)
		if err == nil && len(data) > maxMessage {
			err = fmt.Errorf("result of %d bytes over %d", len(data), maxMessage)
		}
		if err != nil {
			w.log.Warn("result not sent", "path", it.work.Path(), "err", err)
			_ = it.msg.Nak()
			continue
		}
		f, err := w.js.PublishAsync(w.opt.Names.ResultsSubject, data,
			jetstream.WithMsgID(msgID(it.res.Run, it.work.Path(), it.work.Size, it.work.MtimeNs)))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue // not acknowledged: delivered again later
		}
		out = append(out, sent{it, f})
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for _, s := range out {
		select {
		case <-s.f.Ok():
			if err := s.it.msg.Ack(); err != nil && firstErr == nil {
				firstErr = err
			}
			w.done(s.it)
		case err := <-s.f.Err():
			if firstErr == nil {
				firstErr = err
			}
		case <-timeout.C:
			if firstErr == nil {
				firstErr = errors.New("no acknowledgement from the results stream in 30 s")
			}
		}
	}
	if firstErr != nil {
		if w.nc.IsClosed() {
			return fmt.Errorf("worker: %w", nats.ErrConnectionClosed)
		}
		w.log.Warn("results not stored: their items will be delivered again", "err", firstErr)
	}
	return nil
}

func (w *Worker) done(it *item) {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	w.stats.Items++
	if it.res.Error != nil {
		w.stats.Failed++
	} else if it.res.Vector != nil {
		w.stats.Embedded++
	}
}

// current returns the job and the encoder.
func (w *Worker) current() (Job, *encoders.ImageEncoder, error) {
	w.jobMu.Lock()
	defer w.jobMu.Unlock()
	if w.enc == nil {
		return Job{}, nil, errors.New("worker: closed")
	}
	return w.job, w.enc, nil
}

// loadJob reads the coordinator's job (waiting for one, or for run when
// given, as long as ctx lasts), checks the model and opens the encoder.
func (w *Worker) loadJob(ctx context.Context, run string) error {
	var job Job
	err := poll(ctx, func() (bool, error) {
		kv, err := w.js.KeyValue(ctx, w.opt.Names.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		e, err := kv.Get(ctx, jobKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if err := decode(e.Value(), &job); err != nil {
			return false, fmt.Errorf("job: %w", err)
		}
		return run == "" || job.Run == run, nil
	})
	if err != nil {
		return fmt.Errorf("worker: %w: %w", ErrNoJob, err)
	}
	w.jobMu.Lock()
	defer w.jobMu.Unlock()
	// The model is chosen once, by the first job: a later run of another
	// model is refused like a first one would be.
	if w.model == nil {
		res, err := w.opt.Models.Resolve(models.Request{Flag: w.opt.Model, Library: job.Model.Name})
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		m, _, err := models.Open(res.Dir, models.OpenOptions{Runtime: w.opt.Runtime, Getenv: w.opt.Getenv, Logger: w.log})
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		w.model = m
		w.mine = LibraryModel(m)
	}
	if w.mine.Fingerprint != job.Model.Fingerprint || w.mine.Dim != job.Model.Dim {
		return fmt.Errorf("worker refused: %w", &store.ModelMismatchError{Library: job.Model, Requested: w.mine})
	}
	loc, err := jobLocation(job.Location, job.ZoneOffset)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if w.enc == nil {
		enc, err := encoders.NewImageEncoder(w.model, encoders.SessionOptions{IntraOpThreads: w.opt.Threads,
			MaxBatch: w.opt.Batch, Device: w.opt.Device, GraphCache: models.GraphCacheDir(w.opt.Getenv)})
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		w.enc = enc
	}
	var files *fileClient
	if w.opt.ReadFromCoordinator {
		if job.Files == nil {
			return fmt.Errorf("worker: %w", ErrNoFileServer)
		}
		if files = w.files; files == nil || files.src != *job.Files {
			files = newFileClient(*job.Files)
		}
	}
	w.job, w.loc, w.files = job, loc, files
	return nil
}

// ErrNoFileServer: a worker that reads the files from the coordinator got a
// job whose coordinator serves none.
var ErrNoFileServer = errors.New("this worker reads the files from the coordinator (--read coordinator), but the coordinator serves none: start it with --serve-files ADDR, or mount the files here")

// jobLocation loads the job's time zone: "" and "Local" are the worker's,
// an offset a fixed zone.
func jobLocation(name string, offset *int) (*time.Location, error) {
	switch {
	case offset != nil:
		if *offset < -18*3600 || *offset > 18*3600 {
			return nil, fmt.Errorf("the job's time zone %q: offset %d s out of range", name, *offset)
		}
		return time.FixedZone(name, *offset), nil
	case name == "" || name == "Local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("the job's time zone %q: %w", name, err)
	}
	return loc, nil
}

// poll calls try every 200 ms until it reports done, fails, or ctx ends.
func poll(ctx context.Context, try func() (bool, error)) error {
	for {
		done, err := try()
		if err != nil || done {
			return err
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
