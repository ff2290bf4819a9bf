package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"mmsearch/engine"
	"mmsearch/engine/store"
	"mmsearch/index/hnsw"
	"mmsearch/internal/imagetest"
	"mmsearch/internal/libtest"
	"mmsearch/internal/porttest"
)

const (
	tinyModel  = "../encoders/testdata/tiny"
	tiny2Model = "../encoders/testdata/tiny2"
)

// startServer starts an embedded server on a free loopback port, stopped at
// the test's end.
func startServer(t *testing.T, opt ServerOptions) *Server {
	t.Helper()
	if opt.Listen == "" {
		opt.Listen = "127.0.0.1:0"
	}
	if opt.StoreDir == "" {
		opt.StoreDir = t.TempDir()
	}
	s, err := StartServer(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if opt.ClusterListen == "" {
		if err := WaitJetStream(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := Connect(url, Credentials{}, t.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// photos writes n distinct small pictures and returns their folder and paths.
func photos(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("img%03d.png", i))
		imagetest.Write(t, p, imagetest.PNG(t, imagetest.Pattern(i, 24, 16)))
		paths = append(paths, p)
	}
	return dir, paths
}

func openLibrary(t *testing.T, dir string) *engine.Library {
	t.Helper()
	lib, err := engine.Open(context.Background(), dir, engine.Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	return lib
}

func newCoordinator(t *testing.T, nc *nats.Conn, lib *engine.Library, q QueueOptions) *Coordinator {
	t.Helper()
	m := lib.Model()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := NewCoordinator(ctx, nc, CoordinatorOptions{Queue: q, Model: LibraryModel(m)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runWorker runs a worker until the test ends (or its ctx is cancelled) and
// returns the channel its Run's error arrives on.
func runWorker(t *testing.T, ctx context.Context, nc *nats.Conn, opt WorkerOptions) (*Worker, <-chan error) {
	t.Helper()
	if opt.Model == "" {
		opt.Model = tinyModel
	}
	if opt.Streams == 0 {
		opt.Streams = 1
	}
	if opt.Batch == 0 {
		opt.Batch = 4
	}
	w, err := NewWorker(nc, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	stopped := make(chan struct{})
	go func() { errc <- w.Run(ctx); close(stopped) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(20 * time.Second):
			t.Error("worker did not stop")
		}
		w.Close()
	})
	return w, errc
}

// checkExactlyOnce checks that the library holds every path once, with the
// vector a local ingest computes.
func checkExactlyOnce(t *testing.T, lib *engine.Library, paths []string) {
	t.Helper()
	items, err := lib.Vectors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := libtest.Vectors(t, tinyModel, paths)
	seen := map[string]int{}
	for _, it := range items {
		seen[it.Path]++
		w, ok := want[it.Path]
		if !ok {
			t.Errorf("unexpected item %s", it.Path)
			continue
		}
		for i := range w {
			if math.Abs(float64(w[i]-it.Vector[i])) > 1e-5 {
				t.Errorf("%s: vector %v, a local ingest gives %v", it.Path, it.Vector, w)
				break
			}
		}
	}
	for _, p := range paths {
		if seen[p] != 1 {
			t.Errorf("%s is in the library %d times, want once", p, seen[p])
		}
	}
	if len(items) != len(paths) {
		t.Errorf("%d items, want %d", len(items), len(paths))
	}
}

// TestFourWorkersOneKilled runs an ingest over 4 workers, one of which dies
// (its connection closes) holding a decoded batch it never acknowledged: its
// items are delivered again to the others and every file ends up in the
// library exactly once, with the vector a local ingest computes.
func TestFourWorkersOneKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := startServer(t, ServerOptions{})
	dir, paths := photos(t, 40)
	lib := openLibrary(t, t.TempDir())
	coord := newCoordinator(t, connect(t, srv.ClientURL()), lib, QueueOptions{AckWait: 2 * time.Second})

	type out struct {
		rep engine.IngestReport
		err error
	}
	done := make(chan out, 1)
	go func() {
		rep, err := lib.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord, BatchSize: 8})
		done <- out{rep, err}
	}()

	// The first worker takes a batch, decodes it and dies before answering.
	victim := connect(t, srv.ClientURL())
	killed := make(chan struct{})
	var once sync.Once
	vw, verr := runWorker(t, ctx, victim, WorkerOptions{Name: "victim", testHookEncode: func() {
		once.Do(func() { victim.Close(); close(killed) })
	}})
	select {
	case <-killed:
	case <-ctx.Done():
		t.Fatal("the victim never got a batch")
	}
	for i := range 3 {
		runWorker(t, ctx, connect(t, srv.ClientURL()), WorkerOptions{Name: fmt.Sprintf("w%d", i)})
	}
	got := <-done
	if got.err != nil {
		t.Fatal(got.err)
	}
	if got.rep.Indexed != len(paths) || got.rep.Failed != 0 {
		t.Errorf("report: indexed %d failed %d, want %d and 0", got.rep.Indexed, got.rep.Failed, len(paths))
	}
	select {
	case err := <-verr:
		if !errors.Is(err, nats.ErrConnectionClosed) {
			t.Errorf("killed worker's Run: %v, want connection closed", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("killed worker's Run did not return")
	}
	if n := vw.Stats().Items; n != 0 {
		t.Errorf("killed worker answered %d items, want 0", n)
	}
	if s := coord.Stats(); s.Published != len(paths) || s.Results != len(paths) {
		t.Errorf("coordinator stats %+v, want %d published and answered", s, len(paths))
	}
	checkExactlyOnce(t, lib, paths)
}

// TestPoisonedFileGivesUp: a file whose worker dies on every delivery is
// recorded as a failure on its last delivery, and the run completes.
func TestPoisonedFileGivesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServer(t, ServerOptions{})
	dir, paths := photos(t, 3)
	lib := openLibrary(t, t.TempDir())
	coord := newCoordinator(t, connect(t, srv.ClientURL()), lib, QueueOptions{AckWait: time.Second, MaxDeliver: 2})
	done := make(chan error, 1)
	var rep engine.IngestReport
	go func() {
		var err error
		rep, err = lib.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord})
		done <- err
	}()
	victim := connect(t, srv.ClientURL())
	killed := make(chan struct{})
	var once sync.Once
	runWorker(t, ctx, victim, WorkerOptions{Batch: 1, testHookEncode: func() {
		once.Do(func() { victim.Close(); close(killed) })
	}})
	<-killed
	runWorker(t, ctx, connect(t, srv.ClientURL()), WorkerOptions{Batch: 1})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	errs, err := lib.Errors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Reason, "gave up after 1 deliveries") {
		t.Fatalf("errors %+v, want one file given up after 1 delivery", errs)
	}
	if rep.Indexed != len(paths)-1 || rep.Failed != 1 {
		t.Errorf("report: indexed %d failed %d, want %d and 1", rep.Indexed, rep.Failed, len(paths)-1)
	}
}

// TestCoordinatorRestartResumes stops a coordinator part-way (its server
// too) and starts another on the same store: the files applied before are
// unchanged (same ids, not applied again), the rest are done, each once.
func TestCoordinatorRestartResumes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	storeDir := t.TempDir()
	srv := startServer(t, ServerOptions{StoreDir: storeDir})
	dir, paths := photos(t, 30)
	libDir := t.TempDir()
	lib := openLibrary(t, libDir)

	wctx, stopWorker := context.WithCancel(ctx)
	// A slow worker, so that the stop comes before the end.
	runWorker(t, wctx, connect(t, srv.ClientURL()), WorkerOptions{Batch: 2, testHookEncode: func() { time.Sleep(50 * time.Millisecond) }})
	coord := newCoordinator(t, connect(t, srv.ClientURL()), lib, QueueOptions{AckWait: 2 * time.Second})
	first, stop := context.WithCancel(ctx)
	rep1, err := lib.Ingest(first, []string{dir}, engine.IngestOptions{Remote: coord, BatchSize: 2,
		Progress: func(p engine.Progress) {
			if p.Done >= 8 {
				stop()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want cancelled", err)
	}
	before, err := lib.Vectors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) < 8 || len(before) >= len(paths) {
		t.Fatalf("first run applied %d files (report %+v), want 8 to %d", len(before), rep1, len(paths)-1)
	}
	stopWorker()
	srv.Shutdown()

	// The restart: a new server on the same JetStream store, a new
	// coordinator, a worker.
	srv2 := startServer(t, ServerOptions{StoreDir: storeDir})
	runWorker(t, ctx, connect(t, srv2.ClientURL()), WorkerOptions{})
	coord2 := newCoordinator(t, connect(t, srv2.ClientURL()), lib, QueueOptions{AckWait: 2 * time.Second})
	rep2, err := lib.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord2})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Unchanged != len(before) || rep2.Indexed != len(paths)-len(before) {
		t.Errorf("second run: unchanged %d indexed %d, want %d and %d", rep2.Unchanged, rep2.Indexed, len(before), len(paths)-len(before))
	}
	if s := coord2.Stats(); s.Published != len(paths)-len(before) {
		t.Errorf("second run published %d items, want only the %d left", s.Published, len(paths)-len(before))
	}
	after, err := lib.Vectors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, it := range after {
		ids[it.Path] = it.ID
	}
	for _, it := range before {
		if ids[it.Path] != it.ID {
			t.Errorf("%s: id %d before the restart, %d after", it.Path, it.ID, ids[it.Path])
		}
	}
	checkExactlyOnce(t, lib, paths)
}

