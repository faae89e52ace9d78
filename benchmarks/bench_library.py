"""Library benchmarks: ``python benchmarks/bench_library.py``.

(a) **full scan**: generate N tracks (mixed FLAC / MP3 / Ogg / WAV, a few seconds each), scan
    them into a fresh library and analyse them with a model; report tracks/s and peak memory
    (max RSS of this process and of the largest decode worker).
(b) **incremental rescan**: generate M tiny files, scan them once without analysis, then time a
    rescan of the unchanged folder (target: 10,000 files in under 5 s).

Generated audio is kept in ``--work DIR`` (default: a folder in the system temp dir, reused by
later runs with the same sizes), so repeated runs time the scan, not the generation. The
benchmark uses its own library file and model folder settings; it never touches the user's.
The stored analyses of (b) go in through the public ``Library`` methods.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FORMATS = (("flac", "FLAC", "PCM_16"), ("mp3", "MP3", None), ("ogg", "OGG", "VORBIS"),
           ("wav", "WAV", "PCM_16"))


def _rss_mb() -> tuple[float, float]:
    """Peak resident memory in MB: (this process, largest finished child)."""
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024   # ru_maxrss: bytes on macOS, KB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / scale / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / scale / 1024
    return own, kids


def _music(n: int, seconds: float, sr: int, seed: int) -> np.ndarray:
    """A few seconds of something music-like: a chord with a beat and some noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    base = rng.uniform(80, 400)
    y = sum(np.sin(2 * np.pi * base * r * t + rng.uniform(0, 6)) / (k + 1)
            for k, r in enumerate((1.0, 1.25, 1.5, 2.0)))
    beat = (np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * t) > 0.95).astype(np.float64)
    y = 0.2 * y + 0.3 * beat * rng.standard_normal(t.size) + 0.02 * rng.standard_normal(t.size)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def generate_tracks(folder: Path, n: int, seconds: float, sr: int) -> list[Path]:
    import soundfile as sf

    stamp = folder / f".complete-{n}-{seconds}-{sr}"
    paths = [folder / f"artist{i % 50:02d}" / f"album{i % 7}" / f"track{i:05d}.{FORMATS[i % 4][0]}"
             for i in range(n)]
    if stamp.exists():
        return paths
    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        ext, fmt, subtype = FORMATS[i % 4]
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, _music(i, seconds, sr, i), sr, format=fmt, subtype=subtype)
        if (i + 1) % 100 == 0:
            print(f"  generated {i + 1}/{n} tracks", file=sys.stderr)
    stamp.write_text("ok")
    print(f"  generation took {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return paths


def generate_tiny(folder: Path, n: int) -> None:
    import soundfile as sf

    stamp = folder / f".complete-{n}"
    if stamp.exists():
        return
    y = np.zeros(800, np.float32)            # 0.1 s at 8 kHz
    for i in range(n):
        p = folder / f"d{i // 100:03d}" / f"f{i:05d}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, y, 8000)
    stamp.write_text("ok")


def bench_full(work: Path, n: int, seconds: float, sr: int, model: str, workers: int | None,
               device: str | None) -> dict:
    from engine import Library, scan

    music = work / "full"
    print(f"(a) full scan + analysis of {n} tracks of {seconds:g} s at {sr} Hz with {model}",
          file=sys.stderr)
    generate_tracks(music, n, seconds, sr)
    db = work / f"full-{os.getpid()}.sqlite3"
    for f in work.glob(db.name + "*"):
        f.unlink()
    phases: dict[str, float] = {}
    marks: dict[str, float] = {}

    def progress(phase, done, total, path):
        marks.setdefault(phase, time.perf_counter())
        phases[phase] = time.perf_counter() - marks[phase]

    rss_before = _rss_mb()
    t0 = time.perf_counter()
    with Library(db) as lib:
        s = scan(lib, [music], model=model, workers=workers, device=device, progress=progress)
    elapsed = time.perf_counter() - t0
    own, kids = _rss_mb()
    for f in work.glob(db.name + "*"):
        f.unlink()
    if s.failed:
        print(f"  warning: {s.failed} files failed: {s.failures[:3]}", file=sys.stderr)
    return {
        "tracks": n, "seconds_per_track": seconds, "sample_rate": sr, "model": s.model,
        "analysed": s.analysed, "failed": s.failed, "elapsed_s": round(elapsed, 2),
        "tracks_per_s": round(s.analysed / elapsed, 2) if elapsed else None,
        "read_phase_s": round(phases.get("read", 0.0), 2),
        "analyse_phase_s": round(phases.get("analyse", 0.0), 2),
        "peak_rss_mb_main": round(own, 1), "peak_rss_mb_largest_worker": round(kids, 1),
        "rss_mb_before_scan": round(rss_before[0], 1),
    }


def bench_rescan(work: Path, n: int) -> dict:
    from engine import BundleInfo, Library, scan
    from engine.features import SEED_SPEC

    music = work / "tiny"
    print(f"(b) incremental rescan of {n} unchanged files", file=sys.stderr)
    generate_tiny(music, n)
    db = work / f"rescan-{os.getpid()}.sqlite3"
    for f in work.glob(db.name + "*"):
        f.unlink()
    with Library(db) as lib:
        t0 = time.perf_counter()
        first = scan(lib, [music], analyse=False)
        t_first = time.perf_counter() - t0
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            again = scan(lib, [music], analyse=False)
            times.append(time.perf_counter() - t0)
            assert again.unchanged == n and again.changed == again.new == 0, again
        # with stored analyses too: an analysing rescan must not load a model or decode anything
        lib.register_model(BundleInfo(name="m", architecture="", arch_args={},
                                      feature_spec=SEED_SPEC, tags=[]))
        with lib.transaction():
            for r in lib.query_tracks():
                lib.store_analysis(r.id, "m", np.zeros(50, np.float32), analysed_at=0.0,
                                   mark_analysed=False)
        t0 = time.perf_counter()
        analysing = scan(lib, [music], tagger=_NoTagger("m"))
        t_analysing = time.perf_counter() - t0
        assert analysing.unchanged == n and analysing.analysed == 0
    for f in work.glob(db.name + "*"):
        f.unlink()
    return {"files": n, "first_scan_s": round(t_first, 2), "first_scan_files_per_s": round(first.new / t_first, 1),
            "rescan_s": round(min(times), 3), "rescan_s_runs": [round(t, 3) for t in times],
            "rescan_with_analyses_s": round(t_analysing, 3), "target_s": 5.0}


class _NoTagger:
    """Stands in for a Tagger in (b): fails loudly if the rescan tries to analyse anything."""

    def __init__(self, name: str) -> None:
        self.info = type("Info", (), {"name": name})()

    def iter_tag(self, paths, progress=None, cancel=None):
        raise AssertionError(f"an unchanged rescan tried to analyse {len(list(paths))} files")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/bench_library.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tracks", type=int, default=1000, help="tracks for (a) (default 1000)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each track in (a) (default 5)")
    p.add_argument("--sample-rate", type=int, default=22050, help="sample rate of the generated tracks")
    p.add_argument("--rescan-files", type=int, default=10_000, help="files for (b) (default 10000)")
    p.add_argument("--model", default=None, help="model for (a) (default: the engine's default)")
    p.add_argument("--workers", type=int, default=None, help="decode processes for (a)")
    p.add_argument("--device", default=None, help="inference device for (a)")
    p.add_argument("--only", choices=("full", "rescan"), default=None, help="run one benchmark")
    p.add_argument("--work", default=None, help="folder for generated audio (kept and reused)")
    args = p.parse_args(argv)

    from engine import DEFAULT_MODEL

    work = Path(args.work) if args.work else Path(tempfile.gettempdir()) / "tagatlas-bench-library"
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
                    "python": platform.python_version()}
    if args.only in (None, "rescan"):
        r = bench_rescan(work, args.rescan_files)
        result["rescan"] = r
        print(f"(b) first scan of {r['files']} files (tags read, no analysis): {r['first_scan_s']} s "
              f"({r['first_scan_files_per_s']} files/s); rescan of the unchanged folder: "
              f"{r['rescan_s']} s (best of 3; target < 5 s); analysing rescan with stored "
              f"analyses: {r['rescan_with_analyses_s']} s")
    if args.only in (None, "full"):
        r = bench_full(work, args.tracks, args.seconds, args.sample_rate, args.model or DEFAULT_MODEL,
                       args.workers, args.device)
        result["full"] = r
        print(f"(a) {r['analysed']} of {r['tracks']} tracks ({r['seconds_per_track']:g} s each) analysed "
              f"with {r['model']} in {r['elapsed_s']} s: {r['tracks_per_s']} tracks/s "
              f"(reading tags {r['read_phase_s']} s, analysis {r['analyse_phase_s']} s); peak memory "
              f"{r['peak_rss_mb_main']} MB main process, {r['peak_rss_mb_largest_worker']} MB largest "
              f"decode worker")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
