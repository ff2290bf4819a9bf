package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const repoRegistry = "../onnx-models/registry.json"

// TestRepositoryRegistry checks the registry shipped in onnx-models/.
func TestRepositoryRegistry(t *testing.T) {
	reg, err := LoadRegistry(context.Background(), repoRegistry, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"openai-clip-vit-b32":      512,
		"openai-clip-vit-b16":      512,
		"openai-clip-vit-l14":      768,
		"openclip-vit-b32-laion2b": 512,
	}
	for name, dim := range want {
		e, err := reg.Lookup(name)
		if err != nil {
			t.Errorf("required model: %v", err)
			continue
		}
		if e.Dimension != dim || e.ImageSize != 224 || e.ContextLength != 77 {
			t.Errorf("%s: dimension %d, image %d, context %d", name, e.Dimension, e.ImageSize, e.ContextLength)
		}
	}
	for _, e := range reg.Models {
		var onnx int
		for _, f := range e.Files {
			if strings.HasSuffix(f.Path, ".onnx") {
				onnx++
			}
			if f.Source == "" && f.SHA256 != "" {
				t.Errorf("%s %s: a digest without a source", e.Name, f.Path)
			}
			if f.SHA256 != "" && strings.Contains(f.URL, "/resolve/main/") {
				t.Errorf("%s %s: a digest on a moving revision (main)", e.Name, f.Path)
			}
		}
		if onnx != 2 {
			t.Errorf("%s lists %d ONNX files, want 2", e.Name, onnx)
		}
	}
}

func validEntry() Entry {
	return Entry{
		Name: "m", Layout: LayoutHuggingFace, Dimension: 512, ImageSize: 224, Source: "test",
		Files: []FileSpec{{Path: "onnx/vision_model.onnx", URL: "https://example.org/v", SHA256: strings.Repeat("ab", 32)}},
	}
}

func TestRegistryValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(r *Registry)
		want   string // "" = valid
	}{
		{"valid", func(r *Registry) {}, ""},
		{"trust on first use", func(r *Registry) {
			r.Models[0].Files[0].SHA256, r.Models[0].Files[0].Verify = "", VerifyTrustOnFirstUse
		}, ""},
		{"schema", func(r *Registry) { r.Schema = 2 }, "schema 2"},
		{"bad name", func(r *Registry) { r.Models[0].Name = ".hidden" }, "model name"},
		{"layout", func(r *Registry) { r.Models[0].Layout = "tf" }, "layout"},
		{"dimension", func(r *Registry) { r.Models[0].Dimension = 0 }, "dimension"},
		{"image size", func(r *Registry) { r.Models[0].ImageSize = 3 }, "image_size"},
		{"no source", func(r *Registry) { r.Models[0].Source = "" }, "source"},
		{"no files", func(r *Registry) { r.Models[0].Files = nil }, "no files"},
		{"escaping path", func(r *Registry) { r.Models[0].Files[0].Path = "../x.onnx" }, "clean relative path"},
		{"absolute path", func(r *Registry) { r.Models[0].Files[0].Path = "/x.onnx" }, "clean relative path"},
		{"dot path", func(r *Registry) { r.Models[0].Files[0].Path = "a/.x" }, "start with '.'"},
		{"file URL", func(r *Registry) { r.Models[0].Files[0].URL = "file:///x" }, "only http and https"},
		{"short digest", func(r *Registry) { r.Models[0].Files[0].SHA256 = "abc" }, "64 lower-case hex"},
		{"upper-case digest", func(r *Registry) { r.Models[0].Files[0].SHA256 = strings.Repeat("AB", 32) }, "64 lower-case hex"},
		{"missing digest unmarked", func(r *Registry) { r.Models[0].Files[0].SHA256 = "" }, "trust-on-first-use"},
		{"digest and TOFU", func(r *Registry) { r.Models[0].Files[0].Verify = VerifyTrustOnFirstUse }, "contradicts"},
		{"negative size", func(r *Registry) { r.Models[0].Files[0].Size = -1 }, "negative size"},
		{"duplicate file", func(r *Registry) { r.Models[0].Files = append(r.Models[0].Files, r.Models[0].Files[0]) }, "listed twice"},
		{"duplicate model", func(r *Registry) { r.Models = append(r.Models, r.Models[0]) }, "listed twice"},
		{"template", func(r *Registry) { r.Models[0].Templates = []string{"a photo"} }, "exactly once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Registry{Schema: RegistrySchema, Models: []Entry{validEntry()}}
			tc.modify(r)
			err := r.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrRegistry saying %q", err, tc.want)
			}
		})
	}
}

func TestParseRegistryRejectsUnknownFields(t *testing.T) {
	_, err := ParseRegistry(strings.NewReader(`{"schema":1,"models":[],"extra":1}`), "x")
	if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "extra") {
		t.Fatalf("err %v", err)
	}
}

func TestLookupListsModels(t *testing.T) {
	r := &Registry{Schema: 1, Location: "reg.json", Models: []Entry{{Name: "b"}, {Name: "a"}}}
	_, err := r.Lookup("c")
	if !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), "a, b") {
		t.Fatalf("err %v", err)
	}
}

func TestFindRegistryOrder(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got, err := FindRegistry("flag.json", getenv); err != nil || got != "flag.json" {
		t.Fatalf("flag: %q %v", got, err)
	}
	env[RegistryEnv] = "http://127.0.0.1:1/r.json"
	if got, err := FindRegistry("", getenv); err != nil || got != env[RegistryEnv] {
		t.Fatalf("env: %q %v", got, err)
	}
	delete(env, RegistryEnv)
	// The test binary runs in models/: no onnx-models folder here.
	wd, _ := os.Getwd()
	if _, err := os.Stat(filepath.Join(wd, "onnx-models")); err == nil {
		t.Skip("an onnx-models folder exists in the test's working folder")
	}
	if _, err := FindRegistry("", getenv); !errors.Is(err, ErrNoRegistry) || !strings.Contains(err.Error(), RegistryEnv) {
		t.Fatalf("err %v, want ErrNoRegistry naming %s", err, RegistryEnv)
	}
}

func TestLoadRegistryFromURL(t *testing.T) {
	fs := newFileServer(t)
	data, err := os.ReadFile(repoRegistry)
	if err != nil {
		t.Fatal(err)
	}
	fs.add("/registry.json", data)
	reg, err := LoadRegistry(context.Background(), fs.url("/registry.json"), fs.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if reg.Location != fs.url("/registry.json") || len(reg.Models) == 0 {
		t.Fatalf("location %q, %d models", reg.Location, len(reg.Models))
	}
	if _, err := LoadRegistry(context.Background(), fs.url("/missing.json"), fs.srv.Client()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing registry: %v", err)
	}
}
