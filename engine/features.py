"""Feature specifications and the batched log-mel front end.

A model's preprocessing is one frozen :class:`FeatureSpec`, stored in its bundle, so training
and inference read the same numbers. :class:`LogMel` turns a batch of waveforms
``[batch, samples]`` into ``[batch, n_mels, frames]`` on whatever device it lives on.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from .errors import ParameterError

ExcerptPolicy = Literal["centre", "patches"]
LogCompression = Literal["db", "log10_10000"]


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to turn audio into a model's input.

    Units are in the names: ``sample_rate`` in Hz, ``n_fft``/``hop_length`` in samples,
    ``input_frames`` and ``patch_hop_frames`` in STFT frames.
    """

    sample_rate: int = 12_000           # Hz, audio is resampled to this
    n_fft: int = 512                    # samples per STFT window
    hop_length: int = 256               # samples between frames
    n_mels: int = 96
    fmin: float = 0.0                   # Hz
    fmax: float | None = None           # Hz; None = sample_rate / 2
    mel_scale: Literal["slaney", "htk"] = "slaney"
    mel_norm: Literal["slaney"] | None = "slaney"
    center: bool = True                 # frames centred on hop multiples (librosa convention)
    pad_mode: Literal["constant", "reflect"] = "constant"
    power: float = 2.0                  # 2 = power spectrogram
    log: LogCompression = "db"          # "db": 10*log10(max(S, amin)/ref), clipped to top_db
    db_ref: float = 1.0
    db_amin: float = 1e-10
    db_top_db: float | None = 80.0
    float16_step: bool = False          # cast mel power to float16 before the log (musicnn)
    input_frames: int = 1366            # frames per model input (one excerpt / one patch)
    excerpt: ExcerptPolicy = "centre"   # "centre": one crop from the middle; "patches": tile the track
    patch_hop_frames: int = 1366        # hop between patches, in frames ("patches" only)
    aggregation: Literal["mean"] = "mean"   # how patch scores become track scores
    resampler: str = "soxr_hq"          # name in engine.audio.resample.RESAMPLERS
    short_audio: Literal["zero_pad", "repeat_pad"] = "zero_pad"

    @property
    def excerpt_samples(self) -> int:
        """Samples needed for one model input of ``input_frames`` frames."""
        if self.center:
            return (self.input_frames - 1) * self.hop_length
        return (self.input_frames - 1) * self.hop_length + self.n_fft

    @property
    def excerpt_seconds(self) -> float:
        return self.excerpt_samples / self.sample_rate

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Frames the STFT produces for ``n_samples`` samples."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return max(0, 1 + (n_samples - self.n_fft) // self.hop_length)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureSpec":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ParameterError(f"unknown FeatureSpec fields: {sorted(unknown)}")
        return cls(**data)

    def with_(self, **changes: Any) -> "FeatureSpec":
        return replace(self, **changes)


#: Choi et al. 2016 / the dissertation's Algorithm 1: 29.12 s from the middle at 12 kHz,
#: 96 Slaney mel bands of the power spectrogram, dB with ref 1.0 -> 96 x 1366.
SEED_SPEC = FeatureSpec()


def mel_filterbank(spec: FeatureSpec) -> np.ndarray:
    """Mel filterbank ``[n_mels, 1 + n_fft // 2]`` as librosa builds it (float64)."""
    import librosa

    return librosa.filters.mel(
        sr=spec.sample_rate,
        n_fft=spec.n_fft,
        n_mels=spec.n_mels,
        fmin=spec.fmin,
        fmax=spec.fmax,
        htk=spec.mel_scale == "htk",
        norm=spec.mel_norm,
        dtype=np.float64,
    )


def _torch():
    import torch

    return torch


class LogMel:
    """Batched log-mel spectrogram on a torch device.

    ``LogMel(spec, device)(waves)`` with ``waves`` a float tensor or array ``[batch, samples]``
    returns ``[batch, n_mels, frames]`` float32 on ``device``. Matches
    ``librosa.feature.melspectrogram`` + the spec's log compression.
    """

    def __init__(self, spec: FeatureSpec, device: str | Any = "cpu", filterbank: Any = None) -> None:
        """``filterbank``: a mel filterbank ``[n_mels, 1 + n_fft // 2]`` to use instead of the one
        :func:`mel_filterbank` computes (a model that brings the exact bank it was trained with)."""
        torch = _torch()
        self.spec = spec
        self.device = torch.device(device)
        self.window = torch.hann_window(spec.n_fft, periodic=True, dtype=torch.float32, device=self.device)
        if filterbank is None:
            self.fb = torch.from_numpy(mel_filterbank(spec).astype(np.float32)).to(self.device)
        else:
            fb = torch.as_tensor(filterbank, dtype=torch.float32).to(self.device)
            if tuple(fb.shape) != (spec.n_mels, spec.n_fft // 2 + 1):
                raise ParameterError(f"mel filterbank of shape {tuple(fb.shape)}; the spec needs "
                                 f"{(spec.n_mels, spec.n_fft // 2 + 1)}")
            self.fb = fb.contiguous()

    @property
    def stft_key(self) -> tuple:
        """What the power spectrogram depends on: two LogMels with the same key can share it."""
        s = self.spec
        return (s.sample_rate, s.n_fft, s.hop_length, s.center, s.pad_mode, s.power, str(self.device))

    def power_mel(self, waves) -> Any:
        """Mel power spectrogram ``[batch, n_mels, frames]`` (before the log)."""
        return self.mel_of_power(self.power_spectrogram(waves))

    def mel_of_power(self, power) -> Any:
        """Mel power ``[batch, n_mels, frames]`` of a :meth:`power_spectrogram` (of any LogMel with
        the same :attr:`stft_key`)."""
        return _torch().matmul(self.fb, power)

    def power_spectrogram(self, waves) -> Any:
        """``|STFT|**power`` ``[batch, 1 + n_fft // 2, frames]``."""
        torch = _torch()
        x = torch.as_tensor(waves, dtype=torch.float32, device=self.device)
        if x.ndim == 1:
            x = x[None]
        spec = self.spec
        stft = torch.stft(
            x,
            n_fft=spec.n_fft,
            hop_length=spec.hop_length,
            window=self.window,
            center=spec.center,
            pad_mode=spec.pad_mode,
            return_complex=True,
        )
        if spec.power == 2.0:  # |X|^2 without the square root of abs()
            ri = torch.view_as_real(stft)
            mag = ri[..., 0].square_().add_(ri[..., 1].square())
        else:
            mag = stft.abs()
            if spec.power != 1.0:
                mag = mag.pow_(spec.power)
        return mag

    def compress(self, mel) -> Any:
        """Apply the spec's log compression to a mel power tensor ``[batch, n_mels, frames]``."""
        torch = _torch()
        spec = self.spec
        if spec.float16_step:
            mel = mel.to(torch.float16).to(torch.float32)
        if spec.log == "db":
            db = torch.clamp(mel, min=spec.db_amin).log10_().mul_(10.0)
            db.sub_(10.0 * math.log10(max(spec.db_amin, spec.db_ref)))
            if spec.db_top_db is not None:
                peak = db.amax(dim=(-2, -1), keepdim=True)
                db = torch.maximum(db, peak - spec.db_top_db)
            return db
        if spec.log == "log10_10000":
            return (mel * 10000.0).add_(1.0).log10_()
        raise ParameterError(f"unknown log compression {spec.log!r}")

    def __call__(self, waves) -> Any:
        return self.compress(self.power_mel(waves))
