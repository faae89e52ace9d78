"""The pretrained musicnn taggers (Pons & Serra 2019), ported to PyTorch: ``musicnn`` and ``vgg``.

Both take our usual input, log-mel ``[batch, n_mels=96, frames=187]`` (3-s patches at 16 kHz,
``log10(10000 * mel + 1)``), and work internally in the original's layout: an image with
height = time and width = mel bands. Every batch norm uses TensorFlow's epsilon 1e-3, and the
order inside a block is conv -> ReLU -> batch norm, as in the original.

``musicnn`` (792,079 values at inference, batch-norm statistics included):

* front end on the batch-normalised input: two timbral convolutions ``7 x 38`` and ``7 x 67``
  (time x mel, 204 maps, time zero-padded by 3) and three temporal ones ``128 x 1``, ``64 x 1``,
  ``32 x 1`` (51 maps, TensorFlow "same" padding on time: the extra row goes at the end), each
  max-pooled over all mel positions -> 561 channels x time;
* mid end: three 1-D convolutions over time (kernel 7, 64 maps), the last two residual;
  the front end and the three outputs are concatenated (753 channels);
* back end: max and mean over time, interleaved (max0, mean0, max1, ...) -> 1506, batch norm,
  dense 200 + ReLU + batch norm (= the 200-d embedding, the original's "penultimate"), dense.

``vgg`` (607,030 values): five blocks of 3x3 "same" convolution (128 maps), ReLU, batch norm,
max-pool (4x1 stride 2x2, three 2x2, 4x4 stride 4): 187 x 96 -> 2 x 1 x 128, flattened in the
original's (time, mel, channel) order -> the 256-d embedding, then dense.

Exactness trick used in the front end: for a per-channel batch norm ``a * relu(z + bias) + b``
followed by a max over mel positions, ``max_f`` of it is ``a * relu(max_f z + bias) + b`` when
``a >= 0`` and ``a * relu(min_f z + bias) + b`` when ``a < 0`` (float addition and ReLU are
monotone, so this is the same number, not an approximation); only the max and min of the raw
convolution are kept.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ParameterError
from .base import TaggingModel
from .registry import register

BN_EPS = 1e-3          # TensorFlow's batch-norm epsilon (PyTorch's default 1e-5 is wrong here)


def _bn2d(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


def _bn1d(c: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(c, eps=BN_EPS)


def _bn_scale_shift(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference-time ``a, b`` with ``bn(x) = a * x + b`` per channel."""
    a = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return a, bn.bias - bn.running_mean * a


def _tf_same_pad(k: int) -> tuple[int, int]:
    """TensorFlow "same" padding for kernel ``k`` at stride 1: the extra row goes at the end."""
    before = (k - 1) // 2
    return before, k - 1 - before


class _PooledConv(nn.Module):
    """conv (1 input map) -> ReLU -> batch norm -> max over the whole mel axis: ``[B, C, T]``."""

    def __init__(self, out_channels: int, kernel: tuple[int, int], time_pad: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, out_channels, kernel)
        self.bn = _bn2d(out_channels)
        self.time_pad = time_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:          # x: [B, 1, T, mel]
        x = F.pad(x, (0, 0, *self.time_pad))
        if self.training:
            z = self.bn(F.relu(self.conv(x)))
            return z.amax(dim=3)
        a, b = _bn_scale_shift(self.bn)
        # Channels whose batch-norm scale is negative need the minimum over mel: convolve with
        # negated weights (exact: IEEE rounding is symmetric) so one max-pool serves both.
        sign = torch.where(a >= 0, 1.0, -1.0).to(x.dtype)
        z = F.conv2d(x, self.conv.weight * sign[:, None, None, None])   # bias added after the pool
        extreme = F.max_pool2d(z, (1, z.shape[3]))[..., 0] * sign[None, :, None]
        pooled = F.relu(extreme + self.conv.bias[None, :, None])
        return a[None, :, None] * pooled + b[None, :, None]


