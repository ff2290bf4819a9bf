package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"mmsearch/models"
	"mmsearch/models/quantize"
)

// quantizeFlags are the quantization settings of models quantize, and of
// import and pull with --int8.
type quantizeFlags struct {
	perTensor, fullRange bool
	format               string
}

func (q *quantizeFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&q.perTensor, "per-tensor", false, "one weight scale per matrix instead of one per output column")
	fs.BoolVar(&q.fullRange, "full-range", false, "8-bit weights ([-127,127]) instead of 7-bit; exact only on CPUs with VNNI (AVX2's 16-bit pair sums saturate)")
	fs.StringVar(&q.format, "format", quantize.FormatFused, "node format: fused (ONNX Runtime's DynamicQuantizeMatMul) or integer (standard MatMulInteger ops)")
}

func (q *quantizeFlags) options() (quantize.Options, error) {
	o := quantize.Options{PerChannel: !q.perTensor, ReduceRange: !q.fullRange, Format: q.format}
	if err := o.Validate(); err != nil {
		return o, usagef("--format %q: want %s or %s", q.format, quantize.FormatFused, quantize.FormatInteger)
	}
	return o, nil
}

// quantizeInto quantizes the model in srcDir into the data folder's models
// as name, verifies the new folder like any install (digests and graphs,
// then its verification stamp, so the first open need not hash it again)
// and prints what it did.
func quantizeInto(ctx context.Context, h *models.Hub, srcDir, name string, opt quantize.Options, force, asJSON bool, w io.Writer) error {
	if err := models.ValidName(name); err != nil {
		return usagef("--out: %v", err)
	}
	res, err := quantize.Model(ctx, srcDir, filepath.Join(h.ModelsDir(), name), quantize.ModelOptions{Options: opt, Name: name, Force: force})
	if err != nil {
		return err
	}
	if _, err := models.VerifyFolder(res.Dir, h.Runtime, h.Getenv, h.Logger); err != nil {
		os.RemoveAll(res.Dir) // made just now from the source: nothing is lost
		return fmt.Errorf("quantized model %s does not verify: %w", name, err)
	}
	if asJSON {
		return printJSON(w, res)
	}
	fmt.Fprintf(w, "quantized %s -> %s in %s: %d image and %d text MatMul/Gemm nodes now int8 (%s), ONNX files %s -> %s\n",
		res.Manifest.Quantization.SourceModel, name, res.Dir, res.Image.Quantized, res.Text.Quantized, opt.Describe(), modelBytes(res.SourceBytes), modelBytes(res.Bytes))
	return nil
}

func modelsQuantizeCommand() *command {
	var f modelsFlags
	var q quantizeFlags
	var out string
	var force bool
	return &command{
		name:    "quantize",
		summary: "make an INT8 copy of a model (MatMul/Gemm weights in int8, dynamic activations)",
		usage:   "[--out NAME] [--per-tensor] [--full-range] [--format fused|integer] [--force] [--ort-library FILE] [--json] NAME|DIR",
		setFlags: func(fs *flag.FlagSet) {
			f.registerRuntime(fs)
			f.registerJSON(fs)
			q.register(fs)
			fs.StringVar(&out, "out", "", "name of the new model (default: NAME-int8)")
			fs.BoolVar(&force, "force", false, "replace an installed model of the same name")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one model NAME or DIR")
			}
			opt, err := q.options()
			if err != nil {
				return err
			}
			h := f.hub(e, e.stderr)
			src, err := e.models().Lookup(args[0])
			if err != nil {
				return modelsClassify(err)
			}
			if out == "" {
				out = filepath.Base(src) + "-int8"
			}
			return quantizeInto(ctx, h, src, out, opt, force, f.asJSON, e.stdout)
		},
	}
}
