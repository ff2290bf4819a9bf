// Package modelhub installs CLIP models into the mmsearch data folder: it pulls
// the models a registry lists (resumable HTTP downloads checked against sha256
// digests, installed atomically), imports model folders exported by Hugging
// Face or OpenCLIP tools (writing the model.json manifest the encoders read),
// and lists, describes, verifies and selects installed models.
//
// # Where models live
//
// Installed models are folders under DataDir/models (see encoders.DataDir),
// one per model, each with its model.json. Work in progress never appears
// there under a model's name: downloads and copies go to
// DataDir/models/.staging and the finished, verified folder is renamed into
// place in one step. A model folder is therefore either absent or complete.
//
// # The registry
//
// The registry (onnx-models/registry.json in the repository) lists models that
// can be downloaded: for each, its files with URL, size and sha256 where a
// public source gives them, and a note citing where each figure came from.
// FindRegistry looks for it, in order: the --registry flag, the
// MMSEARCH_REGISTRY environment variable (a file path or an http(s) URL), then
// registry.json in the bundled-model folders beside the executable
// (../onnx-models, ../share/mmsearch) and ./onnx-models.
//
// # Checksums and trust on first use
//
// A registry file with a sha256 is verified before the model becomes usable; a
// mismatch deletes the file and fails with ErrChecksum. Where no public source
// gives a digest, the registry says so with "sha256": "" and
// "verify": "trust-on-first-use": the pull then records the digest it
// received (in the manifest and in provenance.json), reports the file in
// PullResult.TrustedOnFirstUse so the CLI can warn loudly, and every later
// Verify checks the files against that recorded digest. PullOptions.RequireChecksums
// refuses such files instead.
//
// # Default model
//
// Use records the default model in DataDir/config.json and DefaultModel reads
// it back; callers resolving a model without an explicit name should consult
// DefaultModel before falling back to encoders.DefaultModel.
package modelhub
