"""The map at catalogue scale: t-SNE of a sample, the rest placed into it.

``python benchmarks/bench_map_scale.py --sizes 100000,1000000`` generates clustered vectors
with the real embedding dimension (200, musicnn-msd), lays them out with
:func:`engine.similarity.compute_layout` (above ``LayoutParams.max_tsne_points`` it runs
t-SNE on a random sample and places the other points with :func:`engine.similarity.place_new`,
in chunks) and reports the time of each part and how well the clusters hold (the share of
each point's 10 nearest map neighbours in its own cluster, over 5,000 points).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from engine.similarity import LayoutParams, compute_layout
from engine.similarity.synthetic import clustered_embeddings


def purity(coords: np.ndarray, labels: np.ndarray, n: int = 5000, k: int = 10) -> float:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    rows = rng.choice(len(coords), size=min(n, len(coords)), replace=False)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(coords)
    _, idx = nn.kneighbors(coords[rows])
    return float(np.mean(labels[idx[:, 1:]] == labels[rows, None]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000", help="comma-separated numbers of points")
    ap.add_argument("--sample", type=int, default=LayoutParams().max_tsne_points,
                    help="points laid out by t-SNE (LayoutParams.max_tsne_points)")
    ap.add_argument("--dim", type=int, default=200)
    args = ap.parse_args(argv)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; sample {args.sample:,}, dim {args.dim}")
    for n in (int(s) for s in args.sizes.split(",")):
        x, labels = clustered_embeddings(n, dim=args.dim, n_clusters=40, spread=1.5, seed=1)
        stamps: list[tuple[int, float]] = []
        t0 = time.perf_counter()
        coords = compute_layout(x, LayoutParams(max_tsne_points=args.sample),
                                progress=lambda d, t, s=stamps, t0=t0: s.append((d, time.perf_counter() - t0)))
        total = time.perf_counter() - t0
        n_chunks = max(0, -(-(n - args.sample) // 20_000))
        t_tsne = stamps[-n_chunks - 1][1] if n_chunks and len(stamps) > n_chunks else total
        place = total - t_tsne
        per_point = place / max(1, n - args.sample)
        print(f"{n:>10,} points: {total:7.1f} s in all; t-SNE of {min(n, args.sample):,}: {t_tsne:6.1f} s; "
              f"placing {max(0, n - args.sample):,}: {place:6.1f} s ({per_point * 1e3:.2f} ms per point); "
              f"10-NN same cluster {purity(coords, labels):.3f}; load {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
