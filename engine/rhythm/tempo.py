"""A track's global tempo, its octave, its confidence, and its bar structure, from decoded beats.

Half- and double-tempo answers are the most common complaint about BPM tools: a piece at 80 BPM
is just as well tapped at 160. Tag Atlas answers explicitly:

* the beat tracker's own tempo (the mean beat interval near the median) is the first
  candidate;
* it is doubled when the activation halfway between the beats is strong (at least
  :data:`DOUBLE_OFFBEAT` of that on the beats: the tracker took every other beat), and halved
  when the beats alternate strong–weak (by at least :data:`HALVE_ALTERNATION`: it took the
  off-beats as beats), as long as the result stays inside the range;
* ``TempoRange(low, high)`` (user-settable, default 60–200 BPM, the range of tempi people
  tap; DJ tools often use 70–180) folds it by ×2 / ÷2 until it lies inside;
* the other octaves (×2, ÷2 inside 40–260 BPM) are always kept as ``alternatives``, the one a
  log-normal prior centred on 120 BPM (Moelants & McKinney 2004) finds likelier first.

``variable`` says the tempo drifts: the local tempo (median of 8-beat windows) spreads more than
8% (10th to 90th percentile, relative to the median) over the track.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError

PRIOR_CENTRE_BPM = 120.0
PRIOR_WIDTH_OCTAVES = 0.8
VARIABLE_SPREAD = 0.08
#: The octave rule, chosen on the synthetic part of the MIDI development set
#: (``benchmarks/rhythm_eval.py``; the Debian MIDI compositions were left out of the choice):
#: double the tracker's tempo when the activation halfway between its beats is at least this
#: share of the activation on them ...
DOUBLE_OFFBEAT = 0.3
#: ... halve it when every other beat is at least this much weaker than the others.
HALVE_ALTERNATION = 0.25
LOCAL_WINDOW_BEATS = 8
ALTERNATIVE_LIMITS = (40.0, 260.0)


@dataclass(frozen=True)
class TempoRange:
    low: float = 60.0
    high: float = 200.0

    def __post_init__(self) -> None:
        if not (20.0 <= self.low and self.high <= 400.0 and self.high >= 2 * self.low * 0.99):
            raise ParameterError(f"tempo range {self.low:g}–{self.high:g} BPM: it must span at least "
                             "an octave (high ≥ 2 × low) within 20–400 BPM")


@dataclass(frozen=True)
class TempoEstimate:
    bpm: float
    confidence: float                      # 0..1
    alternatives: tuple[float, ...] = ()   # the other octaves, most plausible first
    variable: bool = False
    spread: float = 0.0                    # relative spread of the local tempo (see module doc)
    tracker_bpm: float = 0.0               # what the beat tracker said before the octave choice
    factor: float = 1.0                    # bpm / tracker_bpm (2: doubled, 0.5: halved, ...)
    strong_phase: int = 0                  # the stronger of the alternating beats (0 or 1)


@dataclass(frozen=True)
class BarEstimate:
    meter: int                             # beats per bar (3 or 4), 0 when unknown
    downbeats: np.ndarray = field(default_factory=lambda: np.zeros(0))   # indices into the beats
    confidence: float = 0.0


def prior(bpm: float) -> float:
    return float(np.exp(-0.5 * (np.log2(bpm / PRIOR_CENTRE_BPM) / PRIOR_WIDTH_OCTAVES) ** 2))


def _at(act: np.ndarray, frames: np.ndarray) -> np.ndarray:
    frames = np.clip(np.round(frames).astype(np.int64), 0, len(act) - 1)
    return act[frames]


def local_spread(beat_times: np.ndarray) -> float:
    ibi = np.diff(beat_times)
    if len(ibi) < LOCAL_WINDOW_BEATS + 2:
        return 0.0
    win = np.lib.stride_tricks.sliding_window_view(ibi, LOCAL_WINDOW_BEATS)
    local = 60.0 / np.median(win, axis=1)
    p10, p50, p90 = np.percentile(local, [10, 50, 90])
    return float((p90 - p10) / p50)


def estimate_tempo(beat_frames: np.ndarray, activation: np.ndarray, fps: float,
                   tempo_range: TempoRange = TempoRange()) -> TempoEstimate | None:
    """The tempo of beats at ``beat_frames`` (frame indices) of a ``[frames]`` beat activation;
    None with fewer than 4 beats."""
    beats = np.asarray(beat_frames, dtype=np.float64)
    if len(beats) < 4:
        return None
    ibi = np.diff(beats) / fps
    # beats sit on 20-ms frames: the mean of the intervals near the median resolves the tempo
    # far finer than one frame (a median alone would give only 3000/n BPM values)
    med = float(np.median(ibi))
    steady = ibi[np.abs(ibi / med - 1.0) <= 0.1]
    tracker = 60.0 / float(np.mean(steady if len(steady) else ibi))
    act = np.asarray(activation, dtype=np.float64)
    on = float(np.mean(_at(act, beats)))
    off = float(np.mean(_at(act, (beats[:-1] + beats[1:]) / 2)))
    even, odd = float(np.mean(_at(act, beats[0::2]))), float(np.mean(_at(act, beats[1::2])))
    offbeats = off / max(on, 1e-6)                          # activation halfway between beats
    alternation = abs(even - odd) / max(even, odd, 1e-6)   # strong-weak-strong-weak beats
    factor = 1.0
    if offbeats >= DOUBLE_OFFBEAT and tracker * 2 <= tempo_range.high:
        factor = 2.0
    elif alternation >= HALVE_ALTERNATION and tracker / 2 >= tempo_range.low:
        factor = 0.5
    best = tracker * factor
    while best > tempo_range.high:
        best, factor = best / 2.0, factor / 2.0
    while best < tempo_range.low:
        best, factor = best * 2.0, factor * 2.0
    alternatives = sorted({a for a in (best * 2, best / 2, tracker)
                           if ALTERNATIVE_LIMITS[0] <= a <= ALTERNATIVE_LIMITS[1]
                           and abs(a / best - 1) > 0.04},
                          key=lambda a: -prior(a))
    regular = 1.0 - min(1.0, float(np.std(ibi) / np.mean(ibi)) / 0.15)
    base = float(np.median(act))
    salient = min(1.0, max(0.0, (on - base) / max(1e-6, 1.0 - base)) / 0.5)
    spread = local_spread(beats / fps)
    return TempoEstimate(round(best, 2), round(regular * salient, 3),
                         tuple(round(a, 2) for a in alternatives), spread > VARIABLE_SPREAD,
                         round(spread, 4), round(tracker, 2), factor,
                         int(np.argmax([even, odd])))


def rescale_beats(beat_frames: np.ndarray, tempo: TempoEstimate) -> np.ndarray:
    """The tracked beats at the chosen tempo: with the tempo doubled, the midpoints are added;
    halved, the stronger of the two alternating phases is kept; otherwise unchanged."""
    beats = np.asarray(beat_frames, dtype=np.float64)
    if tempo.factor == 2.0 and len(beats) > 1:
        mids = (beats[:-1] + beats[1:]) / 2
        return np.sort(np.concatenate([beats, mids]))
    if tempo.factor == 0.5:
        return beats[tempo.strong_phase::2]
    return beats


def estimate_bars(beat_frames: np.ndarray, downbeat_activation: np.ndarray,
                  meters: tuple[int, ...] = (3, 4)) -> BarEstimate:
    """Meter and downbeats: the beats-per-bar and phase whose beats carry the most downbeat
    activation relative to the other beats. Confidence: that contrast (0..1)."""
    beats = np.round(np.asarray(beat_frames, dtype=np.float64)).astype(np.int64)
    if len(beats) < 2 * max(meters):
        return BarEstimate(0)
    db = _at(np.asarray(downbeat_activation, dtype=np.float64), beats)
    best = (-np.inf, 0, 0)
    for m in meters:
        for phase in range(m):
            mask = np.zeros(len(beats), bool)
            mask[phase::m] = True
            score = float(db[mask].mean() - db[~mask].mean())
            if score > best[0] + 1e-9:
                best = (score, m, phase)
    score, m, phase = best
    if score <= 0.02:
        return BarEstimate(0)
    return BarEstimate(m, np.arange(phase, len(beats), m), round(min(1.0, score / 0.5), 3))
