#!/usr/bin/env python3
"""List candidate music files of the dev set with duration, embedded tags and
simple signal descriptors (RMS dBFS, librosa tempo, spectral centroid).

The descriptors are only used as weak support for mood labels; genre labels
come from package docs, tags, titles and the known style of the game.

usage: inventory.py [ROOT] > inventory.csv
"""
import csv
import os
import sys
import warnings

import numpy as np
import soundfile as sf

warnings.filterwarnings("ignore")

MUSIC_DIRS = {
    "wesnoth-1.16-music": "usr/share/games/wesnoth/1.16/data/core/music",
    "fretsonfire-songs-muldjord": "../mixed/fretsonfire-songs-muldjord",
    "fretsonfire-songs-sectoid": "../mixed/fretsonfire-songs-sectoid",
    "nexuiz-music": "../extracted/nexuiz-music",
    "ufoai-music": "../extracted/ufoai-music",
    "warzone2100-music": "usr/share/games/warzone2100/music",
    "singularity-music": "usr/share/games/singularity/music",
    "hyperrogue-music": "usr/share/hyperrogue/music",
    "planetblupi-music-ogg": "usr/share/planetblupi/music",
    "drascula-music": "usr/share/scummvm/drascula/audio",
    "asc-music": "usr/share/games/asc/music",
    "colobot-common-sounds": "usr/share/games/colobot/music",
    "hedgewars-data": "usr/share/games/hedgewars/Data/Music",
    "lincity-ng-data": "usr/share/games/lincity-ng/music",
    "extremetuxracer-data": "usr/share/games/etr/music",
    "pushover-data": "usr/share/pushover/themes",
    "xmoto-data": "usr/share/games/xmoto/Textures/Musics",
}
EXT = (".ogg", ".opus", ".mp3", ".flac", ".wav")


def tags(path):
    try:
        import mutagen
        m = mutagen.File(path)
    except Exception:  # noqa: BLE001
        return {}
    out = {}
    if m is None or m.tags is None:
        return out
    for k in ("title", "artist", "album", "genre", "comment", "description",
              "TIT2", "TPE1", "TALB", "TCON", "COMM::eng"):
        try:
            v = m.tags.get(k)
        except Exception:  # noqa: BLE001
            v = None
        if v:
            v = v if isinstance(v, list) else [str(v)]
            out[k.lower()[:5]] = " / ".join(str(x) for x in v)[:120]
    return out


def descriptors(path, dur):
    import librosa
    off = max(0.0, dur / 2 - 45) if dur > 100 else 0.0
    y, sr = librosa.load(path, sr=22050, mono=True, offset=off, duration=90)
    if len(y) < sr:
        return {}
    rms = float(np.sqrt(np.mean(y ** 2)) + 1e-12)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    onset = librosa.onset.onset_strength(y=y, sr=sr)
    cent = librosa.feature.spectral_centroid(y=y, sr=sr)
    return {
        "rms_db": round(20 * np.log10(rms), 1),
        "tempo": round(float(np.atleast_1d(tempo)[0]), 0),
        "onset_mean": round(float(np.mean(onset)), 2),
        "centroid_hz": round(float(np.mean(cent)), 0),
    }


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/work/devset"
    w = csv.writer(sys.stdout)
    w.writerow(["path", "package", "duration_s", "title", "artist", "album", "genre",
                "rms_db", "tempo", "onset_mean", "centroid_hz"])
    for pkg, rel in MUSIC_DIRS.items():
        base = os.path.normpath(os.path.join(root, pkg, rel))
        if not os.path.isdir(base):
            print(f"missing {base}", file=sys.stderr)
            continue
        for dp, _, fs in sorted(os.walk(base)):
            for f in sorted(fs):
                if not f.lower().endswith(EXT):
                    continue
                p = os.path.join(dp, f)
                try:
                    dur = sf.info(p).duration
                except Exception as e:  # noqa: BLE001
                    print(f"unreadable {p}: {e}", file=sys.stderr)
                    continue
                t = tags(p)
                d = descriptors(p, dur) if dur >= 20 else {}
                w.writerow([os.path.relpath(p, root), pkg, round(dur, 1),
                            t.get("title") or t.get("tit2", ""), t.get("artis") or t.get("tpe1", ""),
                            t.get("album") or t.get("talb", ""), t.get("genre") or t.get("tcon", ""),
                            d.get("rms_db", ""), d.get("tempo", ""), d.get("onset_mean", ""),
                            d.get("centroid_hz", "")])
                sys.stdout.flush()


if __name__ == "__main__":
    main()
