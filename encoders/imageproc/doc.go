// Package imageproc loads images and turns them into CLIP input tensors.
//
// # Decoding
//
// The format is always detected from the file's content (its magic bytes),
// never from its name: a JPEG named photo.jp2 decodes, a text file named
// photo.jpg is refused with [ErrNotImage]. Supported formats are JPEG, PNG,
// GIF (first frame), WebP, BMP, TIFF and the PNM family P1–P6 (plain and
// raw PBM, PGM and PPM with any maxval up to 65535; the PNM decoder lives in
// this package and is registered with [image.RegisterFormat]), and HEIC/HEIF
// and AVIF through libheif (see below).
//
// PNGs are decoded by this package, row by row, straight into 8-bit
// pixels (image/png would first hold the whole image at its own depth: 800
// MB for a 100-megapixel 16-bit RGBA PNG of under a megabyte). Animated
// WebPs give their first frame on the animation's canvas.
//
// Every decoded image is returned as an *image.NRGBA whose colour channels
// are 8-bit sRGB: grey, 16-bit, palette, CMYK and YCbCr images are converted
// (16-bit samples keep their high byte). Alpha, when the file has it, is kept
// straight (not premultiplied) in the A channel; images without alpha have
// A = 255 everywhere. Callers that want plain RGB ignore A, which is exactly
// what PIL's image.convert("RGB") does. [Preprocess.Tensor] goes one step
// further to reproduce CLIP: PIL resizes RGBA images in premultiplied form
// and CLIP converts to RGB only after resizing, so fully transparent areas
// come out black; Tensor does the same (see [Preprocess.Tensor]).
//
// JPEG EXIF orientation (tags 1–8, read from the APP1 Exif segment by a
// small bounds-checked parser in this package) is applied, so [Info] and
// the pixels are in display orientation. Set Options.IgnoreOrientation for
// bit-for-bit parity with CLIP's reference code, which never rotates.
//
// # Guards
//
// Before any pixel is decoded, the file size is checked against
// Options.MaxFileBytes and the dimensions read from the header with
// [image.DecodeConfig] are checked against Options.MaxPixels. Corrupt or
// hostile input returns an *[Error] naming the file, wrapping one of the
// sentinel errors ([ErrNotImage], [ErrEmpty], [ErrTooLarge], [ErrCorrupt],
// [ErrUnsupported]) for use with errors.Is. Panics inside third-party
// decoders are recovered and reported as [ErrCorrupt].
//
// # JPEG fast path
//
// When the package is built with cgo (the default), JPEGs are decoded with
// libjpeg-turbo, the library PIL itself uses, with the same settings as PIL
// (accurate integer IDCT, fancy upsampling), so full-resolution decodes
// match PIL bit for bit. For tensors, [LoadTensor] and [DecodeTensor] ask
// libjpeg-turbo to decode large JPEGs at 1/2, 1/4 or 1/8 scale in the DCT
// domain, but only as far as the shorter side stays at least twice the
// model's input size, so the bicubic resize that follows keeps its quality.
// Building with the tag imageproc_purego, or with CGO_ENABLED=0, or setting
// Options.PureGo, uses the standard library's image/jpeg instead (always at
// full resolution). The cgo build needs the libjpeg-turbo headers (Debian
// package libjpeg62-turbo-dev).
//
// # HEIC, HEIF and AVIF
//
// Files whose 'ftyp' box names an image brand (heic, heix, heim, heis, hevc,
// hevx: Info.Format "heic"; avif, avis: "avif"; the generic mif1, msf1:
// "heif") are decoded with libheif (cgo, Debian package libheif-dev): the
// primary image, grids assembled and the container's transformations
// (irot rotation, imir mirror, clap crop) applied, exactly as libheif's
// heif_decode_image and heif-convert do. The Exif orientation a HEIC
// carries beside them is informational and never applied on top. The size
// read from the header (display size, after transformations) is checked
// against Options.MaxPixels before decoding. Video brands (isom, mp41,
// qt, 3gp…) are not registered: such files stay [ErrNotImage]. Builds
// without libheif (CGO_ENABLED=0, or the tags imageproc_noheif or
// imageproc_purego) still recognise these files and refuse them with
// [ErrUnsupported] and "HEIC: this build has no libheif"; [HEIFCompiled]
// says which build this is.
//
// # Memory
//
// [TensorMemory] estimates from the header what a decode into a tensor
// will hold at its peak, so callers can budget concurrent decodes
// (mmsearch/internal/membudget). For tensors, large PNGs are reduced by 2,
// 4 or 8 while decoding (averaging blocks, alpha-weighted) with the same
// rule as the JPEG fast path below, so a 100-megapixel PNG costs a few MB.
//
// # Preprocessing
//
// [Preprocess] reproduces CLIP's torchvision pipeline on PIL images: resize
// of the shorter side with PIL's antialiased bicubic filter (a = -0.5,
// support widened by the downscale factor, 22-bit fixed-point weights and
// an 8-bit intermediate image, exactly as Pillow's Resample.c does), center
// crop with Python's round-half-to-even offset, /255, (x-mean)/std, written
// as CHW float32 into a caller-provided slice, so batches fill without
// copies.
//
// # Fidelity to PIL
//
// With libjpeg-turbo built in, tensors equal PIL 9.4's bit for bit on the
// golden JPEG, PNG and WebP images (WebP colour conversion follows libwebp:
// limited-range BT.601 with its "fancy" chroma upsampling), and so do RGBA,
// LA, grey, upscaled and bilinear cases checked during development. Known
// differences:
//   - The pure-Go JPEG path uses the standard library's IDCT, which differs
//     from libjpeg's by ±1 per sample (up to ±3 levels after colour
//     conversion, on a few percent of pixels); its chroma upsampling and
//     colour conversion do follow libjpeg.
//   - Reduced-resolution decoding (LoadTensor, DecodeTensor) trades a little
//     fidelity for speed: at worst, when the shorter side is just 2×Size,
//     about 4 levels on a few pixels, a quarter of a level on average.
//   - PIL resizes palette ("P") and 1-bit images with nearest neighbour
//     whatever filter is asked for, and CMYK images before converting them
//     to RGB; this package converts to RGB first and uses the requested
//     filter. PIL also ignores the transparency of palette images and turns
//     16-bit grey into clipped 8-bit values; here palette transparency is
//     alpha (so it becomes black in tensors) and 16-bit samples keep their
//     high byte.
//
// Everything in the package is safe for concurrent use.
package imageproc
