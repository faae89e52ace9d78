"""Benchmarks of the similarity engine: ``python benchmarks/bench_similarity.py``.

Measures on generated 200-d clustered embeddings (engine.similarity.synthetic):
  * "more like this": one kNN query over 100,000 tracks (median of many), also with several
    seeds and with the exclude-same-artist filter;
  * the t-SNE map of 10,000 and 50,000 tracks (wall and CPU seconds, and how well the map
    keeps neighbourhoods: 10-NN label purity in 2-D, share of the 10 nearest high-dimensional
    neighbours among the 10 nearest on the map);
  * placing 100 new tracks into the 50,000-track map.
The machine's load average is printed: on a shared machine the wall times include waiting
for the CPU, the CPU seconds do not. The figures: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
        return f"load {one:.1f}/{five:.1f} (1/5 min) on {os.cpu_count()} cores"
    except OSError:
        return "load unknown"


def _quality(coords: np.ndarray, x: np.ndarray, labels: np.ndarray, sample: int = 2000,
             seed: int = 0) -> tuple[float, float]:
    """(2-D 10-NN label purity, 10-NN preservation) on a sample of points."""
    from sklearn.neighbors import NearestNeighbors

    from engine.similarity import knn

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(x), min(sample, len(x)), replace=False)
    _, nn2 = NearestNeighbors(n_neighbors=11).fit(coords).kneighbors(coords[rows])
    nn2 = nn2[:, 1:]
    purity = float(np.mean(labels[nn2] == labels[rows][:, None]))
    hd, _ = knn(x, 11, queries=x[rows])
    hd = hd[:, 1:]   # the first is the point itself
    kept = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(hd, nn2)])
    return purity, float(kept)


def bench_query(n: int, dim: int, repeats: int) -> dict:
    from engine.similarity import SimilarityIndex
    from engine.similarity.ann import AnnPolicy
    from engine.similarity.synthetic import clustered_embeddings

    x, labels = clustered_embeddings(n, dim=dim, n_clusters=40, spread=1.5, seed=1)
    artists = [f"artist {i % 5000}" for i in range(n)]
    t = time.perf_counter()
    # exact search throughout (the approximate index has its own benchmark, bench_ann.py)
    index = SimilarityIndex(np.arange(n), x, artists=artists, ann=AnnPolicy(enabled=False))
    build = time.perf_counter() - t
    rng = np.random.default_rng(0)
    out = {"n": n, "dim": dim, "index_build_s": round(build, 3)}
    for name, kwargs, n_seeds in (("one_seed", {}, 1), ("five_seeds", {}, 5),
                                  ("one_seed_exclude_artist", {"exclude_same_artist": True}, 1)):
        times = []
        for _ in range(repeats):
            seeds = list(rng.choice(n, n_seeds, replace=False))
            t = time.perf_counter()
            res = index.query(seeds if n_seeds > 1 else seeds[0], 10, **kwargs)
            times.append(time.perf_counter() - t)
        assert len(res) == 10
        out[name + "_ms_median"] = round(1000 * statistics.median(times), 2)
        out[name + "_ms_p90"] = round(1000 * float(np.percentile(times, 90)), 2)
    return out


def bench_layout(n: int, dim: int, n_new: int = 0) -> dict:
    from engine.similarity import LayoutParams, compute_layout, place_new
    from engine.similarity.synthetic import clustered_embeddings

    x, labels = clustered_embeddings(n + n_new, dim=dim, n_clusters=40, spread=1.5, seed=2)
    ref, new = x[:n], x[n:]
    params = LayoutParams()
    load_before = _load()
    first_iter = []
    t0, c0 = time.perf_counter(), time.process_time()
    coords = compute_layout(ref, params, progress=lambda d, tot: first_iter.append(
        time.perf_counter()) if not first_iter else None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    purity, kept = _quality(coords, ref, labels[:n])
    out = {"n": n, "dim": dim, "params": params.to_dict(), "wall_s": round(wall, 1),
           "cpu_s": round(cpu, 1),
           "knn_and_affinities_s": round(first_iter[0] - t0, 1) if first_iter else None,
           "purity_2d_10nn": round(purity, 3), "hd_10nn_kept_on_map": round(kept, 3),
           "load_before": load_before, "load_after": _load()}
    if n_new:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            placed = place_new(coords, ref, new)
            times.append(time.perf_counter() - t)
        from sklearn.neighbors import NearestNeighbors

        _, nn = NearestNeighbors(n_neighbors=10).fit(coords).kneighbors(placed)
        out["place_new"] = {
            "n_new": n_new, "wall_s_runs": [round(s, 2) for s in times],
            "wall_s_median": round(statistics.median(times), 2),
            "new_points_10nn_same_cluster": round(float(np.mean(
                labels[:n][nn] == labels[n:][:, None])), 3),
            "load_after": _load()}
    return out


def bench_kinds(db: str, label: str, model: str | None, k: int) -> dict:
    """The labelled check on a real library: which embedding kind keeps ``label`` (a tag
    column of the tracks: album, artist or genre) together best."""
    from benchmarks.similarity_eval import choose_kind
    from engine import Library
    from engine.similarity import EMBEDDING_KINDS, embed, library_center
    from engine.similarity.store import default_model, track_meta

    with Library(db) as lib:
        model = model or default_model(lib)
        ids, scores = lib.embeddings(model, "scores")
        pen_ids, pen = lib.embeddings(model, "penultimate")
        keep = np.isin(ids, pen_ids)
        ids, scores = ids[keep], scores[keep]
        pen = pen[np.searchsorted(pen_ids, ids)]
        meta = track_meta(lib, ids)
        if label == "genre":
            rows = lib.get_tracks(ids)
            values = {t.id: (t.genre[0] if t.genre else None) for t in rows}
        else:
            values = {i: getattr(meta[int(i)], label) for i in ids if int(i) in meta}
    lab = np.array([values.get(int(i)) or "" for i in ids], dtype=object)
    ok = lab != ""
    counts = {v: int((lab == v).sum()) for v in set(lab[ok].tolist())}
    ok &= np.array([counts.get(v, 0) >= 3 for v in lab])   # labels with at least 3 tracks
    candidates = {}
    for kind in EMBEDDING_KINDS:
        src = {"penultimate": pen} if kind == "penultimate" else {"scores": scores}
        candidates[kind] = embed(kind, **src)[ok]
        centre = library_center(kind, **src)
        candidates[kind + " (centred)"] = embed(kind, center=centre, **src)[ok]
    best, reports = choose_kind(candidates, lab[ok], k=k)
    return {"db": db, "model": model, "label": label, "n_tracks": int(ok.sum()),
            "n_labels": len({v for v in lab[ok]}), "k": k, "best": best,
            "reports": {name: r.to_dict() for name, r in reports.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/bench_similarity.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--query-n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=200)
    p.add_argument("--sizes", type=int, nargs="*", default=[10_000, 50_000],
                   help="t-SNE sizes (the largest also gets the placement benchmark)")
    p.add_argument("--new", type=int, default=100, help="tracks to place into the largest map")
    p.add_argument("--repeats", type=int, default=200, help="kNN queries to time")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--kinds-db", metavar="DB",
                   help="instead: run the labelled embedding-kind check on this library")
    p.add_argument("--label", default="album", choices=("album", "artist", "genre"),
                   help="the tracks' tag that serves as the label for --kinds-db")
    p.add_argument("--model", default=None, help="model whose analyses --kinds-db compares")
    p.add_argument("-k", type=int, default=5, help="neighbours for --kinds-db (default 5)")
    args = p.parse_args(argv)
    if args.kinds_db:
        r = bench_kinds(args.kinds_db, args.label, args.model, args.k)
        print(f"labelled check: {r['n_tracks']} tracks, {r['n_labels']} {args.label}s, "
              f"model {r['model']}, k={r['k']}")
        print(f"{'kind':<24}{'kNN precision':>14}{'kNN accuracy':>14}{'silhouette':>12}")
        for name, m in sorted(r["reports"].items(), key=lambda kv: -kv[1]["knn_precision"]):
            print(f"{name:<24}{m['knn_precision']:>14.3f}{m['knn_accuracy']:>14.3f}"
                  f"{m['silhouette']:>12.3f}")
        chance = next(iter(r["reports"].values()))["chance_precision"]
        print(f"chance precision {chance:.3f}; best: {r['best']}")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(r, f, indent=2)
        return 0
    import torch

    results = {"machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                           "load_at_start": _load()}}
    print(f"# similarity benchmarks  ({results['machine']['load_at_start']})", flush=True)
    q = bench_query(args.query_n, args.dim, args.repeats)
    results["query"] = q
    print(f"kNN query, {q['n']:,} x {q['dim']}: one seed {q['one_seed_ms_median']} ms median "
          f"(p90 {q['one_seed_ms_p90']}), five seeds {q['five_seeds_ms_median']} ms, "
          f"exclude-artist {q['one_seed_exclude_artist_ms_median']} ms; index build "
          f"{q['index_build_s']} s", flush=True)
    results["layout"] = []
    sizes = sorted(args.sizes)
    for n in sizes:
        r = bench_layout(n, args.dim, n_new=args.new if n == sizes[-1] else 0)
        results["layout"].append(r)
        print(f"t-SNE {n:,} x {args.dim}: {r['wall_s']} s wall, {r['cpu_s']} s CPU "
              f"(kNN+affinities {r['knn_and_affinities_s']} s); 2-D 10-NN purity "
              f"{r['purity_2d_10nn']}, HD neighbours kept {r['hd_10nn_kept_on_map']}  "
              f"[{r['load_before']} -> {r['load_after']}]", flush=True)
        if "place_new" in r:
            pn = r["place_new"]
            print(f"place {pn['n_new']} new into {n:,}: {pn['wall_s_median']} s median of "
                  f"{pn['wall_s_runs']}; 10-NN same cluster {pn['new_points_10nn_same_cluster']}",
                  flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
