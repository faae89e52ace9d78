"""Convert the four pretrained taggers of the ``musicnn==0.1.0`` wheel into Tag Atlas bundles.

    python -m training.convert_musicnn WHEEL_OR_DIR OUT_DIR

``WHEEL_OR_DIR`` is the wheel itself (``pip download --no-deps musicnn==0.1.0``; read straight
from the zip, nothing is extracted), a folder holding that wheel, or an unpacked copy (a folder
with ``musicnn/MSD_musicnn/.index`` or ``MSD_musicnn/.index`` inside). Writes
``musicnn-msd``, ``vgg-msd``, ``musicnn-mtt`` and ``vgg-mtt`` (``.safetensors`` + ``.json``)
into ``OUT_DIR``. No TensorFlow is needed: :mod:`training.tf_checkpoint` reads the checkpoints.

The models are by Jordi Pons and Xavier Serra (Music Technology Group, Universitat Pompeu
Fabra), released under the ISC license; every bundle records that and the reported metrics.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.bundle import BundleInfo, save_bundle
from engine.features import FeatureSpec
from engine.models.musicnn import MusiCNN, MusicnnVGG, musicnn_state_from_tf, vgg_state_from_tf
from engine.vocab import TagInfo, msd50_tag_infos, mtt50_tag_infos

from .tf_checkpoint import read_checkpoint_bytes

#: The original preprocessing (musicnn 0.1.0 ``extractor.batch_data`` with librosa 0.7 /
#: resampy 0.2): 16 kHz, 512/256 STFT, 96 Slaney mels, float16 mel power, log10(10000 x + 1),
#: 187-frame (3 s) patches every 187 frames from frame 0, mean of the patch sigmoids.
MUSICNN_SPEC = FeatureSpec(
    sample_rate=16_000, n_fft=512, hop_length=256, n_mels=96, fmin=0.0, fmax=8000.0,
    mel_scale="slaney", mel_norm="slaney", center=True, pad_mode="reflect", power=2.0,
    log="log10_10000", float16_step=True, input_frames=187, excerpt="patches",
    patch_hop_frames=187, aggregation="mean", resampler="kaiser_best", short_audio="repeat_pad",
)

AUTHORS = "Jordi Pons and Xavier Serra, Music Technology Group, Universitat Pompeu Fabra"
PAPER = ("J. Pons and X. Serra, \"musicnn: pre-trained convolutional neural networks for music "
         "audio tagging\", ISMIR 2019 late-breaking/demo, arXiv:1909.06654")
LICENSE = "ISC"
ATTRIBUTION = ("Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. Code developed "
               "by Jordi Pons. Weights converted from the musicnn 0.1.0 wheel; ISC license, see "
               "LICENSE-musicnn.txt.")

_MSD_DATA = ("Million Song Dataset, 50 most frequent last.fm tags (musicnn's split, "
             "test set)")
_MTT_DATA = "MagnaTagATune, 50 most frequent tags (musicnn's split, test set)"


@dataclass(frozen=True)
class Release:
    bundle: str                  # our bundle name
    folder: str                  # the checkpoint folder in the wheel
    arch: type
    mapping: Callable
    tags: Callable[[], list[TagInfo]]
    dataset: str
    roc_auc: float               # as reported in the wheel's experiment.result
    pr_auc: float
    description: str


RELEASES = (
    Release("musicnn-msd", "MSD_musicnn", MusiCNN, musicnn_state_from_tf, msd50_tag_infos, _MSD_DATA,
            0.8801927178090048, 0.28906431196994925,
            "musicnn (Pons & Serra 2019) trained on the Million Song Dataset's 50 most common "
            "last.fm tags: genres, moods, vocals, eras. 3-s patches, averaged over the track."),
    Release("vgg-msd", "MSD_vgg", MusicnnVGG, vgg_state_from_tf, msd50_tag_infos, _MSD_DATA,
            0.8767615259520635, 0.28192480359001065,
            "VGG-like baseline released with musicnn, trained on the Million Song Dataset's 50 "
            "most common last.fm tags. 3-s patches, averaged over the track."),
    Release("musicnn-mtt", "MTT_musicnn", MusiCNN, musicnn_state_from_tf, mtt50_tag_infos, _MTT_DATA,
            0.9066769123674747, 0.38310571748763617,
            "musicnn (Pons & Serra 2019) trained on MagnaTagATune's 50 most common tags: "
            "instruments, vocals, genres, tempo and loudness. 3-s patches, averaged."),
    Release("vgg-mtt", "MTT_vgg", MusicnnVGG, vgg_state_from_tf, mtt50_tag_infos, _MTT_DATA,
            0.9030268990308291, 0.382267685217377,
            "VGG-like baseline released with musicnn, trained on MagnaTagATune's 50 most common "
            "tags. 3-s patches, averaged over the track."),
)


class WheelSource:
    """Files of the musicnn package, from the wheel (zip) or from an unpacked folder."""

    def __init__(self, where: str | Path) -> None:
        where = Path(where)
        self._zip: zipfile.ZipFile | None = None
        self._root: Path | None = None
        self.sha256: str | None = None
        if where.is_dir():
            wheels = sorted(where.glob("musicnn-*.whl"))
            if wheels:
                where = wheels[-1]
            else:
                for root in (where / "musicnn", where):
                    if (root / "MSD_musicnn" / ".index").is_file():
                        self._root = root
                        break
                else:
                    raise SystemExit(f"{where}: no musicnn wheel and no musicnn/MSD_musicnn/.index inside")
        if self._root is None:
            if not zipfile.is_zipfile(where):
                raise SystemExit(f"{where}: not a wheel (zip) file")
            self.sha256 = hashlib.sha256(where.read_bytes()).hexdigest()
            self._zip = zipfile.ZipFile(where)
        self.name = where.name

    def read(self, rel: str) -> bytes:
        """``rel`` relative to the ``musicnn`` package, e.g. ``"MSD_musicnn/.index"``."""
        if self._zip is not None:
            return self._zip.read(f"musicnn/{rel}")
        assert self._root is not None
        return (self._root / rel).read_bytes()

    def license_text(self) -> str | None:
        if self._zip is not None:
            for n in self._zip.namelist():
                if n.endswith(".dist-info/LICENSE.md") or n.endswith(".dist-info/LICENSE"):
                    return self._zip.read(n).decode("utf-8")
            return None
        assert self._root is not None
        for cand in (self._root.parent / "LICENSE.md", self._root / "LICENSE.md"):
            if cand.is_file():
                return cand.read_text(encoding="utf-8")
        return None


def convert_release(src: WheelSource, rel: Release, out_dir: Path) -> Path:
    index = src.read(f"{rel.folder}/.index")
    data = src.read(f"{rel.folder}/.data-00000-of-00001")
    tf = read_checkpoint_bytes(index, {0: data}, verify=True)
    tags = rel.tags()
    model = rel.arch(n_tags=len(tags))
    model.load_state_dict(rel.mapping(tf), strict=True)
    model.eval()
    try:
        train_config = json.loads(src.read(f"{rel.folder}/config.json"))
    except (KeyError, FileNotFoundError, ValueError):
        train_config = {}
    provenance = {
        "trained_by": AUTHORS,
        "paper": PAPER,
        "source": f"musicnn 0.1.0 wheel ({src.name}), checkpoint musicnn/{rel.folder}/",
        "source_sha256": src.sha256,
        "training_data": rel.dataset,
        "training": {k: train_config[k] for k in ("n_frames", "pre_processing", "pad_short",
                                                  "train_sampling", "batch_size", "learning_rate",
                                                  "optimizer", "weight_decay") if k in train_config},
        "converted_with": "python -m training.convert_musicnn (no TensorFlow; weights copied exactly)",
        "attribution": ATTRIBUTION,
        "license_file": "LICENSE-musicnn.txt",
    }
    info = BundleInfo(
        name=rel.bundle, architecture=rel.arch.architecture, arch_args=model.config(),
        feature_spec=MUSICNN_SPEC, tags=tags, thresholds=None,
        metrics={"dataset": rel.dataset, "roc_auc": rel.roc_auc, "pr_auc": rel.pr_auc,
                 "reported_by": "the authors (musicnn 0.1.0 experiment.result)"},
        provenance=provenance, license=LICENSE, description=rel.description,
    )
    return save_bundle(model, info, out_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.convert_musicnn", description=__doc__.split("\n")[0])
    ap.add_argument("source", help="the musicnn-0.1.0 wheel, a folder holding it, or an unpacked copy")
    ap.add_argument("out_dir", help="where to write the bundles (e.g. resources/models)")
    ap.add_argument("--only", nargs="*", choices=[r.bundle for r in RELEASES], help="convert only these")
    args = ap.parse_args(argv)
    src = WheelSource(args.source)
    out = Path(args.out_dir)
    for rel in RELEASES:
        if args.only and rel.bundle not in args.only:
            continue
        path = convert_release(src, rel, out)
        print(f"{rel.bundle}: {path}")
    text = src.license_text()
    if text:
        (out / "LICENSE-musicnn.txt").write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
