// Package models decides which model a command uses and keeps models
// trustworthy and installed.
//
// # Which model
//
// Resolver.Resolve is the one place that decides: the --model flag, else the
// model a library was made with, else the default set by 'mmsearch models
// use' (DataDir/config.json), else the bundled model (BundledModel), found
// along SearchPath or, in a binary run outside the repository, unpacked once
// from the copy embedded in the binary (Unpack, into DataDir/bundled).
//
// # Verification and stamps
//
// A model's files are verified in full — sha256 of both ONNX files against
// the manifest, both graphs against its inputs and outputs — when it is
// installed, imported or checked with 'mmsearch models verify' (and by
// 'mmsearch doctor'). Each full verification leaves a Stamp (size,
// modification time, inode and digest of each file) in CacheDir/stamps.
// Open, which every command uses, checks the stamp with a stat per file and
// verifies again only when something changed; it loads no graph, so a
// text-only command never touches the image tower.
//
// # Installing
//
// The Hub installs CLIP models into the mmsearch data folder: it pulls
// the models a registry lists (resumable HTTP downloads checked against sha256
// digests, installed atomically), imports model folders exported by Hugging
// Face or OpenCLIP tools (writing the model.json manifest the encoders read),
// and lists, describes, verifies and selects installed models.
//
// A download retries network errors, stalls, 429 and 5xx answers with
// back-off, resuming with Range requests. A server that cannot be reached
// at all (no name resolution, no route, connection refused) before any
// byte of a file arrived fails fast with ErrOffline; Entry.ImportHint then
// tells how to fetch the files elsewhere and install them with 'mmsearch
// models import'. The CLI pulls a registry model named on the command line
// that is not installed, after asking (or with --yes).
//
// # Where models live
//
// Installed models are folders under DataDir/models (see DataDir),
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
// it back; Resolver.Resolve consults it.
package models
