package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"golang.org/x/image/tiff"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// page drives one tab of headless Chromium over a served library for the
// browser tests; failed steps leave a screenshot in dir.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

// servePage serves lib on loopback, starts Chromium and returns a page on it.
func servePage(t *testing.T, lib Library) *page {
	t.Helper()
	s := newTestServer(t, lib, Config{Addr: "127.0.0.1:0"})
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stopServer := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(srvCtx, ln) }()
	t.Cleanup(func() {
		stopServer()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &page{t: t, ctx: startChromium(t), base: URL(ln), dir: artifactsDir(t)}
}

func (p *page) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		shot(p.t, p.ctx, p.dir, "failed-"+strings.ReplaceAll(name, " ", "-"))
		p.t.Fatalf("%s: %v", name, err)
	}
}

func (p *page) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until polls a JavaScript condition for up to 30 s.
func until(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(30*time.Second))
}

// settled waits until the results are drawn (n cards, or any number when
// n < 0) with their thumbnails decoded, and no search is running.
func settled(n int) chromedp.Action[chromedp.Void] {
	return until(fmt.Sprintf(`(() => {
		const imgs = [...document.querySelectorAll("#results li.card img")];
		return (%d < 0 ? imgs.length > 0 : imgs.length === %d) && imgs.every(i => i.complete && i.naturalWidth > 0) &&
			document.querySelector("#results").getAttribute("aria-busy") === null;
	})()`, n, n))
}

// firstCardInView reports whether the first result card starts inside the
// viewport without scrolling.
func (p *page) firstCardInView() (top, height string, ok bool) {
	top = p.eval(`String(Math.round(document.querySelector("#results li.card").getBoundingClientRect().top))`)
	height = p.eval(`String(window.innerHeight)`)
	ok = p.eval(`String(window.scrollY === 0 && document.querySelector("#results li.card").getBoundingClientRect().top < window.innerHeight - 40)`) == "true"
	return
}

