"""Benchmark (and screenshots) of the map widget: ``python benchmarks/bench_map.py``.

Runs offscreen on a generated library map of ``--points`` tracks (default 50,000) in a
1280 x 800 view and prints, in milliseconds (median / 95th percentile / max):

full frame     the points re-rendered for a new transform plus labels, legend and marks
               painted: what every pan or zoom frame costs when rendering keeps up
moved frame    the cached image shifted or scaled plus the overlays: what a frame costs while
               a slow re-render waits for the gesture to pause
hover          the whole mouse-move handling over a point (pick + tooltip), and the pick alone
select         a lasso (40-vertex polygon) and a rectangle selection through mouse events
search         a text search over titles, artists and tags

``--library DB`` measures the map of a real library database instead.
``--layout tsne`` lays out generated embeddings with the engine's t-SNE instead of drawing
blobs directly (about a minute at 50,000; cached in the temp folder). ``--screenshots DIR``
also saves PNGs of the map panel. ``--json FILE`` writes the figures.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository root

#: Display names of the genres and moods the generated clusters are built from.
_GENRES = ("Rock", "Pop", "Electronic", "Jazz", "Hip-Hop", "Metal", "Folk", "Soul", "Punk",
           "Blues", "Country", "House", "Indie", "Funk", "R&B", "Classic Rock", "Electronica",
           "Hard Rock", "Alternative", "Experimental")
_MOODS = ("Mellow", "Chillout", "Party", "Sad", "Happy", "Beautiful", "Ambient", "Catchy",
          "Sexy", "Easy Listening")
_WORDS = ("Silver", "Morning", "Electric", "Harbour", "Velvet", "Rain", "Midnight", "Garden",
          "Neon", "River", "Golden", "Static", "Paper", "Moon", "Summer", "Ghost", "Highway",
          "Echo", "Crystal", "Fire", "Ocean", "Glass", "Wild", "Northern", "Lights", "Dust",
          "Heart", "City", "Blue", "Shadow", "Dream", "Machine", "Honey", "Storm", "Atlas")


def _names(rng: np.random.Generator, n: int, words: int) -> list[str]:
    idx = rng.integers(0, len(_WORDS), size=(n, words))
    return [" ".join(_WORDS[j] for j in row) for row in idx.tolist()]


def blob_layout(n: int, n_clusters: int = 18, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A t-SNE-like 2-D layout drawn directly: clusters of Zipf-distributed sizes, each made
    of a few stretched sub-blobs, with a sprinkle of tracks in between."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.7
    labels = rng.choice(n_clusters, size=n, p=weights / weights.sum())
    angle = rng.uniform(0, 2 * np.pi, n_clusters)
    radius = 35 * np.sqrt(rng.uniform(0.05, 1.0, n_clusters))
    centres = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    xy = np.empty((n, 2))
    for c in range(n_clusters):
        members = np.flatnonzero(labels == c)
        scale = 2.0 + 2.5 * math.sqrt(members.size / n * n_clusters / 3)
        subs = centres[c] + rng.normal(scale=scale * 0.8, size=(4, 2))
        sub = rng.integers(0, 4, members.size)
        stretch = rng.uniform(0.5, 1.6, size=(4, 2))
        xy[members] = subs[sub] + rng.normal(size=(members.size, 2)) * stretch[sub] * scale * 0.45
    stray = np.flatnonzero(rng.random(n) < 0.03)     # tracks between the styles
    xy[stray] = centres[labels[stray]] + rng.normal(scale=9.0, size=(stray.size, 2))
    return xy.astype(np.float32), labels


def tsne_layout(n: int, seed: int = 7, spread: float = 1.8) -> tuple[np.ndarray, np.ndarray]:
    """Engine t-SNE of generated clustered embeddings (cached in the temp folder).
    ``spread`` 1.8: clusters that overlap at their edges, as styles in a real library do."""
    cache = Path(tempfile.gettempdir()) / "tagatlas-bench-map" / f"tsne-{n}-{seed}-{spread}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return z["xy"], z["labels"]
    from engine.similarity.layout import compute_layout
    from engine.similarity.synthetic import clustered_embeddings

    x, labels = clustered_embeddings(n, dim=64, n_clusters=18, spread=spread, seed=seed)
    t0 = time.perf_counter()
    print(f"t-SNE of {n:,} generated embeddings (cached afterwards)…", file=sys.stderr)
    xy = compute_layout(x)
    print(f"  done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, xy=xy, labels=labels)
    return xy, labels


def synthetic_library_map(n: int = 50_000, *, layout: str = "blobs", seed: int = 0,
                          with_regions: bool = True):
    """A :class:`~desktop.map.library_map.LibraryMap` of ``n`` generated tracks whose tag
    scores follow their cluster (each cluster has a main genre and mood, some sub-styles a
    second genre), with titles, artists, file genres and region labels."""
    from desktop.map import LibraryMap
    from engine.vocab import msd50_tag_infos

    xy, labels = tsne_layout(n) if layout == "tsne" else blob_layout(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    tags = msd50_tag_infos()
    names = [t.display for t in tags]
    cats = [t.category for t in tags]
    col = {}
    for j, name in enumerate(names):
        col.setdefault(name, j)
    k = int(labels.max()) + 1
    scores = rng.uniform(0.0, 0.12, size=(n, len(tags))).astype(np.float32)
    genre_of = [_GENRES[c % len(_GENRES)] for c in range(k)]
    second = [_GENRES[(c * 7 + 3) % len(_GENRES)] for c in range(k)]
    mood_of = [_MOODS[(c * 3) % len(_MOODS)] for c in range(k)]
    rows = np.arange(n)
    g = np.array([col[genre_of[c]] for c in labels])
    g2 = np.array([col[second[c]] for c in labels])
    m = np.array([col[mood_of[c]] for c in labels])
    mix = rng.random(n) < 0.25          # a sub-style where the second genre wins
    scores[rows, g] = np.where(mix, rng.uniform(0.35, 0.6, n), rng.uniform(0.55, 0.95, n))
    scores[rows, g2] = np.maximum(scores[rows, g2], np.where(mix, rng.uniform(0.6, 0.9, n),
                                                             rng.uniform(0.1, 0.45, n)))
    scores[rows, m] = rng.uniform(0.4, 0.85, n)
    file_genres = [None if rng.random() < 0.3 else genre_of[c] for c in labels.tolist()]
    titles = _names(rng, n, 2)
    artist_pool = ["The " + a + "s" if i % 3 == 0 else a for i, a in enumerate(_names(rng, 900, 2))]
    artists = [artist_pool[(c * 50 + j) % len(artist_pool)]
               for c, j in zip(labels.tolist(), rng.integers(0, 50, n).tolist())]
    return LibraryMap.from_arrays(
        np.arange(1, n + 1), xy, scores=scores, tag_names=names, tag_categories=cats,
        titles=titles, artists=artists, genres=file_genres, compute_regions=with_regions)


def _stats(ms: list[float]) -> dict:
    s = sorted(ms)
    return {"median": statistics.median(s), "p95": s[min(len(s) - 1, int(0.95 * len(s)))],
            "max": s[-1], "n": len(s)}


def dark_palette(app) -> None:
    """A dark Fusion palette (for screenshots of the dark look)."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1f2228", QPalette.ColorRole.WindowText: "#e6e8eb",
        QPalette.ColorRole.Base: "#16181d", QPalette.ColorRole.AlternateBase: "#1d2026",
        QPalette.ColorRole.Text: "#e6e8eb", QPalette.ColorRole.Button: "#2a2e36",
        QPalette.ColorRole.ButtonText: "#e6e8eb", QPalette.ColorRole.Highlight: "#3d7bd9",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2a2e36",
        QPalette.ColorRole.ToolTipText: "#e6e8eb", QPalette.ColorRole.PlaceholderText: "#8a909b",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    app.setPalette(p)


