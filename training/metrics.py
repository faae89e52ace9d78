"""Tagging metrics shared by training (validation each epoch) and evaluation.

All functions take arrays: ``y`` ``[n_items, n_tags]`` in {0, 1} and ``p`` ``[n_items, n_tags]``
scores. Tags that have only one class in ``y`` have no ROC-AUC/PR-AUC; they are reported as
NaN and left out of the macro averages (and the number left out is returned).
"""
from __future__ import annotations

import math

import numpy as np


def per_tag_auc(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUC and PR-AUC (average precision) per tag; NaN where a tag has one class only."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    n_tags = y.shape[1]
    roc = np.full(n_tags, np.nan)
    pr = np.full(n_tags, np.nan)
    for j in range(n_tags):
        pos = y[:, j].sum()
        if 0 < pos < y.shape[0]:
            roc[j] = roc_auc_score(y[:, j], p[:, j])
            pr[j] = average_precision_score(y[:, j], p[:, j])
    return roc, pr


def macro(values: np.ndarray) -> float:
    v = values[~np.isnan(values)]
    return float(v.mean()) if v.size else float("nan")


def macro_auc(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Macro ROC-AUC and macro PR-AUC over the tags that have both classes."""
    roc, pr = per_tag_auc(y, p)
    return macro(roc), macro(pr)


def best_f1_thresholds(y: np.ndarray, p: np.ndarray, default: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Per tag, the threshold on ``p`` that maximises F1 on ``(y, p)`` and that F1.

    The threshold is the midpoint between the chosen score and the next lower one, so it does
    not sit exactly on a training example. Tags without positives keep ``default``.
    """
    n_tags = y.shape[1]
    th = np.full(n_tags, default, np.float32)
    f1 = np.full(n_tags, np.nan, np.float32)
    for j in range(n_tags):
        yj, pj = y[:, j].astype(bool), p[:, j].astype(np.float64)
        n_pos = int(yj.sum())
        if n_pos == 0:
            continue
        order = np.argsort(-pj, kind="stable")
        ps, ys = pj[order], yj[order]
        tp = np.cumsum(ys)
        k = np.arange(1, len(ps) + 1)
        # only cut where the score changes (ties go together)
        last_of_run = np.r_[ps[1:] != ps[:-1], True]
        f = np.where(last_of_run, 2 * tp / (k + n_pos), -1.0)
        best = int(np.argmax(f))
        f1[j] = f[best]
        lower = ps[best + 1] if best + 1 < len(ps) else ps[best] - 1e-3
        th[j] = float(np.clip((ps[best] + lower) / 2, 1e-6, 1 - 1e-6))
    return th, f1


def f1_at(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    pred = p >= thresholds[None, :]
    yb = y.astype(bool)
    tp = (pred & yb).sum(0)
    fp = (pred & ~yb).sum(0)
    fn = (~pred & yb).sum(0)
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


def accuracy_at(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Per-tag accuracy of ``p >= threshold`` against ``y``."""
    return ((p >= threshold) == y.astype(bool)).mean(0)


def mean_ci(values: np.ndarray, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the half-width of its Student-t confidence interval over ``axis`` (N runs).

    With one run the half-width is NaN (no interval can be given from a single run).
    """
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    n = values.shape[axis]
    mean = values.mean(axis=axis)
    if n < 2:
        return mean, np.full_like(mean, np.nan)
    sem = values.std(axis=axis, ddof=1) / math.sqrt(n)
    return mean, stats.t.ppf(0.5 + confidence / 2, n - 1) * sem
