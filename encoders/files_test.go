package encoders

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"mmsearch/encoders/imageproc"

	"mmsearch/internal/sharedtest"
)

func TestEncodeFiles(t *testing.T) {
	dir := sharedtest.Require(t, "../../shared/images/formats")
	m := openTiny(t)
	enc, err := NewImageEncoder(m, SessionOptions{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	paths := []string{
		filepath.Join(dir, "cat.jpg"),
		filepath.Join(dir, "not-an-image.txt"),
		filepath.Join(dir, "tree.webp"),
		filepath.Join(dir, "missing.png"),
		filepath.Join(dir, "duck.jp2"), // a JPEG under another name
	}
	vecs, errs, err := enc.EncodeFiles(context.Background(), paths, imageproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		bad := i == 1 || i == 3
		if bad != (errs != nil && errs[i] != nil) || bad != (vecs[i] == nil) {
			t.Fatalf("%s: vec %v err %v", p, vecs[i] != nil, errs)
		}
		if bad {
			continue
		}
		// The same file through LoadTensor and EncodeTensors gives the same vector.
		dst := make([]float32, enc.TensorLen())
		if _, err := imageproc.LoadTensor(p, imageproc.Options{}, enc.Tower().Preprocess(), dst); err != nil {
			t.Fatal(err)
		}
		want, err := enc.EncodeTensors(context.Background(), dst, 1)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, p, vecs[i], want[0], 1e-6)
	}
	if !errors.Is(errs[1], imageproc.ErrNotImage) {
		t.Errorf("text file: %v, want ErrNotImage", errs[1])
	}
}
