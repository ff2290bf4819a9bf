package server

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mmsearch/internal/imagetest"
)

// seen is one request the server answered, as the browser sent it.
type seen struct {
	method, path, site, origin string
	status                     int
}

// requestLog wraps a handler and remembers every request and its status.
type requestLog struct {
	mu   sync.Mutex
	reqs []seen
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		l.mu.Lock()
		l.reqs = append(l.reqs, seen{r.Method, r.URL.Path, r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin"), rec.status})
		l.mu.Unlock()
	})
}

func (l *requestLog) take() []seen {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// evilPage is a page on another loopback port that tries to use the
// mmsearch server at TARGET: uploads by fetch (multipart, text/plain, a
// typeless blob, an image type), a multipart form posted into a frame, a
// CORS read of the stats and a thumbnail in an <img>. It sets window.done
// when every fetch has settled and the form is sent.
const evilPage = `<!doctype html>
<title>another site</title>
<img id="thumb" src="TARGET/api/items/ITEM/thumb">
<iframe name="sink"></iframe>
<form id="f" method="POST" action="TARGET/api/search/image" enctype="multipart/form-data" target="sink">
<input id="file" type="file" name="image"></form>
<script>
window.results = {};
(async () => {
  const png = await (await fetch("/pic.png")).blob();
  const fd = new FormData();
  fd.append("image", png, "x.png");
  const tries = {
    multipart: { method: "POST", mode: "no-cors", body: fd },
    text: { method: "POST", mode: "no-cors", body: await png.text() },
    blob: { method: "POST", mode: "no-cors", body: new Blob([png]) },
    typed: { method: "POST", body: png, headers: { "Content-Type": "image/png" } },
  };
  for (const [name, opt] of Object.entries(tries)) {
    try { const r = await fetch("TARGET/api/search/image", opt); window.results[name] = "answer " + r.type + " " + r.status; }
    catch (e) { window.results[name] = "failed"; }
  }
  try { const r = await fetch("TARGET/api/stats"); window.results.stats = "read " + r.status + " " + (await r.text()); }
  catch (e) { window.results.stats = "failed"; }
  const dt = new DataTransfer();
  dt.items.add(new File([png], "x.png", { type: "image/png" }));
  document.getElementById("file").files = dt.files;
  document.getElementById("f").submit();
  window.done = true;
})();
</script>`

// TestBrowserCrossSiteRefused serves a page on another loopback port (once
// as 127.0.0.1, the same site as the server, once as localhost, another
// site) and lets headless Chromium run it against the server: every
// request it makes is refused with 403, no upload is decoded, the page reads
// nothing and its <img> of a thumbnail does not load. Then the server's own
// page uploads the same picture the way the web page does (a FormData
// fetch) and gets results.
func TestBrowserCrossSiteRefused(t *testing.T) {
	skipWithoutChromium(t)
	f := newFixture(t, 6)
	lib := &countingLibrary{Library: f.lib}
	s := newTestServer(t, lib, Config{Addr: "127.0.0.1:0"})
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	var log requestLog
	hs := &http.Server{Handler: log.wrap(s.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := URL(ln)
	target := strings.TrimSuffix(base, "/")
	item := fmt.Sprint(f.ids["colour01.png"])

	pic := imagetest.PNG(t, colourImage(1, 6, 48)) // the indexed picture's pixels
	evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, strings.NewReplacer("TARGET", target, "ITEM", item).Replace(evilPage))
		case "/pic.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(pic)
		default:
			http.NotFound(w, r)
		}
	}))
	evil.Listener.Close()
	if evil.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	evil.Start()
	defer evil.Close()
	evilPort := evil.Listener.Addr().(*net.TCPAddr).Port

	ctx := startChromium(t)
	dir := artifactsDir(t)
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}

	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			page := fmt.Sprintf("http://%s:%d/", host, evilPort)
			log.take()
			if err := chromedp.Do(ctx,
				chromedp.Navigate(page),
				chromedp.Poll[chromedp.Void](`window.done === true && document.getElementById("thumb").complete`,
					chromedp.WithPollingTimeout(30*time.Second)),
			); err != nil {
				shot(t, ctx, dir, "failed-cross-site-"+host)
				t.Fatalf("run the page at %s: %v", page, err)
			}
			// The form's POST arrives after the page's last script line.
			var reqs []seen
			posts := 0
			for deadline := time.Now().Add(15 * time.Second); posts < 4 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				reqs = append(reqs, log.take()...)
				posts = 0
				for _, r := range reqs {
					if r.method == "POST" {
						posts++
					}
				}
			}
			t.Logf("page results: %s", eval(`JSON.stringify(window.results)`))
			for _, r := range reqs {
				t.Logf("server saw %s %s Sec-Fetch-Site=%q Origin=%q → %d", r.method, r.path, r.site, r.origin, r.status)
			}
			// fetch multipart, fetch text, fetch blob and the form; the
			// typed fetch is stopped by the browser's preflight (OPTIONS).
			if posts != 4 {
				t.Fatalf("the server saw %d POSTs from the page, want 4: %+v", posts, reqs)
			}
			kinds := map[string]bool{}
			for _, r := range reqs {
				if r.method == http.MethodOptions && r.status == http.StatusMethodNotAllowed {
					continue // a refused preflight, whether or not Chromium marked it
				}
				if r.status != http.StatusForbidden {
					t.Errorf("%s %s from %s (Sec-Fetch-Site %q) answered %d, want 403", r.method, r.path, page, r.site, r.status)
				}
				if r.site != "same-site" && r.site != "cross-site" {
					t.Errorf("%s %s: Sec-Fetch-Site %q", r.method, r.path, r.site)
				}
				kinds[r.method+" "+r.path] = true
			}
			for _, want := range []string{"GET /api/items/" + item + "/thumb", "GET /api/stats"} {
				if !kinds[want] {
					t.Errorf("the server never saw %s", want)
				}
			}
			if n := lib.uploads.Load(); n != 0 {
				t.Fatalf("%d uploads from the other site were decoded", n)
			}
			if got := eval(`String(document.getElementById("thumb").naturalWidth)`); got != "0" {
				t.Errorf("the other site's <img> loaded the thumbnail (width %s)", got)
			}
			if got := eval(`window.results.stats`); got != "failed" {
				t.Errorf("the other site read the stats: %s", got)
			}
		})
	}

	// The server's own page uploads as app.js does and gets results.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.Evaluate[chromedp.Void](`(async () => {
			const png = await (await fetch("/api/items/`+item+`/file")).blob();
			const fd = new FormData();
			fd.append("image", png, "x.png");
			const r = await fetch("/api/search/image?k=3", { method: "POST", body: fd });
			window.own = r.status + " " + (await r.json()).results.length;
		})()`),
		chromedp.Poll[chromedp.Void](`window.own !== undefined`, chromedp.WithPollingTimeout(30*time.Second)),
	); err != nil {
		shot(t, ctx, dir, "failed-own-upload")
		t.Fatalf("own page upload: %v", err)
	}
	if got := eval(`window.own`); got != "200 3" {
		t.Fatalf("own page upload: %s, want 200 with 3 results", got)
	}
	if n := lib.uploads.Load(); n != 1 {
		t.Fatalf("%d uploads decoded, want the own page's 1", n)
	}
}
