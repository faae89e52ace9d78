"""The map: t-SNE layout, incremental placement, region labels and PNG rendering."""
from __future__ import annotations

import numpy as np
import pytest

from engine.similarity import (LayoutCancelled, LayoutParams, compute_layout, label_regions,
                               place_new)
from engine.similarity import layout as layout_mod
from engine.similarity.render import OTHER, render_map, top_labels
from engine.similarity.synthetic import clustered_embeddings, random_tag_scores

FAST = LayoutParams(early_exaggeration_iter=150, n_iter=250)


def _purity_2d(coords, labels, k=10):
    from sklearn.neighbors import NearestNeighbors

    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords)
    return float(np.mean(labels[idx[:, 1:]] == labels[:, None]))


@pytest.fixture(scope="module")
def mapped():
    x, labels = clustered_embeddings(1500, dim=64, n_clusters=8, spread=0.9, seed=2)
    # 100 held-out tracks to place later
    rng = np.random.default_rng(0)
    held = rng.choice(len(x), 100, replace=False)
    keep = np.setdiff1d(np.arange(len(x)), held)
    coords = compute_layout(x[keep], FAST)
    return x, labels, keep, held, coords


def test_layout_keeps_clusters_apart(mapped):
    x, labels, keep, _, coords = mapped
    assert coords.shape == (len(keep), 2) and coords.dtype == np.float32
    assert np.all(np.isfinite(coords))
    assert _purity_2d(coords, labels[keep]) > 0.95
    # clusters are separated: each cluster's centre is nearer its own points than others'
    centres = np.stack([coords[labels[keep] == c].mean(axis=0) for c in range(8)])
    nearest = np.argmin(((coords[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == labels[keep]) > 0.9


def test_a_large_map_lays_out_a_sample_and_places_the_rest():
    """Above max_tsne_points, t-SNE runs on a sample and the other points are placed into it:
    the clusters stay apart and every point gets finite coordinates."""
    import dataclasses

    x, labels = clustered_embeddings(1200, dim=32, n_clusters=6, spread=0.9, seed=3)
    params = dataclasses.replace(FAST, max_tsne_points=300)
    calls = []
    coords = compute_layout(x, params, progress=lambda d, t: calls.append((d, t)))
    assert coords.shape == (1200, 2) and np.all(np.isfinite(coords))
    assert _purity_2d(coords, labels) > 0.9
    assert calls and calls[-1][0] == calls[-1][1]            # progress ends at its total
    with pytest.raises(LayoutCancelled):
        compute_layout(x, params, cancel=lambda: True)


def test_layout_is_reproducible():
    x, _ = clustered_embeddings(300, dim=32, n_clusters=4, seed=5)
    a = compute_layout(x, FAST)
    b = compute_layout(x, FAST)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_new_tracks_land_inside_their_cluster(mapped):
    x, labels, keep, held, coords = mapped
    before = coords.copy()
    placed = place_new(coords, x[keep], x[held])
    assert placed.shape == (100, 2) and np.all(np.isfinite(placed))
    np.testing.assert_array_equal(coords, before)       # the old map does not move
    # the nearest old points of a placed track belong to its cluster
    from sklearn.neighbors import NearestNeighbors

    _, idx = NearestNeighbors(n_neighbors=10).fit(coords).kneighbors(placed)
    assert np.mean(labels[keep][idx] == labels[held][:, None]) > 0.9
    # and it sits within its cluster's extent, not on the edge of the map
    for c in np.unique(labels[held]):
        own = coords[labels[keep] == c]
        lo, hi = own.min(axis=0), own.max(axis=0)
        pts = placed[labels[held] == c]
        assert np.all((pts >= lo - 1.0) & (pts <= hi + 1.0))


def test_place_new_without_opentsne_uses_neighbour_median(mapped, monkeypatch):
    x, labels, keep, held, coords = mapped
    monkeypatch.setattr(layout_mod, "_have_opentsne", lambda: False)
    placed = place_new(coords, x[keep], x[held[:10]])
    from sklearn.neighbors import NearestNeighbors

    _, idx = NearestNeighbors(n_neighbors=5).fit(coords).kneighbors(placed)
    assert np.mean(labels[keep][idx] == labels[held[:10]][:, None]) > 0.9


def test_sklearn_fallback(monkeypatch):
    monkeypatch.setattr(layout_mod, "_have_opentsne", lambda: False)
    x, labels = clustered_embeddings(200, dim=32, n_clusters=4, spread=0.8, seed=3)
    coords = compute_layout(x, LayoutParams(early_exaggeration_iter=100, n_iter=150))
    assert coords.shape == (200, 2)
    assert _purity_2d(coords, labels) > 0.9


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 8, 12])
def test_tiny_libraries(n):
    x = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    coords = compute_layout(x, FAST)
    assert coords.shape == (n, 2) and np.all(np.isfinite(coords))
    if n >= 2:
        assert len({tuple(c) for c in coords.round(4)}) == n   # distinct positions
    if n >= 4:  # a real t-SNE run: the points spread out instead of collapsing on one spot
        assert np.ptp(coords, axis=0).min() > 1.0
    new = place_new(coords, x, np.ones((2, 8), dtype=np.float32))
    assert new.shape == (2, 2) and np.all(np.isfinite(new))


def test_progress_and_cancel():
    x, _ = clustered_embeddings(200, dim=16, n_clusters=3, seed=4)
    seen = []
    compute_layout(x, FAST, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (400, 400)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(LayoutCancelled):
        compute_layout(x, FAST, cancel=cancel)


def test_place_new_checks_shapes():
    with pytest.raises(ValueError):
        place_new(np.zeros((5, 2)), np.zeros((4, 8)), np.zeros((1, 8)))
    assert place_new(np.zeros((5, 2)), np.ones((5, 8)), np.zeros((0, 8))).shape == (0, 2)


# --- regions and rendering ---------------------------------------------------------------------
def test_regions_are_named_by_their_clusters_tags(mapped):
    x, labels, keep, _, coords = mapped
    lab = labels[keep]
    names = [f"tag{j}" for j in range(30)]
    scores = np.full((len(keep), 30), 0.05, dtype=np.float32)
    for c in range(8):                                 # cluster c is strongly "tag{2c}"
        scores[lab == c, 2 * c] = 0.9
    regions = label_regions(coords, scores, names, n_regions=8, tags_per_label=1)
    assert len(regions) == 8
    assert sum(r.size for r in regions) == len(keep)
    assert [r.size for r in regions] == sorted((r.size for r in regions), reverse=True)
    for r in regions:
        majority = np.bincount(lab[r.members]).argmax()
        assert r.label == f"tag{2 * majority}"
        assert r.tags[0][1] > 0
        # the label sits on one of the region's own points
        assert np.min(np.hypot(coords[r.members, 0] - r.x, coords[r.members, 1] - r.y)) < 1e-3
    d = regions[0].to_dict()
    assert d["label"] == regions[0].label and isinstance(d["members"], list)


def test_region_labels_merge_duplicate_names_and_respect_the_mask():
    rng = np.random.default_rng(0)
    coords = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(20, 1, (50, 2))])
    scores = np.full((100, 3), 0.1, dtype=np.float32)
    scores[:50, 0] = 0.9          # "Female Vocals" (first spelling)
    scores[:50, 1] = 0.8          # "Female Vocals" (second spelling)
    scores[50:, 2] = 0.9          # "1980s" (an era)
    names = ["Female Vocals", "Female Vocals", "1980s"]
    regions = label_regions(coords, scores, names, n_regions=2)
    labels = {r.label for r in regions}
    assert not any(lbl.count("Female Vocals") > 1 for lbl in labels)
    regions = label_regions(coords, scores, names, n_regions=2, use_tags=[True, True, False])
    assert all("1980s" not in r.label for r in regions)