// TestThreeServerCluster runs the ingest on a JetStream cluster of three
// embedded servers with streams replicated 3 times; the coordinator and the
// workers talk to different servers.
func TestThreeServerCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	ports := []int{porttest.FreeLoopback(t), porttest.FreeLoopback(t), porttest.FreeLoopback(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*Server
	for i, p := range ports {
		servers = append(servers, startServer(t, ServerOptions{Name: fmt.Sprintf("n%d", i), ClusterName: "mmsearch-test",
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", p), Routes: routes}))
	}
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if err := WaitJetStream(wctx, servers...); err != nil {
		t.Fatal(err)
	}
	dir, paths := photos(t, 20)
	lib := openLibrary(t, t.TempDir())
	nc := connect(t, servers[0].ClientURL())
	coord := newCoordinator(t, nc, lib, QueueOptions{Replicas: 3, AckWait: 5 * time.Second})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, coord.opt.Names.WorkStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("work stream config replicas %d, cluster %+v: want a leader and 2 replicas", info.Config.Replicas, info.Cluster)
	}
	runWorker(t, ctx, connect(t, servers[1].ClientURL()), WorkerOptions{})
	runWorker(t, ctx, connect(t, servers[2].ClientURL()), WorkerOptions{})
	rep, err := lib.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != len(paths) {
		t.Errorf("indexed %d, want %d", rep.Indexed, len(paths))
	}
	checkExactlyOnce(t, lib, paths)
}

// TestWorkerModelMismatch: a worker whose model is not the library's is
// refused before it takes any item; a worker with the right one does them.
func TestWorkerModelMismatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServer(t, ServerOptions{})
	dir, paths := photos(t, 5)
	lib := openLibrary(t, t.TempDir())
	coord := newCoordinator(t, connect(t, srv.ClientURL()), lib, QueueOptions{})
	done := make(chan error, 1)
	go func() {
		_, err := lib.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord})
		done <- err
	}()
	wrong, errc := runWorker(t, ctx, connect(t, srv.ClientURL()), WorkerOptions{Model: tiny2Model})
	expectRefusal(t, ctx, errc, "worker with another model", "a refusal for the model mismatch", func(err error) bool {
		return errors.Is(err, store.ErrModelMismatch) && strings.Contains(err.Error(), "worker refused")
	})
	if n := wrong.Stats().Items; n != 0 {
		t.Errorf("refused worker answered %d items", n)
	}
	runWorker(t, ctx, connect(t, srv.ClientURL()), WorkerOptions{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, lib, paths)

	// A worker that reads the files from the coordinator is refused a job
	// whose coordinator serves none.
	dir2, _ := photos(t, 2)
	lib2 := openLibrary(t, t.TempDir())
	coord2 := newCoordinator(t, connect(t, srv.ClientURL()), lib2, QueueOptions{})
	ctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	go func() { _, _ = lib2.Ingest(ctx2, []string{dir2}, engine.IngestOptions{Remote: coord2}) }()
	_, errc = runWorker(t, ctx, connect(t, srv.ClientURL()), WorkerOptions{ReadFromCoordinator: true})
	expectRefusal(t, ctx, errc, "worker reading from a coordinator that serves no files", "ErrNoFileServer", func(err error) bool {
		return errors.Is(err, ErrNoFileServer)
	})
}

// expectRefusal waits for a worker's Run to end with an error that ok
// accepts.
func expectRefusal(t *testing.T, ctx context.Context, errc <-chan error, who, want string, ok func(error) bool) {
	t.Helper()
	select {
	case err := <-errc:
		if !ok(err) {
			t.Fatalf("%s: %v, want %s", who, err, want)
		}
	case <-ctx.Done():
		t.Fatalf("%s was not refused", who)
	}
}

// TestWorkerDrains: cancelling a worker's context mid-batch (SIGTERM)
// finishes and acknowledges the batch in hand, then Run returns nil.
func TestWorkerDrains(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServer(t, ServerOptions{})
	dir, paths := photos(t, 12)
	lib := openLibrary(t, t.TempDir())
	coord := newCoordinator(t, connect(t, srv.ClientURL()), lib, QueueOptions{})
	done := make(chan error, 1)
	go func() {
		_, err := lib.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord})
		done <- err
	}()
	wctx, term := context.WithCancel(ctx)
	var once sync.Once
	drained, errc := runWorker(t, wctx, connect(t, srv.ClientURL()), WorkerOptions{Batch: 4, testHookEncode: func() { once.Do(term) }})
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("drained worker: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("drained worker did not return")
	}
	if n := drained.Stats().Items; n != 4 {
		t.Errorf("drained worker answered %d items, want its batch of 4", n)
	}
	runWorker(t, ctx, connect(t, srv.ClientURL()), WorkerOptions{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, lib, paths)
}

