"""Tempo and beat evaluation measures, as used in MIR evaluations (MIREX, mir_eval).

Pure functions on plain numbers and arrays; nothing here reads audio.

Tempo
-----
* :func:`tempo_accuracy1` — "Accuracy1" (Gouyon et al. 2006, "An experimental comparison of
  audio tempo induction algorithms", IEEE TASLP 14(5)): the estimate is within ``tol``
  (4 %) of the reference, ``|est - ref| <= tol * ref``.
* :func:`tempo_accuracy2` — "Accuracy2": the same, but an estimate within ``tol`` of the
  reference times 2, 3, 1/2 or 1/3 also counts (octave and triple/third errors forgiven).
  The tolerance scales with the multiple: ``|est - f*ref| <= tol * f * ref``.

  Both compare with a tiny relative slack (:data:`_EPS`) so that values exactly on the
  boundary (e.g. 104 vs. 100 BPM) count although ``100 * 1.04`` is not exactly ``104`` in
  floating point.

Beats
-----
* :func:`beat_f_measure` — the beat F-measure of mir_eval (``mir_eval.beat.f_measure`` after
  ``mir_eval.beat.trim_beats``; Dixon 2007): beats before ``skip_s`` (5 s) are removed from
  both sequences; estimated and reference beats are paired one-to-one where
  ``|est - ref| <= window`` (±70 ms), taking a maximum matching; precision = matches / #est,
  recall = matches / #ref, F = 2PR / (P + R). Empty sequences (after trimming) give 0.0.

  Because every estimated beat's window has the same width, the candidate pairs form an
  interval graph, and matching each estimated beat (in time order) with the earliest
  still-free reference beat in its window is a maximum matching — the same count as
  mir_eval's bipartite matching, in O(n log n).

Summaries
---------
:func:`mean_with_count` and :func:`summarise` average per-item result rows (dicts) per
group (by default per ``"source"``, plus ``"all"``), skipping missing values and reporting
how many items each mean is over.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from engine.errors import ParameterError

#: relative slack for the tempo tolerance comparisons (floating-point boundary cases)
_EPS = 1e-9

#: the tempo multiples Accuracy2 forgives
ACCURACY2_FACTORS: tuple[float, ...] = (1.0, 2.0, 3.0, 1.0 / 2.0, 1.0 / 3.0)


def _check_tempi(est_bpm: float, ref_bpm: float, tol: float) -> tuple[float, float, float]:
    est, ref, tol = float(est_bpm), float(ref_bpm), float(tol)
    if not np.isfinite(ref) or ref <= 0:
        raise ParameterError(f"reference tempo must be a positive number, got {ref_bpm!r}")
    if not np.isfinite(tol) or tol < 0:
        raise ParameterError(f"tolerance must be a non-negative number, got {tol!r}")
    return est, ref, tol


def _within(est: float, target: float, tol: float) -> bool:
    return abs(est - target) <= tol * target * (1.0 + _EPS) + _EPS * target


def tempo_accuracy1(est_bpm: float, ref_bpm: float, tol: float = 0.04) -> bool:
    """True when ``|est - ref| <= tol * ref`` (MIREX Accuracy1; a non-finite estimate is wrong)."""
    est, ref, tol = _check_tempi(est_bpm, ref_bpm, tol)
    if not np.isfinite(est):
        return False
    return _within(est, ref, tol)


def tempo_accuracy2(est_bpm: float, ref_bpm: float, tol: float = 0.04) -> bool:
    """True when the estimate is within ``tol`` of the reference times 1, 2, 3, 1/2 or 1/3."""
    est, ref, tol = _check_tempi(est_bpm, ref_bpm, tol)
    if not np.isfinite(est):
        return False
    return any(_within(est, ref * f, tol) for f in ACCURACY2_FACTORS)


def trim_beats(beats: np.ndarray | Sequence[float], skip_s: float = 5.0) -> np.ndarray:
    """The beats at or after ``skip_s`` seconds, sorted (as ``mir_eval.beat.trim_beats``)."""
    b = np.sort(np.asarray(beats, dtype=float).ravel())
    return b[b >= skip_s]


def match_beats(est: np.ndarray | Sequence[float], ref: np.ndarray | Sequence[float],
                window: float = 0.07) -> int:
    """Size of a maximum one-to-one matching with ``|est - ref| <= window`` (sorted inputs not required)."""
    if window < 0:
        raise ParameterError(f"window must be non-negative, got {window!r}")
    e = np.sort(np.asarray(est, dtype=float).ravel())
    r = np.sort(np.asarray(ref, dtype=float).ravel())
    matches = 0
    j = 0
    n_ref = r.size
    for t in e:
        lo, hi = t - window, t + window
        while j < n_ref and r[j] < lo:      # too early for this and every later estimate
            j += 1
        if j < n_ref and r[j] <= hi:
            matches += 1
            j += 1
    return matches


def beat_f_measure(est: np.ndarray, ref: np.ndarray, window: float = 0.07, skip_s: float = 5.0) -> float:
    """mir_eval's beat F-measure: trim both below ``skip_s``, match within ±``window``, F = 2PR/(P+R)."""
    e = trim_beats(est, skip_s)
    r = trim_beats(ref, skip_s)
    if e.size == 0 or r.size == 0:
        return 0.0
    m = match_beats(e, r, window)
    if m == 0:
        return 0.0
    precision = m / e.size
    recall = m / r.size
    return float(2.0 * precision * recall / (precision + recall))


def mean_with_count(values: Iterable[float | bool | None]) -> tuple[float | None, int]:
    """Mean of the finite values (booleans count as 0/1) and how many there were; (None, 0) if none."""
    vals = []
    for v in values:
        if v is None:
            continue
        x = float(v)
        if np.isfinite(x):
            vals.append(x)
    if not vals:
        return None, 0
    return float(np.mean(vals)), len(vals)


def summarise(rows: Sequence[Mapping], metrics: Sequence[str] | None = None,
              group_by: str | None = "source", digits: int = 4) -> dict[str, dict]:
    """Per-group means of numeric/boolean fields of result rows.

    Returns ``{group: {"n": rows in the group, "means": {metric: mean}, "counts": {metric: n}}}``
    with a group ``"all"`` over every row and, when ``group_by`` is given, one group per value
    of that field. ``metrics`` defaults to every field that holds a number or a bool in some
    row. A metric that no row of a group has gets mean ``None`` and count 0.
    """
    if metrics is None:
        seen: dict[str, None] = {}
        for r in rows:
            for k, v in r.items():
                if isinstance(v, (bool, int, float, np.integer, np.floating)) and k != group_by:
                    seen.setdefault(k, None)
        metrics = list(seen)
    groups: dict[str, list[Mapping]] = defaultdict(list)
    for r in rows:
        groups["all"].append(r)
        if group_by is not None and group_by in r:
            groups[str(r[group_by])].append(r)
    out: dict[str, dict] = {}
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        rs = groups[name]
        means: dict[str, float | None] = {}
        counts: dict[str, int] = {}
        for m in metrics:
            mean, n = mean_with_count(r.get(m) for r in rs)
            means[m] = None if mean is None else round(mean, digits)
            counts[m] = n
        out[name] = {"n": len(rs), "means": means, "counts": counts}
    return out
