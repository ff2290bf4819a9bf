#!/usr/bin/python3
"""ANN peer runner for `mmsearch bench ann`.

Builds hnswlib and FAISS IndexHNSWFlat indexes over the vectors the Go side
wrote (base.npy, queries.npy in --dir), sweeps efSearch, saves the neighbour
ids of every search as .npy files in --dir, and prints one JSON document with
the timings on stdout. Progress goes to stderr, one line per step.

Recall is not computed here: the Go side scores the ids against the same
ground truth it uses for its own indexes, so every number is comparable.

Timings:
  build_seconds_1_thread  add_items with one thread (hnswlib only)
  build_seconds_all       add with --threads threads (the index that is swept)
  qps_1_thread            one batch search of all queries on one thread
  qps_all_threads         one batch search on --threads threads
  p50_ms / p99_ms         per-query latency, one query per call on one thread
                          (includes the Python call overhead, a few µs)
  persist                 save to a file and load back (save_seconds,
                          load_seconds, file_bytes), and how many queries the
                          loaded index answers differently at check_ef
  memory.index_bytes      the serialized index's size: both libraries keep
                          the same arrays in memory (vectors, link lists)
Each timed pass runs --runs times; the fastest counts.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def debian_version(package):
    """Version of an installed Debian package, or None."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True, text=True, check=True, timeout=30)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def module_version(module, dist, package):
    deb = debian_version(package)
    if deb:
        return deb + " (Debian " + package + ")"
    v = getattr(module, "__version__", None)
    if v:
        return str(v)
    try:
        from importlib import metadata
        return metadata.version(dist)
    except Exception:  # noqa: BLE001 - any failure means "unknown"
        return "unknown"


def percentile_ms(samples, p):
    """Nearest-rank percentile of samples (seconds) in milliseconds."""
    s = sorted(samples)
    rank = max(1, int(np.ceil(p / 100.0 * len(s))))
    return s[rank - 1] * 1000.0


def save_ids(path, ids):
    np.save(path, np.ascontiguousarray(ids, dtype=np.int64))


def best_of(runs, fn):
    """Runs fn() runs times; returns (fastest seconds, result of the first run)."""
    best, first = None, None
    for i in range(runs):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        if i == 0:
            first = out
        best = dt if best is None else min(best, dt)
    return best, first


def sweep(name, args, queries, search, set_threads):
    """Runs the ef sweep for one peer. search(q, k, ef) returns an id matrix.

    Every timed pass runs --runs times and the fastest counts, as on the Go
    side; the ids come from the first pass.
    """
    points = []
    nq = queries.shape[0]
    for ef in args.efs:
        log("%s: ef=%d" % (name, ef))
        extra = {}
        for k in args.extra_k:
            set_threads(args.threads)
            ids = search(queries, k, ef)
            f = "%s-ef%d-k%d.npy" % (name, ef, k)
            save_ids(args.dir + "/" + f, ids)
            extra[str(k)] = f
        set_threads(1)
        single, ids = best_of(args.runs, lambda: search(queries, args.k, ef))
        f = "%s-ef%d-k%d.npy" % (name, ef, args.k)
        save_ids(args.dir + "/" + f, ids)
        best_lat = None
        for _ in range(args.runs):
            lat = []
            for i in range(nq):
                q = queries[i:i + 1]
                t0 = time.perf_counter()
                search(q, args.k, ef)
                lat.append(time.perf_counter() - t0)
            if best_lat is None or sum(lat) < sum(best_lat):
                best_lat = lat
        set_threads(args.threads)
        multi, _ = best_of(args.runs, lambda: search(queries, args.k, ef))
        points.append({
            "ef": ef,
            "ids": f,
            "extra_ids": extra,
            "qps_1_thread": nq / single,
            "qps_all_threads": nq / multi,
            "p50_ms": percentile_ms(best_lat, 50),
            "p99_ms": percentile_ms(best_lat, 99),
        })
    return points


def persist(name, args, queries, save, load, search_with):
    """Saves the index with save(path), loads it with load(path), and
    compares the ids both answer at --check-ef; returns the persist and
    memory records (memory: the file's size, see the module doc)."""
    path = os.path.join(args.dir, name + ".index")
    log("%s: save and load" % name)
    t0 = time.perf_counter()
    save(path)
    save_s = time.perf_counter() - t0
    size = os.path.getsize(path)
    t0 = time.perf_counter()
    loaded = load(path)
    load_s = time.perf_counter() - t0
    os.remove(path)
    a = search_with(None, queries, args.k, args.check_ef)
    b = search_with(loaded, queries, args.k, args.check_ef)
    differing = int(np.any(np.asarray(a) != np.asarray(b), axis=1).sum())
    return ({"file_bytes": size, "save_seconds": save_s, "load_seconds": load_s,
             "check_ef": args.check_ef, "queries": int(queries.shape[0]), "mismatches": differing},
            {"index_bytes": size, "source": "serialized index size"})


