//go:build !cgo || imageproc_purego

package imageproc

import "image"

// turboCompiled reports whether the libjpeg-turbo decoder is built in.
const turboCompiled = false

// decodeJPEGTurbo is unavailable in this build; callers use image/jpeg.
func decodeJPEGTurbo([]byte, image.Config, int) (*image.NRGBA, int, error) {
	return nil, 0, errTurboFallback
}
