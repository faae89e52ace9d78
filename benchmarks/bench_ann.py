"""Approximate vs exact neighbours at catalogue scale (issue 14): recall@10, query time, build.

    python benchmarks/bench_ann.py [--sizes 100000,1000000] [--queries 200] [--dim 200]
                                   [--threads 2] [--nprobe N] [--json FILE]

    python benchmarks/bench_ann.py --sizes 100000,1000000,10000000     # + 10M (~10 min, 14 GB)

Vectors are generated with the real embedding dimension of the default model (musicnn-msd's
penultimate layer: 200) and clustered the way a catalogue is: 16 broad genres, 64 styles in
each, artists of about 50 tracks inside a style, every track its artist plus noise, drawn in a
48-dimensional latent space, mapped linearly to 200 dimensions with isotropic noise on top,
then centred and L2-normalised as the app does (``DEFAULT_CENTER``). Uniform noise would be
unrealistically hard (no neighbour structure at all); well-separated blobs unrealistically easy.

For every size: exact single-query time (numpy matrix-vector product + argpartition, the
path :class:`engine.similarity.SimilarityIndex` takes below ``EXACT_BELOW``), the
:class:`engine.similarity.ann.AnnIndex` build time and memory with the parameters the app
chooses for that size (:meth:`AnnParams.for_size`), and its recall@10 against exact search
with the query track left out, median and p95 single-query time -- without a filter and with
random filters that keep 30 % and 10 % of the tracks (like ``--bpm-within``), and an nprobe
sweep (lists read per query) around the chosen value. Up to 1M, the same
queries also go end to end through ``SimilarityIndex.query``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.similarity.ann import AnnIndex, AnnParams, AnnPolicy, EXACT_BELOW, load_faiss  # noqa: E402

DIM = 200           # musicnn-msd's embedding_dim (resources/models/musicnn-msd.json)
LATENT = 48
GENRES, STYLES_PER_GENRE, TRACKS_PER_ARTIST = 16, 64, 50
#: Spread of a track around its artist (latent) and isotropic noise in the 200 dimensions:
#: chosen so that neighbours are not simply "the same artist" (0.45 / 0.35 gave recall 1.0
#: at 4 of 256 lists, too easy to tell parameters apart); the figures report the top-1 and
#: random-pair cosines so the difficulty can be compared with a real library.
TRACK_SPREAD, NOISE = 1.0, 0.8
CHUNK = 250_000


def catalogue_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """``n`` clustered, centred, L2-normalised float32 vectors [n, dim] (see the module doc)."""
    rng = np.random.default_rng(seed)
    genres = rng.standard_normal((GENRES, LATENT)).astype(np.float32)
    styles = (np.repeat(genres, STYLES_PER_GENRE, axis=0)
              + 0.7 * rng.standard_normal((GENRES * STYLES_PER_GENRE, LATENT)).astype(np.float32))
    n_artists = max(1, n // TRACKS_PER_ARTIST)
    artists = (styles[rng.integers(0, len(styles), n_artists)]
               + 0.5 * rng.standard_normal((n_artists, LATENT)).astype(np.float32))
    mix = (rng.standard_normal((LATENT, dim)) / np.sqrt(LATENT)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        m = stop - start
        h = artists[rng.integers(0, n_artists, m)] + TRACK_SPREAD * rng.standard_normal((m, LATENT), dtype=np.float32)
        out[start:stop] = h @ mix
        out[start:stop] += NOISE * rng.standard_normal((m, dim), dtype=np.float32)
    mean = out.mean(axis=0, dtype=np.float64).astype(np.float32)
    for start in range(0, n, CHUNK):
        block = out[start:start + CHUNK]
        block -= mean
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(x: np.ndarray, queries: np.ndarray, rows: np.ndarray, k: int,
              allowed: np.ndarray | None = None) -> np.ndarray:
    """Exact top-k positions [q, k] of each query row, leaving out the query's own row."""
    out = np.empty((len(queries), k), dtype=np.int64)
    group = max(1, int(4e8 // (4 * x.shape[0])))          # score blocks of at most 400 MB
    for g in range(0, len(queries), group):
        qs, rs = queries[g:g + group], rows[g:g + group]
        scores = np.empty((len(qs), x.shape[0]), dtype=np.float32)
        for start in range(0, x.shape[0], CHUNK):
            scores[:, start:start + CHUNK] = qs @ x[start:start + CHUNK].T
        scores[np.arange(len(rs)), rs] = -np.inf
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        out[g:g + group] = np.take_along_axis(part, order, axis=1)
    return out


def exact_query_times(x: np.ndarray, queries: np.ndarray, k: int, repeat: int = 30) -> np.ndarray:
    """Seconds per single exact query (matrix-vector product + argpartition + sort)."""
    out = []
    for q in queries[:repeat]:
        t0 = time.perf_counter()
        s = x @ q
        part = np.argpartition(-s, k)[:k + 1]
        part[np.argsort(-s[part])]
        out.append(time.perf_counter() - t0)
    return np.asarray(out)


def rss_mb() -> float:
    """This process's resident memory now (Linux; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def ms(values) -> dict:
    v = np.asarray(values) * 1e3
    return {"median_ms": round(float(np.median(v)), 3), "p95_ms": round(float(np.percentile(v, 95)), 3)}


def run_size(x_all: np.ndarray, n: int, n_queries: int, k: int, nprobe: int | None,
             rng: np.random.Generator) -> dict:
    x = x_all[:n]
    rows = rng.choice(n, n_queries, replace=False)
    queries = x[rows]
    result: dict = {"n": n, "dim": int(x.shape[1])}
    result["exact"] = ms(exact_query_times(x, queries, k))
    truth = exact_top(x, queries, rows, k)
    sims = np.einsum("qd,qkd->qk", queries, x[truth])
    pairs = rng.integers(0, n, (2, 2000))
    result["cosine"] = {"top1": round(float(sims[:, 0].mean()), 3),
                        "top10": round(float(sims[:, -1].mean()), 3),
                        "random_pair": round(float(np.einsum("id,id->i", x[pairs[0]], x[pairs[1]]).mean()), 3)}
    allowed = rng.random(n) < 0.3
    truth_f = exact_top(x, queries, rows, k, allowed)

    params = AnnParams.for_size(n)
    if nprobe:
        params = AnnParams(**{**params.to_dict(), "nprobe": nprobe})
    rss0 = rss_mb()
    index = AnnIndex(x, params)
    result["rss_growth_mb"] = round(rss_mb() - rss0, 1)
    result["params"] = params.to_dict()
    result["build_s"] = round(index.build_seconds, 2)
    result["index_mb"] = round(index.memory_bytes / 2**20, 1)
    result["vectors_mb"] = round(x.nbytes / 2**20, 1)

    for q, r in zip(queries[:20], rows[:20]):      # warm up: the first touches of new memory
        index.search(q, k, exclude=(int(r),))
    allowed10 = rng.random(n) < 0.1
    truth_f10 = exact_top(x, queries, rows, k, allowed10)
    sweep = []
    for nprobe_try in sorted({max(1, index.nlist // d) for d in (64, 32, 16, 8)}):
        index._index.nprobe = nprobe_try
        times, recalls = [], []
        for q, r, want in zip(queries, rows, truth):
            t0 = time.perf_counter()
            found = index.search(q, k, exclude=(int(r),))
            times.append(time.perf_counter() - t0)
            recalls.append(len(set(found[0].tolist()) & set(want.tolist())) / k)
        sweep.append({"nprobe": nprobe_try, "recall_at_10": round(float(np.mean(recalls)), 4), **ms(times)})
    index._index.nprobe = min(index.nlist, params.nprobe)
    result["nprobe_sweep"] = sweep

    for name, mask, gt in (("ann", None, truth), ("ann_filter30", allowed, truth_f),
                           ("ann_filter10", allowed10, truth_f10)):
        times, recalls, fallbacks = [], [], 0
        for q, r, want in zip(queries, rows, gt):
            t0 = time.perf_counter()
            found = index.search(q, k, allowed=mask, exclude=(int(r),))
            times.append(time.perf_counter() - t0)
            if found is None:
                fallbacks += 1
                continue
            recalls.append(len(set(found[0].tolist()) & set(want.tolist())) / k)
        # a fallback answers exactly (recall 1) at the exact cost; count it honestly as a miss
        # of the approximate path rather than as recall 1
        result[name] = {"recall_at_10": round(float(np.sum(recalls) / len(queries)), 4),
                        "fallbacks": fallbacks, **ms(times)}

    if n <= 1_000_000:
        from engine.similarity.index import SimilarityIndex

        sim = SimilarityIndex(np.arange(n), x, ann=AnnPolicy(exact_below=0, eager=True,
                                                            background=False, params=params))
        sim.ann._index = index   # the index just built and measured (same vectors, same params)
        times, recalls = [], []
        for r, want in zip(rows, truth):
            t0 = time.perf_counter()
            got = sim.query(int(r), k)
            times.append(time.perf_counter() - t0)
            recalls.append(len({g.position for g in got} & set(want.tolist())) / k)
        result["similarity_index_query"] = {"recall_at_10": round(float(np.mean(recalls)), 4),
                                            **ms(times)}
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000",
                    help="comma-separated catalogue sizes (default 100000,1000000; add 10000000 "
                         "for the 10M run, about 10 minutes and 14 GB here)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dim", type=int, default=DIM)
    ap.add_argument("--threads", type=int, default=2, help="FAISS/BLAS threads (default 2)")
    ap.add_argument("--nprobe", type=int, default=None, help="override AnnParams.for_size")
    ap.add_argument("--exact-sizes", default="10000,30000,100000,300000,1000000",
                    help="sizes for the exact-search timing table (taken from the largest set)")
    ap.add_argument("--json", default=None, metavar="FILE")
    args = ap.parse_args(argv)

    faiss = load_faiss()
    if faiss is None:
        print("FAISS is not installed (pip install faiss-cpu)", file=sys.stderr)
        return 1
    faiss.omp_set_num_threads(args.threads)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    x_all = catalogue_vectors(max(sizes), args.dim)
    print(f"generated {max(sizes):,} x {args.dim} vectors in {time.perf_counter() - t0:.1f} s "
          f"(faiss {faiss.__version__}, {args.threads} threads, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})", flush=True)

    report: dict = {"faiss": faiss.__version__, "threads": args.threads, "dim": args.dim,
                    "exact_below": EXACT_BELOW, "exact_by_size": [], "sizes": []}
    print("\nexact single query (numpy):")
    for n in sorted(int(s) for s in args.exact_sizes.split(",")):
        if n > x_all.shape[0]:
            continue
        row = {"n": n, **ms(exact_query_times(x_all[:n], x_all[rng.integers(0, n, 30)], 10))}
        report["exact_by_size"].append(row)
        print(f"  {n:>10,}  median {row['median_ms']:7.2f} ms  p95 {row['p95_ms']:7.2f} ms", flush=True)

    for n in sizes:
        r = run_size(x_all, n, args.queries, 10, args.nprobe, rng)
        report["sizes"].append(r)
        p = r["params"]
        print(f"\n{n:,} vectors: IVF{p['nlist']},SQ8 nprobe {p['nprobe']}, re-rank x{p['rerank']}; "
              f"build {r['build_s']:.1f} s, index {r['index_mb']:.0f} MB of codes and ids "
              f"(resident memory +{r['rss_growth_mb']:.0f} MB; the float32 vectors, "
              f"{r['vectors_mb']:.0f} MB, are the app's own)")
        c = r["cosine"]
        print(f"  cosine: neighbour 1 {c['top1']:.2f}, neighbour 10 {c['top10']:.2f}, "
              f"random pair {c['random_pair']:.2f}")
        print(f"  exact        median {r['exact']['median_ms']:7.2f} ms  p95 {r['exact']['p95_ms']:7.2f} ms")
        print("  nprobe sweep (no filter): " + "; ".join(
            f"{v['nprobe']}: recall {v['recall_at_10']:.3f}, {v['median_ms']:.2f}/{v['p95_ms']:.2f} ms"
            for v in r["nprobe_sweep"]))
        for name in ("ann", "ann_filter30", "ann_filter10", "similarity_index_query"):
            if name in r:
                v = r[name]
                extra = f"  fallbacks {v['fallbacks']}" if "fallbacks" in v else ""
                print(f"  {name:<22} recall@10 {v['recall_at_10']:.3f}  median {v['median_ms']:6.2f} ms"
                      f"  p95 {v['p95_ms']:6.2f} ms{extra}", flush=True)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s (load average {os.getloadavg()[0]:.1f})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
