//go:build cgo && !imageproc_purego && !imageproc_noheif

package imageproc

/*
#cgo LDFLAGS: -lheif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libheif/heif.h>

typedef struct {
	int width, height, has_alpha, premultiplied;
	int code, subcode;
	char msg[256];
} mm_hinfo;

static void mm_heif_msg(mm_hinfo *info, struct heif_error err) {
	info->code = (int)err.code;
	info->subcode = (int)err.subcode;
	strncpy(info->msg, err.message ? err.message : "", sizeof info->msg - 1);
	info->msg[sizeof info->msg - 1] = 0;
}

// mm_heif reads the primary image of the HEIF/AVIF file in data: its
// display size (after the container's rotation, mirroring and cropping)
// and, when out is not NULL, its pixels as 8-bit straight RGBA rows
// (stride width*4), with the container's transformations applied and grid
// tiles assembled, exactly as heif_decode_image does. Tiles are decoded on
// the calling thread: an ingest decodes many files in parallel already.
// It returns 0 on success and 1 on error, with info's code and msg set.
static int mm_heif(const unsigned char *data, size_t len, unsigned char *out, size_t out_len, mm_hinfo *info) {
	struct heif_context *ctx = heif_context_alloc();
	struct heif_image_handle *handle = NULL;
	struct heif_image *img = NULL;
	struct heif_decoding_options *opts = NULL;
	int rc = 1;
	if (ctx == NULL) {
		info->code = heif_error_Memory_allocation_error;
		snprintf(info->msg, sizeof info->msg, "cannot allocate a context");
		return 1;
	}
	heif_context_set_max_decoding_threads(ctx, 0);
	struct heif_error err = heif_context_read_from_memory_without_copy(ctx, data, len, NULL);
	if (err.code != heif_error_Ok) { mm_heif_msg(info, err); goto done; }
	err = heif_context_get_primary_image_handle(ctx, &handle);
	if (err.code != heif_error_Ok) { mm_heif_msg(info, err); goto done; }
	info->width = heif_image_handle_get_width(handle);
	info->height = heif_image_handle_get_height(handle);
	info->has_alpha = heif_image_handle_has_alpha_channel(handle);
	info->premultiplied = heif_image_handle_is_premultiplied_alpha(handle);
	if (out == NULL) { rc = 0; goto done; }
	if ((size_t)info->width * (size_t)info->height * 4 > out_len) {
		info->code = heif_error_Usage_error;
		snprintf(info->msg, sizeof info->msg, "output buffer too small");
		goto done;
	}
	opts = heif_decoding_options_alloc();
	if (opts == NULL) {
		info->code = heif_error_Memory_allocation_error;
		snprintf(info->msg, sizeof info->msg, "cannot allocate decoding options");
		goto done;
	}
	opts->convert_hdr_to_8bit = 1;
	err = heif_decode_image(handle, &img, heif_colorspace_RGB, heif_chroma_interleaved_RGBA, opts);
	if (err.code != heif_error_Ok) { mm_heif_msg(info, err); goto done; }
	int w = heif_image_get_width(img, heif_channel_interleaved);
	int h = heif_image_get_height(img, heif_channel_interleaved);
	int stride = 0;
	const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
	if (plane == NULL || w != info->width || h != info->height || stride < w * 4) {
		info->code = heif_error_Invalid_input;
		snprintf(info->msg, sizeof info->msg, "decoded %dx%d, the file says %dx%d", w, h, info->width, info->height);
		goto done;
	}
	for (int y = 0; y < h; y++) {
		memcpy(out + (size_t)y * (size_t)w * 4, plane + (size_t)y * (size_t)stride, (size_t)w * 4);
	}
	rc = 0;
done:
	if (img) heif_image_release(img);
	if (opts) heif_decoding_options_free(opts);
	if (handle) heif_image_handle_release(handle);
	heif_context_free(ctx);
	return rc;
}

// mm_heif_exif copies the first Exif metadata block of the primary image of
// the HEIF/AVIF file in data into a buffer it allocates with malloc (the
// caller frees it), when the block is at most max_len bytes. It reads the
// container's boxes only: no image is decoded. It returns the block's size,
// 0 when there is none (or it is over max_len), or -1 on error.
static long mm_heif_exif(const unsigned char *data, size_t len, size_t max_len, unsigned char **out) {
	*out = NULL;
	struct heif_context *ctx = heif_context_alloc();
	struct heif_image_handle *handle = NULL;
	long rc = -1;
	if (ctx == NULL) return -1;
	struct heif_error err = heif_context_read_from_memory_without_copy(ctx, data, len, NULL);
	if (err.code != heif_error_Ok) goto done;
	err = heif_context_get_primary_image_handle(ctx, &handle);
	if (err.code != heif_error_Ok) goto done;
	heif_item_id id;
	if (heif_image_handle_get_list_of_metadata_block_IDs(handle, "Exif", &id, 1) < 1) { rc = 0; goto done; }
	size_t size = heif_image_handle_get_metadata_size(handle, id);
	if (size == 0 || size > max_len) { rc = 0; goto done; }
	unsigned char *buf = malloc(size);
	if (buf == NULL) goto done;
	err = heif_image_handle_get_metadata(handle, id, buf);
	if (err.code != heif_error_Ok) { free(buf); goto done; }
	*out = buf;
	rc = (long)size;
done:
	if (handle) heif_image_handle_release(handle);
	heif_context_free(ctx);
	return rc;
}
*/
import "C"

