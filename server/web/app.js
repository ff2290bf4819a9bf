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
  const status = $("status");
  const errorBox = $("error");
  const errorMsg = $("error-msg");
  const errorQuery = $("error-query");
  const login = $("login");
  const DEFAULT_K = 24;

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

  // params reads the form into URL parameters (defaults left out).
  function params() {
    const p = new URLSearchParams();
    p.set("q", box.value.trim());
    const k = parseInt(kInput.value, 10);
    if (k && k !== DEFAULT_K) p.set("k", String(k));
    if (modeInput.value !== "add") p.set("mode", modeInput.value);
    if (prefixInput.value) p.set("prefix", prefixInput.value);
    return p;
  }

  // fromURL fills the form from the page's URL.
  function fromURL() {
    const p = new URLSearchParams(location.search);
    box.value = p.get("q") || "";
    kInput.value = p.get("k") || String(DEFAULT_K);
    modeInput.value = p.get("mode") === "mul" ? "mul" : "add";
    prefixInput.value = p.get("prefix") || "";
    return box.value !== "";
  }

  let seq = 0; // only the latest search may draw

  async function search(push) {
    const p = params();
    if (!p.get("q")) { box.focus(); setStatus("Type a query first."); return; }
    if (push) {
      const url = "?" + p.toString();
      if (url !== location.search) history.pushState(null, "", url);
    }
    const mine = ++seq;
    hideError();
    setStatus("Searching…");
    results.setAttribute("aria-busy", "true");
    try {
      const res = await api("/api/search?" + p.toString());
      if (mine !== seq) return;
      render(res);
      document.title = res.query + " — mmsearch";
    } catch (err) {
      if (mine !== seq) return;
      results.replaceChildren();
      handleFailure(err);
    } finally {
      if (mine === seq) results.removeAttribute("aria-busy");
    }
  }

  function render(res) {
    const items = res.results || [];
    const cards = items.map((hit, i) => card(hit, i));
    results.replaceChildren(...cards);
    const n = items.length;
    setStatus(n === 0 ? "No results." : n + (n === 1 ? " result" : " results") + " in " + res.took_ms.toFixed(1) + " ms");
  }

  function card(hit, i) {
    const ref = "@" + hit.id;
    const img = el("img", { src: hit.thumb + "?size=256", alt: hit.name, loading: "lazy", decoding: "async" });
    const link = el("a", { href: hit.file, target: "_blank", rel: "noopener", class: "thumb",
      title: "Open " + hit.name }, img);
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
    like.addEventListener("click", () => { box.value = ref; search(true); });
    return el("li", { class: "card" }, link, meta, el("div", { class: "actions" }, add, sub, like));
  }

  // useInQuery appends "op @ID" to the query and searches.
  function useInQuery(op, ref) {
    const q = box.value.trim();
    if (q === "") box.value = op === "-" ? "- " + ref : ref;
    else box.value = q + " " + op + " " + ref;
    search(true);
  }

  // quoteTerm writes a builder term as a query atom: @ID stays as it is,
  // anything else becomes quoted text.
  function quoteTerm(t) {
    t = t.trim();
    if (/^@\d+$/.test(t)) return t;
    return '"' + t.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }

  function weightPrefix(w) {
    const v = w.trim();
    if (v === "" || Number(v) === 1) return "";
    return v + ":";
  }

  // analogy composes A − B + C with weights into a query string.
  function analogy() {
    const parts = [["a", "+"], ["b", "-"], ["c", "+"]];
    let out = "";
    for (const [id, op] of parts) {
      const term = $(id + "-term").value;
      if (term.trim() === "") continue;
      const atom = weightPrefix($(id + "-w").value) + quoteTerm(term);
      if (out === "") out = op === "-" ? "- " + atom : atom;
      else out += " " + op + " " + atom;
    }
    return out;
  }

  function updatePreview() { $("analogy-preview").textContent = analogy() || "(empty)"; }

  async function searchImage(file) {
    const p = params();
    p.delete("q");
    const fd = new FormData();
    fd.append("image", file, file.name);
    const mine = ++seq;
    hideError();
    setStatus("Searching with " + file.name + "…");
    try {
      const res = await api("/api/search/image?" + p.toString(), { method: "POST", body: fd });
      if (mine !== seq) return;
      render(res);
    } catch (err) {
      if (mine !== seq) return;
      results.replaceChildren();
      handleFailure(err);
    }
  }

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

  $("analogy-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = analogy();
    if (q === "") { $("a-term").focus(); return; }
    box.value = q;
    search(true);
  });
  $("analogy-form").addEventListener("input", updatePreview);

  $("upload-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = $("upload").files[0];
    if (f) searchImage(f);
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
    else { results.replaceChildren(); hideError(); setStatus(""); }
  });

  updatePreview();
  (async () => {
    const ok = await loadStats();
    if (!ok) return;
    if (fromURL()) search(false);
    else box.focus();
  })();
})();