// TestSecurity: a non-loopback address without credentials is refused, for
// clients and for the embedded server; a server on all interfaces with a
// token refuses clients without it.
func TestSecurity(t *testing.T) {
	for _, tc := range []struct {
		urls    string
		cr      Credentials
		wantErr error
		errText string
	}{
		{urls: "nats://127.0.0.1:4222"},
		{urls: "localhost:4222"},
		{urls: "nats://[::1]:4222"},
		{urls: "nats://10.0.0.5:4222", wantErr: ErrInsecure},
		{urls: "nats://127.0.0.1:4222,nats://nats.example:4222", wantErr: ErrInsecure},
		{urls: "nats://10.0.0.5:4222", cr: Credentials{Token: "s3cret"}},
		{urls: "tls://10.0.0.5:4222", cr: Credentials{CredsFile: "user.creds"}},
		{urls: "nats://me:pw@10.0.0.5:4222"},
		{urls: "http://127.0.0.1:4222", errText: "unknown scheme"},
	} {
		err := CheckURLs(tc.urls, tc.cr)
		switch {
		case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
			t.Errorf("CheckURLs(%q): %v, want %v", tc.urls, err, tc.wantErr)
		case tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)):
			t.Errorf("CheckURLs(%q): %v, want an error with %q", tc.urls, err, tc.errText)
		case tc.wantErr == nil && tc.errText == "" && err != nil:
			t.Errorf("CheckURLs(%q): %v", tc.urls, err)
		}
	}
	if _, err := Connect("nats://192.0.2.1:4222", Credentials{}, "t", nil); !errors.Is(err, ErrInsecure) {
		t.Errorf("Connect to a non-loopback address without credentials: %v, want ErrInsecure", err)
	}
	if _, err := StartServer(ServerOptions{Listen: "0.0.0.0:0", StoreDir: t.TempDir()}); !errors.Is(err, ErrInsecure) {
		t.Errorf("embedded server on all interfaces without a token: %v, want ErrInsecure", err)
	}
	token, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, ServerOptions{Listen: "0.0.0.0:0", Token: token})
	port := srv.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	if nc, err := Connect(url, Credentials{}, "t", nil); err == nil {
		nc.Close()
		t.Error("a client without the token was let in")
	}
	nc, err := Connect(url, Credentials{Token: token}, "t", nil)
	if err != nil {
		t.Fatalf("client with the token: %v", err)
	}
	nc.Close()
}

