package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mmsearch/encoders"
)

// tinyDir is the encoders package's closed-form test model (a folder in the
// mmsearch layout, with model.json).
const tinyDir = "../encoders/testdata/tiny"

var tinyFiles = []string{"model.json", "vision_model.onnx", "text_model.onnx", "vocab.json", "merges.txt"}

// startRuntime starts ONNX Runtime or fails with the set-up hint.
func startRuntime(t testing.TB) {
	t.Helper()
	if _, err := encoders.StartRuntime(encoders.RuntimeOptions{}); err != nil {
		if errors.Is(err, encoders.ErrNoLibrary) {
			t.Fatalf("%v (make test runs make setup first)", err)
		}
		t.Fatal(err)
	}
}

// serveTiny serves the tiny model under /tiny/ and returns a registry with
// one mmsearch-layout entry "tiny" whose files carry their true sizes and digests.
func serveTiny(t testing.TB) (*fileServer, *Registry) {
	t.Helper()
	fs := newFileServer(t)
	e := Entry{Name: "tiny", Description: "closed-form test model", Layout: LayoutMMSearch, Dimension: 4, ImageSize: 8, ContextLength: 8, Source: "encoders/testdata/tiny"}
	for _, name := range tinyFiles {
		data, err := os.ReadFile(filepath.Join(tinyDir, name))
		if err != nil {
			t.Fatalf("test model: %v", err)
		}
		fs.add("/tiny/"+name, data)
		e.Files = append(e.Files, FileSpec{Path: name, URL: fs.url("/tiny/" + name), Size: int64(len(data)), SHA256: sha(data), Source: "test"})
	}
	reg := &Registry{Schema: RegistrySchema, Models: []Entry{e}, Location: "test"}
	if err := reg.Validate(); err != nil {
		t.Fatal(err)
	}
	return fs, reg
}

func fileOf(e *Entry, path string) *FileSpec {
	for i := range e.Files {
		if e.Files[i].Path == path {
			return &e.Files[i]
		}
	}
	panic("no file " + path)
}

func assertNotInstalled(t *testing.T, h *Hub, name string) {
	t.Helper()
	final := filepath.Join(h.ModelsDir(), name)
	if _, err := os.Lstat(final); !os.IsNotExist(err) {
		t.Fatalf("%s exists after a failed pull (err %v)", final, err)
	}
	if _, err := h.resolve(name); err == nil {
		t.Fatalf("the failed model %s resolves", name)
	}
}