def run_hnswlib(args, base, queries):
    import hnswlib
    n, dim = base.shape
    labels = np.arange(n, dtype=np.int64)

    def build(threads):
        idx = hnswlib.Index(space=args.hnswlib_space, dim=dim)
        idx.init_index(max_elements=n, ef_construction=args.ef_construction,
                       M=args.m, random_seed=args.seed)
        t0 = time.perf_counter()
        idx.add_items(base, labels, num_threads=threads)
        return idx, time.perf_counter() - t0

    build1 = None
    if not (args.skip_one_thread_build and args.threads > 1):
        log("hnswlib: build, 1 thread")
        idx, build1 = build(1)
        del idx
    log("hnswlib: build, %d threads" % args.threads)
    idx, build_all = build(args.threads)

    threads = [args.threads]

    def set_threads(t):
        threads[0] = t

    def search_with(index, q, k, ef):
        index = idx if index is None else index
        index.set_ef(ef)
        ids, _ = index.knn_query(q, k=k, num_threads=threads[0])
        return ids

    def search(q, k, ef):
        return search_with(None, q, k, ef)

    def load(path):
        other = hnswlib.Index(space=args.hnswlib_space, dim=dim)
        other.load_index(path, max_elements=n)
        return other

    points = sweep("hnswlib", args, queries, search, set_threads)
    saved, memory = persist("hnswlib", args, queries, idx.save_index, load, search_with)
    return {
        "name": "hnswlib",
        "version": module_version(hnswlib, "hnswlib", "python3-hnswlib"),
        "build_seconds_1_thread": build1,
        "build_seconds_all": build_all,
        "threads": args.threads,
        "points": points,
        "persist": saved,
        "memory": memory,
    }


def run_faiss(args, base, queries):
    import faiss
    n, dim = base.shape
    metric = faiss.METRIC_INNER_PRODUCT if args.metric == "ip" else faiss.METRIC_L2
    faiss.omp_set_num_threads(args.threads)
    log("faiss: build, %d threads" % args.threads)
    idx = faiss.IndexHNSWFlat(dim, args.m, metric)
    idx.hnsw.efConstruction = args.ef_construction
    t0 = time.perf_counter()
    idx.add(base)
    build_all = time.perf_counter() - t0

    def search_with(index, q, k, ef):
        # hnswlib and mmsearch widen the beam to k when k > ef; FAISS does
        # not, so do it here to keep recall@k comparable.
        index = idx if index is None else index
        index.hnsw.efSearch = max(ef, k)
        _, ids = index.search(q, k)
        return ids

    def search(q, k, ef):
        return search_with(None, q, k, ef)

    points = sweep("faiss", args, queries, search, faiss.omp_set_num_threads)
    saved, memory = persist("faiss", args, queries, lambda path: faiss.write_index(idx, path),
                            faiss.read_index, search_with)
    return {
        "name": "faiss",
        "version": module_version(faiss, "faiss", "python3-faiss"),
        "build_seconds_all": build_all,
        "threads": args.threads,
        "points": points,
        "persist": saved,
        "memory": memory,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="folder with base.npy and queries.npy; outputs go here")
    ap.add_argument("--peers", default="hnswlib,faiss")
    ap.add_argument("--metric", choices=["ip", "l2"], default="ip")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--efs", default="10,16,24,32,48,64,96,128,256,512")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--extra-k", default="100", help="untimed searches with these k, for recall@k above --k")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-one-thread-build", action="store_true",
                    help="time only the --threads build (hnswlib; FAISS builds on --threads only anyway)")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--runs", type=int, default=1, help="repeat each timed pass; the fastest counts")
    ap.add_argument("--check-ef", type=int, default=64, help="ef of the saved-and-loaded comparison")
    args = ap.parse_args()
    args.efs = [int(x) for x in args.efs.split(",") if x]
    args.extra_k = [int(x) for x in args.extra_k.split(",") if x]
    args.hnswlib_space = "ip" if args.metric == "ip" else "l2"

    base = np.load(args.dir + "/base.npy")
    queries = np.load(args.dir + "/queries.npy")
    if base.dtype != np.float32 or queries.dtype != np.float32:
        raise SystemExit("base.npy and queries.npy must hold float32")
    out = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "peers": [],
    }
    for name in [p for p in args.peers.split(",") if p]:
        if name == "hnswlib":
            out["peers"].append(run_hnswlib(args, base, queries))
        elif name == "faiss":
            out["peers"].append(run_faiss(args, base, queries))
        else:
            raise SystemExit("unknown peer %r (want hnswlib or faiss)" % name)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