@register("musicnn")
class MusiCNN(TaggingModel):
    """musicnn (Pons & Serra 2019) as released in ``musicnn==0.1.0`` (MSD_musicnn, MTT_musicnn)."""

    def __init__(self, n_tags: int = 50, n_mels: int = 96, timbral_filters: int = 204,
                 temporal_filters: int = 51, midend_filters: int = 64, backend_units: int = 200) -> None:
        super().__init__()
        self.n_tags, self.n_mels = n_tags, n_mels
        self.timbral_filters, self.temporal_filters = timbral_filters, temporal_filters
        self.midend_filters, self.backend_units = midend_filters, backend_units
        self.embedding_dim = backend_units

        self.input_bn = _bn2d(1)
        self.timbral = nn.ModuleList(
            _PooledConv(timbral_filters, (7, int(frac * n_mels)), (3, 3)) for frac in (0.4, 0.7)
        )
        self.temporal = nn.ModuleList(
            _PooledConv(temporal_filters, (k, 1), _tf_same_pad(k)) for k in (128, 64, 32)
        )
        front = 2 * timbral_filters + 3 * temporal_filters                 # 561
        self.mid_convs = nn.ModuleList(
            nn.Conv1d(front if i == 0 else midend_filters, midend_filters, 7, padding=3) for i in range(3)
        )
        self.mid_bns = nn.ModuleList(_bn1d(midend_filters) for _ in range(3))
        features = front + 3 * midend_filters                              # 753
        self.pool_bn = _bn1d(2 * features)                                 # 1506
        self.dense = nn.Linear(2 * features, backend_units)
        self.dense_bn = _bn1d(backend_units)
        self.dropout = nn.Dropout(0.5)
        self.classifier = nn.Linear(backend_units, n_tags)

    def config(self) -> dict[str, Any]:
        return {"n_tags": self.n_tags, "n_mels": self.n_mels, "timbral_filters": self.timbral_filters,
                "temporal_filters": self.temporal_filters, "midend_filters": self.midend_filters,
                "backend_units": self.backend_units}

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ours [B, mel, T] -> the original's image [B, 1, T (height), mel (width)]
        h = self.input_bn(x.transpose(1, 2).unsqueeze(1))
        front = torch.cat([m(h) for m in self.timbral] + [m(h) for m in self.temporal], dim=1)  # [B, 561, T]
        feats = [front]
        prev = None
        for conv, bn in zip(self.mid_convs, self.mid_bns):
            out = bn(F.relu(conv(feats[-1])))
            if prev is not None:
                out = out + prev
            feats.append(out)
            prev = out
        mid = torch.cat(feats, dim=1)                                                       # [B, 753, T]
        pooled = torch.stack([mid.amax(dim=2), mid.mean(dim=2)], dim=2).flatten(1)          # interleaved
        h = self.dropout(self.pool_bn(pooled))
        emb = self.dense_bn(F.relu(self.dense(h)))
        return self.classifier(self.dropout(emb)), emb


@register("vgg")
class MusicnnVGG(TaggingModel):
    """The VGG-like baseline released with musicnn (MSD_vgg, MTT_vgg); needs 187-frame patches."""

    def __init__(self, n_tags: int = 50, n_mels: int = 96, n_frames: int = 187, filters: int = 128) -> None:
        super().__init__()
        self.n_tags, self.n_mels, self.n_frames, self.filters = n_tags, n_mels, n_frames, filters
        self.input_bn = _bn2d(1)
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5))
        self.bns = nn.ModuleList(_bn2d(filters) for _ in range(5))
        self.pools = nn.ModuleList([
            nn.MaxPool2d((4, 1), stride=(2, 2)),
            nn.MaxPool2d(2, 2), nn.MaxPool2d(2, 2), nn.MaxPool2d(2, 2),
            nn.MaxPool2d(4, 4),
        ])
        self.block_dropout = nn.Dropout(0.25)
        self.dropout = nn.Dropout(0.5)
        t, f = n_frames, n_mels
        for k, s in (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))):
            t, f = (t - k[0]) // s[0] + 1, (f - k[1]) // s[1] + 1
        self.embedding_dim = t * f * filters                                  # 2 * 1 * 128 = 256
        self.classifier = nn.Linear(self.embedding_dim, n_tags)

    def config(self) -> dict[str, Any]:
        return {"n_tags": self.n_tags, "n_mels": self.n_mels, "n_frames": self.n_frames, "filters": self.filters}

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] != self.n_frames:
            raise ParameterError(f"vgg needs {self.n_frames}-frame patches, got {x.shape[-1]}")
        h = self.input_bn(x.transpose(1, 2).unsqueeze(1))                    # [B, 1, T, mel]
        for i, (conv, bn, pool) in enumerate(zip(self.convs, self.bns, self.pools)):
            if i > 0:
                h = self.block_dropout(h)
            h = pool(bn(F.relu(conv(h))))
        emb = h.permute(0, 2, 3, 1).flatten(1)                                # (time, mel, channel) order
        return self.classifier(self.dropout(emb)), emb


