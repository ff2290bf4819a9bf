package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/encoders"
)

// installTiny copies the tiny test model into the hub's models folder as name.
func installTiny(t *testing.T, h *Hub, name string) string {
	t.Helper()
	dir := filepath.Join(h.ModelsDir(), name)
	for _, f := range tinyFiles {
		if _, _, err := copyFile(context.Background(), filepath.Join(tinyDir, f), filepath.Join(dir, f), 1<<30); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestListInfoUse(t *testing.T) {
	h := testHub(t, nil)
	installTiny(t, h, "alpha")
	broken := filepath.Join(h.ModelsDir(), "broken")
	os.MkdirAll(broken, 0o755)
	os.WriteFile(filepath.Join(broken, "model.json"), []byte(`{"schema": 9}`), 0o644)
	os.MkdirAll(filepath.Join(h.ModelsDir(), "not-a-model"), 0o755)
	reg := &Registry{Schema: 1, Location: "test", Models: []Entry{
		validEntry(),
		{Name: "alpha", Layout: LayoutMMSearch, Dimension: 4, ImageSize: 8, Source: "t", Files: validEntry().Files},
	}}
	reg.Models[0].Files[0].Size = 1234

	if def, err := DefaultModel(h.Getenv); err != nil || def != "" {
		t.Fatalf("default before use: %q, %v", def, err)
	}
	list, err := h.List(reg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ModelInfo{}
	var names []string
	for _, m := range list {
		byName[m.Name] = m
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "alpha,broken,m" {
		t.Fatalf("listed %s, want alpha,broken,m", got)
	}
	a := byName["alpha"]
	if a.Status != StatusInstalled || a.EmbeddingDim != 4 || a.ImageSize != 8 || a.Bytes <= 0 || a.Registry == nil || a.Error != "" || a.Fingerprint == "" {
		t.Errorf("alpha: %+v", a)
	}
	if b := byName["broken"]; b.Error == "" || !strings.Contains(b.Error, "schema 9") {
		t.Errorf("broken: %+v", b)
	}
	if m := byName["m"]; m.Status != StatusAvailable || m.Bytes != 1234 || m.EmbeddingDim != 512 {
		t.Errorf("available: %+v", m)
	}

	if err := h.Use("missing"); !errors.Is(err, ErrModelNotFound) {
		t.Fatalf("use missing: %v", err)
	}
	if err := h.Use("broken"); !errors.Is(err, encoders.ErrManifest) {
		t.Fatalf("use broken: %v", err)
	}
	// config.json keeps keys it does not own.
	os.WriteFile(filepath.Join(h.DataDir, ConfigFile), []byte(`{"theme": "dark"}`), 0o644)
	if err := h.Use("alpha"); err != nil {
		t.Fatal(err)
	}
	if def, err := DefaultModel(h.Getenv); err != nil || def != "alpha" {
		t.Fatalf("default after use: %q, %v", def, err)
	}
	data, _ := os.ReadFile(filepath.Join(h.DataDir, ConfigFile))
	if !strings.Contains(string(data), `"theme": "dark"`) {
		t.Errorf("config.json lost a key: %s", data)
	}
	list, _ = h.List(reg)
	for _, m := range list {
		if m.Default != (m.Name == "alpha") {
			t.Errorf("%s default=%v", m.Name, m.Default)
		}
	}
	info, err := h.Info("alpha", reg)
	if err != nil || !info.Default || info.Manifest == nil || info.Manifest.Name != "tiny-test" || info.Registry == nil {
		t.Fatalf("info: %+v, %v", info, err)
	}
	if info, err := h.Info("m", reg); err != nil || info.Status != StatusAvailable {
		t.Fatalf("info of a registry model: %+v, %v", info, err)
	}
	if _, err := h.Info("nothing", reg); !errors.Is(err, ErrModelNotFound) {
		t.Fatalf("info of nothing: %v", err)
	}
	os.WriteFile(filepath.Join(h.DataDir, ConfigFile), []byte(`{"default_model": 3}`), 0o644)
	if _, err := DefaultModel(h.Getenv); err == nil {
		t.Fatal("a numeric default_model was accepted")
	}
}

func TestVerifyDetectsDamage(t *testing.T) {
	startRuntime(t)
	tests := []struct {
		name    string
		damage  func(dir string)
		wantErr error
		file    string
	}{
		{"intact", func(string) {}, nil, ""},
		{"vision tower", func(dir string) {
			p := filepath.Join(dir, "vision_model.onnx")
			data, _ := os.ReadFile(p)
			data[len(data)-1] ^= 1
			os.WriteFile(p, data, 0o644)
		}, ErrChecksum, "vision_model.onnx"},
		{"missing text tower", func(dir string) { os.Remove(filepath.Join(dir, "text_model.onnx")) }, nil, "text_model.onnx"},
		{"graph renamed in the manifest", func(dir string) {
			p := filepath.Join(dir, "model.json")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(data), `"image_embeds"`, `"image_features"`, 1)), 0o644)
		}, encoders.ErrGraph, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := testHub(t, nil)
			dir := installTiny(t, h, "tiny")
			tc.damage(dir)
			rep, err := h.Verify(context.Background(), "tiny")
			if tc.name == "intact" {
				if err != nil || !rep.OK || !rep.GraphsOK || len(rep.Files) != 2 {
					t.Fatalf("%+v, %v", rep, err)
				}
				return
			}
			if err == nil {
				t.Fatal("damage not detected")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tc.file != "" && !strings.Contains(err.Error(), tc.file) {
				t.Errorf("err %v does not name %s", err, tc.file)
			}
		})
	}
}
