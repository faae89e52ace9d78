"""Tempo, beat and key accuracy on the MIDI development set, next to DSP baselines, same run.

    python benchmarks/rhythm_devset.py build /work/rhythmset     # once: render the set
    python benchmarks/rhythm_eval.py [/work/rhythmset] [--json report.json] [--limit N]

For every item of ``truth.json``: Tag Atlas's analysis (BeatNet activations → our DBN → tempo
with the default range and prior; key with each profile) and the baselines — librosa's
dynamic-programming beat tracker (``librosa.beat.beat_track``: its tempo and beats) and a
Krumhansl–Kessler key on the same chroma. Reports per source and overall:

* tempo Accuracy1 (within 4% of the truth) and Accuracy2 (also ×2, ×3, ½, ⅓);
* beat F-measure (±70 ms, the first 5 s skipped, as mir_eval);
* the MIREX weighted key score (1 same, 0.5 fifth, 0.3 relative, 0.2 parallel) on the items
  with key truth;
* seconds of analysis per minute of audio.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.audio.decode import load_audio  # noqa: E402
from engine.key import KEY_PROFILES, estimate_key, mirex_key_score  # noqa: E402
from engine.rhythm import analyse_rhythm  # noqa: E402
from engine.rhythm.features import SAMPLE_RATE  # noqa: E402
from training.rhythm_metrics import beat_f_measure, tempo_accuracy1, tempo_accuracy2  # noqa: E402


def _items(folder: Path) -> list[dict]:
    doc = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    return doc["items"] if isinstance(doc, dict) else doc


def _librosa_baseline(y: np.ndarray, sr: int) -> tuple[float, np.ndarray]:
    import librosa

    tempo, frames = librosa.beat.beat_track(y=y, sr=sr, units="frames")
    return float(np.atleast_1d(tempo)[0]), librosa.frames_to_time(frames, sr=sr)


def evaluate(folder: Path, limit: int | None = None) -> dict:
    rows = []
    for item in _items(folder)[:limit]:
        path = Path(item["path"])
        path = path if path.is_absolute() else folder / path
        y = load_audio(path, SAMPLE_RATE)
        minutes = len(y) / SAMPLE_RATE / 60
        t0 = time.perf_counter()
        ours = analyse_rhythm(y, SAMPLE_RATE)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        base_bpm, base_beats = _librosa_baseline(y, SAMPLE_RATE)
        t_base = time.perf_counter() - t0
        ref_beats = np.asarray(item["beats"], dtype=float)
        row = {"id": item["id"], "source": item["source"], "ref_bpm": item["bpm"],
               "variable": bool(item.get("variable_tempo")),
               "ours_bpm": ours.bpm, "base_bpm": base_bpm,
               "ours_alternatives": list(ours.alternatives),
               "ours_acc1": bool(ours.bpm and tempo_accuracy1(ours.bpm, item["bpm"])),
               "ours_acc2": bool(ours.bpm and tempo_accuracy2(ours.bpm, item["bpm"])),
               "base_acc1": bool(tempo_accuracy1(base_bpm, item["bpm"])),
               "base_acc2": bool(tempo_accuracy2(base_bpm, item["bpm"])),
               "ours_beat_f": beat_f_measure(np.asarray(ours.beats), ref_beats),
               "base_beat_f": beat_f_measure(np.asarray(base_beats), ref_beats),
               "ours_s_per_min": t_ours / minutes, "base_s_per_min": t_base / minutes}
        if item.get("tonic") is not None:
            ref = (int(item["tonic"]), item["mode"])
            for profile in KEY_PROFILES:
                k = estimate_key(y, SAMPLE_RATE, profile)
                row[f"key_{profile}"] = mirex_key_score((k.tonic, k.mode), ref)
                row[f"key_{profile}_exact"] = float((k.tonic, k.mode) == ref)
        rows.append(row)
        print(f"{item['id'][:28]:28s} ref {item['bpm']:6.1f}  ours {ours.bpm or 0:6.1f} "
              f"(F {row['ours_beat_f']:.2f})  librosa {base_bpm:6.1f} (F {row['base_beat_f']:.2f})",
              file=sys.stderr)
    return {"rows": rows, "summary": summarise(rows)}


def summarise(rows: list[dict]) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["source"]].append(r)
        groups["all"].append(r)
    out = {}
    for name, rs in groups.items():
        s = {"n": len(rs)}
        for k in ("ours_acc1", "ours_acc2", "base_acc1", "base_acc2", "ours_beat_f", "base_beat_f",
                  "ours_s_per_min", "base_s_per_min"):
            s[k] = round(float(np.mean([r[k] for r in rs])), 4)
        keyed = [r for r in rs if any(k.startswith("key_") for k in r)]
        s["n_key"] = len(keyed)
        for profile in KEY_PROFILES:
            if keyed:
                s[f"key_{profile}"] = round(float(np.mean([r[f"key_{profile}"] for r in keyed])), 4)
                s[f"key_{profile}_exact"] = round(float(np.mean([r[f"key_{profile}_exact"] for r in keyed])), 4)
        out[name] = s
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", default="/work/rhythmset", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    report = evaluate(args.folder, args.limit)
    for name, s in sorted(report["summary"].items(), key=lambda kv: kv[0] != "all"):
        keys = "  ".join(f"{p} {s[f'key_{p}']:.3f}" for p in KEY_PROFILES if f"key_{p}" in s)
        print(f"{name:22s} n={s['n']:3d}  tempo Acc1 ours {s['ours_acc1']:.3f} / librosa {s['base_acc1']:.3f}"
              f"  Acc2 ours {s['ours_acc2']:.3f} / librosa {s['base_acc2']:.3f}"
              f"  beat F ours {s['ours_beat_f']:.3f} / librosa {s['base_beat_f']:.3f}"
              f"  s/min ours {s['ours_s_per_min']:.3f} / librosa {s['base_s_per_min']:.3f}"
              + (f"\n{'':22s} key (n={s['n_key']}, MIREX weighted): {keys}" if s["n_key"] else ""))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
