"""Convert BeatNet's pretrained weights into Tag Atlas beat-model bundles.

    python -m training.convert_beatnet WHEEL_OR_DIR OUT_DIR

``WHEEL_OR_DIR``: the ``BeatNet-1.1.3-py3-none-any.whl`` wheel (``pip download --no-deps
beatnet==1.1.3``; read from the zip, nothing installed) or a folder holding
``BeatNet/models/model_{1,2,3}_weights.pt``. Writes ``beatnet-gtzan``, ``beatnet-ballroom`` and
``beatnet-rock`` (``.safetensors`` + ``.json``) into ``OUT_DIR``: the three models the authors
trained with GTZAN, Ballroom or the Rock Corpus held out (models 1, 2, 3). The ``.pt`` files are
plain state dicts and are read with ``torch.load(weights_only=True)``, never unpickled freely.

The weights are by Mojtaba Heydari, Frank Cwitkowitz and Zhiyao Duan (University of
Rochester), released under CC BY 4.0; every bundle records that.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from engine.rhythm.network import EXPECTED_SHAPES

MODELS = {1: ("beatnet-gtzan", "GTZAN"), 2: ("beatnet-ballroom", "Ballroom"),
          3: ("beatnet-rock", "Rock Corpus")}
ATTRIBUTION = ("BeatNet by Mojtaba Heydari, Frank Cwitkowitz and Zhiyao Duan, \"BeatNet: CRNN and "
               "Particle Filtering for Online Joint Beat Downbeat and Meter Tracking\", ISMIR 2021; "
               "weights from the beatnet 1.1.3 package (https://github.com/mjhydri/BeatNet)")


def _read(source: Path, number: int) -> bytes:
    name = f"BeatNet/models/model_{number}_weights.pt"
    if source.is_file():
        with zipfile.ZipFile(source) as z:
            return z.read(name)
    for candidate in (source / name, source / "models" / f"model_{number}_weights.pt"):
        if candidate.is_file():
            return candidate.read_bytes()
    raise FileNotFoundError(f"no {name} in {source}")


def convert(source: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, (name, held_out) in MODELS.items():
        raw = _read(source, number)
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        state = {k: v.float().contiguous() for k, v in state.items()}
        shapes = {k: tuple(v.shape) for k, v in state.items()}
        if shapes != EXPECTED_SHAPES:
            raise ValueError(f"model_{number}_weights.pt does not have BeatNet's tensors: {shapes}")
        save_file(state, str(out_dir / f"{name}.safetensors"))
        meta = {"name": name, "architecture": "beatnet", "license": "CC-BY-4.0",
                "attribution": ATTRIBUTION,
                "training": f"trained by the authors on Ballroom, Beatles, Carnatic, GTZAN, Rock "
                            f"Corpus and others with {held_out} held out (their model {number})",
                "features": "engine.rhythm.features.beat_features (22,050 Hz, 50 frames/s, 272)",
                "source_sha256": hashlib.sha256(raw).hexdigest()}
        js = out_dir / f"{name}.json"
        js.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        written.append(js)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.convert_beatnet", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path)
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    try:
        for js in convert(args.source, args.out_dir):
            print(f"wrote {js} and {js.with_suffix('.safetensors').name}")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        print(f"convert_beatnet: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
