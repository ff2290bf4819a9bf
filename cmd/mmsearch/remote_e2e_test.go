package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/engine"
	"mmsearch/index/weaviate"
	"mmsearch/internal/sharedtest"
	"mmsearch/internal/weaviated"
)

// TestCLIWeaviateLibrary indexes the shared pictures into a library whose
// index is a Weaviate collection (a one-node server on loopback) and into a
// library with the own HNSW, and checks that searches (cosine and 3CosMul
// analogies) agree, that the library remembers its remote index, that stats
// and doctor detect a collection that lost an object, that
// --rebuild-remote repairs it, and that forget is mirrored.
func TestCLIWeaviateLibrary(t *testing.T) {
	shared := sharedtest.Require(t, "../../../shared/images/formats")
	node := weaviated.StartT(t, 1).Nodes[0]
	url := "weaviate://" + node.Addr() + "/Photos"
	remote, local := t.TempDir(), t.TempDir()

	r := run(t, "index", "--library", remote, "--model", tinyModel, "--index", url, shared)
	if r.code != exitOK || !strings.Contains(r.stdout, "23 files found") {
		t.Fatalf("index --index %s: code %d\n%s\n%s", url, r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(remote, RemoteFile)); err != nil || !strings.Contains(string(b), url) {
		t.Fatalf("%s: %q, %v", RemoteFile, b, err)
	}
	if r := run(t, "index", "--library", local, "--model", tinyModel, shared); r.code != exitOK {
		t.Fatalf("index (own HNSW): %d %s", r.code, r.stderr)
	}

	cat := filepath.Join(shared, "cat.jpg")
	for _, q := range [][]string{
		{"-k", "5", "cat"},
		{"-k", "5", cat, "-", "the cat", "+", "dog"},
		{"-k", "5", "--mode", "mul", cat, "-", "the cat", "+", "dog"},
	} {
		paths := func(lib string) []string {
			t.Helper()
			r := run(t, append([]string{"search", "--library", lib, "--json"}, q...)...)
			var sr engine.SearchResult
			if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil || r.code != exitOK {
				t.Fatalf("search %v in %s: code %d, %v\n%s", q, lib, r.code, err, r.stderr)
			}
			var out []string
			for _, res := range sr.Results {
				out = append(out, filepath.Base(res.Path))
			}
			return out
		}
		// No --index: the library remembers it.
		got, want := paths(remote), paths(local)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("search %v: weaviate library %v, own HNSW %v", q, got, want)
		}
	}

	stats := func() (engine.MirrorState, result) {
		t.Helper()
		r := run(t, "stats", "--library", remote, "--json")
		var st struct {
			Items  int64               `json:"items"`
			Remote *engine.MirrorState `json:"remote_index"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Remote == nil {
			t.Fatalf("stats --json: %v %q %s", err, r.stdout, r.stderr)
		}
		return *st.Remote, r
	}
	ms, r := stats()
	if r.code != exitOK || !ms.InStep() || ms.StoreItems != 22 || ms.RemoteObjects != 22 || ms.Sampled != 22 {
		t.Fatalf("stats of a library in step: code %d %+v", r.code, ms)
	}

	// Someone deletes an object behind the library's back.
	req, _ := http.NewRequest(http.MethodDelete, "http://"+node.Addr()+"/v1/objects/Photos/"+weaviate.UUID(uint64(3)), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete object 3 in Weaviate: %v %v", err, resp)
	}
	resp.Body.Close()
	ms, r = stats()
	if r.code != exitFailure || ms.InStep() || ms.RemoteObjects != 21 || ms.Missing != 1 || !strings.Contains(r.stderr, "--rebuild-remote") {
		t.Fatalf("stats after an object vanished: code %d %+v %s", r.code, ms, r.stderr)
	}
	r = run(t, "doctor", "--model", tinyModel, "--library", remote)
	if r.code != exitFailure || !strings.Contains(r.stdout, "OUT OF STEP") {
		t.Fatalf("doctor --library after an object vanished: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "index", "--library", remote, "--rebuild-remote")
	if r.code != exitOK || !strings.Contains(r.stdout, "re-sent 22 items") {
		t.Fatalf("index --rebuild-remote: code %d %s %s", r.code, r.stdout, r.stderr)
	}
	if ms, r := stats(); r.code != exitOK || !ms.InStep() || ms.RemoteObjects != 22 {
		t.Fatalf("stats after --rebuild-remote: code %d %+v", r.code, ms)
	}

	// Forget is mirrored.
	if r := run(t, "forget", "--library", remote, cat); r.code != exitOK {
		t.Fatalf("forget: %d %s", r.code, r.stderr)
	}
	if ms, r := stats(); r.code != exitOK || !ms.InStep() || ms.RemoteObjects != 21 {
		t.Fatalf("stats after forget: code %d %+v", r.code, ms)
	}

	// Bad or unsafe remote indexes are refused before anything is sent.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"index", "--library", t.TempDir(), "--model", tinyModel, "--index", "weaviate://192.0.2.1:8080/Photos", shared}, "API key is required"},
		{[]string{"index", "--library", remote, "--index", "weaviate://" + node.Addr() + "/Other", shared}, "mirrors to collection Photos"},
		{[]string{"index", "--library", t.TempDir(), "--model", tinyModel, "--index", "weaviate://" + node.Addr() + "/lower", shared}, "capital letter"},
		{[]string{"index", "--library", local, "--rebuild-remote"}, "has no remote index"},
		{[]string{"stats", "--library", local, "--consistency", "ONE"}, "need a remote index"},
	} {
		if r := run(t, c.args...); r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: code %d (want %d), stderr %q (want %q)", c.args, r.code, exitUsage, r.stderr, c.want)
		}
	}
}
