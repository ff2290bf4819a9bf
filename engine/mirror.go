package engine

import (
	"context"
	"fmt"

	"mmsearch/engine/catalog"
)

// MirrorState compares a remote index (index.Remote, such as a Weaviate
// collection) with the store; see catalog.MirrorState.
type MirrorState = catalog.MirrorState

// DefaultMirrorSample is the number of vectors CheckMirror compares.
const DefaultMirrorSample = 32

// MaxMirrorSample bounds CheckMirror's sample.
const MaxMirrorSample = 10000

// CheckMirror compares the library's remote index with its store: item
// counts, and the vectors of up to sample items fetched from the server.
// For a library whose index lives in this process it returns a zero state
// with Remote false.
func (l *Library) CheckMirror(ctx context.Context, sample int) (MirrorState, error) {
	if sample < 0 || sample > MaxMirrorSample {
		return MirrorState{}, fmt.Errorf("mirror sample %d out of range 0..%d", sample, MaxMirrorSample)
	}
	ms, err := l.cat.CheckMirror(ctx, sample)
	if err != nil {
		return ms, fmt.Errorf("library %s: %w", l.dir, err)
	}
	return ms, nil
}

// RebuildIndex builds the library's index from its store now, under the
// library's write lock, and saves it. For a remote index this makes the
// collection anew and re-sends every vector with its properties
// (`mmsearch index --rebuild-remote`).
func (l *Library) RebuildIndex(ctx context.Context) error {
	lock, err := lockLibrary(l.dir)
	if err != nil {
		return err
	}
	defer lock.unlock()
	if err := l.cat.Rebuild(ctx); err != nil {
		return fmt.Errorf("library %s: %w", l.dir, err)
	}
	return nil
}
