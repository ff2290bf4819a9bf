"""The emoji catalogue shared by the recipe's scripts: items, their artwork, captions, splits.

An *item* is one fully qualified emoji (a skin-tone variant is its own item); its *concept*
is the base emoji it belongs to (the emoji without skin tones). Ids are upper-case hex code
points joined by '-', with FE0F variation selectors removed ("2764" is the red heart).
"""

import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import unicodedata

STYLES = ("google", "twitter", "fluent", "openmoji")
TRAIN_STYLES = ("google", "twitter", "fluent")
HELDOUT_STYLE = "openmoji"
WITHHELD_FRACTION = 0.10
SPLIT_SEED = "emoji-clip-split-v1"

PACKAGES = {
    "google": "emoji-datasource-google-16.0.0",
    "twitter": "emoji-datasource-twitter-16.0.0",
    "openmoji": "openmoji-17.0.0",
    "fluent": "fluentui-emoji-1.3.0",
    "emojibase": "emojibase-data-17.0.0",
}

GROUPS = {
    0: "smileys and emotion", 1: "people and body", 2: "component", 3: "animals and nature",
    4: "food and drink", 5: "travel and places", 6: "activities", 7: "objects", 8: "symbols",
    9: "flags",
}
TONE_NAMES = {1: "light", 2: "medium-light", 3: "medium", 4: "medium-dark", 5: "dark"}

TEMPLATES = ["{}", "an emoji of {}", "a {} emoji", "an icon of {}", "{} icon", "a picture of {}"]


def cache_dir():
    """The mmsearch cache folder (same rule as the shell scripts)."""
    c = os.environ.get("MMSEARCH_CACHE_DIR")
    if c:
        return c
    x = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(x, "mmsearch")


def data_dir():
    """Where fetch.sh unpacks the npm packages."""
    return os.path.join(cache_dir(), "emoji-data")


def norm_hex(h):
    """Upper-case code points joined by '-', FE0F removed."""
    return "-".join(p for p in h.upper().split("-") if p and p != "FE0F")


def slug(s):
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    s = s.lower().replace("&", "and")
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


