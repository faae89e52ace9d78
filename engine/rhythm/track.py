"""Tempo, beats and key of one audio file: one decode of the part analysed, at 22,050 Hz."""
from __future__ import annotations

import os
from dataclasses import dataclass

from .analysis import QUICK_EXCERPT_S, RhythmAnalysis, analyse_rhythm, excerpt_bounds
from .features import SAMPLE_RATE
from .tempo import TempoRange

#: The beat model the library's analyses are made with (recorded with each of them).
BEAT_MODEL = "beatnet-gtzan"


@dataclass(frozen=True)
class TrackRhythm:
    path: str
    duration_s: float
    rhythm: RhythmAnalysis
    key: object | None            # engine.key.KeyEstimate; None when the part analysed is silent

    def to_dict(self, notation: str = "standard") -> dict:
        from ..key import key_name

        out = {"duration_s": round(self.duration_s, 3), **self.rhythm.to_dict()}
        if self.key is not None:
            out.update(key=key_name(self.key.tonic, self.key.mode, notation),
                       key_confidence=round(float(self.key.confidence), 3))
        else:
            out.update(key=None, key_confidence=0.0)
        return out


def analyse_file(path: str | os.PathLike, *, quick: bool = True,
                 tempo_range: TempoRange = TempoRange(), key_profile: str | None = None,
                 model: str | None = None) -> TrackRhythm:
    """Decode ``path`` (only the middle :data:`QUICK_EXCERPT_S` seconds when ``quick``) and
    analyse its beats, tempo and key. Raises the decoder's :class:`engine.errors.AudioError`
    for a file that cannot be read, :class:`engine.errors.ParameterError` for an unknown
    ``key_profile`` (before decoding)."""
    from ..audio.decode import load_audio, probe
    from ..key import DEFAULT_PROFILE, check_profile, estimate_key

    key_profile = check_profile(key_profile or DEFAULT_PROFILE)
    info = probe(path)
    start, end = excerpt_bounds(info.duration_s, QUICK_EXCERPT_S if quick else None)
    y = load_audio(path, SAMPLE_RATE, start_s=start, duration_s=end - start if quick else None,
                   min_duration_s=1.0)
    rhythm = analyse_rhythm(y, SAMPLE_RATE, tempo_range=tempo_range, model=model)
    if start:   # beat times in the track's time
        import dataclasses

        rhythm = dataclasses.replace(rhythm, beats=rhythm.beats + start,
                                     downbeats=rhythm.downbeats + start,
                                     start_s=start, end_s=start + len(y) / SAMPLE_RATE)
    try:
        key = estimate_key(y, SAMPLE_RATE, key_profile)
    except ValueError:     # silence: no key to hear
        key = None
    return TrackRhythm(str(path), info.duration_s, rhythm, key)


def worker_init() -> None:
    """A scan's rhythm worker: one torch thread (the workers run side by side), and decoder
    notes about damaged files kept off the user's terminal (the typed error says it)."""
    import torch

    from ..tagger import quiet_stderr

    torch.set_num_threads(1)
    quiet_stderr()


def rhythm_job(track_id: int, path: str, quick: bool):
    """:func:`analyse_file` for a worker process: the result, or the file's error (never raises
    for a bad file)."""
    from ..errors import AudioError

    try:
        return analyse_file(path, quick=quick)
    except AudioError as exc:
        return exc
    except MemoryError:
        return AudioError(path, "not enough memory to analyse the tempo and key of this file")
    except Exception as exc:  # noqa: BLE001 - an analysis bug must become this file's error, not the scan's
        return AudioError(path, f"the tempo and key analysis failed: {type(exc).__name__}: {exc}")


def rhythm_record(track_id: int, result: TrackRhythm):
    """The library's :class:`~engine.library.db.RhythmRecord` of an analysis."""
    import numpy as np

    from ..library.records import RhythmRecord

    r, k = result.rhythm, result.key
    return RhythmRecord(int(track_id), r.bpm, float(r.confidence), list(r.alternatives),
                        bool(r.variable_tempo), int(r.meter),
                        None if k is None else int(k.tonic), None if k is None else k.mode,
                        0.0 if k is None else float(k.confidence),
                        np.asarray(r.beats, np.float32), np.asarray(r.downbeats, np.float32),
                        r.start_s, r.end_s, BEAT_MODEL)