# --- weights from the original TensorFlow checkpoints ----------------------------------------

def _bn_state(prefix: str, tf: dict, name: str) -> dict[str, torch.Tensor]:
    t = lambda a: torch.from_numpy(a.copy()).float()  # noqa: E731
    return {
        f"{prefix}.weight": t(tf[f"{name}/gamma"]), f"{prefix}.bias": t(tf[f"{name}/beta"]),
        f"{prefix}.running_mean": t(tf[f"{name}/moving_mean"]),
        f"{prefix}.running_var": t(tf[f"{name}/moving_variance"]),
        f"{prefix}.num_batches_tracked": torch.tensor(0, dtype=torch.long),
    }


def _conv2d_state(prefix: str, tf: dict, name: str) -> dict[str, torch.Tensor]:
    k = torch.from_numpy(tf[f"{name}/kernel"].copy()).float()               # HWIO
    return {f"{prefix}.weight": k.permute(3, 2, 0, 1).contiguous(),         # OIHW
            f"{prefix}.bias": torch.from_numpy(tf[f"{name}/bias"].copy()).float()}


def _conv1d_state(prefix: str, tf: dict, name: str) -> dict[str, torch.Tensor]:
    k = torch.from_numpy(tf[f"{name}/kernel"].copy()).float()               # [7, in, 1, out]
    return {f"{prefix}.weight": k[:, :, 0, :].permute(2, 1, 0).contiguous(),  # [out, in, 7]
            f"{prefix}.bias": torch.from_numpy(tf[f"{name}/bias"].copy()).float()}


def _dense_state(prefix: str, tf: dict, name: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": torch.from_numpy(tf[f"{name}/kernel"].T.copy()).float(),
            f"{prefix}.bias": torch.from_numpy(tf[f"{name}/bias"].copy()).float()}


def _suffix(i: int) -> str:
    return "" if i == 0 else f"_{i}"


def musicnn_state_from_tf(tf: dict) -> dict[str, torch.Tensor]:
    """Map the variables of an ``MSD_musicnn`` / ``MTT_musicnn`` checkpoint onto :class:`MusiCNN`."""
    s: dict[str, torch.Tensor] = {}
    s |= _bn_state("input_bn", tf, "batch_normalization")
    blocks = [f"timbral.{i}" for i in range(2)] + [f"temporal.{i}" for i in range(3)]
    for i, p in enumerate(blocks):                                # conv2d .. conv2d_4, bn _1 .. _5
        s |= _conv2d_state(f"{p}.conv", tf, f"conv2d{_suffix(i)}")
        s |= _bn_state(f"{p}.bn", tf, f"batch_normalization_{i + 1}")
    for i in range(3):                                            # conv2d_5 .. _7, bn _6 .. _8
        s |= _conv1d_state(f"mid_convs.{i}", tf, f"conv2d_{5 + i}")
        s |= _bn_state(f"mid_bns.{i}", tf, f"batch_normalization_{6 + i}")
    s |= _bn_state("pool_bn", tf, "batch_normalization_9")
    s |= _dense_state("dense", tf, "dense")
    s |= _bn_state("dense_bn", tf, "batch_normalization_10")
    s |= _dense_state("classifier", tf, "dense_1")
    return s


def vgg_state_from_tf(tf: dict) -> dict[str, torch.Tensor]:
    """Map the variables of an ``MSD_vgg`` / ``MTT_vgg`` checkpoint onto :class:`MusicnnVGG`."""
    s: dict[str, torch.Tensor] = {}
    s |= _bn_state("input_bn", tf, "batch_normalization")
    for i in range(5):
        s |= _conv2d_state(f"convs.{i}", tf, f"{i + 1}CNN")
        s |= _bn_state(f"bns.{i}", tf, f"batch_normalization_{i + 1}")
    s |= _dense_state("classifier", tf, "dense")
    return s


def count_inference_values(model: nn.Module) -> int:
    """Parameters plus batch-norm running statistics: the number of values the original
    checkpoint stores for inference (792,079 for musicnn, 607,030 for vgg)."""
    n = sum(p.numel() for p in model.parameters())
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n += m.running_mean.numel() + m.running_var.numel()
    return n
