"""Convert the pretrained MTG-Jamendo taggers of Won et al. 2020 into Tag Atlas bundles.

    python -m training.convert_won2020 REFERENCE_DIR OUT_DIR

``REFERENCE_DIR`` holds ``index.json`` and ``weights/jamendo/{musicnn,fcn,crnn}.pth`` (the files
of ``minzwon/sota-music-tagging-models``, ``models/jamendo/<arch>/best_model.pth``; see
``../shared/reference/won2020/README.md``). Writes ``jamendo-musicnn``, ``jamendo-fcn`` and
``jamendo-crnn`` (``.safetensors`` + ``.json``) into ``OUT_DIR``.

The ``.pth`` files are legacy PyTorch pickles: they are read once, here, with
``torch.load(weights_only=True)`` (which refuses anything but tensors and plain containers) after
their SHA-256 is checked against ``index.json``; the app only ever reads the safetensors.

The MagnaTagATune and MSD models of the same repository are not converted: the order of their
50 outputs is not in the reference files (it comes from the original's split files), and a
tagger whose outputs cannot be named is no use.

The models are by Minz Won, Andres Ferraro, Dmitry Bogdanov and Xavier Serra (Music Technology
Group, Universitat Pompeu Fabra), released under the MIT license; every bundle records that.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from engine.bundle import BundleInfo, save_bundle
from engine.features import FeatureSpec
from engine.models.won2020 import WonCRNN, WonFCN, WonMusicnn, state_from_original
from engine.vocab import TagInfo, display_name


def won_spec(chunk_length: int) -> FeatureSpec:
    """The original's input: torchaudio MelSpectrogram (16 kHz, n_fft 512, hop 256, 96 HTK mels up
    to 8 kHz, no norm, centred reflect-padded frames) -> AmplitudeToDB (10 log10, amin 1e-10, no
    top_db). ``input_frames`` is what one chunk of ``chunk_length`` samples gives (1 + len // 256)."""
    frames = 1 + chunk_length // 256
    return FeatureSpec(
        sample_rate=16_000, n_fft=512, hop_length=256, n_mels=96, fmin=0.0, fmax=8000.0,
        mel_scale="htk", mel_norm=None, center=True, pad_mode="reflect", power=2.0,
        log="db", db_ref=1.0, db_amin=1e-10, db_top_db=None, float16_step=False,
        input_frames=frames, excerpt="patches", patch_hop_frames=frames, aggregation="mean",
        resampler="soxr_hq", short_audio="zero_pad",
    )


AUTHORS = "Minz Won, Andres Ferraro, Dmitry Bogdanov and Xavier Serra, Music Technology Group, Universitat Pompeu Fabra"
PAPER = ("M. Won, A. Ferraro, D. Bogdanov, X. Serra, \"Evaluation of CNN-based automatic music "
         "tagging models\", Sound and Music Computing (SMC) 2020, arXiv:2006.00751")
LICENSE = "MIT"
LICENSE_FILE = "LICENSE-won2020.txt"
ATTRIBUTION = ("Copyright (c) 2020 Music Technology Group, Universitat Pompeu Fabra. Code developed by "
               "Minz Won. Weights from minzwon/sota-music-tagging-models (models/jamendo/<arch>/"
               "best_model.pth), converted to safetensors unchanged; MIT license, see "
               f"{LICENSE_FILE}.")
DATA = "MTG-Jamendo, top-50 tags (genre, instrument, mood/theme; the authors' split)"
ARCHS = {"musicnn": WonMusicnn, "fcn": WonFCN, "crnn": WonCRNN}
DESCRIPTIONS = {
    "musicnn": "musicnn re-trained by Won et al. 2020 on MTG-Jamendo's top-50 tags: 31 genres "
               "(incl. classical, orchestral, soundtrack, world, reggae, techno), 14 instruments, "
               "5 moods/themes. 3-s chunks, averaged over the track.",
    "fcn": "FCN (Choi et al. 2016) trained by Won et al. 2020 on MTG-Jamendo's top-50 tags. "
           "29-s chunks, averaged over the track.",
    "crnn": "CRNN (Choi et al. 2017) trained by Won et al. 2020 on MTG-Jamendo's top-50 tags. "
            "29-s chunks, averaged over the track.",
}
_CATEGORY = {"genre": "genre", "instrument": "instrument", "mood/theme": "mood"}


def jamendo_tag_infos(tags_in_output_order: list[str]) -> list[TagInfo]:
    """``"genre---classical"`` -> TagInfo("classical", "genre", "Classical"), in output order."""
    out = []
    for raw in tags_in_output_order:
        prefix, _, name = raw.partition("---")
        if prefix not in _CATEGORY or not name:
            raise ValueError(f"unexpected MTG-Jamendo tag {raw!r}")
        out.append(TagInfo(name, _CATEGORY[prefix], display_name(name)))
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert(reference: Path, out_dir: Path) -> list[Path]:
    import torch

    index = json.loads((reference / "index.json").read_text())
    tags = jamendo_tag_infos(index["jamendo_tags_in_output_order"])
    written = []
    for arch, cls in ARCHS.items():
        entry = index["models"][f"jamendo-{arch}"]
        weights = reference / entry["weights"]
        digest = sha256(weights)
        if digest != entry["sha256"]:
            raise SystemExit(f"{weights}: SHA-256 {digest} is not the one in index.json")
        original = torch.load(weights, map_location="cpu", weights_only=True)
        model = cls(n_tags=len(tags))
        model.load_state_dict(state_from_original(original, torch.hann_window(512)), strict=True)
        model.eval()
        info = BundleInfo(
            name=f"jamendo-{arch}", architecture=cls.architecture, arch_args=model.config(),
            feature_spec=won_spec(int(entry["chunk_length"])), tags=tags, thresholds=None,
            metrics={"dataset": DATA,
                     "note": "ROC-AUC and PR-AUC of these models are published in the paper "
                             "(arXiv:2006.00751, MTG-Jamendo table); not re-measured here"},
            provenance={"trained_by": AUTHORS, "paper": PAPER,
                        "source": f"minzwon/sota-music-tagging-models, {entry['source_path']}",
                        "source_sha256": digest, "training_data": DATA,
                        "converted_with": "python -m training.convert_won2020 (weights copied exactly; "
                                          "the mel filterbank kept as stored)",
                        "attribution": ATTRIBUTION, "license_file": LICENSE_FILE},
            license=LICENSE, description=DESCRIPTIONS[arch],
        )
        written.append(save_bundle(model, info, out_dir))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.convert_won2020", description=__doc__.split("\n\n")[0])
    ap.add_argument("reference", type=Path, help="folder with index.json and weights/jamendo/*.pth")
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    for js in convert(args.reference, args.out_dir):
        print(f"wrote {js} and {js.with_suffix('.safetensors').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
