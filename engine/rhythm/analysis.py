"""Tempo, beats, downbeats and meter of a track: BeatNet activations → DBN beats → tempo/bars."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .dbn import DBNParams, decode_beats
from .features import FPS, SAMPLE_RATE, beat_features
from .tempo import TempoRange, estimate_bars, estimate_tempo, rescale_beats

#: Quick analysis listens to this much of the middle of a track (full analysis: all of it).
QUICK_EXCERPT_S = 60.0


@dataclass(frozen=True)
class RhythmAnalysis:
    bpm: float | None                      # None: no steady beat found
    confidence: float = 0.0
    alternatives: tuple[float, ...] = ()
    variable_tempo: bool = False
    beats: np.ndarray = field(default_factory=lambda: np.zeros(0))        # seconds
    downbeats: np.ndarray = field(default_factory=lambda: np.zeros(0))    # seconds
    meter: int = 0                         # beats per bar, 0 unknown
    start_s: float = 0.0                   # the part of the track analysed
    end_s: float = 0.0
    tracker_bpm: float | None = None

    def to_dict(self) -> dict:
        return {"bpm": self.bpm, "confidence": self.confidence,
                "alternatives": list(self.alternatives), "variable_tempo": self.variable_tempo,
                "meter": self.meter, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "beats": [round(float(b), 3) for b in self.beats],
                "downbeats": [round(float(b), 3) for b in self.downbeats]}


@functools.cache
def beat_network(path: str | None):
    """The beat network of the beat-model ``.json`` at ``path`` (None: the bundled BeatNet),
    loaded once per process."""
    from .network import load_beat_model

    return load_beat_model(path)[0]


def excerpt_bounds(duration_s: float, excerpt_s: float | None) -> tuple[float, float]:
    """The middle ``excerpt_s`` seconds of a track (all of it when shorter or None)."""
    if excerpt_s is None or duration_s <= excerpt_s:
        return 0.0, duration_s
    start = (duration_s - excerpt_s) / 2
    return start, start + excerpt_s


def analyse_rhythm(y: np.ndarray, sr: int, *, tempo_range: TempoRange = TempoRange(),
                   excerpt_s: float | None = None, model: str | None = None,
                   params: DBNParams = DBNParams()) -> RhythmAnalysis:
    """Analyse the tempo, beats, downbeats and meter of mono audio ``y``.

    The audio is resampled to 22,050 Hz here; beat times stay in the track's time even when
    only an excerpt is analysed.

    Parameters
    ----------
    y : np.ndarray
        [n_samples] mono audio (flattened and taken as float32).
    sr : int
        The sample rate of ``y``, in Hz.
    tempo_range : TempoRange, default TempoRange()
        The BPM range the tempo is reported in (60-200 BPM by default): a tempo outside it is
        halved or doubled until it fits.
    excerpt_s : float, optional
        Analyse only the middle that many seconds; None (or a shorter track): all of it.
    model : str, optional
        A beat-model ``.json`` path; None: the bundled BeatNet.
    params : DBNParams, default DBNParams()
        The settings of the dynamic Bayesian network that decodes the beats.

    Returns
    -------
    RhythmAnalysis
        The tempo (None when no steady beat is found) with its confidence and alternatives, the
        beat and downbeat times in seconds, the meter, and the part of the track analysed.
    """
    from ..audio.resample import resample

    y = np.asarray(y, dtype=np.float32).ravel()
    duration = len(y) / sr
    start, end = excerpt_bounds(duration, excerpt_s)
    y = y[int(start * sr):int(end * sr)]
    if sr != SAMPLE_RATE:
        y = resample(y, sr, SAMPLE_RATE)
    act = beat_network(model).activations(beat_features(y))
    if len(act) == 0:
        return RhythmAnalysis(None, start_s=start, end_s=end)
    beat_act = np.clip(act[:, 0] + act[:, 1], 0.0, 1.0)
    decoded = decode_beats(beat_act, params)
    tempo = estimate_tempo(decoded.beats, beat_act, FPS, tempo_range)
    if tempo is None:
        return RhythmAnalysis(None, beats=start + decoded.beats / FPS, start_s=start, end_s=end)
    beat_frames = rescale_beats(decoded.beats, tempo)
    beats_s = start + beat_frames / FPS
    bars = estimate_bars(beat_frames, act[:, 1])
    return RhythmAnalysis(tempo.bpm, tempo.confidence, tempo.alternatives, tempo.variable,
                          beats_s, beats_s[bars.downbeats] if bars.meter else np.zeros(0),
                          bars.meter, start, end, tempo.tracker_bpm)
