"""Throughput benchmark: ``python -m engine.bench`` or ``tagatlas bench``.

Generates N realistic 4-minute MP3s (chords, beats and noise; cached between runs), then
reports separately decoding (one process), log-mel features, the model, and the whole
tagger end to end (decode workers + batched inference), as tracks/s and x real time, on the
CPU and on CUDA when present.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .audio.excerpts import decode_for_spec


def synth_track(seconds: float, sr: int, seed: int) -> np.ndarray:
    """A music-like mono signal: a chord progression, a drum pattern, a bass line, noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n, dtype=np.float64) / sr
    bpm = rng.uniform(70, 160)
    beat = 60.0 / bpm
    root = 55.0 * 2 ** (rng.integers(0, 12) / 12)
    y = np.zeros(n)
    bar = 4 * beat
    for k in range(int(seconds / bar) + 1):  # a chord per bar
        a, b = int(k * bar * sr), min(n, int((k + 1) * bar * sr))
        if a >= n:
            break
        step = rng.choice([0, 3, 5, 7, 8, 10])
        f0 = root * 4 * 2 ** (step / 12)
        seg = t[a:b] - t[a]
        for ratio in (1.0, 1.26, 1.5, 2.0):
            y[a:b] += 0.08 * np.sin(2 * np.pi * f0 * ratio * seg) * np.exp(-seg * rng.uniform(0.2, 1.5))
        y[a:b] += 0.12 * np.sign(np.sin(2 * np.pi * root * 2 ** (step / 12) * seg)) * 0.5
    kick_len = int(0.15 * sr)
    kt = np.arange(kick_len) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kt * 30)) * kt) * np.exp(-kt * 25)
    hat = rng.standard_normal(int(0.03 * sr)) * np.exp(-np.arange(int(0.03 * sr)) / (0.005 * sr))
    for i in range(int(seconds / beat)):
        a = int(i * beat * sr)
        if a + kick_len < n:
            y[a:a + kick_len] += 0.5 * kick
        h = int((i + 0.5) * beat * sr)
        if h + hat.size < n:
            y[h:h + hat.size] += 0.15 * hat
    y += 0.01 * rng.standard_normal(n)
    return (0.9 * y / np.abs(y).max()).astype(np.float32)


def make_corpus(folder: Path, n: int, seconds: float = 240.0, sr: int = 44100) -> list[Path]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"bench_{int(seconds)}s_{i:03d}.mp3"
        if not p.exists():
            tmp = p.with_suffix(".part")
            sf.write(tmp, synth_track(seconds, sr, seed=i), sr, format="MP3", subtype="MPEG_LAYER_III")
            os.replace(tmp, p)
        paths.append(p)
    return paths


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def bench_device(model_name: str, paths: list[Path], device: str, workers: int,
                 max_patches: int | None, batch: int | None) -> dict:
    import torch

    from .tagger import Tagger

    tagger = Tagger(model_name, device=device, workers=workers, max_patches=max_patches, batch_size=batch)
    spec = tagger.spec
    audio_s = 0.0
    # 1. decoding alone, in this process, one core
    decoded, t_decode = [], 0.0
    for p in paths:
        d, dt = _timed(decode_for_spec, p, spec, max_patches)
        decoded.append(d)
        t_decode += dt
        audio_s += d.duration_s
    n = len(paths)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    # 2. features alone (all excerpts / patches through LogMel)
    with torch.inference_mode():
        tagger.model_inputs(decoded[:tagger.batch_size]); sync()  # warm-up
        t0 = time.perf_counter()
        chunks = [tagger.model_inputs(decoded[a:a + tagger.batch_size])[0][0]
                  for a in range(0, n, tagger.batch_size)]
        sync()
        t_feat = time.perf_counter() - t0
        x = torch.cat(chunks)
        # 3. the model alone, in batches
        tagger.run_model(x[:tagger.batch_size]); sync()
        t0 = time.perf_counter()
        for a in range(0, x.shape[0], tagger.batch_size):
            tagger.run_model(x[a:a + tagger.batch_size])
        sync()
        t_model = time.perf_counter() - t0
    # 4. end to end (worker pool started before timing, as in the app, where it stays up)
    tagger.tag_files(paths[:1])
    results, t_e2e = _timed(tagger.tag_files, paths)
    tagger.close()
    ok = sum(r.ok for r in results)

    def rate(t):
        return {"seconds": round(t, 3), "tracks_per_s": round(n / t, 2), "x_realtime": round(audio_s / t, 1)}

    return {"device": tagger.device_description(), "model": tagger.name, "tracks": n, "ok": ok,
            "patches_per_track": round(x.shape[0] / n, 1), "workers": workers, "batch": tagger.batch_size,
            "decode_1_process": rate(t_decode), "features": rate(t_feat), "model_only": rate(t_model),
            "end_to_end": rate(t_e2e)}


