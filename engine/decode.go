package engine

import (
	"bytes"
	"context"

	"mmsearch/encoders/imageproc"
)

// decodeTensor decodes an encoded image into dst, the tensor of the model's
// image tower, within the library's decode memory budget: it waits (as long
// as ctx lasts) until the decode's estimated memory is free.
func (l *Library) decodeTensor(ctx context.Context, data []byte, name string, opt imageproc.Options, dst []float32) (imageproc.Info, error) {
	pp := l.model.Manifest.Image.Preprocess()
	release, err := l.decodeMem.Acquire(ctx, imageproc.TensorMemory(data, opt, pp))
	if err != nil {
		return imageproc.Info{}, err
	}
	defer release()
	return imageproc.DecodeTensor(bytes.NewReader(data), name, int64(len(data)), opt, pp, dst)
}