def test_region_labels_skip_near_synonyms():
    rng = np.random.default_rng(1)
    coords = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(30, 1, (60, 2))])
    scores = np.full((120, 4), 0.1, dtype=np.float32)
    scores[:60, 0], scores[:60, 1], scores[:60, 2] = 0.9, 0.85, 0.6
    scores[60:, 3] = 0.8
    names = ["Metal", "Heavy Metal", "Sad", "Rock"]
    labels = {r.label for r in label_regions(coords, scores, names, n_regions=2)}
    assert labels == {"Metal · Sad", "Rock"}


def test_top_labels_merge_limit_and_other():
    scores = np.array([[0.9, 0.1, 0.0], [0.1, 0.8, 0.0], [0.2, 0.0, 0.7], [0.01, 0.02, 0.03]])
    names = ["Rock", "Rock", "Jazz"]
    out = top_labels(scores, names, min_score=0.05)
    assert list(out) == ["Rock", "Rock", "Jazz", OTHER]
    out = top_labels(scores, names, max_classes=1)
    assert list(out) == ["Rock", "Rock", OTHER, OTHER]
    out = top_labels(scores, names, use=[False, False, True])
    assert list(out) == ["Jazz"] * 4


def test_render_png_by_genre_and_by_tag(tmp_path, mapped):
    from PIL import Image

    x, labels, keep, _, coords = mapped
    lab = labels[keep]
    scores = random_tag_scores(lab, n_tags=12, seed=1)
    names = [f"Genre {j}" for j in range(12)]
    cats = top_labels(scores, names, max_classes=6)
    regions = label_regions(coords, scores, names, n_regions=6)
    out = render_map(tmp_path / "map.png", coords, categories=cats, regions=regions,
                     title="Generated library")
    img = Image.open(out)
    assert img.format == "PNG" and img.size[0] > 800 and img.size[1] > 500
    pixels = np.asarray(img.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels[::7], axis=0)) > 20     # not a blank canvas
    out2 = render_map(tmp_path / "sub" / "tag.png", coords, values=scores[:, 0],
                      value_label="Genre 0 score", title="Genre 0")
    assert out2.exists() and out2.stat().st_size > 10_000
    with pytest.raises(ValueError):
        render_map(tmp_path / "x.png", coords)
    with pytest.raises(ValueError):
        render_map(tmp_path / "x.png", coords, categories=cats[:5])
