package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"mmsearch/encoders/imageproc"
	"mmsearch/engine/filekind"
	"mmsearch/engine/store"
	"mmsearch/internal/membudget"
)

// FileDecoder reads, hashes and preprocesses files into the tensors of a
// model's image tower, the decode side of an ingest. Library.Ingest uses one;
// cluster workers, which embed files for a library in another process, use
// one too, so that a file is read and decoded the same way wherever it is.
type FileDecoder struct {
	// Image holds the decoding limits.
	Image imageproc.Options
	// Preprocess is the model's image preprocessing.
	Preprocess imageproc.Preprocess
	// Memory bounds the memory of the decodes that run at once (nil: no bound).
	Memory *membudget.Budget
	// Known, when set, is asked after hashing whether content with this
	// hash already has a vector, and in which format; then the file is not
	// decoded and DecodedFile.Known is set.
	Known func(ctx context.Context, h store.Hash) (format string, ok bool)
	// Location is the time zone an EXIF capture time without an offset is
	// read in (nil: time.Local).
	Location *time.Location
	// Files reads the files (nil: the local file system): a cluster
	// worker without the files mounted reads them from its coordinator.
	Files FileReader
}

// FileReader reads the files a FileDecoder decodes from somewhere other than
// the local file system. Its errors become the files' read failures.
type FileReader interface {
	// Head returns the first n bytes of the file at path, or all of a
	// shorter one.
	Head(ctx context.Context, path string, n int) ([]byte, error)
	// ReadAll returns the whole file, refusing one over limit bytes with
	// an error wrapping imageproc.ErrTooLarge.
	ReadAll(ctx context.Context, path string, limit int64) ([]byte, error)
}

// DecodedFile is what FileDecoder.Decode made of one file: a tensor (in the
// dst given), a hash known to have a vector, a failure, or a file that is
// not a still image.
type DecodedFile struct {
	Hash  store.Hash
	Info  imageproc.Info
	Known bool               // Known said yes: dst was not filled
	Err   *store.FileError   // failed (read or decode)
	Skip  *store.SkippedFile // not a still image
	// Meta is the photo metadata read from the file's bytes, set with a
	// tensor and with Known.
	Meta store.Metadata
	// Read, Hash and Prep are the time spent reading, hashing and decoding
	// (Prep includes reading the metadata).
	Read, HashTime, Prep time.Duration
}

// Decode reads the file at path (size and mtimeNs as listed by the walk) and
// fills dst, a tensor of the model's image size. ok is false when ctx ended
// first: the file is not at fault and is left for a later run.
func (d *FileDecoder) Decode(ctx context.Context, path string, size, mtimeNs int64, dst []float32) (out DecodedFile, ok bool) {
	fail := func(stage store.Stage, err error) DecodedFile {
		out.Err = &store.FileError{Path: path, Size: size, MtimeNs: mtimeNs, Stage: stage,
			Class: classify(stage, err), Reason: err.Error()}
		return out
	}
	t0 := time.Now()
	// A video or a sidecar is recognised from its first bytes, before the
	// whole file is read, hashed or held against the size limit.
	if r, ok := d.sniffSkippable(ctx, path); ok {
		out.Read = time.Since(t0)
		out.Skip = &store.SkippedFile{Path: path, Size: size, MtimeNs: mtimeNs, Kind: string(r.Kind), Format: r.Format}
		return out, true
	}
	data, err := d.read(ctx, path)
	out.Read = time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			return out, false // stopped while reading: not the file's fault
		}
		return fail(store.StageRead, err), true
	}
	t0 = time.Now()
	out.Hash = sha256.Sum256(data)
	out.HashTime = time.Since(t0)
	if d.Known != nil {
		if format, ok := d.Known(ctx, out.Hash); ok {
			out.Known = true
			t0 = time.Now()
			out.Meta = readMetadata(data, format, mtimeNs, d.location())
			out.Prep = time.Since(t0)
			return out, true
		}
	}
	t0 = time.Now()
	out.Info, err = d.decodeTensor(ctx, data, path, dst)
	out.Prep = time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			return out, false // stopped waiting for decode memory: not the file's fault
		}
		if errors.Is(err, imageproc.ErrNotImage) && !errors.Is(err, imageproc.ErrEmpty) {
			if r := filekind.Sniff(data); r.Kind == filekind.Image {
				err = fmt.Errorf("%w: %s, a format no decoder here handles", imageproc.ErrUnsupported, r.Format)
			}
		}
		return fail(store.StageDecode, err), true
	}
	out.Meta = readMetadata(data, out.Info.Format, mtimeNs, d.location())
	out.Prep = time.Since(t0)
	return out, true
}

// sniffSkippable reports whether the file at path is recognised from its
// first bytes as something that is not a still image (a video, a sidecar).
func (d *FileDecoder) sniffSkippable(ctx context.Context, path string) (filekind.Result, bool) {
	if d.Files == nil {
		return sniffSkippable(path)
	}
	head, err := d.Files.Head(ctx, path, filekind.HeadSize)
	if err != nil {
		return filekind.Result{}, false // the whole read reports it
	}
	return skippable(head)
}

// read reads the whole file within the decoding limit.
func (d *FileDecoder) read(ctx context.Context, path string) ([]byte, error) {
	if d.Files == nil {
		return readLimited(ctx, path, d.Image.FileLimit())
	}
	return d.Files.ReadAll(ctx, path, d.Image.FileLimit())
}

func (d *FileDecoder) location() *time.Location {
	if d.Location != nil {
		return d.Location
	}
	return time.Local
}

// decodeTensor decodes an encoded image into dst within the memory budget:
// it waits (as long as ctx lasts) until the decode's estimated memory is free.
func (d *FileDecoder) decodeTensor(ctx context.Context, data []byte, name string, dst []float32) (imageproc.Info, error) {
	if d.Memory != nil {
		release, err := d.Memory.Acquire(ctx, imageproc.TensorMemory(data, d.Image, d.Preprocess))
		if err != nil {
			return imageproc.Info{}, err
		}
		defer release()
	}
	return imageproc.DecodeTensor(bytes.NewReader(data), name, int64(len(data)), d.Image, d.Preprocess, dst)
}
