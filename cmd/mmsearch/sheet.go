package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"image/jpeg"
	"path/filepath"

	"mmsearch/encoders/imageproc"
	"mmsearch/engine"
	"mmsearch/internal/atomicfile"
	"mmsearch/internal/regfile"
)

// maxSheetInput bounds the size of one 'search --json' output read by sheet.
const maxSheetInput = 64 << 20

func sheetCommand() *command {
	var out string
	var thumb int
	return &command{
		name:    "sheet",
		summary: "write an HTML contact sheet with thumbnails from 'search --json' outputs",
		usage:   "--out FILE.html RESULT.json...",
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&out, "out", "contact-sheet.html", "HTML file to write")
			intVar(fs, &thumb, "thumb", 160, 16, 1024, "thumbnail size in pixels")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usagef("no RESULT.json given")
			}
			if thumb < 16 || thumb > 1024 {
				return usagef("--thumb %d out of range [16, 1024]", thumb)
			}
			var sheets []sheetQuery
			for _, p := range args {
				b, err := regfile.ReadFile(ctx, p, maxSheetInput)
				if err != nil {
					return err
				}
				var sr engine.SearchResult
				if err := json.Unmarshal(b, &sr); err != nil {
					return fmt.Errorf("%s: not a 'search --json' output: %w", p, err)
				}
				q := sheetQuery{Query: sr.Query, Mode: sr.Mode.String()}
				for _, t := range sr.Terms {
					if t.Kind == "path" || t.Kind == "item" {
						if src := thumbnailURI(t.Value, thumb); src != "" {
							q.Inputs = append(q.Inputs, sheetCell{Name: filepath.Base(t.Value), Src: template.URL(src), Score: fmt.Sprintf("%+g", t.Coef)})
						}
					}
				}
				for i, r := range sr.Results {
					q.Results = append(q.Results, sheetCell{Rank: i + 1, Name: filepath.Base(r.Path), Path: r.Path, Src: template.URL(thumbnailURI(r.Path, thumb)), Score: fmt.Sprintf("%.3f", r.Score)})
				}
				sheets = append(sheets, q)
			}
			var buf bytes.Buffer
			if err := sheetTemplate.Execute(&buf, map[string]any{"Queries": sheets, "Thumb": thumb}); err != nil {
				return err
			}
			if err := atomicfile.Write(out, 0o644, func(w *bufio.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s (%d queries)\n", out, len(sheets))
			return nil
		},
	}
}

type sheetCell struct {
	Rank  int
	Name  string
	Path  string
	Src   template.URL
	Score string
}

type sheetQuery struct {
	Query   string
	Mode    string
	Inputs  []sheetCell
	Results []sheetCell
}

// thumbnailURI returns a JPEG thumbnail of the image at path, composed on
// white (transparent pictures look as on paper, not black), as a data URI,
// or "" when the file cannot be read as an image. The sheet makes one
// thumbnail at a time, decoded at reduced resolution where the format
// allows (see imageproc.Thumbnail), so its memory stays near one reduced
// decode's.
func thumbnailURI(path string, size int) string {
	t, _, err := imageproc.LoadThumbnail(path, imageproc.Options{}, size)
	if err != nil {
		return ""
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, imageproc.OnWhite(t), &jpeg.Options{Quality: 85}); err != nil {
		return ""
	}
	return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
}

var sheetTemplate = template.Must(template.New("sheet").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mmsearch contact sheet</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#fafafa;color:#222}
h2{font-size:1.1rem;margin:2rem 0 .5rem;font-family:ui-monospace,monospace}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax({{.Thumb}}px,1fr));gap:.75rem}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4rem;text-align:center}
figure.input{border-color:#7a7}
img{max-width:100%;height:{{.Thumb}}px;object-fit:contain;background:#fff}
figcaption{font-size:.75rem;overflow-wrap:anywhere}
.score{font-weight:600}
</style></head><body>
<h1>mmsearch contact sheet</h1>
{{range .Queries}}<section>
<h2>{{.Query}} <small>({{.Mode}})</small></h2>
{{if .Inputs}}<div class="grid">{{range .Inputs}}<figure class="input"><img src="{{.Src}}" alt="{{.Name}}"><figcaption>input {{.Score}}: {{.Name}}</figcaption></figure>{{end}}</div><p>results:</p>{{end}}
<div class="grid">{{range .Results}}<figure><img src="{{.Src}}" alt="{{.Name}}"><figcaption><span class="score">#{{.Rank}} {{.Score}}</span><br>{{.Name}}</figcaption></figure>{{end}}</div>
</section>{{end}}
</body></html>
`))
