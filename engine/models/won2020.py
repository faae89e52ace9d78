"""The pretrained taggers of Won et al. 2020, ported to our model interface: ``won-musicnn``,
``won-fcn`` and ``won-crnn``.

M. Won, A. Ferraro, D. Bogdanov, X. Serra, "Evaluation of CNN-based automatic music tagging
models", SMC 2020 (MIT). Their input is our log-mel ``[batch, n_mels=96, frames]``: the power
spectrogram of 16-kHz audio (n_fft 512, hop 256, reflect-padded centred frames) through 96 HTK
mel bands without normalisation, in dB (``10 log10(max(S, 1e-10))``, no top_db). The filterbank
is the one stored in the original checkpoints (torchaudio's, which differs from librosa's HTK
bank by up to 1.1e-5); each model carries it as the buffer :attr:`mel_filterbank`, which the
tagger's front end uses instead of computing one. Everything else is inside the network: a
batch norm over the single input channel, then

* ``won-musicnn`` (3-s chunks, 188 frames): Pons' front end -- two "vertical" convolutions
  (67 x 7 and 38 x 7 mel x time, 204 maps, conv -> batch norm -> ReLU, max over mel) and three
  "horizontal" ones on the mel average (kernels 129, 65, 33 frames, 51 maps) -> 561 channels;
  three 1-D convolutions over time (kernel 7, 64 maps, the last two residual); the 753 channels
  max- and mean-pooled over time (maxima first, then means) -> 1506 -> dense 200 + batch norm +
  ReLU (the 200-d embedding) -> dense 50.
* ``won-fcn`` (29-s chunks, 1813 frames; Choi et al. 2016): five 3x3 conv -> batch norm -> ReLU
  -> max-pool blocks (64, 128, 128, 128, 64 maps; pools 2x4, 2x4, 2x4, 3x5, 4x4) down to 64 x 1 x 1
  (the 64-d embedding) -> dense 50.
* ``won-crnn`` (29-s chunks; Choi et al. 2017): four such blocks (pools 2x2, 3x3, 4x4, 4x4) to
  128 channels x 18 steps, a 2-layer GRU (32 units), its last step (the 32-d embedding) -> dense 50.

Outputs are logits (the original applies a sigmoid inside the network; the tagger applies it).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ParameterError
from .base import TaggingModel
from .registry import register


class _WonFrontEnd(TaggingModel):
    """Shared by the three: the mel filterbank buffer and the input batch norm."""

    def __init__(self, n_tags: int, n_mels: int, n_fft: int) -> None:
        super().__init__()
        self.n_tags, self.n_mels, self.n_fft = n_tags, n_mels, n_fft
        # [n_mels, 1 + n_fft // 2]: the original's torchaudio filterbank, loaded from the bundle.
        self.register_buffer("mel_filterbank", torch.zeros(n_mels, n_fft // 2 + 1))
        self.spec_bn = nn.BatchNorm2d(1)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return self.spec_bn(x.unsqueeze(1))                  # [B, mel, T] -> [B, 1, mel, T]


class _ConvBlock2d(nn.Module):
    """3x3 "same" convolution -> batch norm -> ReLU -> max-pool."""

    def __init__(self, cin: int, cout: int, pool: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.bn(self.conv(x))), self.pool)


class _VerticalConv(nn.Module):
    """Timbral filter: conv over (mel, time) -> batch norm -> ReLU -> max over mel: ``[B, C, T]``."""

    def __init__(self, cout: int, kernel: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, cout, kernel, padding=(0, kernel[1] // 2))
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x))).amax(dim=2)


class _HorizontalConv(nn.Module):
    """Temporal filter: mean over mel, then conv over time -> batch norm -> ReLU: ``[B, C, T]``."""

    def __init__(self, cout: int, length: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, cout, length, padding=length // 2)
        self.bn = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x.mean(dim=2))))


class _Conv1dBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


@register("won-musicnn")
class WonMusicnn(_WonFrontEnd):
    """musicnn as re-implemented and trained by Won et al. 2020 (MTG-Jamendo, MagnaTagATune)."""

    def __init__(self, n_tags: int = 50, n_mels: int = 96, n_fft: int = 512, backend_channels: int = 64,
                 dense_units: int = 200) -> None:
        super().__init__(n_tags, n_mels, n_fft)
        self.backend_channels, self.dense_units = backend_channels, dense_units
        self.layers = nn.ModuleList([
            _VerticalConv(204, (int(0.7 * n_mels), 7)),
            _VerticalConv(204, (int(0.4 * n_mels), 7)),
            _HorizontalConv(51, 129), _HorizontalConv(51, 65), _HorizontalConv(51, 33),
        ])
        front = 2 * 204 + 3 * 51                                                  # 561
        self.layer1 = _Conv1dBlock(front, backend_channels)
        self.layer2 = _Conv1dBlock(backend_channels, backend_channels)
        self.layer3 = _Conv1dBlock(backend_channels, backend_channels)
        self.dense1 = nn.Linear(2 * (front + 3 * backend_channels), dense_units)
        self.bn = nn.BatchNorm1d(dense_units)
        self.dropout = nn.Dropout(0.5)
        self.dense2 = nn.Linear(dense_units, n_tags)
        self.embedding_dim = dense_units

    def config(self) -> dict[str, Any]:
        return {"n_tags": self.n_tags, "n_mels": self.n_mels, "n_fft": self.n_fft,
                "backend_channels": self.backend_channels, "dense_units": self.dense_units}

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._input(x)
        front = torch.cat([layer(h) for layer in self.layers], dim=1)          # [B, 561, T]
        res1 = self.layer1(front)
        res2 = self.layer2(res1) + res1
        res3 = self.layer3(res2) + res2
        mid = torch.cat([front, res1, res2, res3], dim=1)                     # [B, 753, T]
        pooled = torch.cat([mid.amax(dim=2), mid.mean(dim=2)], dim=1)         # [B, 1506]
        emb = F.relu(self.bn(self.dense1(pooled)))
        return self.dense2(self.dropout(emb)), emb


@register("won-fcn")
class WonFCN(_WonFrontEnd):
    """The fully convolutional network of Choi et al. 2016 as trained by Won et al. 2020."""

    POOLS = ((2, 4), (2, 4), (2, 4), (3, 5), (4, 4))
    CHANNELS = (64, 128, 128, 128, 64)

    def __init__(self, n_tags: int = 50, n_mels: int = 96, n_fft: int = 512) -> None:
        super().__init__(n_tags, n_mels, n_fft)
        cins = (1, *self.CHANNELS[:-1])
        for i, (cin, cout, pool) in enumerate(zip(cins, self.CHANNELS, self.POOLS)):
            self.add_module(f"layer{i + 1}", _ConvBlock2d(cin, cout, pool))
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(self.CHANNELS[-1], n_tags)
        self.embedding_dim = self.CHANNELS[-1]

    def config(self) -> dict[str, Any]:
        return {"n_tags": self.n_tags, "n_mels": self.n_mels, "n_fft": self.n_fft}

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._input(x)
        for i in range(len(self.POOLS)):
            h = getattr(self, f"layer{i + 1}")(h)
        emb = h.flatten(1)
        if emb.shape[1] != self.embedding_dim:
            raise ParameterError(f"won-fcn needs 29-s inputs (1813 frames), got {x.shape[-1]} frames")
        return self.dense(self.dropout(emb)), emb


@register("won-crnn")
class WonCRNN(_WonFrontEnd):
    """The convolutional recurrent network of Choi et al. 2017 as trained by Won et al. 2020."""

    POOLS = ((2, 2), (3, 3), (4, 4), (4, 4))
    CHANNELS = (64, 128, 128, 128)

    def __init__(self, n_tags: int = 50, n_mels: int = 96, n_fft: int = 512, gru_units: int = 32) -> None:
        super().__init__(n_tags, n_mels, n_fft)
        self.gru_units = gru_units
        cins = (1, *self.CHANNELS[:-1])
        for i, (cin, cout, pool) in enumerate(zip(cins, self.CHANNELS, self.POOLS)):
            self.add_module(f"layer{i + 1}", _ConvBlock2d(cin, cout, pool))
        self.layer5 = nn.GRU(self.CHANNELS[-1], gru_units, 2, batch_first=True)
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(gru_units, n_tags)
        self.embedding_dim = gru_units

    def config(self) -> dict[str, Any]:
        return {"n_tags": self.n_tags, "n_mels": self.n_mels, "n_fft": self.n_fft, "gru_units": self.gru_units}

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._input(x)
        for i in range(len(self.POOLS)):
            h = getattr(self, f"layer{i + 1}")(h)
        if h.shape[2] != 1:
            raise ParameterError(f"won-crnn needs {self.n_mels} mel bands, got {x.shape[1]}")
        seq, _ = self.layer5(h[:, :, 0].transpose(1, 2))                      # [B, steps, units]
        emb = seq[:, -1]
        return self.dense(self.dropout(emb)), emb


ARCHITECTURES = {"musicnn": "won-musicnn", "fcn": "won-fcn", "crnn": "won-crnn"}


def state_from_original(original: dict[str, torch.Tensor], hann: torch.Tensor) -> dict[str, torch.Tensor]:
    """Map an original ``state_dict`` onto ours: the filterbank becomes ``mel_filterbank``
    (transposed to ``[n_mels, bins]``), the stored window is checked to be the periodic Hann
    window our front end uses and dropped; every other name is kept."""
    state = {k: v for k, v in original.items() if not k.startswith("spec.")}
    window = original["spec.spectrogram.window"]
    if window.shape != hann.shape or not torch.equal(window, hann):
        raise ValueError("the checkpoint's STFT window is not the periodic Hann window")
    state["mel_filterbank"] = original["spec.mel_scale.fb"].T.contiguous()
    return state
