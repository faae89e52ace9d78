"""The three CNNs of Choi et al. 2016 as re-implemented in the 2018 dissertation.

Input ``[batch, 96, 1366]`` log-mel (the seed :data:`~engine.features.SEED_SPEC`); a channel
axis is added inside. A ConvUnit is convolution -> batch norm -> ELU -> max-pool. Layer
tables and parameter counts are in ``DESIGN.md``; ``tests/test_seed_models.py`` checks both.
An input batch norm (2 parameters) standardises the dB values; like every batch norm it is
outside the dissertation's counts.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import TaggingModel
from .registry import register


class ConvUnit(nn.Sequential):
    """conv -> [batch norm] -> ELU -> [max-pool].

    In eval mode the same function is computed faster: the batch norm is folded into the
    convolution's weights, and the max-pool runs before the ELU (ELU is increasing, so
    ``max(elu(x)) == elu(max(x))``), which applies the activation to a tensor up to 16x smaller.
    """

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int], *, padding: str,
                 pool: tuple[int, int] | None, batch_norm: bool = True) -> None:
        layers: list[nn.Module] = []
        if padding == "same" and any(k % 2 == 0 for k in kernel):
            # Keras/TF 'same' for even kernels: the extra zero goes at the end.
            (kh, kw) = kernel
            layers.append(nn.ZeroPad2d(((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)))
            padding = "valid"
        layers.append(nn.Conv2d(c_in, c_out, kernel, padding=padding))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ELU())
        if pool is not None:
            layers.append(nn.MaxPool2d(pool))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return super().forward(x)
        conv = next(m for m in self if isinstance(m, nn.Conv2d))
        weight, bias = conv.weight, conv.bias
        for m in self:
            if isinstance(m, nn.BatchNorm2d):
                scale = m.weight * torch.rsqrt(m.running_var + m.eps)
                weight = weight * scale[:, None, None, None]
                bias = (bias - m.running_mean) * scale + m.bias
        for m in self:
            if isinstance(m, nn.ZeroPad2d):
                x = m(x)
        x = F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        for m in self:
            if isinstance(m, nn.MaxPool2d):
                x = m(x)
        return F.elu(x)


class _SeedCNN(TaggingModel):
    def __init__(self, n_tags: int, n_mels: int, n_frames: int, dropout: float) -> None:
        super().__init__()
        self.n_tags, self.n_mels, self.n_frames, self.dropout_p = n_tags, n_mels, n_frames, dropout
        self.input_norm = nn.BatchNorm2d(1)

    def config(self) -> dict[str, Any]:
        return {"n_tags": self.n_tags, "n_mels": self.n_mels, "n_frames": self.n_frames,
                "dropout": self.dropout_p}

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if self.input_norm.weight.is_contiguous(memory_format=torch.channels_last) or x.is_cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.input_norm(x)


@register("k2c1")
class K2C1(_SeedCNN):
    """2-D kernels, 1-D convolution: a full-height 96x4 kernel, then 1x4 convs along time."""

    def __init__(self, n_tags: int = 50, n_mels: int = 96, n_frames: int = 1366,
                 dropout: float = 0.0) -> None:
        super().__init__(n_tags, n_mels, n_frames, dropout)
        self.features = nn.Sequential(
            ConvUnit(1, 152, (n_mels, 4), padding="valid", pool=None, batch_norm=False),
            ConvUnit(152, 152, (1, 4), padding="valid", pool=(1, 4)),
            ConvUnit(152, 152, (1, 4), padding="valid", pool=(1, 4)),
            ConvUnit(152, 304, (1, 4), padding="valid", pool=(1, 4)),
            ConvUnit(304, 304, (1, 4), padding="valid", pool=(1, 4)),
        )
        t = n_frames - 3
        for _ in range(4):
            t = (t - 3) // 4
        self.flat_dim = 304 * t
        self.hidden = nn.Sequential(
            nn.Flatten(), nn.Linear(self.flat_dim, 304), nn.ELU(), nn.Dropout(dropout),
            nn.Linear(304, 304), nn.ELU(), nn.Dropout(dropout),
        )
        self.classifier = nn.Linear(304, n_tags)
        self.embedding_dim = 304

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.hidden(self.features(self._prepare(x)))
        return self.classifier(emb), emb


@register("k1c2")
class K1C2(_SeedCNN):
    """1-D kernels (1x4, same padding) in a 2-D convolution; frequency is never pooled."""

    def __init__(self, n_tags: int = 50, n_mels: int = 96, n_frames: int = 1366,
                 dropout: float = 0.0) -> None:
        super().__init__(n_tags, n_mels, n_frames, dropout)
        pools = [(1, 4), (1, 5), (1, 8), (1, 8)]
        widths = [47, 47, 95, 95]
        units, c_in = [], 1
        for width, pool in zip(widths, pools):
            units.append(ConvUnit(c_in, width, (1, 4), padding="same", pool=pool))
            c_in = width
        self.features = nn.Sequential(*units)
        t = n_frames
        for _, p in pools:
            t //= p
        self.flat_dim = 95 * n_mels * t
        self.hidden = nn.Sequential(
            nn.Flatten(), nn.Linear(self.flat_dim, 95), nn.ELU(), nn.Dropout(dropout),
            nn.Linear(95, 95), nn.ELU(), nn.Dropout(dropout),
        )
        self.classifier = nn.Linear(95, n_tags)
        self.embedding_dim = 95

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.hidden(self.features(self._prepare(x)))
        return self.classifier(emb), emb


@register("k2c2")
class K2C2(_SeedCNN):
    """Fully convolutional: five 3x3 ConvUnits pooled down to 1x1, then one dense layer."""

    def __init__(self, n_tags: int = 50, n_mels: int = 96, n_frames: int = 1366,
                 dropout: float = 0.0) -> None:
        super().__init__(n_tags, n_mels, n_frames, dropout)
        widths = [67, 135, 135, 203, 271]
        pools = [(2, 4), (2, 4), (2, 4), (3, 5), (4, 4)]
        units, c_in = [], 1
        for width, pool in zip(widths, pools):
            units.append(ConvUnit(c_in, width, (3, 3), padding="same", pool=pool))
            c_in = width
        self.features = nn.Sequential(*units)
        self.flatten = nn.Flatten()
        self.drop = nn.Dropout(dropout)
        # The dissertation's Table 3.7 counts 271 x 50 = 13,550 here: no bias on the output.
        self.classifier = nn.Linear(271, n_tags, bias=False)
        self.embedding_dim = 271

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(self._prepare(x))
        if h.shape[-1] != 1 or h.shape[-2] != 1:  # other input sizes: pool what is left
            h = torch.amax(h, dim=(-2, -1), keepdim=True)
        emb = self.flatten(h)
        return self.classifier(self.drop(emb)), emb
