"""The BeatNet beat/downbeat network (Heydari, Cwitkowitz & Duan, "BeatNet: CRNN and particle
filtering for online joint beat downbeat and meter tracking", ISMIR 2021), our own PyTorch
implementation of its architecture, loading the authors' weights (CC BY 4.0) from a
safetensors bundle converted once by :mod:`training.convert_beatnet`.

Per 20-ms frame of :func:`engine.rhythm.features.beat_features` (272 values): a 1-D convolution
over the frequency axis (2 channels, kernel 10) → ReLU → max-pool 2 → linear to 150 → a
two-layer unidirectional LSTM (150 cells) → linear to 3 classes → softmax per frame. The classes
are beat, downbeat and neither; :meth:`BeatNet.activations` returns the first two.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .features import N_FEATURES

KERNEL = 10
CONV_CHANNELS = 2
HIDDEN = 150
LAYERS = 2

#: The tensors of a BeatNet state dict and their shapes (a bundle must match them exactly).
EXPECTED_SHAPES: dict[str, tuple[int, ...]] = {
    "conv1.weight": (CONV_CHANNELS, 1, KERNEL), "conv1.bias": (CONV_CHANNELS,),
    "linear0.weight": (HIDDEN, CONV_CHANNELS * ((N_FEATURES - KERNEL + 1) // 2)),
    "linear0.bias": (HIDDEN,),
    **{f"lstm.{kind}_l{layer}": shape for layer in range(LAYERS) for kind, shape in
       (("weight_ih", (4 * HIDDEN, HIDDEN)), ("weight_hh", (4 * HIDDEN, HIDDEN)),
        ("bias_ih", (4 * HIDDEN,)), ("bias_hh", (4 * HIDDEN,)))},
    "linear.weight": (3, HIDDEN), "linear.bias": (3,),
}


class BeatNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, CONV_CHANNELS, KERNEL)
        self.linear0 = nn.Linear(EXPECTED_SHAPES["linear0.weight"][1], HIDDEN)
        self.lstm = nn.LSTM(HIDDEN, HIDDEN, num_layers=LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, 3)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``feats [batch, frames, 272]`` → logits ``[batch, frames, 3]``."""
        b, t, d = feats.shape
        x = feats.reshape(b * t, 1, d)
        x = F.max_pool1d(F.relu(self.conv1(x)), 2)
        x = self.linear0(x.reshape(b * t, -1)).reshape(b, t, HIDDEN)
        x, _ = self.lstm(x)
        return self.linear(x)

    @torch.inference_mode()
    def activations(self, feats: np.ndarray) -> np.ndarray:
        """``[frames, 2]`` float32: per frame the probability of a beat and of a downbeat."""
        if len(feats) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        logits = self(torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None])
        return torch.softmax(logits[0], dim=-1)[:, :2].numpy().astype(np.float32)


@dataclass(frozen=True)
class BeatModelInfo:
    name: str
    license: str
    attribution: str
    path: Path


def bundled_beat_model() -> Path:
    """The ``.json`` of the bundled BeatNet weights (the GTZAN-held-out model)."""
    from importlib import resources

    return Path(str(resources.files("resources").joinpath("models", "beatnet", "beatnet-gtzan.json")))


def load_beat_model(json_path: str | Path | None = None) -> tuple[BeatNet, BeatModelInfo]:
    """The network of a beat-model bundle (``NAME.json`` + ``NAME.safetensors``), validated:
    every tensor present with the expected shape, nothing else. Raises
    :class:`engine.errors.ModelError` naming the file when it is not a usable bundle."""
    from safetensors.torch import load_file

    from ..errors import ModelError

    js = Path(json_path) if json_path is not None else bundled_beat_model()
    try:
        meta = json.loads(js.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{js}: cannot read the beat model's description ({e})") from e
    if not isinstance(meta, dict) or meta.get("architecture") != "beatnet":
        raise ModelError(f"{js}: not a beat model (architecture must be 'beatnet')")
    weights = js.with_suffix(".safetensors")
    try:
        state = load_file(str(weights))
    except Exception as e:   # safetensors raises its own error types for damaged files
        raise ModelError(f"{weights}: cannot read the beat model's weights ({e})") from e
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != EXPECTED_SHAPES:
        missing = sorted(set(EXPECTED_SHAPES) - set(got))
        wrong = sorted(k for k in got if k in EXPECTED_SHAPES and got[k] != EXPECTED_SHAPES[k])
        extra = sorted(set(got) - set(EXPECTED_SHAPES))
        raise ModelError(f"{weights}: not BeatNet weights (missing {missing or 'none'}, "
                          f"wrong shape {wrong or 'none'}, unexpected {extra or 'none'})")
    net = BeatNet()
    net.load_state_dict(state)
    net.eval()
    return net, BeatModelInfo(str(meta.get("name", js.stem)), str(meta.get("license", "")),
                              str(meta.get("attribution", "")), js)
