package ann

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"mmsearch/bench/peers"
)

// WeaviateVersion is the github.com/weaviate/weaviate version the Weaviate
// HNSW peer (bench/peers/weaviatehnsw) is built from.
const WeaviateVersion = "v1.35.2"

// SetupPeersCommand builds the Go peers into the cache.
const SetupPeersCommand = "make setup-peers"

// GoPeerPath is where `make setup-peers` (scripts/setup-ann-peers.sh) puts
// the binary of the Go peer name under the mmsearch cache folder cacheDir:
// cacheDir/peers/NAME-VERSION.
func GoPeerPath(cacheDir, name string) (string, error) {
	switch name {
	case BackendWeaviateHNSW:
		return filepath.Join(cacheDir, "peers", name+"-"+WeaviateVersion), nil
	}
	return "", fmt.Errorf("%q is not a Go peer", name)
}

// isGoPeer reports whether name is a peer run as a Go binary.
func isGoPeer(name string) bool { return name == BackendWeaviateHNSW }

// goPeerBinary returns the path of the built Go peer name, or an error
// wrapping peers.ErrMissing that names the set-up command.
func (c *Config) goPeerBinary(name string) (string, error) {
	if c.PeerCacheDir == "" {
		return "", fmt.Errorf("%w: %s: no cache folder to find its binary in (Config.PeerCacheDir)", peers.ErrMissing, name)
	}
	path, err := GoPeerPath(c.PeerCacheDir, name)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: %s binary %s not built; run `%s` to build it", peers.ErrMissing, name, path, SetupPeersCommand)
	case err != nil:
		return "", fmt.Errorf("%s binary: %w", name, err)
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%w: %s binary %s is not an executable file; run `%s` to rebuild it", peers.ErrMissing, name, path, SetupPeersCommand)
	}
	return path, nil
}

// runGoPeer runs the built Go peer name and scores its ids.
func (s *sweeper) runGoPeer(ctx context.Context, name, binary string) (*BackendResult, error) {
	label := name + " peer"
	launch := func(dir string, args []string) ([]byte, error) {
		return peers.RunBinary(ctx, binary, dir, args, func(line string) {
			s.progress(label+": "+line, 0, 0)
		})
	}
	res, _, err := s.runPeerProcess(ctx, label, []string{name}, launch, "")
	if err != nil {
		return nil, err
	}
	return &res[0], nil
}
