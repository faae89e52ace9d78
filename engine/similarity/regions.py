"""Named regions of the map: clusters of the 2-D layout labelled by their dominant tags."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..errors import ParameterError


@dataclass(frozen=True)
class Region:
    """One labelled area of the map.

    ``x``, ``y``: where to draw the label: the member nearest the region's centre weighted by
    the label tags' scores, so the label sits on the points it describes, never in empty
    space between two lobes. ``tags``: (display name,
    weight) pairs, strongest first, where weight is how much higher the tag's mean score is
    in the region than in the whole library. ``members``: row positions in the layout.
    """

    label: str
    x: float
    y: float
    size: int
    tags: tuple[tuple[str, float], ...]
    members: np.ndarray

    def to_dict(self) -> dict:
        d = asdict(self)
        d["members"] = self.members.tolist()
        d["tags"] = [list(t) for t in self.tags]
        return d


def default_region_count(n: int) -> int:
    """About one region per 60 tracks in small libraries, at most 24 labels on a map."""
    return int(np.clip(round(np.sqrt(n / 4.0)), 1, 24)) if n else 0


def _merged_scores(scores: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Columns with the same display name (e.g. "female vocalist"/"female vocalists") merged
    by their maximum, so a region is never labelled with the same word twice."""
    order: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        order.setdefault(name, []).append(j)
    merged = np.stack([scores[:, cols].max(axis=1) for cols in order.values()], axis=1)
    return merged, list(order)


def _near_synonyms(a: str, b: str) -> bool:
    """"Metal"/"Heavy Metal", "Electronic"/"Electronica", "Rock"/"Hard Rock": one name adds
    nothing next to the other on a label."""
    words_a = [w[:5] for w in a.casefold().split() if len(w) >= 4]
    words_b = [w[:5] for w in b.casefold().split() if len(w) >= 4]
    return bool(set(words_a) & set(words_b))


def _pick_tags(lift: np.ndarray, names: Sequence[str], n: int) -> list[int]:
    chosen: list[int] = []
    for j in np.argsort(-lift, kind="stable"):
        if len(chosen) == n or lift[j] <= 0:
            break
        if any(_near_synonyms(names[j], names[c]) for c in chosen):
            continue
        chosen.append(int(j))
    return chosen


def label_regions(coords: np.ndarray, scores: np.ndarray, tag_names: Sequence[str], *,
                  n_regions: int | None = None, tags_per_label: int = 2,
                  use_tags: Sequence[bool] | None = None, min_size: int = 3,
                  random_state: int = 0) -> list[Region]:
    """Cluster the layout ``coords`` [n, 2] with k-means and name each cluster by its tags.

    A tag names a region when its mean score there is high *and* higher than in the library as
    a whole (weight = region mean - library mean); tags sharing a display name are merged, and a
    near-synonym of a tag already on the label is skipped. A region where no tag is higher than
    in the library is named by its highest-scoring tag (weight 0).

    Parameters
    ----------
    coords : np.ndarray
        [n, 2] the map's points.
    scores : np.ndarray
        [n, n_tags] tag probabilities of the points.
    tag_names : sequence of str
        [n_tags] the display names of the score columns.
    n_regions : int, optional
        How many clusters to make (at most ``n``); None: :func:`default_region_count`.
    tags_per_label : int, default 2
        At most this many tags name a region.
    use_tags : sequence of bool, optional
        [n_tags] a mask restricting which tags may name regions (e.g. genres and moods, not
        eras); None: all.
    min_size : int, default 3
        Regions with fewer tracks than this are dropped.
    random_state : int, default 0
        The seed of k-means, so the same map gives the same regions.

    Returns
    -------
    list of Region
        The labelled regions, largest first (empty when there are no points).

    Raises
    ------
    ParameterError
        When ``scores`` is not [n, len(tag_names)].
    """
    from sklearn.cluster import KMeans

    coords = np.asarray(coords, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    n = coords.shape[0]
    if scores.shape[0] != n or scores.shape[1] != len(tag_names):
        raise ParameterError("scores must be [n_points, len(tag_names)]")
    if n == 0:
        return []
    names = list(tag_names)
    if use_tags is not None:
        mask = np.asarray(use_tags, dtype=bool)
        scores = scores[:, mask]
        names = [t for t, keep in zip(names, mask) if keep]
    scores, names = _merged_scores(scores, names)
    k = default_region_count(n) if n_regions is None else int(n_regions)
    k = max(1, min(k, n))
    assign = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit_predict(coords) \
        if k > 1 else np.zeros(n, dtype=int)
    overall = scores.mean(axis=0)
    regions = []
    for c in range(k):
        members = np.flatnonzero(assign == c)
        if members.size < min_size:
            continue
        lift = scores[members].mean(axis=0) - overall
        best = _pick_tags(lift, names, tags_per_label)
        tags = tuple((names[j], float(lift[j])) for j in best) or \
            tuple((names[j], 0.0) for j in np.argsort(-scores[members].mean(axis=0))[:1])
        # The label goes where its tags are: the region's centre weighted by how strongly
        # each member carries them (a k-means region can join two islands; the label then
        # sits by the one it describes), snapped to the nearest member.
        tag_cols = [names.index(t) for t, _ in tags]
        w = scores[np.ix_(members, tag_cols)].sum(axis=1) ** 2 + 1e-9
        centre = (coords[members] * w[:, None]).sum(axis=0) / w.sum()
        anchor = members[np.argmin(np.sum((coords[members] - centre) ** 2, axis=1))]
        regions.append(Region(label=" · ".join(t for t, _ in tags), x=float(coords[anchor, 0]),
                              y=float(coords[anchor, 1]), size=int(members.size), tags=tags,
                              members=members))
    regions.sort(key=lambda r: -r.size)
    return regions