def ensure_seed_bundle(arch: str) -> str:
    """A randomly initialised seed-CNN bundle (throughput does not depend on the weights)."""
    import torch

    from .bundle import BundleInfo, save_bundle
    from .features import SEED_SPEC
    from .models.registry import build_model
    from .vocab import msd50_tag_infos

    folder = Path(tempfile.gettempdir()) / "tagatlas-bench-models"
    js = folder / f"bench-{arch}.json"
    if not js.exists():
        torch.manual_seed(0)
        info = BundleInfo(name=f"bench-{arch}", architecture="", arch_args={}, feature_spec=SEED_SPEC,
                          tags=msd50_tag_infos(), license="benchmark only: random weights")
        save_bundle(build_model(arch).eval(), info, folder)
    return str(js)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="k2c2",
                   help="k2c1/k1c2/k2c2 (random weights, seed spec) or a bundle name/path (default k2c2)")
    p.add_argument("-n", "--tracks", type=int, default=24, help="number of 4-minute MP3s (default 24)")
    p.add_argument("--seconds", type=float, default=240.0, help="length of each track (default 240)")
    p.add_argument("--dir", default=None, help="where the generated MP3s are cached")
    p.add_argument("--workers", type=int, default=None, help="decode processes (default: up to 4)")
    p.add_argument("--batch", type=int, default=None, help="inference batch size")
    p.add_argument("--max-patches", type=int, default=None, help="fast mode for patch models")
    p.add_argument("--device", action="append", default=None, help="cpu / cuda (default: cpu, and cuda if present)")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    import torch

    from .tagger import default_workers

    folder = Path(args.dir) if args.dir else Path(tempfile.gettempdir()) / "tagatlas-bench-audio"
    t0 = time.perf_counter()
    paths = make_corpus(folder, args.tracks, args.seconds)
    print(f"corpus: {len(paths)} x {args.seconds:.0f}-s MP3 in {folder} (ready in {time.perf_counter() - t0:.1f} s)",
          file=sys.stderr)
    model = ensure_seed_bundle(args.model) if args.model in ("k2c1", "k1c2", "k2c2") else args.model
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    workers = default_workers() if args.workers is None else args.workers
    reports = [bench_device(model, paths, d, workers, args.max_patches, args.batch) for d in devices]
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    for r in reports:
        print(f"\n{r['model']} on {r['device']}: {r['tracks']} tracks ({r['ok']} ok), "
              f"{r['patches_per_track']} model inputs/track, {r['workers']} decode workers, batch {r['batch']}")
        print(f"  {'stage':<22}{'seconds':>9}{'tracks/s':>10}{'x real time':>13}")
        for key, label in (("decode_1_process", "decode (1 process)"), ("features", "log-mel features"),
                           ("model_only", "model"), ("end_to_end", "end to end")):
            s = r[key]
            print(f"  {label:<22}{s['seconds']:>9.2f}{s['tracks_per_s']:>10.2f}{s['x_realtime']:>13.1f}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.bench", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
