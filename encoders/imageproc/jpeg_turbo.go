//go:build cgo && !imageproc_purego

package imageproc

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jmp;
	int truncated;
	char msg[JMSG_LENGTH_MAX];
} mm_jerr;

// mm_error_exit replaces libjpeg's default, which would exit the process.
static void mm_error_exit(j_common_ptr cinfo) {
	mm_jerr *e = (mm_jerr *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	longjmp(e->jmp, 1);
}

// mm_emit_message makes "premature end of file" fatal, as PIL does, and
// silently counts the other warnings.
static void mm_emit_message(j_common_ptr cinfo, int level) {
	if (level < 0) {
		mm_jerr *e = (mm_jerr *)cinfo->err;
		if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
			e->truncated = 1;
			mm_error_exit(cinfo);
		}
		cinfo->err->num_warnings++;
	}
}

typedef struct {
	int width, height, out_width, out_height;
	int color_space;
	int truncated, unsupported;
	char msg[JMSG_LENGTH_MAX];
} mm_jinfo;

// mm_jpeg reads the header of the JPEG in data and, when out is not NULL,
// decodes it scaled by 1/denom into out as RGBA rows (stride out_width*4),
// or as CMYK rows when cmyk is not 0, with PIL's settings: accurate integer
// IDCT and fancy upsampling.
// It returns 0 on success and 1 on error, with info->msg set.
static int mm_jpeg(const unsigned char *data, unsigned long len, int denom, int cmyk,
                   unsigned char *out, size_t out_len, mm_jinfo *info) {
	struct jpeg_decompress_struct cinfo;
	mm_jerr jerr;
	memset(&cinfo, 0, sizeof cinfo);
	memset(&jerr, 0, sizeof jerr);
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = mm_error_exit;
	jerr.pub.emit_message = mm_emit_message;
	if (setjmp(jerr.jmp)) {
		int code = jerr.pub.msg_code;
		memcpy(info->msg, jerr.msg, sizeof info->msg);
		info->msg[sizeof info->msg - 1] = 0;
		info->truncated = jerr.truncated;
		info->unsupported = code == JERR_BAD_PRECISION || code == JERR_CONVERSION_NOTIMPL ||
			code == JERR_NOT_COMPILED || code == JERR_NO_ARITH_TABLE;
		jpeg_destroy_decompress(&cinfo);
		return 1;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, len);
	jpeg_read_header(&cinfo, TRUE);
	info->width = (int)cinfo.image_width;
	info->height = (int)cinfo.image_height;
	info->color_space = (int)cinfo.jpeg_color_space;
	cinfo.scale_num = 1;
	cinfo.scale_denom = (unsigned int)denom;
	cinfo.dct_method = JDCT_ISLOW;
	cinfo.do_fancy_upsampling = TRUE;
	cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGBA;
	jpeg_calc_output_dimensions(&cinfo);
	info->out_width = (int)cinfo.output_width;
	info->out_height = (int)cinfo.output_height;
	if (out == NULL) {
		jpeg_destroy_decompress(&cinfo);
		return 0;
	}
	size_t stride = (size_t)cinfo.output_width * 4;
	if (stride * cinfo.output_height > out_len) {
		snprintf(info->msg, sizeof info->msg, "output buffer too small");
		jpeg_destroy_decompress(&cinfo);
		return 1;
	}
	jpeg_start_decompress(&cinfo);
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW rows[16];
		JDIMENSION n = 0;
		for (; n < 16 && cinfo.output_scanline + n < cinfo.output_height; n++) {
			rows[n] = out + (size_t)(cinfo.output_scanline + n) * stride;
		}
		jpeg_read_scanlines(&cinfo, rows, n);
	}
	// No jpeg_finish_decompress: every row is in, and a file that lacks
	// only its final EOI marker is accepted, as PIL accepts it.
	jpeg_destroy_decompress(&cinfo);
	return 0;
}
*/
import "C"

import (
	"fmt"
	"image"
	"io"
	"unsafe"
)

// turboCompiled reports whether the libjpeg-turbo decoder is built in.
const turboCompiled = true

// decodeJPEGTurbo decodes a JPEG, whose header image/jpeg read as cfg,
// with libjpeg-turbo at 1/scale of its size,
// scale being the largest of 8, 4, 2 that keeps the shorter side at least
// minSide (1, full size, when minSide is 0). It returns errTurboFallback for
// colour spaces it leaves to the standard library.
func decodeJPEGTurbo(data []byte, cfg image.Config, minSide int) (*image.NRGBA, int, error) {
	if len(data) == 0 {
		return nil, 0, fmt.Errorf("%w: empty JPEG", ErrCorrupt)
	}
	ptr := (*C.uchar)(unsafe.Pointer(&data[0]))
	var info C.mm_jinfo
	if C.mm_jpeg(ptr, C.ulong(len(data)), 1, 0, nil, 0, &info) != 0 {
		return nil, 0, turboError(&info)
	}
	var cmyk C.int
	switch info.color_space {
	case C.JCS_GRAYSCALE, C.JCS_RGB, C.JCS_YCbCr:
	case C.JCS_CMYK, C.JCS_YCCK:
		cmyk = 1
	default:
		return nil, 0, errTurboFallback
	}
	w, h := int(info.width), int(info.height)
	if w != cfg.Width || h != cfg.Height {
		// The size limits were checked on cfg; never decode another size.
		return nil, 0, fmt.Errorf("%w: libjpeg reads a %d×%d header, image/jpeg %d×%d", ErrCorrupt, w, h, cfg.Width, cfg.Height)
	}
	scale := reduceFactor(w, h, minSide)
	ow, oh := (w+scale-1)/scale, (h+scale-1)/scale
	img := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	rc := C.mm_jpeg(ptr, C.ulong(len(data)), C.int(scale), cmyk,
		(*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.size_t(len(img.Pix)), &info)
	if rc != 0 {
		return nil, 0, turboError(&info)
	}
	if int(info.out_width) != ow || int(info.out_height) != oh {
		return nil, 0, fmt.Errorf("%w: libjpeg output %d×%d, expected %d×%d", ErrCorrupt,
			int(info.out_width), int(info.out_height), ow, oh)
	}
	if cmyk != 0 {
		// PIL reads every CMYK JPEG as Adobe-inverted ("CMYK;I"), then
		// converts to RGB with its own formula.
		for i := 0; i < len(img.Pix); i += 4 {
			p := img.Pix[i : i+4 : i+4]
			c, m, y, k := 255-p[0], 255-p[1], 255-p[2], 255-p[3]
			p[0], p[1], p[2], p[3] = cmyk8(c, k), cmyk8(m, k), cmyk8(y, k), 255
		}
	}
	return img, scale, nil
}

func turboError(info *C.mm_jinfo) error {
	msg := C.GoString(&info.msg[0])
	switch {
	case info.truncated != 0:
		return fmt.Errorf("%w: truncated: libjpeg: %s: %w", ErrCorrupt, msg, io.ErrUnexpectedEOF)
	case info.unsupported != 0:
		return fmt.Errorf("%w: libjpeg: %s", ErrUnsupported, msg)
	default:
		return fmt.Errorf("%w: libjpeg: %s", ErrCorrupt, msg)
	}
}
