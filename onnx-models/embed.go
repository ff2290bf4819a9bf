// Package onnxmodels embeds the bundled model, onnx-models/emoji-clip, so a
// binary built with 'go build' or 'go install' and run anywhere finds it:
// models.Resolver unpacks this copy once, verified, into the data folder
// when no bundled folder is found beside the executable or in the current
// folder. This is the only Go file under onnx-models/; go:embed can only
// reach files in its own folder and below, so it has to live here.
package onnxmodels

import (
	"embed"
	"io/fs"
)

// The files the manifest names, the manifest, and the model's README (its
// provenance and licence notes). Evaluation data and the recipe stay out.
//
//go:embed emoji-clip/model.json emoji-clip/README.md emoji-clip/vision_model.onnx emoji-clip/text_model.onnx emoji-clip/vocab.json emoji-clip/merges.txt
var emojiCLIP embed.FS

// EmojiCLIP returns the bundled model's folder: model.json and the files it
// names at the root.
func EmojiCLIP() fs.FS {
	sub, err := fs.Sub(emojiCLIP, "emoji-clip")
	if err != nil {
		panic(err) // the embedded tree always has this folder
	}
	return sub
}
