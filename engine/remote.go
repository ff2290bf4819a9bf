package engine

import (
	"context"
	"sync"

	"mmsearch/encoders/imageproc"
	"mmsearch/engine/store"
)

// RemoteJob is a file an ingest hands to a RemoteEmbedder: as the walk
// listed it.
type RemoteJob struct {
	Path    string
	Size    int64
	MtimeNs int64
	// OldHash is the content hash of the item at Path before this run, when
	// there is one (HasOldHash).
	OldHash    store.Hash
	HasOldHash bool
}

// RemoteResult is what became of a RemoteJob: a vector with the file's
// content hash and image facts, a failure, or a file that is not a still
// image.
type RemoteResult struct {
	Job    RemoteJob
	Hash   store.Hash
	Width  int
	Height int
	Format string
	Vector []float32
	// Meta is the photo metadata read from the file (with a vector).
	Meta store.Metadata
	Err  *store.FileError
	Skip *store.SkippedFile
	// Done, when set, is called once the result is committed to the
	// library (committed true) or will not be (false: the commit failed).
	// A remote embedder acknowledges its message there, so that a result
	// is never lost between its arrival and the commit.
	Done func(committed bool)
}

// RemoteEmbedder reads, decodes and embeds files somewhere else (cluster
// workers, package cluster) for Library.Ingest, which keeps the walk, the
// commits, the progress and the failure records.
type RemoteEmbedder interface {
	// Embed takes jobs until the channel is closed, sends one result per
	// job on results (at most one: duplicates are the embedder's to drop),
	// and returns once every job has its result, or when ctx ends. It does
	// not close results.
	Embed(ctx context.Context, jobs <-chan RemoteJob, results chan<- RemoteResult) error
}

// remoteDecode runs the decode stage of a remote ingest: the walk's jobs go
// to the embedder, and what comes back is handed on like the local workers'
// output (as vectors computed elsewhere, so no tensor goes to the encoders).
//
// When the embedder fails, stop winds the walk down. remoteDecode returns
// once nothing more will be sent on results.
func (p *pipeline) remoteDecode(ctx context.Context, stop context.CancelCauseFunc, jobs <-chan job, results chan<- decoded) error {
	var mu sync.Mutex
	sent := map[string]job{}
	rjobs := make(chan RemoteJob)
	rres := make(chan RemoteResult)
	embedDone := make(chan error, 1)
	go func() {
		err := p.opt.Remote.Embed(ctx, rjobs, rres)
		close(rres)
		embedDone <- err
	}()
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		defer close(rjobs)
		for j := range jobs {
			if ctx.Err() != nil {
				continue // drain: the walk is stopping too
			}
			if j.fail != nil {
				results <- decoded{job: j, err: j.fail}
				continue
			}
			if j.metaOnly {
				// An unchanged file whose metadata is unread: nothing to
				// embed, the metadata is read here.
				if d, ok := p.readMeta(ctx, j); ok {
					results <- d
				}
				continue
			}
			rj := RemoteJob{Path: j.path, Size: j.size, MtimeNs: j.mtimeNs}
			if old, ok := p.snap.Items[j.path]; ok && j.oldID != 0 {
				rj.OldHash, rj.HasOldHash = old.Hash, true
			}
			mu.Lock()
			sent[j.path] = j
			mu.Unlock()
			select {
			case rjobs <- rj:
			case <-ctx.Done():
			}
		}
	}()
	for r := range rres {
		mu.Lock()
		j, ok := sent[r.Job.Path]
		delete(sent, r.Job.Path)
		mu.Unlock()
		if !ok {
			if r.Done != nil {
				r.Done(false) // not asked for, or answered already
			}
			continue
		}
		d := decoded{job: j, hash: r.Hash, err: r.Err, skip: r.Skip, done: r.Done}
		if r.Err == nil && r.Skip == nil {
			d.info = imageproc.Info{Width: r.Width, Height: r.Height, Format: r.Format, Bytes: j.size}
			d.embedded = r.Vector
			d.meta = r.Meta
		}
		results <- d
	}
	err := <-embedDone
	if err != nil {
		stop(err)
	}
	<-fed
	return err
}
