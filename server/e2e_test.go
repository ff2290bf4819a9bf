package server

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// chromiumPath is Debian's chromium (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where the end-to-end test leaves its screenshots:
// $MMSEARCH_TEST_ARTIFACTS when set, else a temporary folder.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("MMSEARCH_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestBrowserEndToEnd starts the real server on loopback over a small
// library and drives headless Chromium through the page: an analogy typed
// into the builder, result thumbnails, "use in query", a shared URL, the
// back button, a query error with its position marked, and the "/" key.
func TestBrowserEndToEnd(t *testing.T) {
	skipWithoutChromium(t)
	f := newFixtureSized(t, 20, 96)
	// One more picture whose name is HTML: the page must show it as text.
	hostile := `<img src=x onerror="window.__xss=1">.png`
	if err := os.WriteFile(filepath.Join(f.photos, hostile), imagetest.PNG(t, colourImage(7, 9, 96)), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, err := f.lib.Ingest(context.Background(), []string{f.photos}, engine.IngestOptions{}); err != nil || rep.Indexed != 1 {
		t.Fatalf("index the hostile name: %+v %v", rep, err)
	}
	s := newTestServer(t, f.lib, Config{Addr: "127.0.0.1:0"})
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stopServer := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(srvCtx, ln) }()
	defer func() {
		stopServer()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	base := URL(ln)
	dir := artifactsDir(t)

	ctx := startChromium(t)

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(t, ctx, dir, "failed-"+strings.ReplaceAll(name, " ", "-"))
			t.Fatalf("%s: %v", name, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	// thumbsLoaded waits until n result cards show decoded thumbnails.
	thumbsLoaded := func(n int) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => {
			const imgs = [...document.querySelectorAll("#results li.card img")];
			return imgs.length === %d && imgs.every(i => i.complete && i.naturalWidth > 0) &&
				document.querySelector("#results").getAttribute("aria-busy") === null;
		})()`, n), chromedp.WithPollingTimeout(30*time.Second))
	}
	resultIDs := func() []string {
		return strings.Fields(eval(`[...document.querySelectorAll("#results .score")].map(e => e.textContent.split("@")[1]).join(" ")`))
	}

	a := fmt.Sprint(f.ids["colour03.png"])

	// 1. Type an analogy into the builder: A = @item, B = "red", C = "blue" × 2.
	step("open the page",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.Poll[chromedp.Void](`document.activeElement && document.activeElement.id === "q"`),
		chromedp.Click(chromedp.CSS("#analogy summary")),
		chromedp.WaitVisible(chromedp.CSS("#a-term")),
		chromedp.SendKeys(chromedp.CSS("#a-term"), "@"+a),
		chromedp.SendKeys(chromedp.CSS("#b-term"), "red"),
		chromedp.SendKeys(chromedp.CSS("#c-term"), "blue"),
		chromedp.SetValue(chromedp.CSS("#c-w"), ""),
		chromedp.SendKeys(chromedp.CSS("#c-w"), "2"),
	)
	wantQuery := "@" + a + ` - "red" + 2:"blue"`
	if got := eval(`document.querySelector("#analogy-preview").textContent`); got != wantQuery {
		t.Fatalf("analogy preview %q, want %q", got, wantQuery)
	}
	step("search the analogy",
		chromedp.Click(chromedp.CSS("#analogy-go")),
		thumbsLoaded(20), // 21 items less the input
	)
	if got := eval(`document.querySelector("#q").value`); got != wantQuery {
		t.Fatalf("query box %q, want %q", got, wantQuery)
	}
	if got := eval(`new URLSearchParams(location.search).get("q")`); got != wantQuery {
		t.Fatalf("URL query %q, want %q", got, wantQuery)
	}
	ids := resultIDs()
	if len(ids) != 20 || strings.Contains(" "+strings.Join(ids, " ")+" ", " "+a+" ") {
		t.Fatalf("analogy results %v (input @%s must be left out)", ids, a)
	}
	// The thumbnails are the server's, each linked to its original.
	if got := eval(`document.querySelector("#results li.card img").getAttribute("src")`); got != "/api/items/"+ids[0]+"/thumb?size=256" {
		t.Fatalf("first thumbnail src %q", got)
	}
	if got := eval(`document.querySelector("#results li.card a").getAttribute("href")`); got != "/api/items/"+ids[0]+"/file" {
		t.Fatalf("first link %q", got)
	}

	// The HTML file name is shown as text and runs nothing.
	names := eval(`[...document.querySelectorAll("#results .name")].map(e => e.textContent).join("\n")`)
	if !strings.Contains(names, hostile) {
		t.Fatalf("the hostile name is not shown as text: %q", names)
	}
	if got := eval(`String(window.__xss) + " " + document.querySelectorAll("#results img[src='x']").length`); got != "undefined 0" {
		t.Fatalf("HTML from a file name was interpreted: %s", got)
	}

	// 2. "Use in query" (+) on the first result adds it to the query.
	first := ids[0]
	step("use a result in the query",
		chromedp.Click(chromedp.CSS("#results li.card .use-add")),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector("#q").value.endsWith(" + @%s")`, first)),
		thumbsLoaded(19),
	)
	added := wantQuery + " + @" + first
	if got := eval(`new URLSearchParams(location.search).get("q")`); got != added {
		t.Fatalf("URL query after +: %q, want %q", got, added)
	}
	for _, id := range resultIDs() {
		if id == first || id == a {
			t.Fatalf("an input item is among the results: %v", resultIDs())
		}
	}
	png := shot(t, ctx, dir, "server-e2e")
	t.Logf("screenshot: %s", png)

	// 3. Back returns to the analogy's results (history.pushState).
	step("go back",
		chromedp.NavigateBack(),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector("#q").value === %q`, wantQuery)),
		thumbsLoaded(20),
	)

	// 4. A shared URL runs its search when opened.
	shared := base + "?" + url.Values{"q": {"@" + first}, "k": {"4"}}.Encode()
	step("open a shared URL",
		chromedp.Navigate(shared),
		thumbsLoaded(4),
	)
	if got := eval(`document.querySelector("#k").value`); got != "4" {
		t.Fatalf("k from the URL: %q", got)
	}

	// 5. "/" focuses the query box; Enter runs a bad query; the error marks
	// the position of the dangling operator.
	step("type a bad query",
		chromedp.Focus(chromedp.CSS("#go")),
		chromedp.KeyEvent("/"),
		chromedp.Poll[chromedp.Void](`document.activeElement.id === "q"`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#q").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#q"), "red + \r"),
		chromedp.WaitVisible(chromedp.CSS("#error mark")),
	)
	if got := eval(`document.querySelector("#error mark").textContent`); got != "+" {
		t.Fatalf("marked text %q, want the dangling +", got)
	}
	if got := eval(`document.querySelector("#error-query").textContent`); got != "red +" {
		t.Fatalf("error shows query %q", got)
	}
	if got := eval(`document.querySelectorAll("#results li").length.toString()`); got != "0" {
		t.Fatalf("results left after an error: %s", got)
	}
	shot(t, ctx, dir, "server-e2e-error")

	// 6. On a phone-sized screen the page fits its width.
	step("phone layout",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(shared),
		thumbsLoaded(4),
	)
	if got := eval(`(document.documentElement.scrollWidth <= document.documentElement.clientWidth).toString()`); got != "true" {
		t.Fatalf("the page is wider than a phone screen: %s px", eval(`document.documentElement.scrollWidth.toString()`))
	}
	shot(t, ctx, dir, "server-e2e-phone")
	t.Logf("artifacts in %s", dir)
}

// skipWithoutChromium skips browser tests where Chromium is missing and in
// -short mode.
func skipWithoutChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("end-to-end browser test skipped: %s not found (install Debian's chromium: apt-get install -y chromium)", chromiumPath)
	}
	if testing.Short() {
		t.Skip("end-to-end browser test skipped in -short mode")
	}
}

// startChromium starts headless Chromium for the test and returns a context
// for its first tab, with a 90-second limit; the browser stops when the
// test ends.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true), // screenshots then show the whole width
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// shot saves a full-page PNG screenshot in the artifacts folder and returns
// its path.
func shot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
	return p
}
