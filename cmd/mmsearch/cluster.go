package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"mmsearch/cluster"
	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/internal/regfile"
)

// natsTokenEnv names the environment variable a NATS token may come from
// (a token on the command line would show in ps).
const natsTokenEnv = "MMSEARCH_NATS_TOKEN"

// maxTokenFile bounds a token file.
const maxTokenFile = 4096

// natsFlags are the connection flags of coordinator and worker.
type natsFlags struct {
	url, tokenFile, nkey, creds, ca, queue string
}

func (f *natsFlags) register(fs *flag.FlagSet, urlHelp string) {
	fs.StringVar(&f.url, "nats", "", urlHelp)
	fs.StringVar(&f.tokenFile, "nats-token-file", "", "read the NATS authorization token from `FILE` (default: $"+natsTokenEnv+")")
	fs.StringVar(&f.nkey, "nats-nkey", "", "authenticate with the nkey user seed in `FILE`")
	fs.StringVar(&f.creds, "nats-creds", "", "authenticate with the NATS credentials (JWT and seed) in `FILE`")
	fs.StringVar(&f.ca, "nats-ca", "", "PEM `FILE` of CAs for tls:// servers (default: the system's)")
	fs.StringVar(&f.queue, "queue", cluster.DefaultQueue, "queue name: the streams are NAME_WORK and NAME_RESULTS (1 to 32 letters, digits, '-' or '_')")
}

// credentials reads the token file (or the environment variable) and
// returns the credentials the flags name.
func (f *natsFlags) credentials(e *env) (cluster.Credentials, error) {
	cr := cluster.Credentials{NKeySeedFile: f.nkey, CredsFile: f.creds, RootCAs: f.ca}
	n := 0
	for _, s := range []string{f.tokenFile, f.nkey, f.creds} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return cr, usagef("--nats-token-file, --nats-nkey and --nats-creds exclude each other")
	}
	switch {
	case f.tokenFile != "":
		data, err := regfile.ReadFile(context.Background(), f.tokenFile, maxTokenFile)
		if err != nil {
			return cr, fmt.Errorf("--nats-token-file: %w", err)
		}
		cr.Token = strings.TrimSpace(string(data))
		if cr.Token == "" {
			return cr, usagef("--nats-token-file %s is empty", f.tokenFile)
		}
	case n == 0:
		cr.Token = strings.TrimSpace(e.getenv(natsTokenEnv))
	}
	return cr, nil
}

func (f *natsFlags) names() (cluster.Names, error) {
	n, err := cluster.NamesFor(f.queue)
	if err != nil {
		return n, usageError{err}
	}
	return n, nil
}

