"""Beat times from frame-wise beat activations: a dynamic Bayesian network decoded with Viterbi.

The model is the "bar pointer" family of Whiteley, Cemgil & Godsill (2006) in the efficient
state space of Krebs, Böck & Widmer ("An efficient state-space model for joint tempo and meter
tracking", ISMIR 2015), here for one beat period (our own implementation):

* a hidden state is (tempo, position): a beat period of ``τ`` frames, for ``τ`` on a
  logarithmic grid between ``60 fps / max_bpm`` and ``60 fps / min_bpm``, and a position
  ``0 … τ-1`` inside it; the position advances one step per frame;
* the tempo may change only when a beat ends, from period ``τ`` to ``τ'`` with probability
  proportional to ``exp(-λ |τ'/τ - 1|)`` (``λ`` = ``transition_lambda``: large = steady tempo);
* the first ``1/observation_lambda`` of each period are "beat" states, which emit the beat
  activation ``a``; the others emit ``(1 - a) / (observation_lambda - 1)``.

The most likely state sequence (Viterbi, log domain, vectorised over states; the deterministic
advance needs no back-pointers, only the tempo choices at beat boundaries do) gives the beats:
one per run of beat states, at the run's highest activation. Pure functions of the activations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DBNParams:
    fps: float = 50.0
    min_bpm: float = 55.0
    max_bpm: float = 215.0
    num_tempi: int = 60
    transition_lambda: float = 100.0
    observation_lambda: int = 16
    threshold: float = 0.05      # frames before the first / after the last activation above it are cut


@dataclass(frozen=True)
class DBNResult:
    beats: np.ndarray            # frame indices of the beats, ascending
    periods: np.ndarray          # [frames] the decoded beat period (frames) per frame (0 where cut)
    log_prob: float


def tempo_periods(p: DBNParams) -> np.ndarray:
    """The beat periods (frames) of the tempo grid, unique, ascending."""
    lo = 60.0 * p.fps / p.max_bpm
    hi = 60.0 * p.fps / p.min_bpm
    return np.unique(np.round(np.logspace(np.log2(lo), np.log2(hi), p.num_tempi, base=2))).astype(np.int64)


def transition_log_probs(periods: np.ndarray, lam: float) -> np.ndarray:
    """``[K, K]`` log P(next period k' | period k), rows sum to 1 (tiny values dropped)."""
    ratio = periods[None, :] / periods[:, None]
    w = np.exp(-lam * np.abs(ratio - 1.0))
    w[w < np.finfo(float).eps] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(w)


def decode_beats(activation: np.ndarray, params: DBNParams = DBNParams()) -> DBNResult:
    """Beats of a ``[frames]`` beat activation in [0, 1] (see the module docstring)."""
    act = np.asarray(activation, dtype=np.float64).ravel()
    n = len(act)
    periods_out = np.zeros(n, dtype=np.int64)
    above = np.nonzero(act >= params.threshold)[0]
    if len(above) == 0:
        return DBNResult(np.zeros(0, np.int64), periods_out, float("-inf"))
    first, last = int(above[0]), int(above[-1]) + 1
    a = np.clip(act[first:last], 1e-7, 1.0 - 1e-7)
    t_len = len(a)

    periods = tempo_periods(params)
    k_n = len(periods)
    starts = np.concatenate([[0], np.cumsum(periods)[:-1]])       # first state of each period
    ends = starts + periods - 1                                   # last state
    n_states = int(periods.sum())
    seg = np.repeat(np.arange(k_n), periods)
    pos = np.arange(n_states) - starts[seg]
    is_beat = pos < periods[seg] / params.observation_lambda
    log_a = np.log(a)
    log_na = np.log((1.0 - a) / (params.observation_lambda - 1))
    log_trans = transition_log_probs(periods, params.transition_lambda)

    pred = np.arange(n_states) - 1                                # advance within a period
    delta = np.where(is_beat, log_a[0], log_na[0]) - np.log(n_states)
    back = np.empty((t_len, k_n), dtype=np.int16)                 # tempo chosen at each beat start
    back[0] = -1
    for t in range(1, t_len):
        cand = delta[ends][:, None] + log_trans                  # [from k, to k']
        best_from = np.argmax(cand, axis=0)
        new = delta[pred]
        new[starts] = cand[best_from, np.arange(k_n)]
        back[t] = best_from
        new += np.where(is_beat, log_a[t], log_na[t])
        delta = new
    state = int(np.argmax(delta))
    log_prob = float(delta[state])
    path = np.empty(t_len, dtype=np.int64)
    start_of = {int(s): k for k, s in enumerate(starts)}
    for t in range(t_len - 1, -1, -1):
        path[t] = state
        if t == 0:
            break
        k = start_of.get(state)
        state = int(ends[back[t, k]]) if k is not None else state - 1
    beat_run = is_beat[path]
    edges = np.diff(np.concatenate([[0], beat_run.astype(np.int8), [0]]))
    lefts, rights = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    peaks = [lo + int(np.argmax(a[lo:hi])) for lo, hi in zip(lefts, rights)]
    if peaks:   # a run cut by either end of the decoded part is a beat only if it is heard
        typical = float(np.median(a[peaks]))
        keep = [p for p, lo, hi in zip(peaks, lefts, rights)
                if (lo > 0 and hi < t_len) or a[p] >= 0.5 * typical]
        peaks = keep
    beats = np.array([first + p for p in peaks], dtype=np.int64)
    periods_out[first:last] = periods[seg[path]]
    return DBNResult(beats, periods_out, log_prob)
