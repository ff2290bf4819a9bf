// mmsearch web page. Plain JavaScript, no dependencies. Every piece of data
// from the server or the user is put into the page with textContent or as an
// attribute value, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("search");
  const box = $("q");
  const kInput = $("k");
  const modeInput = $("mode");
  const prefixInput = $("prefix");
  const results = $("results");
  const inputsStrip = $("inputs");
  const status = $("status");
  const notice = $("notice");
  const errorBox = $("error");
  const errorMsg = $("error-msg");
  const errorQuery = $("error-query");
  const login = $("login");
  const moreButton = $("more");
  const analogyPanel = $("analogy");
  const DEFAULT_K = 24;
  const MAX_K = 200; // the server's default bound on k
  const SLOTS = [["a", "+"], ["b", "-"], ["c", "+"]];
  // UPLOAD is how a query names the uploaded picture (POST /api/search/image).
  const UPLOAD = "$upload";

  // el builds an element with attributes and children (strings become text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  function setStatus(text) { status.textContent = text; }

  function hideError() {
    errorBox.hidden = true;
    errorMsg.textContent = "";
    errorQuery.replaceChildren();
    errorQuery.hidden = true;
  }

  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  // byteSlice returns the text of s between UTF-8 byte offsets a and b.
  function byteSlice(s, a, b) {
    const bytes = new TextEncoder().encode(s);
    const dec = new TextDecoder();
    return dec.decode(bytes.slice(Math.max(0, a), Math.max(0, b)));
  }

  // showError shows an API error; a query error marks its position.
  function showError(err) {
    hideError();
    errorMsg.textContent = err.message || "Something went wrong.";
    if (typeof err.position === "number" && typeof err.query === "string") {
      const q = err.query;
      const n = new TextEncoder().encode(q).length;
      const pos = Math.min(err.position, n);
      const end = Math.min(pos + Math.max(err.length || 0, 0), n);
      const before = byteSlice(q, 0, pos);
      const bad = byteSlice(q, pos, end);
      const after = byteSlice(q, end, n);
      const mark = el("mark", { text: bad || " " });
      mark.setAttribute("aria-label", bad ? "error here: " + bad : "error here, at the end");
      errorQuery.replaceChildren(el("span", { text: before }), mark, el("span", { text: after }));
      errorQuery.hidden = false;
      errorMsg.textContent = "Query error at character " + ([...before].length + 1) + ": " + err.message;
    }
    errorBox.hidden = false;
  }

  // api calls the server and returns the decoded JSON, or throws an Error
  // carrying the API's error object (with .status).
  async function api(path, options) {
    let resp;
    try {
      resp = await fetch(path, Object.assign({ headers: { Accept: "application/json" } }, options || {}));
    } catch (e) {
      throw Object.assign(new Error("Cannot reach the server."), { status: 0 });
    }
    let body = null;
    try { body = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) {
      const info = (body && body.error) || { message: resp.status + " " + resp.statusText };
      throw Object.assign(new Error(info.message), info, { status: resp.status });
    }
    return body;
  }

  function needLogin() {
    login.hidden = false;
    $("token").focus();
    setStatus("Sign in to search.");
  }

  function handleFailure(err) {
    if (err.status === 401) { needLogin(); return; }
    showError(err);
    setStatus("");
  }

  // pageSize is the number of results one page asks for.
  function pageSize() {
    const k = parseInt(kInput.value, 10);
    return k >= 1 && k <= MAX_K ? k : DEFAULT_K;
  }

  // params reads the form into URL parameters (defaults left out).
  function params() {
    const p = new URLSearchParams();
    p.set("q", box.value.trim());
    const k = pageSize();
    if (k !== DEFAULT_K) p.set("k", String(k));
    if (modeInput.value !== "add") p.set("mode", modeInput.value);
    if (prefixInput.value) p.set("prefix", prefixInput.value);
    return p;
  }

  function updateOptionsSummary() {
    const parts = [pageSize() + " a page", modeInput.value];
    if (prefixInput.value) parts.push("in " + prefixInput.value);
    $("options-summary").textContent = "(" + parts.join(" · ") + ")";
  }

  // fromURL fills the form from the page's URL.
  function fromURL() {
    const p = new URLSearchParams(location.search);
    box.value = p.get("q") || "";
    kInput.value = p.get("k") || String(DEFAULT_K);
    modeInput.value = p.get("mode") === "mul" ? "mul" : "add";
    prefixInput.value = p.get("prefix") || "";
    updateOptionsSummary();
    return box.value !== "";
  }

  // ---- The uploaded picture ----------------------------------------------
  //
  // At most one picture of the user's is part of the query, as $upload. It
  // sits in one slot of the builder (or comes from "Search with an image
  // file"), and it is forgotten as soon as a query no longer names it.

  let upload = null; // { file, url, slot }

  // setUpload makes file the query's picture, in builder slot slot ("" for
  // none); any earlier picture is forgotten.
  function setUpload(file, slot) {
    clearUpload(slot ? $(slot + "-file") : $("upload"));
    upload = { file: file, url: URL.createObjectURL(file), slot: slot || "" };
    if (slot) {
      const term = $(slot + "-term");
      term.value = file.name;
      term.readOnly = true;
      const row = term.closest(".term");
      row.classList.add("has-upload");
      const thumb = row.querySelector(".upload-thumb");
      thumb.src = upload.url;
      thumb.alt = "your picture " + file.name;
      thumb.hidden = false;
    }
    updatePreview();
  }

  // clearUpload forgets the uploaded picture everywhere: its builder slot,
  // the file inputs (but keep) and its object URL.
  function clearUpload(keep) {
    for (const input of [$("upload"), ...SLOTS.map(([s]) => $(s + "-file"))]) {
      if (input !== keep) input.value = "";
    }
    if (!upload) return;
    if (upload.slot) {
      const term = $(upload.slot + "-term");
      term.value = "";
      term.readOnly = false;
      const row = term.closest(".term");
      row.classList.remove("has-upload");
      const thumb = row.querySelector(".upload-thumb");
      thumb.removeAttribute("src");
      thumb.hidden = true;
    }
    URL.revokeObjectURL(upload.url);
    upload = null;
    updatePreview();
  }

  function namesUpload(q) { return /(^|[\s:+\-−])[$@]upload(?![\w/.])/.test(q); }

  // ---- Searching and paging ----------------------------------------------

  let seq = 0; // only the latest search may draw
  // current is the search on screen: its parameters, the results so far,
  // and whether more may follow.
  let current = null;

  async function search(push) {
    const p = params();
    if (!p.get("q")) { box.focus(); setStatus("Type a query first."); return; }
    const withUpload = namesUpload(p.get("q"));
    if (!withUpload) clearUpload();
    else if (!upload) {
      showError(new Error("The query names " + UPLOAD + " but no picture is chosen: drop one on the builder or pick a file."));
      return;
    }
    if (push && !withUpload) {
      const url = "?" + p.toString();
      if (url !== location.search) history.pushState(null, "", url);
    }
    current = { params: p, upload: withUpload ? upload : null, hits: [], more: false, offsetAPI: null };
    await loadPage(true);
  }

  // fetchResults asks for results [offset, offset+n) of the current search.
  // Where the server pages (its answer carries "offset"), it asks for that
  // page; otherwise it asks for the first offset+n results (up to MAX_K)
  // and keeps the new ones.
  async function fetchResults(cur, offset, n) {
    const p = new URLSearchParams(cur.params);
    const paged = cur.offsetAPI === true;
    if (paged) {
      p.set("k", String(n));
      if (offset > 0) p.set("offset", String(offset));
    } else {
      p.set("k", String(Math.min(offset + n, MAX_K)));
    }
    let res;
    if (cur.upload) {
      const fd = new FormData();
      fd.append("image", cur.upload.file, cur.upload.file.name);
      const q = p.get("q");
      if (q.trim() === UPLOAD) p.delete("q");
      res = await api("/api/search/image?" + p.toString(), { method: "POST", body: fd });
    } else {
      res = await api("/api/search?" + p.toString());
    }
    if (cur.offsetAPI === null) cur.offsetAPI = typeof res.offset === "number";
    const all = res.results || [];
    const fresh = paged ? all : all.slice(offset);
    const more = cur.offsetAPI ? fresh.length === n : all.length === offset + n && offset + n < MAX_K;
    return { res: res, hits: fresh, more: more };
  }

  // loadPage loads the first page (first) or the next one of the current
  // search and draws it.
  async function loadPage(first) {
    const cur = current;
    const mine = ++seq;
    if (first) {
      hideError();
      showNotice("");
      results.replaceChildren();
      inputsStrip.replaceChildren();
      inputsStrip.hidden = true;
    }
    moreButton.hidden = true;
    setStatus(first ? (cur.upload ? "Searching with " + cur.upload.file.name + "…" : "Searching…") : "Loading more…");
    results.setAttribute("aria-busy", "true");
    try {
      const page = await fetchResults(cur, cur.hits.length, pageSize());
      if (mine !== seq) return;
      const start = cur.hits.length;
      cur.hits.push(...page.hits);
      cur.more = page.more;
      if (first) {
        renderInputs(page.res.terms || [], cur.upload);
        showNotice(page.res.notice);
        document.title = (page.res.query || cur.params.get("q")) + " — mmsearch";
      }
      results.append(...page.hits.map((hit, i) => card(hit, start + i)));
      const n = cur.hits.length;
      setStatus(n === 0 ? "No results." : n + (n === 1 ? " result" : " results") +
        (first ? " in " + page.res.took_ms.toFixed(1) + " ms" : "") + (cur.more ? "" : n > 0 ? " (all)" : ""));
      moreButton.hidden = !cur.more;
    } catch (err) {
      if (mine !== seq) return;
      if (first) results.replaceChildren();
      handleFailure(err);
    } finally {
      if (mine === seq) results.removeAttribute("aria-busy");
    }
  }

  function loadMore() {
    if (!current || !current.more || results.getAttribute("aria-busy")) return;
    loadPage(false);
  }

  // Infinite scroll: the next page loads when the end of the results comes
  // into view; the button does the same for keyboards and old browsers.
  moreButton.addEventListener("click", loadMore);
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && results.children.length > 0) loadMore();
    }, { rootMargin: "200px" }).observe($("sentinel"));
  }

  // ---- Drawing -------------------------------------------------------------

  function signed(coef) {
    const a = Math.abs(coef);
    return (coef < 0 ? "−" : "+") + (a === 1 ? "" : " " + a + " ×");
  }

  // renderInputs shows the query's inputs as the server read them: the
  // thumbnails of items and of the uploaded picture, and text terms.
  function renderInputs(terms, up) {
    const cells = [];
    for (const t of terms) {
      let pic = null;
      let label = "";
      if (t.kind === "item" && t.item_id > 0) {
        pic = el("img", { src: "/api/items/" + t.item_id + "/thumb?size=128", alt: "item @" + t.item_id });
        label = "@" + t.item_id;
      } else if (t.kind === "upload" && up) {
        pic = el("img", { src: up.url, alt: "your picture " + up.file.name });
        label = up.file.name;
      } else if (t.kind === "text") {
        pic = el("span", { class: "text-term", text: "“" + t.value + "”" });
        label = "text";
      } else {
        pic = el("span", { class: "text-term", text: t.kind });
        label = t.value || t.kind;
      }
      cells.push(el("li", { class: "input input-" + t.kind },
        el("span", { class: "sign", text: signed(t.coef) }), pic,
        el("span", { class: "label", title: label, text: label })));
    }
    inputsStrip.replaceChildren(...cells);
    inputsStrip.hidden = cells.length === 0;
  }

  function card(hit, i) {
    const ref = "@" + hit.id;
    const img = el("img", { src: hit.thumb + "?size=256", alt: hit.name, loading: "lazy", decoding: "async" });
    const view = hit.view || hit.file;
    const link = el("a", { href: view, target: "_blank", rel: "noopener", class: "thumb",
      title: "View " + hit.name }, img);
    link.addEventListener("click", (e) => {
      if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      openViewer(hit);
    });
    const meta = el("div", { class: "meta" },
      el("span", { class: "name", title: hit.path, text: hit.name }),
      el("span", { class: "score", text: "#" + (i + 1) + " · " + hit.score.toFixed(3) + " · " + ref }));
    // Identical files are one result; say how many other paths it has.
    const copies = (hit.paths || []).length - 1;
    if (copies > 0) {
      meta.append(el("span", { class: "copies", title: hit.paths.join("\n"),
        text: "+" + copies + (copies === 1 ? " copy" : " copies") }));
    }
    const add = el("button", { type: "button", class: "use-add", "aria-label": "Use " + ref + " in the query (add)",
      title: "Add " + ref + " to the query", text: "+" });
    add.addEventListener("click", () => useInQuery("+", ref));
    const sub = el("button", { type: "button", class: "use-sub", "aria-label": "Use " + ref + " in the query (subtract)",
      title: "Subtract " + ref + " from the query", text: "−" });
    sub.addEventListener("click", () => useInQuery("-", ref));
    const like = el("button", { type: "button", class: "like", "aria-label": "More like " + ref,
      title: "Search for items like " + ref, text: "Similar" });
    like.addEventListener("click", () => similar(ref));
    const slots = el("div", { class: "use-as", role: "group", "aria-label": "Use " + ref + " in the analogy builder" },
      el("span", { class: "muted", text: "use as" }));
    for (const [s] of SLOTS) {
      const b = el("button", { type: "button", class: "use-" + s, text: s.toUpperCase(),
        "aria-label": "Use " + ref + " as " + s.toUpperCase(), title: "Put " + ref + " in the builder as " + s.toUpperCase() });
      b.addEventListener("click", () => useAs(s, ref));
      slots.append(b);
    }
    return el("li", { class: "card" }, link, meta, el("div", { class: "actions" }, add, sub, like), slots);
  }

  // similar searches for items like ref, forgetting any uploaded picture.
  function similar(ref) {
    clearUpload();
    box.value = ref;
    search(true);
  }

  // useInQuery appends "op @ID" to the query and searches.
  function useInQuery(op, ref) {
    const q = box.value.trim();
    if (q === "") box.value = op === "-" ? "- " + ref : ref;
    else box.value = q + " " + op + " " + ref;
    search(true);
  }

  // useAs puts an item in a builder slot, opens the builder and moves on to
  // the next empty term.
  function useAs(slot, ref) {
    if (upload && upload.slot === slot) clearUpload();
    $(slot + "-term").value = ref;
    analogyPanel.open = true;
    updatePreview();
    const next = SLOTS.map(([s]) => $(s + "-term")).find((t) => t.value.trim() === "");
    (next || $("analogy-go")).focus({ preventScroll: true });
  }

  // ---- The picture viewer ----------------------------------------------------

  const viewer = $("viewer");
  function openViewer(hit) {
    $("viewer-name").textContent = hit.name;
    const img = $("viewer-img");
    img.alt = hit.name;
    img.src = hit.view || hit.file;
    $("viewer-meta").textContent = [hit.path, hit.width + " × " + hit.height, hit.format,
      hit.view && hit.view !== hit.file ? "shown converted" : ""].filter(Boolean).join(" · ");
    $("viewer-open").href = hit.view || hit.file;
    $("viewer-file").href = hit.file;
    $("viewer-file").setAttribute("download", hit.name);
    if (typeof viewer.showModal === "function") viewer.showModal();
    else viewer.setAttribute("open", "");
  }
  $("viewer-close").addEventListener("click", () => viewer.close());
  viewer.addEventListener("click", (e) => { if (e.target === viewer) viewer.close(); });
  viewer.addEventListener("close", () => { $("viewer-img").removeAttribute("src"); });

  // ---- The analogy builder ---------------------------------------------------

  // pathIDs caches the ids of "@path" terms the server resolved.
  const pathIDs = new Map();

  function isPathRef(t) { return /^@\D/.test(t) && !namesUpload(t); }

  // resolvePath turns "@/some/path.jpg" into the item's "@ID", asking the
  // server (GET /api/items?path=) once per path.
  async function resolvePath(t) {
    const p = t.slice(1);
    if (!pathIDs.has(p)) {
      const it = await api("/api/items?path=" + encodeURIComponent(p));
      pathIDs.set(p, "@" + it.id);
    }
    return pathIDs.get(p);
  }

  // quoteTerm writes a builder term as a query atom: @ID stays as it is, a
  // resolved @path becomes its @ID, anything else becomes quoted text.
  function quoteTerm(t) {
    t = t.trim();
    if (/^@\d+$/.test(t)) return t;
    if (isPathRef(t) && pathIDs.has(t.slice(1))) return pathIDs.get(t.slice(1));
    if (isPathRef(t)) return t; // resolved before searching
    return '"' + t.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }

  function weightPrefix(w) {
    const v = w.trim();
    if (v === "" || Number(v) === 1) return "";
    return v + ":";
  }

  // analogy composes A − B + C with weights into a query string.
  function analogy() {
    let out = "";
    for (const [id, op] of SLOTS) {
      const term = $(id + "-term").value;
      if (term.trim() === "") continue;
      const atom = weightPrefix($(id + "-w").value) + (upload && upload.slot === id ? UPLOAD : quoteTerm(term));
      if (out === "") out = op === "-" ? "- " + atom : atom;
      else out += " " + op + " " + atom;
    }
    return out;
  }

  function updatePreview() { $("analogy-preview").textContent = analogy() || "(empty)"; }

  // resolveSlots resolves every @path term of the builder; it marks and
  // throws the first one the server does not know. A mark is cleared only
  // once its term is known good, so that two runs at once (a change event
  // and a submit) cannot clear each other's mark while one is waiting.
  async function resolveSlots() {
    for (const [s] of SLOTS) {
      const input = $(s + "-term");
      const t = input.value.trim();
      if (upload && upload.slot === s || !isPathRef(t)) {
        input.removeAttribute("aria-invalid");
        continue;
      }
      try {
        await resolvePath(t);
        input.removeAttribute("aria-invalid");
      } catch (err) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
        throw err;
      }
    }
    updatePreview();
  }

  $("analogy-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await resolveSlots();
    } catch (err) {
      handleFailure(err);
      return;
    }
    const q = analogy();
    if (q === "") { $("a-term").focus(); return; }
    box.value = q;
    search(true);
  });
  $("analogy-form").addEventListener("input", updatePreview);
  $("analogy-form").addEventListener("change", (e) => {
    const t = e.target;
    if (t.id && /^[abc]-term$/.test(t.id) && isPathRef(t.value.trim())) {
      resolveSlots().catch((err) => handleFailure(err));
    }
  });

  for (const [s] of SLOTS) {
    $(s + "-file").addEventListener("change", (e) => {
      const f = e.target.files[0];
      if (f) setUpload(f, s);
    });
    $(s + "-clear").addEventListener("click", () => {
      if (upload && upload.slot === s) clearUpload();
      $(s + "-term").value = "";
      $(s + "-term").removeAttribute("aria-invalid");
      updatePreview();
    });
    // A picture dropped on a row becomes that term.
    const row = document.querySelector('.term[data-slot="' + s + '"]');
    row.addEventListener("dragover", (e) => {
      if (!e.dataTransfer || ![...e.dataTransfer.types].includes("Files")) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
      row.classList.add("drop");
    });
    row.addEventListener("dragleave", () => row.classList.remove("drop"));
    row.addEventListener("drop", (e) => {
      row.classList.remove("drop");
      const f = e.dataTransfer && [...e.dataTransfer.files].find((x) => x.type === "" || x.type.startsWith("image/"));
      if (!f) return;
      e.preventDefault();
      setUpload(f, s);
    });
  }
  // A picture dropped anywhere else must not replace the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  // ---- The rest of the page --------------------------------------------------

  async function loadStats() {
    try {
      const st = await api("/api/stats");
      const model = st.model && st.model.name ? st.model.name : "unknown model";
      $("stats").textContent = st.items + (st.items === 1 ? " item" : " items") + " · " + model;
      return true;
    } catch (err) {
      if (err.status === 401) { needLogin(); return false; }
      $("stats").textContent = "";
      return true;
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); search(true); });
  form.addEventListener("change", updateOptionsSummary);

  $("upload-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = $("upload").files[0];
    if (!f) return;
    setUpload(f, "");
    box.value = UPLOAD;
    search(false);
  });

  login.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("/api/login", { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ token: $("token").value }) });
      $("token").value = "";
      login.hidden = true;
      hideError();
      setStatus("");
      if (await loadStats() && fromURL()) search(false);
      else box.focus();
    } catch (err) {
      showError(err);
    }
  });

  // "/" focuses the query box unless the user is typing somewhere.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    e.preventDefault();
    box.focus();
    box.select();
  });

  window.addEventListener("popstate", () => {
    if (fromURL()) search(false);
    else { results.replaceChildren(); inputsStrip.replaceChildren(); inputsStrip.hidden = true; hideError(); setStatus(""); }
  });

  // Options start open where there is room for them.
  if (window.matchMedia && window.matchMedia("(min-width: 48rem)").matches) $("options").open = true;
  updatePreview();
  updateOptionsSummary();
  (async () => {
    const ok = await loadStats();
    if (!ok) return;
    if (fromURL()) search(false);
    else box.focus();
  })();
})();