// logger is the diagnostics logger of coordinator and worker: warnings,
// and progress notes with -v.
func clusterLogger(e *env, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

// Bounds of the coordinator's and worker's flags.
const (
	maxReplicas       = 5
	maxMaxDeliver     = 100
	maxOutstanding    = 1 << 20
	maxWorkerStreams  = 16
	maxWorkerBatch    = 256
	minAckWait        = time.Second
	maxAckWait        = time.Hour
	maxIdleExit       = 24 * time.Hour
	maxWorkerNameSize = 128
)

func coordinatorCommand() *command {
	var lf libraryFlags
	var wf walkFlags
	var nf natsFlags
	var listen, storeDir, serveFiles, filesURL string
	var replicas, maxDeliver, outstanding int
	var ackWait time.Duration
	var asJSON bool
	return &command{
		name:    "coordinator",
		summary: "index folders with workers elsewhere: publish the files to a NATS JetStream queue, store what 'mmsearch worker's send back",
		usage:   "[--library DIR] [--nats URL | --listen ADDR] [flags] PATH...",
		setFlags: func(fs *flag.FlagSet) {
			lf.register(fs)
			lf.registerBatch(fs)
			nf.register(fs, "NATS server `URL`s (comma-separated) of an existing cluster with JetStream; default: start one in this process (see --listen)")
			fs.StringVar(&listen, "listen", cluster.DefaultListen, "address of the NATS server started in this process when --nats is not given\n(loopback unless told; any other address needs --nats-token-file or $"+natsTokenEnv+")")
			fs.StringVar(&serveFiles, "serve-files", "", "serve the files to workers without them mounted (mmsearch worker --read coordinator) over HTTP on `ADDR`\n(e.g. 127.0.0.1:8081; only this run's files, to requests with the token the job carries)")
			fs.StringVar(&filesURL, "files-url", "", "`URL` workers reach --serve-files at (default http://ADDR; needed when ADDR is every interface, e.g. :8081)")
			fs.StringVar(&storeDir, "nats-store", "", "JetStream folder of the server started in this process (default: a temporary folder, removed at exit)")
			intVar(fs, &replicas, "stream-replicas", 1, 1, maxReplicas, "replicas of the queue's streams (3 on a 3-server cluster)")
			fs.DurationVar(&ackWait, "ack-wait", cluster.DefaultAckWait, "how long a worker may hold a file without a sign of life before it goes to another (1s..1h)")
			intVar(fs, &maxDeliver, "max-deliver", cluster.DefaultMaxDeliver, 1, maxMaxDeliver, "deliveries of a file before it is recorded as a failure")
			intVar(fs, &outstanding, "max-outstanding", 4096, 1, maxOutstanding, "files published and not yet answered; the walk waits beyond")
			fs.BoolVar(&asJSON, "json", false, "print the final report as JSON on stdout")
			wf.register(fs, "here, without workers")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usagef("no PATH given")
			}
			if err := wf.check(); err != nil {
				return err
			}
			if ackWait < minAckWait || ackWait > maxAckWait {
				return usagef("--ack-wait %s out of range: want %s..%s", ackWait, minAckWait, maxAckWait)
			}
			names, err := nf.names()
			if err != nil {
				return err
			}
			cr, err := nf.credentials(e)
			if err != nil {
				return err
			}
			log := clusterLogger(e, lf.verbose)
			lib, err := lf.open(ctx, e)
			if err != nil {
				return err
			}
			defer lib.Close()
			url := nf.url
			if url == "" {
				srv, cleanup, err := startEmbedded(e, listen, storeDir, cr.Token, replicas)
				if err != nil {
					return err
				}
				defer cleanup()
				url = srv.ClientURL()
				fmt.Fprintf(e.stderr, "mmsearch: NATS server with JetStream on %s; start workers with: mmsearch worker --nats %s\n", url, url)
			} else if err := cluster.CheckURLs(url, cr); err != nil {
				return usageError{err}
			}
			nc, err := cluster.Connect(url, cr, "mmsearch coordinator", log)
			if err != nil {
				return err
			}
			defer nc.Close()
			var files *cluster.FileServer
			if serveFiles != "" {
				if files, err = cluster.StartFileServer(cluster.FileServerOptions{Listen: serveFiles, URL: filesURL, Logger: log}); err != nil {
					return usageError{err}
				}
				defer files.Close()
				fmt.Fprintf(e.stderr, "mmsearch: serving this run's files on %s to workers started with --read coordinator\n", files.URL())
			} else if filesURL != "" {
				return usagef("--files-url goes with --serve-files")
			}
			coord, err := cluster.NewCoordinator(ctx, nc, cluster.CoordinatorOptions{
				Files: files,
				Names: names, Model: cluster.LibraryModel(lib.Model()), MaxOutstanding: outstanding, Logger: log,
				Queue: cluster.QueueOptions{Replicas: replicas, AckWait: ackWait, MaxDeliver: maxDeliver},
			})
			if err != nil {
				return err
			}
			bar := newProgressBar(e.stderr, e.isTerminal, e.termWidth, "indexing")
			opts := engine.IngestOptions{
				Remote: coord, BatchSize: lf.batch,
				Progress: func(p engine.Progress) { bar.update(ingestProgress(p), false) },
			}
			wf.apply(&opts)
			rep, err := lib.Ingest(ctx, args, opts)
			if s := coord.Stats(); lf.verbose {
				log.Info("coordinator", "published", s.Published, "results", s.Results, "duplicates", s.Duplicates, "stale", s.Stale, "gave_up", s.GaveUp)
			}
			return reportIngest(e, bar, rep, err, asJSON)
		},
	}
}

