package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"

	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/encoders/tokenizer"
	"mmsearch/internal/atomicfile"
	"mmsearch/models"
)

func tokenizeCommand() *command {
	var vocab string
	var contextLength int
	return &command{
		name:    "tokenize",
		summary: "print the CLIP token ids of each TEXT as JSON lines",
		usage:   "--vocab FILE|DIR [--context-length N] TEXT...",
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&vocab, "vocab", "", "bpe_simple_vocab_16e6.txt.gz, vocab.json (merges.txt beside it), tokenizer.json, or a folder holding one")
			countVar(fs, &contextLength, "context-length", 0, 4096, "pad and truncate to N ids, printing the attention mask too (0: ids untruncated)")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if vocab == "" {
				return usagef("--vocab is required")
			}
			if len(args) == 0 {
				return usagef("no TEXT given")
			}
			tok, err := tokenizer.Load(vocab)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(e.stdout)
			for _, text := range args {
				type line struct {
					Text string  `json:"text"`
					IDs  []int64 `json:"ids"`
					Mask []int64 `json:"attention_mask,omitempty"`
				}
				l := line{Text: text}
				if contextLength > 0 {
					ids, mask, err := tok.EncodeBatch([]string{text}, contextLength)
					if err != nil {
						return usageError{err}
					}
					l.IDs, l.Mask = ids[0], mask[0]
				} else {
					l.IDs = append(l.IDs, int64(tok.StartOfText()))
					for _, id := range tok.Encode(text) {
						l.IDs = append(l.IDs, int64(id))
					}
					l.IDs = append(l.IDs, int64(tok.EndOfText()))
				}
				if err := enc.Encode(l); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func preprocessCommand() *command {
	var rf runtimeFlags
	var out string
	return &command{
		name:    "preprocess",
		summary: "write the model input tensor of IMAGE (float32 little-endian, CHW)",
		usage:   "[--model NAME|DIR] --out FILE IMAGE",
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&rf.model, "model", "", "model name or folder (default: the one set by 'models use', else "+models.BundledModel+")")
			fs.StringVar(&out, "out", "", "output file for the tensor")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 || out == "" {
				return usagef("want --out FILE and exactly one IMAGE")
			}
			res, err := rf.resolveModel(e)
			if err != nil {
				return err
			}
			m, err := encoders.ReadManifest(res.Dir)
			if err != nil {
				return err
			}
			p := m.Image.Preprocess()
			dst := make([]float32, p.Len())
			info, err := imageproc.LoadTensor(args[0], imageproc.Options{}, p, dst)
			if err != nil {
				return err
			}
			if err := writeFloat32File(out, dst); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "%s: %s %dx%d -> %s (3x%dx%d float32)\n", args[0], info.Format, info.Width, info.Height, out, p.Size, p.Size)
			return nil
		},
	}
}

func writeFloat32File(path string, v []float32) error {
	return atomicfile.Write(path, 0o644, func(w *bufio.Writer) error {
		var b [4]byte
		for _, x := range v {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			if _, err := w.Write(b[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

func embedCommand() *command {
	var rf runtimeFlags
	var raw bool
	return &command{
		name:    "embed",
		summary: "print the embedding of texts or image files as JSON lines",
		usage:   "[--model NAME|DIR] [--device cpu|cuda|auto] [--raw] text TEXT... | image FILE...",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			rf.registerThreads(fs)
			fs.BoolVar(&raw, "raw", false, "embed texts as given, without the model's templates")
			fs.StringVar(&rf.device, "device", encoders.DeviceCPU, "where the encoders run: cpu, cuda or auto (cuda when usable, else cpu)")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) < 2 || (args[0] != "text" && args[0] != "image") {
				return usagef("want 'text TEXT...' or 'image FILE...'")
			}
			if _, err := encoders.ParseDevice(rf.device); err != nil {
				return usagef("--device: %v", err)
			}
			m, err := rf.openModel(e)
			if err != nil {
				return err
			}
			opt := encoders.SessionOptions{IntraOpThreads: rf.threads, Device: rf.device}
			type line struct {
				Input  string    `json:"input"`
				Model  string    `json:"model"`
				Vector []float32 `json:"vector,omitempty"`
				Error  string    `json:"error,omitempty"`
			}
			out := json.NewEncoder(e.stdout)
			inputs := args[1:]
			var vecs [][]float32
			var errs []error
			if args[0] == "text" {
				enc, err := encoders.NewTextEncoder(m, opt)
				if err != nil {
					return err
				}
				defer enc.Close()
				if raw {
					vecs, err = enc.EncodeTexts(ctx, inputs)
				} else {
					for _, t := range inputs {
						v, qerr := enc.EncodeQuery(ctx, t)
						if qerr != nil {
							return qerr
						}
						vecs = append(vecs, v)
					}
				}
				if err != nil {
					return err
				}
			} else {
				enc, err := encoders.NewImageEncoder(m, opt)
				if err != nil {
					return err
				}
				defer enc.Close()
				vecs, errs, err = enc.EncodeFiles(ctx, inputs, imageproc.Options{})
				if err != nil {
					return err
				}
			}
			failed := 0
			for i, in := range inputs {
				l := line{Input: in, Model: m.Manifest.Name, Vector: vecs[i]}
				if errs != nil && errs[i] != nil {
					l.Error = errs[i].Error()
					failed++
				}
				if err := out.Encode(l); err != nil {
					return err
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d images could not be embedded", failed, len(inputs))
			}
			return nil
		},
	}
}
