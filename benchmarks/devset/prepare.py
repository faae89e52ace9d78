#!/usr/bin/env python3
"""Post-extraction steps for the Tag Atlas dev set (called by fetch.sh).

1. Pull the music out of the .pk3 (zip) archives of nexuiz-music and
   ufoai-music into <root>/extracted/<package>/.
2. Mix the Frets on Fire stems (song.ogg + guitar.ogg [+ rhythm.ogg]) of
   each song into one file <root>/mixed/<package>/<song>.flac.

Idempotent: existing outputs are left alone.  Needs numpy + soundfile.
"""
import os
import sys
import zipfile

import numpy as np
import soundfile as sf

PK3 = {
    "nexuiz-music": ("usr/share/games/nexuiz/data/music.pk3", "sound/cdtracks/"),
    "ufoai-music": ("usr/share/games/ufoai/base/0music.pk3", "music/"),
}
FOF = {
    "fretsonfire-songs-muldjord": "usr/share/games/fretsonfire/data/songs/muldjord",
    "fretsonfire-songs-sectoid": "usr/share/games/fretsonfire/data/songs/sectoid",
}
STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg", "drums.ogg")


def extract_pk3(root):
    for pkg, (rel, prefix) in PK3.items():
        pk3 = os.path.join(root, pkg, rel)
        if not os.path.exists(pk3):
            print(f"prepare: {pkg}: {rel} missing, skipped", file=sys.stderr)
            continue
        out = os.path.join(root, "extracted", pkg)
        os.makedirs(out, exist_ok=True)
        with zipfile.ZipFile(pk3) as z:
            for name in z.namelist():
                if not name.startswith(prefix) or not name.lower().endswith(".ogg"):
                    continue
                dst = os.path.join(out, os.path.basename(name))
                if os.path.exists(dst):
                    continue
                with z.open(name) as src, open(dst + ".part", "wb") as f:
                    f.write(src.read())
                os.replace(dst + ".part", dst)


def mix_fof(root):
    for pkg, rel in FOF.items():
        base = os.path.join(root, pkg, rel)
        if not os.path.isdir(base):
            print(f"prepare: {pkg}: {rel} missing, skipped", file=sys.stderr)
            continue
        out = os.path.join(root, "mixed", pkg)
        os.makedirs(out, exist_ok=True)
        for song in sorted(os.listdir(base)):
            d = os.path.join(base, song)
            if not os.path.isdir(d):
                continue
            stems = [os.path.join(d, s) for s in STEMS if os.path.exists(os.path.join(d, s))]
            if not stems:
                continue
            dst = os.path.join(out, song.replace(" ", "_").lower() + ".flac")
            if os.path.exists(dst):
                continue
            datas, rate = [], None
            for s in stems:
                x, sr = sf.read(s, dtype="float32", always_2d=True)
                if rate is None:
                    rate = sr
                elif sr != rate:
                    raise SystemExit(f"{s}: sample rate {sr} != {rate}")
                if x.shape[1] == 1:
                    x = np.repeat(x, 2, axis=1)
                datas.append(x[:, :2])
            n = max(len(x) for x in datas)
            mix = np.zeros((n, 2), dtype=np.float32)
            for x in datas:
                mix[: len(x)] += x
            peak = float(np.max(np.abs(mix))) or 1.0
            if peak > 0.99:  # plain sum of stems; scale down only if it would clip
                mix *= 0.99 / peak
            sf.write(dst + ".part.flac", mix, rate, subtype="PCM_16")
            os.replace(dst + ".part.flac", dst)


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "/work/devset"
    extract_pk3(root)
    mix_fof(root)
