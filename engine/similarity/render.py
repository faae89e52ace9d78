"""The map as a PNG (matplotlib, Agg): coloured by top genre, or by one tag's score."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from engine.errors import ParameterError
from engine.similarity.regions import Region

#: Tableau 10 without its grey (grey means "other"), plus two distinct extras.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#17becf", "#7f3c8d", "#a5aa99")
OTHER_COLOUR = "#c7c7c7"
OTHER = "Other"


def top_labels(scores: np.ndarray, names: Sequence[str], *, use: Sequence[bool] | None = None,
               max_classes: int = 10, min_score: float = 0.0) -> np.ndarray:
    """Per track, the display name of its highest-scoring tag among ``use`` (e.g. genres).

    Columns sharing a display name are merged. Only the ``max_classes`` most frequent labels
    are kept; the rest, and tracks whose best score is below ``min_score``, become "Other".
    """
    scores = np.asarray(scores, dtype=np.float32)
    names = list(names)
    cols = np.arange(len(names)) if use is None else np.flatnonzero(np.asarray(use, dtype=bool))
    if cols.size == 0:
        raise ParameterError("no tags to colour by")
    merged: dict[str, list[int]] = {}
    for j in cols:
        merged.setdefault(names[j], []).append(int(j))
    labels = list(merged)
    m = np.stack([scores[:, c].max(axis=1) for c in merged.values()], axis=1)
    best = m.argmax(axis=1)
    out = np.array([labels[b] for b in best], dtype=object)
    out[m[np.arange(len(best)), best] < min_score] = OTHER
    keep = [lab for lab, _ in Counter(out[out != OTHER]).most_common(max_classes)]
    out[~np.isin(out, keep)] = OTHER
    return out


def _point_style(n: int) -> tuple[float, float]:
    size = float(np.clip(40.0 * np.sqrt(300.0 / max(n, 1)), 0.8, 40.0))
    alpha = float(np.clip(0.95 - 0.1 * np.log10(max(n, 1) / 100.0), 0.45, 0.9))
    return size, alpha


def _draw_regions(ax, regions: Sequence[Region], coords: np.ndarray, max_labels: int) -> None:
    import matplotlib.patheffects as pe

    span = np.ptp(coords, axis=0).max() if len(coords) else 1.0
    placed: list[tuple[float, float]] = []
    for r in sorted(regions, key=lambda r: -r.size)[:max_labels]:
        if any(np.hypot(r.x - x, r.y - y) < 0.08 * span for x, y in placed):
            continue  # would overlap a bigger region's label
        placed.append((r.x, r.y))
        # just above the anchor point, so the label does not hide the points it names
        ax.annotate(r.label.replace(" · ", "\n"), (r.x, r.y), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8.5,
                    color="#222222", fontweight="bold", zorder=5, linespacing=1.0,
                    path_effects=[pe.withStroke(linewidth=3.0, foreground="white", alpha=0.8)])


def render_map(out_path: str | os.PathLike, coords: np.ndarray, *,
               categories: Sequence[str] | None = None, values: np.ndarray | None = None,
               value_label: str = "score", regions: Sequence[Region] = (),
               title: str | None = None, max_region_labels: int = 14,
               figsize: tuple[float, float] = (10.0, 7.5), dpi: int = 150) -> Path:
    """Draw the map to a PNG and return its path.

    Either ``categories`` (one label per point; "Other" drawn grey, underneath) with a legend,
    or ``values`` (one number per point, e.g. a tag's score) with a colour bar. Region labels
    are drawn with a white halo. No axes: t-SNE coordinates have no units.

    Parameters
    ----------
    out_path : str or os.PathLike
        The PNG to write (its folder is created when missing).
    coords : np.ndarray
        [n, 2] the points.
    categories : sequence of str, optional
        [n] a label per point (e.g. from :func:`top_labels`); give this or ``values``.
    values : np.ndarray, optional
        [n] a number per point, drawn with the viridis colour map (high values on top); give this
        or ``categories``.
    value_label : str, default "score"
        The colour bar's label (with ``values``).
    regions : sequence of Region, default ()
        Region labels to draw.
    title : str, optional
        A title above the map; None: no title.
    max_region_labels : int, default 14
        At most this many region labels, largest regions first (a label that would overlap a
        bigger region's is left out).
    figsize : tuple of (float, float), default (10.0, 7.5)
        The figure's width and height in inches.
    dpi : int, default 150
        Dots per inch of the PNG.

    Returns
    -------
    Path
        The PNG written.

    Raises
    ------
    ParameterError
        When both or neither of ``categories`` and ``values`` are given, or they do not have one
        entry per point.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    coords = np.asarray(coords, dtype=np.float32)
    n = coords.shape[0]
    if (categories is None) == (values is None):
        raise ParameterError("give exactly one of categories or values")
    size, alpha = _point_style(n)
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    try:
        if categories is not None:
            cats = np.asarray(categories, dtype=object)
            if cats.shape[0] != n:
                raise ParameterError(f"{cats.shape[0]} categories for {n} points")
            counts = Counter(cats.tolist())
            order = [c for c, _ in counts.most_common() if c != OTHER]
            if OTHER in counts:
                sel = cats == OTHER
                ax.scatter(coords[sel, 0], coords[sel, 1], s=size, c=OTHER_COLOUR, alpha=alpha,
                           linewidths=0, label=f"{OTHER} ({counts[OTHER]})", zorder=1,
                           rasterized=True)
            for i, cat in enumerate(order):
                sel = cats == cat
                ax.scatter(coords[sel, 0], coords[sel, 1], s=size,
                           c=PALETTE[i % len(PALETTE)], alpha=alpha, linewidths=0,
                           label=f"{cat} ({counts[cat]})", zorder=2, rasterized=True)
            handles, labels = ax.get_legend_handles_labels()
            if OTHER in counts:  # "Other" last in the legend
                handles, labels = handles[1:] + handles[:1], labels[1:] + labels[:1]
            leg = ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5),
                            frameon=False, fontsize=9, markerscale=max(1.0, 6.0 / np.sqrt(size)),
                            handletextpad=0.3, borderaxespad=0.5)
            for h in leg.legend_handles:
                h.set_alpha(1.0)
        else:
            vals = np.asarray(values, dtype=np.float32)
            if vals.shape[0] != n:
                raise ParameterError(f"{vals.shape[0]} values for {n} points")
            order = np.argsort(vals, kind="stable")  # high values drawn on top
            sc = ax.scatter(coords[order, 0], coords[order, 1], s=size, c=vals[order],
                            cmap="viridis", alpha=alpha, linewidths=0, rasterized=True)
            cb = fig.colorbar(sc, ax=ax, fraction=0.04, pad=0.01, shrink=0.6)
            cb.set_label(value_label)
            cb.outline.set_visible(False)
        if regions:
            _draw_regions(ax, regions, coords, max_region_labels)
        ax.set_axis_off()
        ax.set_aspect("equal", adjustable="box")
        if title:
            ax.set_title(title, fontsize=13, loc="left", color="#222222")
        out = Path(os.fsdecode(out_path))
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, bbox_inches="tight", facecolor="white")
    finally:
        plt.close(fig)
    return out
