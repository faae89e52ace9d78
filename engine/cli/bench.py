"""``tagatlas bench``: tagging throughput on generated 4-minute MP3s.

Generates N realistic 4-minute MP3s (chords, beats and noise; cached between runs), then
reports separately decoding (one process), log-mel features, the model, and the whole
tagger end to end (decode workers + batched inference), as tracks/s and x real time, on the
CPU and on CUDA when present. It times the tagger's public stages (``decode_for_spec``,
``Tagger.model_inputs``, ``Tagger.run_model``, ``Tagger.tag_files``); the other benchmarks
are scripts in the source tree's ``benchmarks/`` (see docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from ..audio.excerpts import decode_for_spec
from ..audio.synthetic import make_corpus


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def bench_device(model_name: str, paths: list[Path], device: str, workers: int,
                 max_patches: int | None, batch: int | None) -> dict:
    """Time each stage of tagging ``paths`` with one model on one device.

    Decoding alone (one process), log-mel features alone, the model alone (in batches), and the
    whole tagger end to end (decode workers and batched inference, its worker pool started
    before timing).

    Parameters
    ----------
    model_name : str
        The bundle to run (a name or path).
    paths : list of Path
        The audio files to tag.
    device : str
        Where the model runs ("cpu", "cuda", ...).
    workers : int
        Decode processes of the end-to-end tagger (0: decode in this process).
    max_patches : int or None
        For patch models, at most this many patches per track; None: every patch.
    batch : int or None
        Patches per forward pass; None: the tagger's default for the device.

    Returns
    -------
    dict
        The device, model, number of tracks (and how many were tagged), patches per track,
        workers, batch size, and for each stage its seconds, tracks per second and speed as a
        multiple of real time.
    """
    import torch

    from ..tagger import Tagger

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
        tagger.model_inputs(decoded[:tagger.batch_size])  # warm-up
        sync()
        t0 = time.perf_counter()
        chunks = [tagger.model_inputs(decoded[a:a + tagger.batch_size])[0][0]
                  for a in range(0, n, tagger.batch_size)]
        sync()
        t_feat = time.perf_counter() - t0
        x = torch.cat(chunks)
        # 3. the model alone, in batches
        tagger.run_model(x[:tagger.batch_size])
        sync()
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

    from ..bundle import BundleInfo, save_bundle
    from ..features import SEED_SPEC
    from ..models.registry import build_model
    from ..vocab import msd50_tag_infos

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

    from ..tagger import default_workers

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


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure tagging throughput on generated 4-minute MP3s",
                       description=__doc__)
    add_arguments(p)
    p.set_defaults(func=run)