import (
	"fmt"
	"image"
	"sync"
	"unsafe"

	"mmsearch/encoders/imageproc/exif"
)

// HEIFCompiled reports whether HEIC/HEIF/AVIF decoding (libheif) is built in.
const HEIFCompiled = true

var heifInit = sync.OnceValue(func() error {
	if err := C.heif_init(nil); err.code != C.heif_error_Ok {
		return fmt.Errorf("libheif: init: %s", C.GoString(err.message))
	}
	return nil
})

// heifCall runs mm_heif on data, decoding into out when it is not nil.
func heifCall(data []byte, format string, out []byte) (C.mm_hinfo, error) {
	var info C.mm_hinfo
	if len(data) == 0 {
		return info, fmt.Errorf("%w: empty %s file", ErrCorrupt, heifLabel(format))
	}
	if err := heifInit(); err != nil {
		return info, err
	}
	var outPtr *C.uchar
	if len(out) > 0 {
		outPtr = (*C.uchar)(unsafe.Pointer(&out[0]))
	}
	if C.mm_heif((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)), outPtr, C.size_t(len(out)), &info) != 0 {
		return info, heifError(&info, format)
	}
	return info, nil
}

func decodeHEIFConfig(data []byte, format string) (image.Config, error) {
	info, err := heifCall(data, format, nil)
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{Width: int(info.width), Height: int(info.height)}, nil
}

// decodeHEIF decodes the primary image. Callers (decodeBytes) have checked
// the size from decodeHEIFConfig against the pixel limit; the buffer is
// sized from the same header, and libheif must fill it exactly.
func decodeHEIF(data []byte, format string) (image.Image, error) {
	cfg, err := decodeHEIFConfig(data, format)
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %s header gives size %d×%d", ErrCorrupt, heifLabel(format), cfg.Width, cfg.Height)
	}
	img := image.NewNRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
	info, err := heifCall(data, format, img.Pix)
	if err != nil {
		return nil, err
	}
	if info.has_alpha != 0 && info.premultiplied != 0 {
		for i := 0; i < len(img.Pix); i += 4 {
			p := img.Pix[i : i+4 : i+4]
			p[0], p[1], p[2] = unpremul8(p[0], p[3]), unpremul8(p[1], p[3]), unpremul8(p[2], p[3])
		}
	}
	return img, nil
}

// heifError turns a libheif error into one wrapping the package's
// sentinels: files libheif cannot handle (an unknown codec, a missing
// decoder, an unsupported feature) are ErrUnsupported, the rest ErrCorrupt.
func heifError(info *C.mm_hinfo, format string) error {
	msg := C.GoString(&info.msg[0])
	switch info.code {
	case C.heif_error_Unsupported_filetype, C.heif_error_Unsupported_feature:
		return fmt.Errorf("%w: %s: libheif: %s", ErrUnsupported, heifLabel(format), msg)
	case C.heif_error_Memory_allocation_error:
		return fmt.Errorf("%w: %s: libheif: %s", ErrTooLarge, heifLabel(format), msg)
	default:
		return fmt.Errorf("%w: %s: libheif: %s", ErrCorrupt, heifLabel(format), msg)
	}
}

// heifEXIF returns the TIFF block of the primary image's Exif metadata item
// (at most exif.MaxBlock bytes), or nil when there is none or the
// container cannot be read. It parses the boxes; it decodes no pixels.
func heifEXIF(data []byte) []byte {
	if len(data) == 0 || heifInit() != nil {
		return nil
	}
	var out *C.uchar
	n := C.mm_heif_exif((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)), C.size_t(exif.MaxBlock+64), &out)
	if n <= 0 || out == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(out))
	return exif.FromHEIF(C.GoBytes(unsafe.Pointer(out), C.int(n)))
}
