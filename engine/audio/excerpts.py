"""Which parts of a track a model looks at, decoded in worker processes.

:func:`decode_for_spec` is what a decode worker runs for one file: it probes the file, plans
the sections that the :class:`~engine.features.FeatureSpec` needs (one centred excerpt, or
patches tiling the track), decodes and resamples only those, and returns plain arrays. It never
imports torch, so worker processes start fast.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import TooShortAudioError
from ..features import FeatureSpec
from .decode import load_audio, probe

#: Shorter than this is not music we can say anything about.
MIN_AUDIO_SECONDS = 0.1
#: In "patches" mode, a track longer than this is analysed with patches spread over it
#: (bounded memory and time) instead of tiling all of it.
MAX_FULL_ANALYSIS_SECONDS = 20 * 60.0
#: Sections are decoded with this margin (in hops) so that resampler and STFT edge effects
#: stay outside the patch frames.
_MARGIN_HOPS = 16


@dataclass
class Segment:
    """A decoded stretch of audio and where the model inputs sit in its frames."""

    wave: np.ndarray            # float32 mono at spec.sample_rate
    first_frame: int            # frame (of this segment's STFT) where the first patch starts
    n_patches: int              # model inputs in this segment, spec.patch_hop_frames apart


@dataclass
class DecodedTrack:
    path: str
    duration_s: float
    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)

    @property
    def n_patches(self) -> int:
        return sum(s.n_patches for s in self.segments)


def _fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def pad_wave(wave: np.ndarray, n: int, mode: str) -> np.ndarray:
    if wave.size >= n:
        return wave
    if mode == "repeat_pad":
        return np.tile(wave, math.ceil(n / wave.size))[:n]
    return np.concatenate([wave, np.zeros(n - wave.size, np.float32)])


def short_warning(duration: float, spec: FeatureSpec) -> str:
    how = "repeated" if spec.short_audio == "repeat_pad" else "padded with silence"
    return (f"the track is only {duration:.2f} s long; it was {how} to fill one "
            f"{spec.excerpt_seconds:.2f}-s model input")


def decode_centre(path: str, spec: FeatureSpec, duration: float) -> DecodedTrack:
    """Choi et al.'s policy: ``spec.excerpt_seconds`` from the middle, padded when shorter."""
    need = spec.excerpt_samples
    length_s = need / spec.sample_rate
    start = max(0.0, (duration - length_s) / 2)
    wave = load_audio(path, spec.sample_rate, start_s=start, duration_s=length_s,
                      resampler=spec.resampler, min_duration_s=MIN_AUDIO_SECONDS)
    warnings = []
    if wave.size < need:
        if wave.size < need * 0.98:  # not just rounding
            warnings.append(short_warning(wave.size / spec.sample_rate, spec))
        wave = pad_wave(wave, need, spec.short_audio)
    return DecodedTrack(path, duration, [Segment(wave[:need], 0, 1)], warnings)


def patch_starts(n_frames: int, spec: FeatureSpec, max_patches: int | None) -> list[int]:
    """Start frames of the patches: every hop from 0 (trailing partial dropped), or at most
    ``max_patches`` of those spread evenly over the track."""
    count = max(0, (n_frames - spec.input_frames) // spec.patch_hop_frames + 1)
    starts = [i * spec.patch_hop_frames for i in range(count)]
    if max_patches is not None and count > max_patches:
        idx = np.linspace(0, count - 1, max_patches).round().astype(int)
        starts = [starts[i] for i in sorted(set(idx.tolist()))]
    return starts


def _group(starts: list[int], spec: FeatureSpec) -> list[list[int]]:
    """Group patch starts into runs of adjacent patches (decoded as one section each)."""
    runs: list[list[int]] = []
    for s in starts:
        if runs and s - runs[-1][-1] <= spec.patch_hop_frames:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def decode_patches(path: str, spec: FeatureSpec, duration: float,
                   max_patches: int | None) -> DecodedTrack:
    """musicnn's policy: patches of ``input_frames`` every ``patch_hop_frames`` from frame 0."""
    warnings: list[str] = []
    sr = spec.sample_rate
    if duration > MAX_FULL_ANALYSIS_SECONDS:
        budget = int(MAX_FULL_ANALYSIS_SECONDS * spec.frames_per_second // spec.patch_hop_frames)
        max_patches = budget if max_patches is None else min(max_patches, budget)
        warnings.append(f"long track ({_fmt_time(duration)}): analysed {max_patches} patches "
                        f"spread over it instead of all of it")
    n_frames = spec.n_frames(int(duration * sr))
    starts = patch_starts(n_frames, spec, max_patches)
    if not starts or (max_patches is None and duration <= MAX_FULL_ANALYSIS_SECONDS):
        # The whole track, exactly as the original: one STFT over all of it.
        wave = load_audio(path, sr, resampler=spec.resampler, min_duration_s=MIN_AUDIO_SECONDS)
        n_frames = spec.n_frames(wave.size)
        if n_frames < spec.input_frames:
            warnings.append(short_warning(wave.size / sr, spec))
            wave = pad_wave(wave, spec.excerpt_samples, spec.short_audio)
            n_frames = spec.n_frames(wave.size)
        starts = patch_starts(n_frames, spec, None)
        return DecodedTrack(path, duration, [Segment(wave, 0, len(starts))], warnings)

    hop_s = spec.hop_length / sr
    segments = []
    for run in _group(starts, spec):
        first = max(0, run[0] - _MARGIN_HOPS)
        last = run[-1] + spec.input_frames + _MARGIN_HOPS
        wave = load_audio(path, sr, start_s=first * hop_s, duration_s=(last - first) * hop_s,
                          resampler=spec.resampler)
        avail = (spec.n_frames(wave.size) - (run[0] - first) - spec.input_frames) // spec.patch_hop_frames + 1
        n = min(len(run), max(0, avail))
        if n > 0:
            segments.append(Segment(wave, run[0] - first, n))
    if not segments:
        raise TooShortAudioError(path, "no complete analysis window could be decoded")
    return DecodedTrack(path, duration, segments, warnings)


def decode_for_spec(path: str | os.PathLike, spec: FeatureSpec,
                    max_patches: int | None = None) -> DecodedTrack:
    """Decode what ``spec`` needs from ``path`` (runs in a worker process)."""
    path = os.fsdecode(path)
    info = probe(path)
    if spec.excerpt == "centre":
        return decode_centre(path, spec, info.duration_s)
    return decode_patches(path, spec, info.duration_s, max_patches)