// TestRemoteResult: results are checked before they reach the library.
func TestRemoteResult(t *testing.T) {
	model := store.Model{Name: "m", Dim: 2, Fingerprint: "fp"}
	c := &Coordinator{opt: CoordinatorOptions{Model: model}}
	job := engine.RemoteJob{Path: "/p.png", Size: 3, MtimeNs: 4}
	hash := strings.Repeat("ab", 32)
	good := vectorBytes([]float32{0.6, 0.8})
	for _, tc := range []struct {
		name   string
		res    Result
		reason string // "" = a vector
	}{
		{"ok", Result{Model: "fp", Hash: hash, Vector: good}, ""},
		{"other model", Result{Model: "other", Worker: "w", Hash: hash, Vector: good}, "model fingerprint other"},
		{"short vector", Result{Model: "fp", Hash: hash, Vector: good[:4]}, "vector of 4 bytes"},
		{"not finite", Result{Model: "fp", Hash: hash, Vector: vectorBytes([]float32{float32(math.NaN()), 1})}, "not finite"},
		{"bad hash", Result{Model: "fp", Hash: "zz", Vector: good}, "not a hex SHA-256"},
		{"failure", Result{Error: &Failure{Stage: store.StageDecode, Class: store.ClassContent, Reason: "corrupt"}}, "corrupt"},
		{"unknown stage", Result{Error: &Failure{Stage: "x", Class: store.ClassContent, Reason: "odd"}}, "unknown stage"},
		{"negative size", Result{Model: "fp", Hash: hash, Vector: good, Width: -1, Height: 2}, "out of range"},
		{"long format", Result{Model: "fp", Hash: hash, Vector: good, Format: strings.Repeat("x", 100)}, "out of range"},
		{"bad metadata", Result{Model: "fp", Hash: hash, Vector: good, Meta: &store.Metadata{TimeSource: "sundial"}}, "metadata: unknown time source"},
		{"bad GPS", Result{Model: "fp", Hash: hash, Vector: good, Meta: &store.Metadata{GPS: &store.GPS{Lat: 91}}}, "out of range"},
	} {
		rr := c.remoteResult(job, tc.res)
		if tc.reason == "" {
			if rr.Err != nil || len(rr.Vector) != 2 {
				t.Errorf("%s: %+v, want a vector", tc.name, rr)
			}
			continue
		}
		if rr.Err == nil || !strings.Contains(rr.Err.Reason, tc.reason) || rr.Vector != nil {
			t.Errorf("%s: %+v, want a failure with %q", tc.name, rr.Err, tc.reason)
		}
	}
	// A worker's long reason is cut to maxReason bytes (and a mark).
	rr := c.remoteResult(job, Result{Error: &Failure{Stage: store.StageDecode, Class: store.ClassContent, Reason: strings.Repeat("é", maxReason)}})
	if rr.Err == nil || len(rr.Err.Reason) > maxReason+len("…") || !strings.HasSuffix(rr.Err.Reason, "…") {
		t.Errorf("long reason: %d bytes, want at most %d ending with …", len(rr.Err.Reason), maxReason+len("…"))
	}
	// Valid metadata comes through.
	meta := store.Metadata{TimeSource: store.TimeMtime, CaptureTime: time.Unix(1700000000, 0), CameraMake: "Acme"}
	if rr := c.remoteResult(job, Result{Model: "fp", Hash: hash, Vector: good, Meta: &meta}); rr.Err != nil || rr.Meta.CameraMake != "Acme" {
		t.Errorf("metadata: %+v, %+v", rr.Err, rr.Meta)
	}
}

