package models_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/engine"
	"mmsearch/models"
)

// TestImportedModelsIndexAndSearch imports a Hugging Face and an OpenCLIP
// layout, then indexes the shared photos and searches them with each through
// the engine, exactly as with the bundled model.
func TestImportedModelsIndexAndSearch(t *testing.T) {
	models.StartRuntimeForTest(t)
	models.NeedCatForTest(t)
	photos := filepath.Dir(models.CatJPEGForTest)
	h := models.HubForTest(t)
	for _, src := range []struct {
		name  string
		flags []string
	}{{"hf-engine", nil}, {"openclip-engine", []string{"--layout", "openclip"}}} {
		t.Run(src.name, func(t *testing.T) {
			res, err := h.Import(context.Background(), models.RandomCLIPForTest(t, src.flags...), src.name, models.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			lib, err := engine.Open(ctx, t.TempDir(), engine.Options{Model: res.Dir})
			if err != nil {
				t.Fatal(err)
			}
			defer lib.Close()
			rep, err := lib.Ingest(ctx, []string{photos}, engine.IngestOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Indexed+rep.Reused < 20 {
				t.Fatalf("indexed %d photos: %+v", rep.Indexed, rep)
			}
			r, err := lib.Search(ctx, models.CatJPEGForTest+` - "a cat" + "a dog"`, engine.SearchOptions{K: 5, AllowPaths: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Results) != 5 {
				t.Fatalf("%d results", len(r.Results))
			}
			for _, x := range r.Results {
				if strings.HasSuffix(x.Path, "/cat.jpg") {
					t.Fatalf("the input image came back: %+v", r.Results)
				}
			}
			// An indexed photo is its own nearest neighbour.
			self, err := lib.Search(ctx, models.CatJPEGForTest, engine.SearchOptions{K: 1, AllowPaths: true, IncludeInputs: true})
			if err != nil || !strings.HasSuffix(self.Results[0].Path, "/cat.jpg") || self.Results[0].Score < 0.999 {
				t.Fatalf("self search: %+v %v", self, err)
			}
		})
	}
}