// TestPullInstallsOnlyVerifiedModel pulls the tiny model and checks, at every
// progress report and hook point and from a concurrent observer, that the
// final folder does not exist before verification, and that whenever it
// exists it is complete.
func TestPullInstallsOnlyVerifiedModel(t *testing.T) {
	startRuntime(t)
	fs, reg := serveTiny(t)
	h := testHub(t, fs)
	final := filepath.Join(h.ModelsDir(), "tiny")

	var stages []string
	h.hook = func(stage, dir string) {
		stages = append(stages, stage)
		_, err := os.Stat(dir)
		if stage == "installed" {
			if err != nil {
				t.Errorf("hook %s: final folder missing: %v", stage, err)
			}
		} else if !os.IsNotExist(err) {
			t.Errorf("hook %s: final folder exists before installation (err %v)", stage, err)
		}
	}
	stop := make(chan struct{})
	var observed, broken atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if m, err := encoders.ReadManifest(final); err == nil {
				observed.Add(1)
				if err := encoders.VerifyFiles(final, m); err != nil {
					broken.Add(1)
				}
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	var reports int
	var phases []string
	res, err := h.Pull(context.Background(), reg, "tiny", PullOptions{Progress: func(p Progress) {
		reports++
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Model != "tiny" {
			t.Errorf("progress for model %q", p.Model)
		}
		if p.Phase == PhaseDownload && (p.Done > p.Total || p.Index < 1 || p.Index > p.Count) {
			t.Errorf("bad progress %+v", p)
		}
		if _, err := os.Stat(final); !os.IsNotExist(err) {
			t.Errorf("final folder exists during %s (err %v)", p.Phase, err)
		}
	}})
	if err == nil {
		// Let the observer see the installed model at least once.
		for deadline := time.Now().Add(5 * time.Second); observed.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if observed.Load() == 0 {
		t.Error("the observer never saw the installed model")
	}
	if got := strings.Join(stages, ","); got != "downloaded,verified,installed" {
		t.Errorf("hook stages %s", got)
	}
	if got := strings.Join(phases, ","); got != "download,verify,install" {
		t.Errorf("progress phases %s", got)
	}
	if broken.Load() != 0 {
		t.Errorf("the observer saw an incomplete model %d times", broken.Load())
	}
	if res.Dir != final || len(res.Files) != len(tinyFiles) || len(res.TrustedOnFirstUse) != 0 {
		t.Errorf("result %+v", res)
	}
	m, err := encoders.OpenModel(final, encoders.RuntimeOptions{})
	if err != nil {
		t.Fatalf("open the pulled model: %v", err)
	}
	if m.Dim() != 4 {
		t.Errorf("dim %d", m.Dim())
	}
	dir, err := h.resolve("tiny")
	if err != nil || dir != final {
		t.Errorf("ResolveModel: %q, %v", dir, err)
	}
	prov, err := readProvenance(final)
	if err != nil || prov == nil {
		t.Fatalf("provenance: %v", err)
	}
	for _, f := range prov.Files {
		if f.Checksum != ChecksumPublished || f.SHA256 != fileOf(&reg.Models[0], f.Path).SHA256 {
			t.Errorf("provenance %+v", f)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(h.ModelsDir(), stagingDir)); len(ents) != 1 || ents[0].Name() != "tiny.lock" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("staging folder holds %v after success, want only the lock file", names)
	}
}

// TestPullResumesInterruptedDownload: the server cuts vision_model.onnx the
// first time and the first pull gives up; the second pull asks only for the
// missing bytes of that file and re-downloads nothing completed.
func TestPullResumesInterruptedDownload(t *testing.T) {
	startRuntime(t)
	fs, reg := serveTiny(t)
	fs.dropAfter["/tiny/vision_model.onnx"] = 1000
	h := testHub(t, fs)
	h.MaxRetries = 1
	_, err := h.Pull(context.Background(), reg, "tiny", PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "giving up") {
		t.Fatalf("first pull: %v", err)
	}
	assertNotInstalled(t, h, "tiny")
	part := filepath.Join(h.ModelsDir(), stagingDir, "tiny", "tree", "vision_model.onnx.part")
	if n := fileSize(part); n != 1000 {
		t.Fatalf("part holds %d bytes, want 1000", n)
	}
	if _, err := h.Pull(context.Background(), reg, "tiny", PullOptions{}); err != nil {
		t.Fatalf("second pull: %v", err)
	}
	if got := rangesOf(fs.log(), "/tiny/vision_model.onnx"); len(got) != 2 || got[0] != "" || got[1] != "bytes=1000-" {
		t.Errorf("vision ranges %q", got)
	}
	if got := rangesOf(fs.log(), "/tiny/model.json"); len(got) != 1 {
		t.Errorf("model.json fetched %d times; a completed file must not be fetched again", len(got))
	}
	if _, err := encoders.OpenModel(filepath.Join(h.ModelsDir(), "tiny"), encoders.RuntimeOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPullFailuresInstallNothing(t *testing.T) {
	startRuntime(t)
	tests := []struct {
		name    string
		modify  func(fs *fileServer, e *Entry, h *Hub)
		wantErr error
		want    string
		check   func(t *testing.T, h *Hub)
	}{
		{
			name: "wrong checksum",
			modify: func(fs *fileServer, e *Entry, h *Hub) {
				fileOf(e, "text_model.onnx").SHA256 = sha([]byte("not the model"))
			},
			wantErr: ErrChecksum,
			check: func(t *testing.T, h *Hub) {
				bad := filepath.Join(h.ModelsDir(), stagingDir, "tiny", "tree", "text_model.onnx")
				for _, p := range []string{bad, bad + ".part"} {
					if _, err := os.Stat(p); !os.IsNotExist(err) {
						t.Errorf("%s kept after a checksum mismatch", p)
					}
				}
			},
		},
		{
			name:    "404",
			modify:  func(fs *fileServer, e *Entry, h *Hub) { fileOf(e, "merges.txt").URL = fs.url("/tiny/gone.txt") },
			wantErr: ErrNotFound,
		},
		{
			name:    "registry size smaller than the file",
			modify:  func(fs *fileServer, e *Entry, h *Hub) { fileOf(e, "vision_model.onnx").Size = 100 },
			wantErr: ErrTooLarge,
		},
		{
			name: "global cap",
			modify: func(fs *fileServer, e *Entry, h *Hub) {
				f := fileOf(e, "vision_model.onnx")
				f.Size, f.SHA256, f.Verify = 0, "", VerifyTrustOnFirstUse
				h.MaxFileBytes = 2000
			},
			wantErr: ErrTooLarge,
		},
		{
			name: "disk full",
			modify: func(fs *fileServer, e *Entry, h *Hub) {
				h.openPart = func(path string, truncate bool) (partFile, error) {
					f, err := openPartFile(path, truncate)
					if err != nil {
						return nil, err
					}
					return &enospcFile{f: f.(*os.File), limit: 100}, nil
				}
			},
			wantErr: syscall.ENOSPC,
		},
		{
			name:   "registry disagrees with the model",
			modify: func(fs *fileServer, e *Entry, h *Hub) { e.Dimension = 8 },
			want:   "registry says dimension 8",
		},
		{
			name: "checksums required",
			modify: func(fs *fileServer, e *Entry, h *Hub) {
				f := fileOf(e, "vocab.json")
				f.SHA256, f.Verify = "", VerifyTrustOnFirstUse
			},
			wantErr: ErrUnverified,
			check: func(t *testing.T, h *Hub) {
				if _, err := os.Stat(filepath.Join(h.ModelsDir(), stagingDir, "tiny")); !os.IsNotExist(err) {
					t.Errorf("something was downloaded although checksums are required")
				}
			},
		},
		{
			name: "unknown model",
			modify: func(fs *fileServer, e *Entry, h *Hub) {
				e.Name = "other"
			},
			wantErr: ErrUnknownModel,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, reg := serveTiny(t)
			h := testHub(t, fs)
			tc.modify(fs, &reg.Models[0], h)
			_, err := h.Pull(context.Background(), reg, "tiny", PullOptions{RequireChecksums: tc.wantErr == ErrUnverified})
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err %v, want one saying %q", err, tc.want)
			}
			assertNotInstalled(t, h, "tiny")
			if tc.check != nil {
				tc.check(t, h)
			}
		})
	}
}

func TestPullTrustOnFirstUse(t *testing.T) {
	startRuntime(t)
	fs, reg := serveTiny(t)
	f := fileOf(&reg.Models[0], "vocab.json")
	want := f.SHA256
	f.SHA256, f.Verify, f.Size = "", VerifyTrustOnFirstUse, 0
	h := testHub(t, fs)
	res, err := h.Pull(context.Background(), reg, "tiny", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TrustedOnFirstUse) != 1 || res.TrustedOnFirstUse[0].Path != "vocab.json" || res.TrustedOnFirstUse[0].SHA256 != want {
		t.Fatalf("trusted on first use: %+v", res.TrustedOnFirstUse)
	}
	prov, err := readProvenance(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, pf := range prov.Files {
		wantKind := ChecksumPublished
		if pf.Path == "vocab.json" {
			wantKind = ChecksumFirstUse
		}
		if pf.Checksum != wantKind {
			t.Errorf("%s recorded as %q, want %q", pf.Path, pf.Checksum, wantKind)
		}
	}
	// The recorded digest now guards the file.
	if err := os.WriteFile(filepath.Join(res.Dir, "vocab.json"), []byte(`{"tampered": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Verify(context.Background(), "tiny"); !errors.Is(err, ErrChecksum) {
		t.Fatalf("verify after tampering: %v, want ErrChecksum", err)
	}
}

func TestPullExistingModelAndLock(t *testing.T) {
	startRuntime(t)
	fs, reg := serveTiny(t)
	h := testHub(t, fs)
	if _, err := h.Pull(context.Background(), reg, "tiny", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Pull(context.Background(), reg, "tiny", PullOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second pull: %v, want ErrExists", err)
	}
	marker := filepath.Join(h.ModelsDir(), "tiny", "marker")
	os.WriteFile(marker, []byte("old"), 0o644)
	if _, err := h.Pull(context.Background(), reg, "tiny", PullOptions{Force: true}); err != nil {
		t.Fatalf("forced pull: %v", err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Error("the forced pull kept the old folder's files")
	}
	if ents, _ := os.ReadDir(filepath.Join(h.ModelsDir(), stagingDir)); len(ents) != 1 {
		t.Errorf("staging folder holds %d entries after a forced pull, want the lock only", len(ents))
	}
	unlock, err := h.lock("other")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	reg.Models[0].Name = "other"
	if _, err := h.Pull(context.Background(), reg, "other", PullOptions{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("pull while locked: %v, want ErrBusy", err)
	}
}

// TestPullDiscardsStaleStaging: a staging folder left by a different
// registry entry (another revision) is not mixed into the new pull.
func TestPullDiscardsStaleStaging(t *testing.T) {
	startRuntime(t)
	fs, reg := serveTiny(t)
	h := testHub(t, fs)
	stale := filepath.Join(h.ModelsDir(), stagingDir, "tiny")
	os.MkdirAll(filepath.Join(stale, "tree"), 0o755)
	os.WriteFile(filepath.Join(stale, "entry.json"), []byte(`{"name":"tiny","revision":"old"}`), 0o644)
	os.WriteFile(filepath.Join(stale, "tree", "vocab.json"), []byte("old vocabulary"), 0o644)
	if _, err := h.Pull(context.Background(), reg, "tiny", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := rangesOf(fs.log(), "/tiny/vocab.json"); len(got) != 1 || got[0] != "" {
		t.Errorf("vocab.json requests %q, want one fresh download", got)
	}
}