// TestRemoteMatchesLocal indexes a folder with a corrupt JPEG, an empty
// file, a sidecar and photos with EXIF metadata through a worker, and the
// same folder with a local ingest: the failures recorded (path, stage,
// class, reason), the files skipped, the items' vectors, image facts and
// metadata are the same, the run goes on past the bad files, and the last
// progress report counts every queued file done.
func TestRemoteMatchesLocal(t *testing.T) {
	for _, fromCoordinator := range []bool{false, true} {
		name := "files mounted"
		if fromCoordinator {
			name = "files read from the coordinator"
		}
		t.Run(name, func(t *testing.T) { testRemoteMatchesLocal(t, fromCoordinator) })
	}
}

// testRemoteMatchesLocal: see TestRemoteMatchesLocal; with fromCoordinator
// the worker reads every file over HTTP from the coordinator's file server.
func testRemoteMatchesLocal(t *testing.T, fromCoordinator bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := startServer(t, ServerOptions{})
	dir, paths := photos(t, 6)
	jpg := imagetest.JPEG(t, imagetest.Pattern(7, 40, 30), 90)
	exifJPG := imagetest.WithEXIFBlock(jpg, imagetest.EXIFBlock(imagetest.EXIF{Make: "Acme", Model: "Phone 9",
		DateTimeOriginal: "2024:05:06 07:08:09", OffsetTimeOriginal: "+02:00", GPS: &[2]float64{48.85, 2.35}}))
	noOffset := imagetest.WithEXIFBlock(imagetest.JPEG(t, imagetest.Pattern(8, 30, 40), 90),
		imagetest.EXIFBlock(imagetest.EXIF{DateTimeOriginal: "2023:01:02 03:04:05"}))
	for name, data := range map[string][]byte{
		"exif.jpg":      exifJPG,
		"no-offset.jpg": noOffset,
		"corrupt.jpg":   jpg[:len(jpg)/3],
		"empty.png":     nil,
		"photo.xmp":     []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>`),
	} {
		imagetest.Write(t, filepath.Join(dir, name), data)
	}
	paths = append(paths, filepath.Join(dir, "exif.jpg"), filepath.Join(dir, "no-offset.jpg"))
	// A zone other than the machine's, so that a worker reading the
	// offset-less time in its own zone would be caught.
	loc := time.FixedZone("test-zone", -5*3600)
	open := func() *engine.Library {
		lib, err := engine.Open(ctx, t.TempDir(), engine.Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}, Location: loc})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lib.Close() })
		return lib
	}
	local, remote := open(), open()
	localRep, err := local.Ingest(ctx, []string{dir}, engine.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var files *FileServer
	if fromCoordinator {
		files = startFileServer(t)
	}
	coord, err := NewCoordinator(ctx, connect(t, srv.ClientURL()), CoordinatorOptions{Location: loc, Model: LibraryModel(remote.Model()), Files: files})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, ctx, connect(t, srv.ClientURL()), WorkerOptions{ReadFromCoordinator: fromCoordinator})
	var mu sync.Mutex
	var last engine.Progress
	rep, err := remote.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord,
		Progress: func(p engine.Progress) { mu.Lock(); last = p; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != len(paths) || rep.Failed != 2 || rep.Found != localRep.Found {
		t.Errorf("remote report: found %d indexed %d failed %d, want %d, %d and 2", rep.Found, rep.Indexed, rep.Failed, localRep.Found, len(paths))
	}
	if fmt.Sprint(rep.SkippedByKind) != fmt.Sprint(localRep.SkippedByKind) || len(rep.SkippedByKind) == 0 {
		t.Errorf("remote skipped %v, local %v", rep.SkippedByKind, localRep.SkippedByKind)
	}
	mu.Lock()
	if last.Walking || last.Queued == 0 || last.Done != last.Queued || last.Failed != 2 {
		t.Errorf("last progress %+v: want the walk over and every queued file done, 2 failed", last)
	}
	mu.Unlock()

	errsOf := func(lib *engine.Library) []string {
		errs, err := lib.Errors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range errs {
			out = append(out, fmt.Sprintf("%s %s %s %s", e.Path, e.Stage, e.Class, e.Reason))
		}
		return out
	}
	le, re := errsOf(local), errsOf(remote)
	if len(re) != 2 || strings.Join(le, "\n") != strings.Join(re, "\n") {
		t.Errorf("remote failures:\n%s\nlocal failures:\n%s", strings.Join(re, "\n"), strings.Join(le, "\n"))
	}
	checkExactlyOnce(t, remote, paths)
	// Every file read whole went over HTTP: the pictures, the corrupt JPEG
	// and the empty PNG (the sidecar is known from its first bytes).
	if fromCoordinator {
		waitSent(t, files, int64(len(paths)+2))
	}

	type fact struct {
		engine.Metadata
		Vector string
	}
	factsOf := func(lib *engine.Library) map[string]fact {
		items, err := lib.Vectors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		md, err := lib.ItemMetadata(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]fact{}
		for _, it := range items {
			out[it.Path] = fact{Metadata: md[it.ID], Vector: fmt.Sprintf("%.5f", it.Vector)}
		}
		return out
	}
	lf, rf := factsOf(local), factsOf(remote)
	for _, p := range paths {
		l, r := lf[p], rf[p]
		if !l.CaptureTime.Equal(r.CaptureTime) || l.TimeSource != r.TimeSource || l.CameraMake != r.CameraMake ||
			l.CameraModel != r.CameraModel || fmt.Sprint(l.GPS) != fmt.Sprint(r.GPS) || l.Width != r.Width ||
			l.Height != r.Height || l.Format != r.Format || l.Vector != r.Vector {
			t.Errorf("%s: remote %+v, local %+v", filepath.Base(p), r, l)
		}
	}
	if e := rf[filepath.Join(dir, "exif.jpg")]; e.CameraModel != "Phone 9" || e.TimeSource != store.TimeEXIF || e.GPS == nil {
		t.Errorf("exif.jpg metadata %+v: want the camera, the EXIF time and the GPS position", e.Metadata)
	}
	if e := rf[filepath.Join(dir, "no-offset.jpg")]; e.TimeSource != store.TimeEXIFNoOffset || e.CaptureTime.Hour() != 3 {
		t.Errorf("no-offset.jpg metadata %+v: want 03:04:05 read in the library's zone", e.Metadata)
	}

	// --refresh-metadata on unchanged files reads their metadata in the
	// coordinator's process: nothing is published to the workers.
	published := coord.Stats().Published
	rep3, err := remote.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord, RefreshMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep3.MetadataRead != len(paths) || rep3.Indexed != 0 || coord.Stats().Published != published {
		t.Errorf("refresh: metadata read %d, indexed %d, published %d more; want %d, 0 and 0",
			rep3.MetadataRead, rep3.Indexed, coord.Stats().Published-published, len(paths))
	}
	if e := factsOf(remote)[filepath.Join(dir, "exif.jpg")]; e.CameraModel != "Phone 9" {
		t.Errorf("exif.jpg metadata after the refresh %+v", e.Metadata)
	}
}

// TestWorkerIdleExit: a worker with IdleExit answers the run's items, then
// leaves on its own (Run returns nil) once the queue stays empty.
func TestWorkerIdleExit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServer(t, ServerOptions{})
	dir, paths := photos(t, 5)
	lib := openLibrary(t, t.TempDir())
	coord := newCoordinator(t, connect(t, srv.ClientURL()), lib, QueueOptions{})
	w, errc := runWorker(t, ctx, connect(t, srv.ClientURL()), WorkerOptions{IdleExit: 500 * time.Millisecond})
	if _, err := lib.Ingest(ctx, []string{dir}, engine.IngestOptions{Remote: coord}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("idle worker's Run: %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("idle worker did not leave")
	}
	if s := w.Stats(); s.Items != len(paths) || s.Embedded != len(paths) {
		t.Errorf("worker stats %+v, want %d items embedded", s, len(paths))
	}
	checkExactlyOnce(t, lib, paths)
}
