package engine

import (
	"context"
	"image"

	"mmsearch/encoders/imageproc"
)

// decodeTensor decodes an encoded image into dst, the tensor of the model's
// image tower, within the library's decode memory budget: it waits (as long
// as ctx lasts) until the decode's estimated memory is free.
func (l *Library) decodeTensor(ctx context.Context, data []byte, name string, opt imageproc.Options, dst []float32) (imageproc.Info, error) {
	return l.fileDecoder(opt).decodeTensor(ctx, data, name, dst)
}

// fileDecoder returns a FileDecoder for the library's model and decode
// memory budget.
func (l *Library) fileDecoder(opt imageproc.Options) *FileDecoder {
	return &FileDecoder{Image: opt, Preprocess: l.model.Manifest.Image.Preprocess(), Memory: l.decodeMem, Location: l.location()}
}

// Thumbnail decodes an encoded image and fits it within size×size (see
// imageproc.Thumbnail: PNGs and JPEGs are decoded at reduced resolution),
// within the library's decode memory budget, shared with ingests and
// queries: it waits (as long as ctx lasts) until the estimated memory of
// the decode and resize is free. name identifies the image in errors.
func (l *Library) Thumbnail(ctx context.Context, data []byte, name string, size int) (*image.NRGBA, error) {
	var opt imageproc.Options
	release, err := l.decodeMem.Acquire(ctx, imageproc.ThumbnailMemory(data, opt, size))
	if err != nil {
		return nil, err
	}
	defer release()
	img, _, err := imageproc.Thumbnail(data, name, opt, size)
	return img, err
}
