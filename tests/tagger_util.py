"""Tiny bundles for fast tagger tests."""
from __future__ import annotations

from pathlib import Path

import torch

from engine.bundle import BundleInfo, save_bundle
from engine.features import FeatureSpec
from engine.models.registry import build_model
from engine.vocab import msd50_tag_infos

TINY_CENTRE = FeatureSpec(sample_rate=8000, n_fft=256, hop_length=128, n_mels=32, input_frames=64)
TINY_PATCHES = TINY_CENTRE.with_(excerpt="patches", patch_hop_frames=64, short_audio="repeat_pad",
                                 log="log10_10000", pad_mode="reflect")


def tiny_bundle(folder: Path, name: str = "tiny-test", spec: FeatureSpec = TINY_CENTRE, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = build_model("tiny", n_tags=50, n_mels=spec.n_mels).eval()
    info = BundleInfo(name=name, architecture="", arch_args={}, feature_spec=spec,
                      tags=msd50_tag_infos(), license="test")
    return save_bundle(model, info, folder)