def run(args) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QImage, QMouseEvent
    from PySide6.QtWidgets import QApplication

    import desktop.map.map_view as mv
    from desktop.map import MapPanel
    from desktop.qt_refcount import guard_none_refcount

    guard_none_refcount()   # as the app does at start-up (PySide6 6.12 on Python 3.11)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.theme == "dark":
        dark_palette(app)
    w, h = (int(v) for v in args.size.lower().split("x"))
    t0 = time.perf_counter()
    if args.library:
        from engine.library import Library

        from desktop.map import load_library_map

        with Library(args.library) as lib:
            lmap = load_library_map(lib, with_regions=not args.no_regions)
        if lmap is None:
            raise SystemExit(f"{args.library}: no analysed tracks, so no map")
        args.points, args.layout = len(lmap.data), f"library {args.library}"
    else:
        lmap = synthetic_library_map(args.points, layout=args.layout,
                                     with_regions=not args.no_regions)
    t_data = time.perf_counter() - t0
    panel = MapPanel(theme=args.theme)
    t0 = time.perf_counter()
    panel.set_map(lmap)
    t_set = time.perf_counter() - t0
    view = panel.view
    panel.show()
    panel.resize(w, h + panel.height() - view.height())
    app.processEvents()
    view.resize(w, h)
    view.fit_all()
    target = QImage(view.size(), QImage.Format.Format_RGB32)
    rng = np.random.default_rng(0)
    out: dict = {"points": args.points, "view": f"{view.width()}x{view.height()}",
                 "layout": args.layout, "build_map_s": round(t_data, 2),
                 "set_map_s": round(t_set, 2), "regions": len(lmap.regions)}

    def full_frame() -> float:
        t = time.perf_counter()
        view.render_now()
        view.render(target)
        return (time.perf_counter() - t) * 1000

    def moved_frame() -> float:
        t = time.perf_counter()
        view.render(target)
        return (time.perf_counter() - t) * 1000

    def gestures(frame) -> dict:
        res = {}
        view.fit_all()
        view.render_now()
        res["pan"] = _stats([(view.pan_by(9, 5), frame())[1] for _ in range(args.frames)])
        view.fit_all()
        view.render_now()
        zooms = []
        for i in range(args.frames):
            anchor = QPointF(rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h)
            view.zoom_by(1.08 if i < args.frames // 2 else 1 / 1.08, anchor)
            zooms.append(frame())
        res["zoom"] = _stats(zooms)
        view.fit_all()
        view.zoom_by(6.0, QPointF(w / 2, h / 2))
        view.render_now()
        res["pan_at_6x"] = _stats([(view.pan_by(-9, 6), frame())[1] for _ in range(args.frames)])
        return res

    old_sync = mv.SYNC_RENDER_MS
    out["full_frame_ms"] = gestures(full_frame)
    mv.SYNC_RENDER_MS = -1.0          # a slow machine: paints move the cached image
    out["moved_frame_ms"] = gestures(moved_frame)
    mv.SYNC_RENDER_MS = old_sync
    view.stop_deferred_render()
    view.fit_all()
    view.render_now()
    out["point_radius_px_at_fit"] = view.last_radius

    # hover: real mouse-move events over points, and the pick alone
    sx, sy = view.map_to_screen(lmap.data.xy[:, 0], lmap.data.xy[:, 1])
    onscreen = np.flatnonzero((sx > 2) & (sx < w - 2) & (sy > 2) & (sy < h - 2))
    probes = rng.choice(onscreen, size=min(300, onscreen.size), replace=False)
    picks, moves = [], []
    for i in probes:
        pos = QPointF(float(sx[i]) + 0.4, float(sy[i]) - 0.3)
        t = time.perf_counter()
        view.point_at(pos)
        picks.append((time.perf_counter() - t) * 1000)
        ev = QMouseEvent(QEvent.Type.MouseMove, pos, view.mapToGlobal(pos), Qt.MouseButton.NoButton,
                         Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        t = time.perf_counter()
        QApplication.sendEvent(view, ev)
        moves.append((time.perf_counter() - t) * 1000)
    out["hover_event_ms"] = _stats(moves)
    out["hover_pick_ms"] = _stats(picks)

    # selections through mouse events (the release does the work)
    def press_drag_release(points, mods) -> float:
        def send(kind, p, button, buttons):
            QApplication.sendEvent(view, QMouseEvent(kind, p, view.mapToGlobal(p), button, buttons, mods))
        pts = [QPointF(x, y) for x, y in points]
        send(QEvent.Type.MouseButtonPress, pts[0], Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
        for p in pts[1:]:
            send(QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
        t = time.perf_counter()
        send(QEvent.Type.MouseButtonRelease, pts[-1], Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
        return (time.perf_counter() - t) * 1000

    ang = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    r = 0.3 * min(w, h) * (1 + 0.25 * np.sin(3 * ang))
    lasso = list(zip(w / 2 + r * np.cos(ang), h / 2 + r * np.sin(ang)))
    lasso_ms = press_drag_release(lasso, Qt.KeyboardModifier.ControlModifier)
    out["lasso_select"] = {"ms": lasso_ms, "selected": len(view.selected_ids())}
    rect_ms = press_drag_release([(w * 0.2, h * 0.2), (w * 0.5, h * 0.5), (w * 0.8, h * 0.8)],
                                 Qt.KeyboardModifier.ShiftModifier)
    out["rect_select"] = {"ms": rect_ms, "selected": len(view.selected_ids())}
    t = time.perf_counter()
    found = view.set_search("jazz")
    first = (time.perf_counter() - t) * 1000          # includes building the text index
    t = time.perf_counter()
    found = view.set_search("mellow rock")
    out["search"] = {"first_ms": first, "ms": (time.perf_counter() - t) * 1000, "found": found}
    view.set_search("")
    view.set_selection([])

    if args.screenshots:
        out["screenshots"] = screenshots(panel, lmap, Path(args.screenshots),
                                         "" if args.theme == "dark" else f"_{args.theme}")
    return out


def screenshots(panel, lmap, folder: Path, suffix: str = "") -> list[str]:
    """PNGs of the panel: by top genre with labels, by one tag's score, a search + lasso."""
    folder.mkdir(parents=True, exist_ok=True)
    view = panel.view
    saved = []

    def grab(name: str) -> None:
        view.render_now()
        path = folder / name.replace(".png", f"{suffix}.png")
        panel.grab().save(str(path))
        saved.append(str(path))

    panel.set_color_by("top_genre")
    view.fit_all()
    # the "current" track: a point near the middle of the biggest region
    if lmap.regions:
        r0 = lmap.regions[0]
        tid = int(lmap.data.ids[r0.members[len(r0.members) // 2]])
        view.set_selection([tid])
        view.set_current(tid)
    grab("map.png")
    view.set_selection([])
    view.set_current(None)
    panel.set_color_by("tag:Mellow")
    grab("map_tag_score.png")
    panel.set_color_by("top_genre")
    panel.search_box.setText("jazz")
    panel.run_search()
    jazz = [r for r in lmap.regions if "Jazz" in r.label]
    if jazz:
        # zoom towards the jazz region and draw a lasso around part of it, as a user would
        members = lmap.data.xy[jazz[0].members]
        centre = members.mean(axis=0)
        view.zoom_by(1.6, view.screen_pos(int(lmap.data.ids[jazz[0].members[0]])))
        sx, sy = view.map_to_screen(centre[0], centre[1])
        spread = np.std(members, axis=0) * view.transform()[2]
        ang = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        wobble = 1 + 0.12 * np.sin(3 * ang) + 0.05 * np.cos(7 * ang)
        poly = np.column_stack([sx + 2.0 * spread[0] * wobble * np.cos(ang),
                                sy + 2.0 * spread[1] * wobble * np.sin(ang)])
        data_poly = np.column_stack(view.screen_to_map(poly[:, 0], poly[:, 1]))
        view.set_selection(view.ids_in_polygon(data_poly))
        view.show_lasso(poly)
    grab("map_search.png")
    view.show_lasso(None)
    panel.search_box.clear()
    panel.run_search()
    view.set_selection([])
    return saved


def _print(out: dict) -> None:
    print(f"map benchmark: {out['points']:,} points, {out['view']} view, layout {out['layout']}, "
          f"{out['regions']} region labels")
    print(f"  preparing the map {out['build_map_s']} s, set_map {out['set_map_s']} s, "
          f"point radius at fit {out['point_radius_px_at_fit']} px")
    for key, title in (("full_frame_ms", "full frame (re-render + overlays)"),
                       ("moved_frame_ms", "moved frame (cached image + overlays)")):
        print(f"  {title}:")
        for g, s in out[key].items():
            print(f"    {g:10s} median {s['median']:6.1f} ms  p95 {s['p95']:6.1f}  max {s['max']:6.1f}"
                  f"   ({1000 / s['median']:.0f} frames/s)")
    for key, title in (("hover_event_ms", "hover (mouse-move event)"), ("hover_pick_ms", "hover pick only")):
        s = out[key]
        print(f"  {title:26s} median {s['median']:6.2f} ms  p95 {s['p95']:6.2f}  max {s['max']:6.2f}")
    print(f"  lasso (40 vertices)        {out['lasso_select']['ms']:6.1f} ms, "
          f"{out['lasso_select']['selected']:,} selected")
    print(f"  rectangle                  {out['rect_select']['ms']:6.1f} ms, "
          f"{out['rect_select']['selected']:,} selected")
    print(f"  search 'mellow rock'       {out['search']['ms']:6.1f} ms, {out['search']['found']:,} found "
          f"(the first search of a map, which builds its text index: {out['search']['first_ms']:.0f} ms)")
    for s in out.get("screenshots", []):
        print(f"  saved {s}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_map.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=50_000)
    ap.add_argument("--size", default="1280x800", help="view size WxH in pixels")
    ap.add_argument("--frames", type=int, default=60, help="frames per gesture")
    ap.add_argument("--layout", choices=("blobs", "tsne"), default="blobs")
    ap.add_argument("--library", metavar="DB", help="measure the map of this library database "
                    "instead of a generated one (its cached layout is used, or computed)")
    ap.add_argument("--theme", choices=("dark", "light"), default="dark")
    ap.add_argument("--no-regions", action="store_true", help="skip the region labels (k-means)")
    ap.add_argument("--screenshots", metavar="DIR", help="save PNGs of the map panel here")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = ap.parse_args(argv)
    out = run(args)
    _print(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