// drop drops the file at path on the element matching selector, through
// Chromium's own drag-and-drop input (a real drop with a file list).
func (p *page) drop(selector, path string) {
	p.t.Helper()
	var box struct{ X, Y float64 }
	raw := p.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
		return JSON.stringify({X: r.left + r.width / 2, Y: r.top + r.height / 2}); })()`, selector))
	if err := json.Unmarshal([]byte(raw), &box); err != nil {
		p.t.Fatal(err)
	}
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{path}, DragOperationsMask: 1}
	for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
		if _, err := chromedp.Call(p.ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: box.X, Y: box.Y, Data: data}); err != nil {
			p.t.Fatalf("drop %s on %s (%s): %v", path, selector, typ, err)
		}
	}
}

// pixel returns the colour at the fraction (fx, fy) of the element's box
// in a screenshot of it.
func (p *page) pixel(selector string, fx, fy float64) color.RGBA {
	p.t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.Screenshot(chromedp.CSS(selector)))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", selector, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		p.t.Fatal(err)
	}
	r := img.Bounds()
	x := r.Min.X + int(fx*float64(r.Dx()-1))
	y := r.Min.Y + int(fy*float64(r.Dy()-1))
	return color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
}

// viewShot saves what the viewport shows, the first screen, as name.png.
func (p *page) viewShot(name string) {
	p.t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(p.dir, name+".png"), b, 0o644); err != nil {
		p.t.Error(err)
	}
}

func isWhite(c color.RGBA) bool { return c.R >= 245 && c.G >= 245 && c.B >= 245 }

// englishTinyModel copies the tiny test model into a new folder with a
// manifest that says its text tower is English-only.
func englishTinyModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(tinyModel, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "model.json" {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			m["text"].(map[string]any)["languages"] = []string{"en"}
			if b, err = json.MarshalIndent(m, "", "  "); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// transparentDisc is a size×size picture, transparent but for an opaque
// red disc in its middle.
func transparentDisc(size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	c := float64(size) / 2
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)-c+0.5, float64(y)-c+0.5
			if dx*dx+dy*dy < c*c/4 {
				img.SetNRGBA(x, y, color.NRGBA{220, 20, 20, 255})
			}
		}
	}
	return img
}

// pgm encodes img's green channel as a binary PGM.
func pgm(img *image.NRGBA) []byte {
	r := img.Bounds()
	var b bytes.Buffer
	fmt.Fprintf(&b, "P5\n%d %d\n255\n", r.Dx(), r.Dy())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			b.WriteByte(img.NRGBAAt(x, y).G)
		}
	}
	return b.Bytes()
}

// TestBrowserAnalystFlows drives the page's analyst features in headless
// Chromium over a real server and library, leaving screenshots in the
// test's artifacts folder: the builder with "@path", "use as A/B/C" and the
// query's inputs shown as thumbnails; results above the fold in analogy
// mode on a laptop and a phone; TIFF and PGM results opening as converted
// previews; a transparent picture on white; the notice for non-English
// text with an English-only model; an upload by file picker and by drag
// and drop into the builder (upload arithmetic), and no upload left after
// "Similar".
func TestBrowserAnalystFlows(t *testing.T) {
	skipWithoutChromium(t)
	f := newFixtureModel(t, 20, 96, englishTinyModel(t))
	extra := filepath.Join(f.photos, "camera roll")
	if err := os.MkdirAll(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	var tif bytes.Buffer
	if err := tiff.Encode(&tif, colourImage(3, 7, 120), nil); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"scan.tif":        tif.Bytes(),
		"gray.pgm":        pgm(colourImage(5, 7, 110)),
		"transparent.png": imagetest.PNG(t, transparentDisc(96)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(extra, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if rep, err := f.lib.Ingest(ctx, []string{f.photos}, engine.IngestOptions{}); err != nil || rep.Indexed != len(files) {
		t.Fatalf("index the extra files: %+v %v", rep, err)
	}
	for name := range files {
		it, err := f.lib.ItemByPath(ctx, filepath.Join(extra, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.ids[name] = it.ID
	}
	// The picture the user uploads, from outside the library.
	uploadPath := filepath.Join(t.TempDir(), "my photo.png")
	if err := os.WriteFile(uploadPath, imagetest.PNG(t, colourImage(11, 13, 80)), 0o644); err != nil {
		t.Fatal(err)
	}
	total := 20 + len(files)

	p := servePage(t, f.lib)
	id := func(name string) string { return strconv.FormatInt(f.ids[name], 10) }
	cardOf := func(name string) string {
		return fmt.Sprintf(`[...document.querySelectorAll("#results li.card")].find(c => c.querySelector(".score").textContent.endsWith("@%s"))`, id(name))
	}

	// 1. The builder, at 1280×800: A is an indexed item named by its path
	// (with a space in it), B text, C an item by id.
	aPath := filepath.Join(extra, "transparent.png")
	p.step("open the builder",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(p.base),
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.Click(chromedp.CSS("#analogy summary")),
		chromedp.WaitVisible(chromedp.CSS("#a-term")),
		chromedp.SendKeys(chromedp.CSS("#a-term"), "@"+aPath),
		chromedp.SendKeys(chromedp.CSS("#b-term"), "red"),
		chromedp.SendKeys(chromedp.CSS("#c-term"), "@"+id("colour04.png")),
		chromedp.Click(chromedp.CSS("#analogy-go")),
		settled(total-2),
	)
	want := "@" + id("transparent.png") + ` - "red" + @` + id("colour04.png")
	if got := p.eval(`document.querySelector("#q").value`); got != want {
		t.Fatalf("query from the builder %q, want %q (@path resolved to its id)", got, want)
	}
	// The inputs, as the server read them, are shown above the results.
	p.step("inputs shown", until(`(() => {
		const imgs = [...document.querySelectorAll("#inputs li img")];
		return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); })()`))
	if got := p.eval(`[...document.querySelectorAll("#inputs li")].map(li => [...li.children].map(c => c.textContent).filter(Boolean).join(" ").trim()).join(" | ")`); got !=
		"+ @"+id("transparent.png")+` | − “red” text | + @`+id("colour04.png") {
		t.Fatalf("inputs strip %q", got)
	}
	if got := p.eval(`String(document.querySelector("#inputs").getBoundingClientRect().bottom <= document.querySelector("#results").getBoundingClientRect().top)`); got != "true" {
		t.Fatal("the inputs are not above the results")
	}
	if top, h, ok := p.firstCardInView(); !ok {
		shot(t, p.ctx, p.dir, "failed-fold-laptop")
		t.Fatalf("analogy mode at 1280×800: the first result starts at %s px of a %s px viewport", top, h)
	}
	shot(t, p.ctx, p.dir, "analyst-laptop-analogy")
	p.viewShot("analyst-laptop-analogy-first-screen")

	// An unknown @path is refused with its term marked, and nothing runs.
	p.step("unknown path",
		chromedp.SetValue(chromedp.CSS("#a-term"), "@/no/such/file.png"),
		chromedp.Click(chromedp.CSS("#analogy-go")),
		chromedp.WaitVisible(chromedp.CSS("#error")),
	)
	if got := p.eval(`document.querySelector("#error-msg").textContent + " " + document.querySelector("#a-term").getAttribute("aria-invalid")`); !strings.Contains(got, "no indexed item has the path") || !strings.HasSuffix(got, " true") {
		t.Fatalf("unknown @path: %q", got)
	}
	if got := p.eval(`document.querySelector("#q").value`); got != want {
		t.Fatalf("the query changed after a refused @path: %q", got)
	}

	// 2. "Use as A/B/C" on result cards fills the builder.
	first := p.eval(`document.querySelector("#results li.card .score").textContent.split("@")[1]`)
	second := p.eval(`document.querySelectorAll("#results li.card .score")[1].textContent.split("@")[1]`)
	p.step("use as A and B",
		chromedp.Click(chromedp.CSS("#results li.card .use-a")),
		chromedp.Click(chromedp.CSS("#results li.card:nth-child(2) .use-b")),
		until(`document.querySelector("#analogy").open`),
	)
	if got := p.eval(`document.querySelector("#analogy-preview").textContent`); got != "@"+first+" - @"+second+" + @"+id("colour04.png") {
		t.Fatalf("builder after use as A, B: %q", got)
	}
	if n := p.eval(`String(document.querySelectorAll("#results li.card .use-a, #results li.card .use-b, #results li.card .use-c").length)`); n != strconv.Itoa(3*(total-2)) {
		t.Fatalf("%s use-as buttons, want 3 on each of %d cards", n, total-2)
	}

	// 3. TIFF and PGM results open as converted previews; the transparent
	// picture shows on white.
	p.step("everything", chromedp.Navigate(p.base+"?q=%22red%22&k=50"), settled(total))
	for _, name := range []string{"scan.tif", "gray.pgm"} {
		href := p.eval(cardOf(name) + `.querySelector("a.thumb").getAttribute("href")`)
		if href != "/api/items/"+id(name)+"/preview" {
			t.Fatalf("%s links to %q, want its preview", name, href)
		}
		p.step("view "+name,
			chromedp.Evaluate[chromedp.Void](cardOf(name)+`.querySelector("a.thumb").click()`),
			until(`document.querySelector("#viewer").open && document.querySelector("#viewer-img").complete && document.querySelector("#viewer-img").naturalWidth > 0`),
		)
		if got := p.eval(`document.querySelector("#viewer-img").getAttribute("src")`); got != href {
			t.Fatalf("viewer of %s shows %q", name, got)
		}
		ct, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q).then(r => r.status + " " + r.headers.get("Content-Type"))`, href), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "200 image/jpeg" {
			t.Fatalf("preview of %s: %s", name, ct)
		}
		shot(t, p.ctx, p.dir, "analyst-preview-"+strings.ReplaceAll(name, ".", "-"))
		p.step("close viewer", chromedp.Click(chromedp.CSS("#viewer-close")), until(`!document.querySelector("#viewer").open`))
	}
	// The PNG opens as itself, in the viewer, on white.
	if href := p.eval(cardOf("transparent.png") + `.querySelector("a.thumb").getAttribute("href")`); href != "/api/items/"+id("transparent.png")+"/file" {
		t.Fatalf("a PNG links to %q, want the original", href)
	}
	p.step("scroll the transparent card into view", chromedp.Evaluate[chromedp.Void](cardOf("transparent.png")+`.scrollIntoView()`),
		chromedp.Evaluate[chromedp.Void](cardOf("transparent.png")+`.querySelector("img").id = "transparent-thumb"`))
	if c := p.pixel("#transparent-thumb", 0.05, 0.05); !isWhite(c) {
		t.Fatalf("the transparent corner of the thumbnail shows %v, want white", c)
	}
	if c := p.pixel("#transparent-thumb", 0.5, 0.5); c.R < 150 || c.G > 100 {
		t.Fatalf("the middle of the thumbnail shows %v, want the red disc", c)
	}
	p.step("view the transparent picture",
		chromedp.Evaluate[chromedp.Void](cardOf("transparent.png")+`.querySelector("a.thumb").click()`),
		until(`document.querySelector("#viewer").open && document.querySelector("#viewer-img").complete && document.querySelector("#viewer-img").naturalWidth > 0`),
	)
	if c := p.pixel("#viewer-img", 0.05, 0.05); !isWhite(c) {
		t.Fatalf("the viewer shows the transparent corner as %v, want white", c)
	}
	shot(t, p.ctx, p.dir, "analyst-transparent")
	p.step("close viewer", chromedp.Click(chromedp.CSS("#viewer-close")))

	// 4. Text in another script with an English-only model gets a notice;
	// English text does not.
	p.step("non-English query", chromedp.Navigate(p.base+"?q=%E7%8C%AB"), settled(-1), chromedp.WaitVisible(chromedp.CSS("#notice")))
	if got := p.eval(`document.querySelector("#notice").textContent`); !strings.Contains(got, "English only") || !strings.Contains(got, "猫") {
		t.Fatalf("notice %q", got)
	}
	shot(t, p.ctx, p.dir, "analyst-language-notice")
	p.step("English query", chromedp.Navigate(p.base+"?q=red+cat"), settled(-1))
	if got := p.eval(`String(document.querySelector("#notice").hidden)`); got != "true" {
		t.Fatal("a notice for an English query")
	}

	// 5. An upload with the file picker; then "Similar" on a result leaves
	// no trace of it.
	p.step("upload with the file picker",
		chromedp.Click(chromedp.CSS("#by-image summary")),
		chromedp.SetUploadFiles(chromedp.CSS("#upload"), []string{uploadPath}),
		chromedp.Click(chromedp.CSS("#upload-form button")),
		settled(-1),
		until(`(() => { const i = document.querySelector("#inputs li.input-upload img");
			return i && i.src.startsWith("blob:") && i.complete && i.naturalWidth > 0; })()`),
	)
	shot(t, p.ctx, p.dir, "analyst-upload")
	p.step("similar after the upload",
		chromedp.Click(chromedp.CSS("#results li.card .like")),
		until(`document.querySelector("#q").value.startsWith("@")`),
		settled(-1),
		until(`document.querySelectorAll("#inputs li.input-item img").length === 1`),
	)
	if got := p.eval(`[document.querySelectorAll("img[src^='blob:']").length, document.querySelector("#upload").files.length,
		document.querySelectorAll("#inputs li").length, new URLSearchParams(location.search).get("q")].join(" ")`); !strings.HasPrefix(got, "0 0 1 @") {
		t.Fatalf("after Similar: blob images, chosen files, inputs, URL query = %q; want no upload left", got)
	}

	// 6. On a phone, analogy mode still shows results on the first screen.
	p.step("phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Navigate(p.base),
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.Click(chromedp.CSS("#analogy summary")),
		chromedp.SendKeys(chromedp.CSS("#a-term"), "@"+id("colour02.png")),
		chromedp.SendKeys(chromedp.CSS("#b-term"), "red"),
		chromedp.SendKeys(chromedp.CSS("#c-term"), "blue"),
		chromedp.Click(chromedp.CSS("#analogy-go")),
		settled(-1),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
	)
	if top, h, ok := p.firstCardInView(); !ok {
		shot(t, p.ctx, p.dir, "failed-fold-phone")
		t.Fatalf("analogy mode on a 390×844 phone: the first result starts at %s px of a %s px viewport", top, h)
	}
	if got := p.eval(`String(document.documentElement.scrollWidth <= document.documentElement.clientWidth)`); got != "true" {
		t.Fatalf("the page is wider than the phone: %s", p.eval(`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth).slice(0, 5).map(e => e.tagName + "#" + e.id + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)).join(", ")`))
	}
	p.viewShot("analyst-phone-analogy-first-screen")
	// 7. Drag and drop a picture onto the builder's A; the analogy
	// "$upload - red" is searched with the picture (upload arithmetic).
	p.step("builder for the drop",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#analogy").open = true`),
		chromedp.Evaluate[chromedp.Void](`for (const s of "abc") document.querySelector("#" + s + "-clear").click()`),
		chromedp.SendKeys(chromedp.CSS("#b-term"), "red"),
	)
	p.drop(`.term[data-slot="a"]`, uploadPath)
	p.step("dropped", until(`(() => { const i = document.querySelector('.term[data-slot="a"] .upload-thumb');
		return !i.hidden && i.complete && i.naturalWidth > 0; })()`))
	if got := p.eval(`document.querySelector("#a-term").value + " | " + document.querySelector("#analogy-preview").textContent`); got != `my photo.png | $upload - "red"` {
		t.Fatalf("builder after the drop: %q", got)
	}
	p.step("search with the dropped picture",
		chromedp.Click(chromedp.CSS("#analogy-go")),
		settled(-1),
		until(`document.querySelectorAll("#inputs li").length === 2`),
	)
	if got := p.eval(`[...document.querySelectorAll("#inputs li")].map(li => li.className + ":" + [...li.children].map(c => c.textContent).filter(Boolean).join(" ").trim()).join(" | ")`); got !=
		`input input-upload:+ my photo.png | input input-text:− “red” text` {
		t.Fatalf("inputs of the upload analogy %q", got)
	}
	shot(t, p.ctx, p.dir, "analyst-drop")

	t.Logf("artifacts in %s", p.dir)
}