def withheld(concept):
    """Seeded, order-independent choice of the ~10% of concepts kept out of training."""
    h = hashlib.sha256((SPLIT_SEED + ":" + concept).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64 < WITHHELD_FRACTION


def _words(s):
    return re.sub(r"[_\-]+", " ", s).strip()


def load_catalog(root=None):
    """Reads the fetched packages; returns the list of items (dicts), in emojibase order."""
    root = root or data_dir()
    p = {k: os.path.join(root, v) for k, v in PACKAGES.items()}
    for k, v in p.items():
        if not os.path.isdir(v):
            raise SystemExit(f"missing {v}: run onnx-models/emoji-clip/recipe/fetch.sh first")
    eb = json.load(open(os.path.join(p["emojibase"], "en", "data.json"), encoding="utf-8"))
    shortcodes = json.load(open(os.path.join(p["emojibase"], "en", "shortcodes", "emojibase.json"), encoding="utf-8"))
    ds = json.load(open(os.path.join(p["google"], "emoji.json"), encoding="utf-8"))
    dsmap = {}
    for e in ds:
        rec = {"name": (e.get("name") or "").lower(), "short_names": e.get("short_names") or [],
               "category": e.get("category") or "", "subcategory": e.get("subcategory") or "",
               "image": e["image"], "google": e.get("has_img_google"), "twitter": e.get("has_img_twitter")}
        dsmap[norm_hex(e["unified"])] = rec
        for v in (e.get("skin_variations") or {}).values():
            r2 = dict(rec, image=v["image"], google=v.get("has_img_google"), twitter=v.get("has_img_twitter"))
            dsmap[norm_hex(v["unified"])] = r2
    fluent_dir = os.path.join(p["fluent"], "icons", "flat")
    fluent = {f[:-4] for f in os.listdir(fluent_dir) if f.endswith(".svg")}
    om_dir = os.path.join(p["openmoji"], "color", "svg")
    openmoji = {norm_hex(f[:-4]): f for f in os.listdir(om_dir) if f.endswith(".svg")}

    items = []
    for e in eb:
        if e.get("group") is None:
            continue
        concept = norm_hex(e["hexcode"])
        base_slug = slug(e["label"])
        variants = [(e, None)] + [(s, s.get("tone")) for s in e.get("skins") or []]
        for s, tone in variants:
            iid = norm_hex(s["hexcode"])
            tones = [] if tone is None else (tone if isinstance(tone, list) else [tone])
            it = {
                "id": iid, "concept": concept, "label": s["label"], "base_label": e["label"],
                "tones": tones, "group": GROUPS.get(e.get("group"), ""), "tags": list(e.get("tags") or []),
                "shortcodes": [], "name": "", "short_names": [], "subcategory": "", "files": {},
            }
            sc = (shortcodes.get(s["hexcode"]) or shortcodes.get(e["hexcode"])) if tone is None else None
            if sc:
                it["shortcodes"] = [sc] if isinstance(sc, str) else list(sc)
            d = dsmap.get(iid)
            if d:
                it["name"] = d["name"]
                it["short_names"] = list(d["short_names"])
                it["subcategory"] = d["subcategory"]
                for st in ("google", "twitter"):
                    f = os.path.join(p[st], "img", st, "64", d["image"])
                    if d[st] and os.path.isfile(f):
                        it["files"][st] = f
            if not tones:
                cands = [base_slug, base_slug + "-default"] if e.get("skins") else [base_slug]
            elif len(tones) == 1:
                cands = [base_slug + "-" + TONE_NAMES[tones[0]]]
            else:
                cands = []
            f = next((c for c in cands if c in fluent), None)
            if f:
                it["files"]["fluent"] = os.path.join(fluent_dir, f + ".svg")
            if iid in openmoji:
                it["files"]["openmoji"] = os.path.join(om_dir, openmoji[iid])
            it["withheld"] = withheld(concept)
            items.append(it)
    return items


def captions(it):
    """Caption variants of one item as (text, weight) pairs; weights are sampling weights."""
    out = {}

    def add(t, w):
        t = " ".join(t.split()).strip(" ,:")
        if t:
            out[t.lower()] = max(out.get(t.lower(), 0.0), w)

    label = it["label"]
    add(label, 4.0)
    if ":" in label:
        head, tail = label.split(":", 1)
        head, tail = head.strip(), tail.strip()
        add(head + " " + tail, 2.0)
        add(tail + " " + head, 1.0)
        if head == "flag":
            add(tail + " flag", 2.0)
            add("flag of " + tail, 1.0)
            add(tail, 1.0)
        elif head == "keycap":
            add("keycap " + tail, 1.0)
            add("number " + tail, 0.5)
        elif it["tones"]:
            add(head + " with " + tail, 1.0)
            add(head + ", " + tail.replace(" tone", ""), 1.0)
            add(tail, 0.5)
    if it["tones"]:
        add(it["base_label"], 1.0)
    # Unicode names say "black"/"white" for filled/outlined shapes ("heavy black heart" is
    # the red heart): they would teach wrong colours, so such names are left out.
    if it["name"] and it["name"] != label.lower() and not re.search(r"\b(black|white)\b", it["name"]):
        add(it["name"], 1.0 if not it["tones"] else 0.5)
    for s in it["short_names"] + it["shortcodes"]:
        add(_words(s), 0.5)
    tags = [t for t in it["tags"] if t.lower() != label.lower()]
    for t in tags:
        add(t, 1.0 / max(1, len(tags)) * 2.0)
    if tags:
        add(label + ", " + ", ".join(tags[:3]), 0.5)
        add(" ".join(tags[:4]), 0.5)
    if it["subcategory"]:
        add(_words(it["subcategory"]), 0.2)
    if it["group"]:
        add(it["group"], 0.1)
    return sorted(out.items())


SIZE = 64


def render_dir():
    return os.path.join(data_dir(), "render-%d" % SIZE)


def rasterize(svg, png):
    """Renders one SVG to a SIZE x SIZE PNG (aspect kept) with rsvg-convert."""
    os.makedirs(os.path.dirname(png), exist_ok=True)
    tmp = png + ".tmp.png"
    try:
        subprocess.run(["rsvg-convert", "-a", "-w", str(SIZE), "-h", str(SIZE), "-f", "png", "-o", tmp, svg],
                       check=True, capture_output=True)
    except FileNotFoundError:
        raise SystemExit("rsvg-convert not found: install it (Debian: apt-get install librsvg2-bin)")
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"rsvg-convert failed on {svg}: {e.stderr.decode(errors='replace')}")
    os.replace(tmp, png)


def png_path(it, style):
    """The PNG of an item in a style: the package's own 64 px PNG or a rendered SVG."""
    f = it["files"][style]
    if f.endswith(".svg"):
        return os.path.join(render_dir(), style, it["id"] + ".png")
    return f


def rasterize_all(items, styles, workers=2):
    """Renders every missing SVG of the given styles (idempotent)."""
    jobs = []
    for it in items:
        for st in styles:
            f = it["files"].get(st)
            if f and f.endswith(".svg"):
                png = png_path(it, st)
                if not os.path.isfile(png):
                    jobs.append((f, png))
    if jobs:
        print(f"rasterizing {len(jobs)} SVGs with rsvg-convert ...", flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
            list(ex.map(lambda j: rasterize(*j), jobs))


def load_rgba(it, style):
    """The item's artwork in a style as uint8 [SIZE, SIZE, 4], centred on a transparent square."""
    from PIL import Image
    import numpy as np

    im = Image.open(png_path(it, style)).convert("RGBA")
    if im.size != (SIZE, SIZE):
        w, h = im.size
        s = SIZE / max(w, h)
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
        canvas = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
        canvas.paste(im, ((SIZE - im.size[0]) // 2, (SIZE - im.size[1]) // 2))
        im = canvas
    return np.asarray(im, dtype=np.uint8)


def on_white(rgba):
    """Alpha-composites uint8 RGBA onto white; returns uint8 RGB."""
    import numpy as np

    a = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
