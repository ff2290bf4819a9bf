package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"mmsearch/engine"
	"mmsearch/index"
	"mmsearch/index/weaviate"
)

// RemoteFile, in a library folder, records the remote index the library
// mirrors to (without credentials), so that later commands need no --index.
const RemoteFile = "index.remote"

// maxAPIKeyFile bounds --weaviate-api-key-file.
const maxAPIKeyFile = 4096

// remoteFlags select and configure a remote index.
type remoteFlags struct {
	url         string
	keyFile     string
	shards      int
	replicas    int
	consistency string
}

func (r *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.url, "index", "", "mirror the library's vectors to a remote index: weaviate://HOST:PORT/COLLECTION (https://... for TLS);\nremembered by the library, so later commands need not repeat it")
	fs.StringVar(&r.keyFile, "weaviate-api-key-file", "", "file holding the Weaviate API key (default: $"+weaviate.APIKeyEnv+"); required for a host that is not loopback")
	countVar(fs, &r.shards, "shards", 0, weaviate.MaxShards, "shards of a new remote collection (0 = one per node)")
	countVar(fs, &r.replicas, "replicas", 0, weaviate.MaxReplicas, "replication factor of a new remote collection (0 = 1)")
	fs.StringVar(&r.consistency, "consistency", "", "consistency level of remote writes and reads: ONE, QUORUM (default) or ALL")
}

// remoteSpec is what RemoteFile holds.
type remoteSpec struct {
	URL         string `json:"url"`
	Shards      int    `json:"shards,omitempty"`
	Replicas    int    `json:"replicas,omitempty"`
	Consistency string `json:"consistency,omitempty"`
}

// remote is a resolved remote index: its configuration and whether the
// library's RemoteFile must be (re)written once the library is open.
type remote struct {
	cfg   weaviate.Config
	spec  remoteSpec
	write bool
}

// resolve reads the library's RemoteFile and the flags and returns the
// remote index to use, or nil for the library's own HNSW.
func (r *remoteFlags) resolve(dir string, getenv func(string) string) (*remote, error) {
	var saved *remoteSpec
	b, err := os.ReadFile(filepath.Join(dir, RemoteFile))
	switch {
	case err == nil:
		var s remoteSpec
		if err := json.Unmarshal(b, &s); err != nil || s.URL == "" {
			return nil, fmt.Errorf("library %s: %s is damaged (%v): write the remote index again with --index", dir, RemoteFile, err)
		}
		saved = &s
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("library %s: %w", dir, err)
	}
	if r.url == "" && saved == nil {
		if r.shards != 0 || r.replicas != 0 || r.consistency != "" || r.keyFile != "" {
			return nil, usagef("--shards, --replicas, --consistency and --weaviate-api-key-file need a remote index (--index weaviate://HOST:PORT/COLLECTION)")
		}
		return nil, nil
	}
	out := &remote{}
	if saved != nil {
		out.spec = *saved
	}
	if r.url != "" {
		nc, err := weaviate.ParseURL(r.url)
		if err != nil && !strings.Contains(err.Error(), "API key is required") {
			return nil, usagef("--index: %v", err)
		}
		if saved != nil {
			oc, err := weaviate.ParseURL(saved.URL)
			if err != nil && !strings.Contains(err.Error(), "API key is required") {
				return nil, fmt.Errorf("library %s: %s: %w", dir, RemoteFile, err)
			}
			if oc.Collection != nc.Collection {
				return nil, usagef("--index: library %s mirrors to collection %s (%s), not %s; use a new library for another collection", dir, oc.Collection, saved.URL, nc.Collection)
			}
		}
		out.write = saved == nil || saved.URL != r.url
		out.spec.URL = r.url
	}
	if saved == nil {
		out.spec.Shards, out.spec.Replicas = r.shards, r.replicas
	} else if (r.shards != 0 && r.shards != saved.Shards) || (r.replicas != 0 && r.replicas != saved.Replicas) {
		return nil, usagef("--shards and --replicas are set when the remote collection is made (this library's: %d shards, factor %d); change them with a new library or 'index --rebuild-remote' after editing %s", saved.Shards, saved.Replicas, RemoteFile)
	}
	if r.consistency != "" {
		out.write = out.write || !strings.EqualFold(r.consistency, out.spec.Consistency)
		out.spec.Consistency = strings.ToUpper(r.consistency)
	}
	cfg, err := weaviate.ParseURL(out.spec.URL)
	if err != nil && !strings.Contains(err.Error(), "API key is required") {
		return nil, usagef("--index: %v", err)
	}
	cfg.Shards, cfg.Replicas = out.spec.Shards, out.spec.Replicas
	if out.spec.Consistency != "" {
		cfg.Consistency = out.spec.Consistency
	}
	key, err := r.apiKey(getenv)
	if err != nil {
		return nil, err
	}
	cfg.APIKey = key
	if err := cfg.Validate(); err != nil {
		return nil, usagef("--index: %v", err)
	}
	out.cfg = cfg
	return out, nil
}

// apiKey reads the key from --weaviate-api-key-file, else the environment.
func (r *remoteFlags) apiKey(getenv func(string) string) (string, error) {
	if r.keyFile == "" {
		return strings.TrimSpace(getenv(weaviate.APIKeyEnv)), nil
	}
	f, err := os.Open(r.keyFile)
	if err != nil {
		return "", fmt.Errorf("--weaviate-api-key-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAPIKeyFile+1))
	if err != nil {
		return "", fmt.Errorf("--weaviate-api-key-file: %w", err)
	}
	if len(b) > maxAPIKeyFile {
		return "", fmt.Errorf("--weaviate-api-key-file %s: over %d bytes; is it the right file?", r.keyFile, maxAPIKeyFile)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("--weaviate-api-key-file %s is empty", r.keyFile)
	}
	return key, nil
}

// backend is the index.Backend of the remote index.
func (r *remote) backend() index.Backend { return weaviate.Backend(r.cfg, index.Cosine) }

// save writes the library's RemoteFile when it changed.
func (r *remote) save(dir string) error {
	if !r.write {
		return nil
	}
	b, err := json.MarshalIndent(r.spec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, RemoteFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("library %s: record the remote index: %w", dir, err)
	}
	return nil
}

// printMirror writes the remote index's state, for stats and doctor.
func printMirror(w io.Writer, ms *engine.MirrorState) {
	if ms == nil || !ms.Remote {
		return
	}
	fmt.Fprintf(w, "remote      %s\n", ms.Where)
	fmt.Fprintf(w, "            %d objects there, %d items in the store; %d sampled vectors: %d missing, %d differ\n",
		ms.RemoteObjects, ms.StoreItems, ms.Sampled, ms.Missing, ms.Differ)
	if ms.InStep() {
		fmt.Fprintf(w, "            in step with the store\n")
	} else {
		fmt.Fprintf(w, "            OUT OF STEP: %s\n            run 'mmsearch index --rebuild-remote' to re-send every vector from the store\n", ms.Problem)
	}
}

// errMirror is returned (exit 1) when a remote index is out of step.
var errMirror = errors.New("the remote index is out of step with the library's store; run 'mmsearch index --rebuild-remote'")

func mirrorErr(ms *engine.MirrorState) error {
	if ms != nil && ms.Remote && !ms.InStep() {
		return fmt.Errorf("%w: %s", errMirror, ms.Problem)
	}
	return nil
}
