package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// MaxDim bounds a model's embedding dimension.
const MaxDim = 1 << 16

// Model identifies the model that made a library's vectors. Vectors of two
// models are not comparable, so a library holds one model's vectors only.
type Model struct {
	// Name is the model's name from its manifest.
	Name string `json:"name"`
	// Version is the model's version from its manifest.
	Version string `json:"version"`
	// Dim is the embedding dimension; every vector has Dim float32s.
	Dim int `json:"dim"`
	// Fingerprint identifies the model's weights, typically
	// FingerprintFiles(imageTower, textTower).
	Fingerprint string `json:"fingerprint"`
}

// String describes the model for messages.
func (m Model) String() string {
	fp := m.Fingerprint
	if len(fp) > 12 {
		fp = fp[:12] + "…"
	}
	return fmt.Sprintf("%q version %q (dim %d, fingerprint %s)", m.Name, m.Version, m.Dim, fp)
}

func (m Model) validate() error {
	switch {
	case m.Name == "":
		return errors.New("model has no name")
	case m.Dim <= 0 || m.Dim > MaxDim:
		return fmt.Errorf("model %q has dimension %d; want 1 to %d", m.Name, m.Dim, MaxDim)
	case m.Fingerprint == "":
		return fmt.Errorf("model %q has no fingerprint", m.Name)
	}
	return nil
}

// ModelMismatchError says that a library made with one model was opened
// with another. errors.Is(err, ErrModelMismatch) is true for it.
type ModelMismatchError struct {
	// Library is the model whose vectors the library holds.
	Library Model
	// Requested is the model the caller wanted to use.
	Requested Model
}

// Error names both models.
func (e *ModelMismatchError) Error() string {
	return fmt.Sprintf("store: the library's vectors were made by model %s, not by model %s; "+
		"use another library for this model or re-index", e.Library, e.Requested)
}

// Is makes errors.Is(err, ErrModelMismatch) true.
func (e *ModelMismatchError) Is(target error) bool { return target == ErrModelMismatch }

// meta keys of the model.
const (
	keyModelName        = "model_name"
	keyModelVersion     = "model_version"
	keyModelDim         = "model_dim"
	keyModelFingerprint = "model_fingerprint"
)

// SetModel records the model of a library that has none, does nothing when
// the library already has the same model, and returns a *ModelMismatchError
// when it has another one. Call it right after Open.
func (s *Store) SetModel(ctx context.Context, m Model) error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("store: set model: %w", err)
	}
	if s.w == nil {
		return fmt.Errorf("store: set model: %w", ErrReadOnly)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: set model: %w", err)
	}
	defer tx.Rollback()
	cur, ok, err := model(ctx, tx)
	if err != nil {
		return fmt.Errorf("store: set model: %w", err)
	}
	if ok {
		if cur != m {
			return &ModelMismatchError{Library: cur, Requested: m}
		}
		return nil
	}
	for _, kv := range [][2]string{
		{keyModelName, m.Name},
		{keyModelVersion, m.Version},
		{keyModelDim, strconv.Itoa(m.Dim)},
		{keyModelFingerprint, m.Fingerprint},
	} {
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?)", kv[0], kv[1]); err != nil {
			return fmt.Errorf("store: set model: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: set model: commit: %w", err)
	}
	return nil
}

// Model returns the library's model, or an error wrapping ErrNoModel.
func (s *Store) Model(ctx context.Context) (Model, error) {
	m, ok, err := model(ctx, s.r)
	if err != nil {
		return Model{}, fmt.Errorf("store: model: %w", err)
	}
	if !ok {
		return Model{}, fmt.Errorf("store: %w", ErrNoModel)
	}
	return m, nil
}

func model(ctx context.Context, q queryer) (Model, bool, error) {
	var m Model
	name, ok, err := getMeta(ctx, q, keyModelName)
	if err != nil || !ok {
		return m, false, err
	}
	m.Name = name
	var dim string
	for _, kv := range []struct {
		key string
		dst *string
	}{{keyModelVersion, &m.Version}, {keyModelDim, &dim}, {keyModelFingerprint, &m.Fingerprint}} {
		v, ok, err := getMeta(ctx, q, kv.key)
		if err != nil {
			return m, false, err
		}
		if !ok {
			return m, false, fmt.Errorf("meta has %s but no %s", keyModelName, kv.key)
		}
		*kv.dst = v
	}
	m.Dim, err = strconv.Atoi(dim)
	if err != nil || m.Dim <= 0 || m.Dim > MaxDim {
		return m, false, fmt.Errorf("bad model dimension %q in meta", dim)
	}
	return m, true, nil
}

// FingerprintFiles returns the hex SHA-256 of the SHA-256 sums of the files'
// contents, in order: the fingerprint of a model made of those files (its
// two ONNX towers).
func FingerprintFiles(paths ...string) (string, error) {
	if len(paths) == 0 {
		return "", errors.New("store: fingerprint: no files")
	}
	outer := sha256.New()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return "", fmt.Errorf("store: fingerprint: %w", err)
		}
		inner := sha256.New()
		_, err = io.Copy(inner, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("store: fingerprint %q: %w", p, err)
		}
		outer.Write(inner.Sum(nil))
	}
	return hex.EncodeToString(outer.Sum(nil)), nil
}