// startEmbedded starts the coordinator's own NATS server; cleanup stops it
// and removes its temporary store.
func startEmbedded(e *env, listen, storeDir, token string, replicas int) (*cluster.Server, func(), error) {
	if replicas > 1 {
		return nil, nil, usagef("--stream-replicas %d needs a NATS cluster (--nats URL): the server started here is one server", replicas)
	}
	cleanup := func() {}
	if storeDir == "" {
		dir, err := os.MkdirTemp("", "mmsearch-nats-")
		if err != nil {
			return nil, nil, fmt.Errorf("NATS store: %w", err)
		}
		storeDir = dir
		cleanup = func() { os.RemoveAll(dir) }
	}
	srv, err := cluster.StartServer(cluster.ServerOptions{Name: "mmsearch-coordinator", Listen: listen, StoreDir: storeDir, Token: token})
	if err != nil {
		cleanup()
		if errors.Is(err, cluster.ErrInsecure) {
			return nil, nil, usageError{fmt.Errorf("--listen %s: %w (give --nats-token-file or $%s)", listen, err, natsTokenEnv)}
		}
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cluster.WaitJetStream(ctx, srv); err != nil {
		srv.Shutdown()
		cleanup()
		return nil, nil, err
	}
	return srv, func() { srv.Shutdown(); cleanup() }, nil
}

// workerReport is what worker prints when it ends.
type workerReport struct {
	Name     string        `json:"name"`
	Items    int           `json:"items"`
	Embedded int           `json:"embedded"`
	Failed   int           `json:"failed"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

func workerCommand() *command {
	var rf runtimeFlags
	var nf natsFlags
	var streams, batch, decoders, decodeMiB int
	var name, read string
	var idleExit, connectWait time.Duration
	var verbose, asJSON bool
	return &command{
		name:    "worker",
		summary: "embed files for a coordinator: take them from its NATS JetStream queue, send the vectors back",
		usage:   "--nats URL [--model NAME|DIR] [flags]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.Lookup("model").Usage = "model name or folder (default: the coordinator's library's model, found here by name); it must be the same model"
			rf.registerThreads(fs)
			fs.StringVar(&rf.device, "device", encoders.DeviceCPU, "where the encoder runs: cpu, cuda or auto")
			nf.register(fs, "NATS server `URL`s (comma-separated), e.g. nats://coordinator-host:4222 (default nats://"+cluster.DefaultListen+")")
			countVar(fs, &streams, "streams", 0, maxWorkerStreams, "batches in hand at once, one decoding while another is in the model (0 = 2)")
			countVar(fs, &batch, "batch", 0, maxWorkerBatch, "files taken from the queue at once and images per inference (0 = 16)")
			countVar(fs, &decoders, "decoders", 0, maxWorkers, "files decoded at once per batch (0 = all cores)")
			intVar(fs, &decodeMiB, "decode-memory", int(engine.DefaultDecodeMemory>>20), minDecodeMiB, maxDecodeMiB, "MiB that the image decodes running at once may use together")
			fs.StringVar(&name, "name", "", "this worker's name in results and logs (default: host name/pid)")
			fs.StringVar(&read, "read", "local", "where the files are read: local (mounted here at the coordinator's paths) or coordinator (over HTTP from its --serve-files)")
			fs.DurationVar(&idleExit, "idle-exit", 0, "leave once no file came for this long after the first job (0: run until interrupted; at most 24h)")
			fs.DurationVar(&connectWait, "connect-wait", time.Minute, "how long to wait for the NATS server to answer at start (at most 24h)")
			fs.BoolVar(&verbose, "v", false, "log progress notes to stderr")
			fs.BoolVar(&asJSON, "json", false, "print the worker's counts as JSON on stdout when it ends")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("worker takes no arguments (the coordinator names the files)")
			}
			if idleExit < 0 || idleExit > maxIdleExit {
				return usagef("--idle-exit %s out of range: want 0..%s", idleExit, maxIdleExit)
			}
			if connectWait < 0 || connectWait > maxIdleExit {
				return usagef("--connect-wait %s out of range: want 0..%s", connectWait, maxIdleExit)
			}
			if read != "local" && read != "coordinator" {
				return usagef("--read %q: want local or coordinator", read)
			}
			if len(name) > maxWorkerNameSize {
				return usagef("--name: over %d bytes", maxWorkerNameSize)
			}
			device, err := encoders.ParseDevice(rf.device)
			if err != nil {
				return usagef("--device: %v", err)
			}
			names, err := nf.names()
			if err != nil {
				return err
			}
			cr, err := nf.credentials(e)
			if err != nil {
				return err
			}
			url := nf.url
			if url == "" {
				url = "nats://" + cluster.DefaultListen
			}
			if err := cluster.CheckURLs(url, cr); err != nil {
				return usageError{err}
			}
			log := clusterLogger(e, verbose)
			nc, err := cluster.ConnectWait(ctx, url, cr, "mmsearch worker", log, connectWait)
			if err != nil {
				return err
			}
			defer nc.Close()
			w, err := cluster.NewWorker(nc, cluster.WorkerOptions{
				Names: names, Model: rf.model, Models: e.models(), Runtime: rf.runtimeOptions(e), Device: device,
				Threads: rf.threads, Streams: streams, Batch: batch, Decoders: decoders, DecodeMemory: int64(decodeMiB) << 20,
				Name: name, IdleExit: idleExit, Getenv: e.getenv, Logger: log, ReadFromCoordinator: read == "coordinator",
			})
			if err != nil {
				return usageError{err}
			}
			defer w.Close()
			if verbose {
				fmt.Fprintf(e.stderr, "mmsearch: worker waiting for a coordinator's job on %s\n", url)
			}
			start := time.Now()
			runErr := w.Run(ctx)
			s := w.Stats()
			rep := workerReport{Name: w.Name(), Items: s.Items, Embedded: s.Embedded, Failed: s.Failed, Elapsed: time.Since(start)}
			if asJSON {
				if err := printJSON(e.stdout, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.stdout, "worker answered %d files (%d embedded, %d failed) in %s\n", rep.Items, rep.Embedded, rep.Failed, rep.Elapsed.Round(time.Millisecond))
			}
			if runErr != nil {
				return runErr
			}
			return context.Cause(ctx) // an interrupt drained the worker: exit 130
		},
	}
}
