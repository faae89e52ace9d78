"""Training throughput of the seed CNNs: ``python benchmarks/bench_training.py``.

For each model (k2c1, k1c2, k2c2 at 96 x 1366 by default) it times full training steps
(forward, backward, Adam) in clips/s, and converts them into the time of one epoch over MSD's
201,680 training clips (the dissertation: k2c1 727 s per epoch; Choi et al.: 2400 s):

- **resident**: synthetic batches already on the device (the model's ceiling);
- **loader**: the input pipeline alone (shards -> DataLoader -> device), its ceiling;
- **shards**: the real input pipeline: float16 memory-mapped shards on disk (a synthetic
  prepared data set written to a temporary folder, or ``--data DIR``) through
  :class:`training.data.ShardDataset`, the DataLoader with workers, pinned memory and
  prefetching, then the same training step. Shards just written sit in the page cache, as
  MSD's 53 GB of float16 training shards do after the first epoch on a machine with enough memory.

Runs on CPU too (use small ``--steps``); CUDA paths use AMP, channels-last and optionally
``torch.compile`` exactly as ``tagatlas-train fit`` does.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import FeatureSpec, TagInfo  # noqa: E402
from engine.features import SEED_SPEC  # noqa: E402
from engine.models.registry import build_model  # noqa: E402
from training.data import EpochSampler, ShardDataset, make_loader  # noqa: E402
from training.shards import (DatasetMeta, multi_hot_string, shard_name, write_index,  # noqa: E402
                             write_json_atomic)
from training.train import FitConfig, amp_dtype  # noqa: E402

MSD_TRAIN_CLIPS = 201_680


@dataclass
class BenchRow:
    model: str
    parameters: int
    batch_size: int
    source: str                  # "resident" | "shards"
    steps: int
    clips_per_s: float
    msd_epoch_s: float


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return (f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} threads")


def write_synthetic_shards(root: Path, n_items: int, spec: FeatureSpec, n_tags: int = 50,
                           shard_size: int = 256, seed: int = 0) -> Path:
    """A prepared data set of random log-mel (float16) in the real shard format."""
    rng = np.random.default_rng(seed)
    (root / "shards").mkdir(parents=True, exist_ok=True)
    rows = []
    n_shards = (n_items + shard_size - 1) // shard_size
    for s in range(n_shards):
        n = min(shard_size, n_items - s * shard_size)
        arr = (rng.standard_normal((n, spec.n_mels, spec.input_frames), dtype=np.float32) * 20 - 30).astype(np.float16)
        np.save(root / "shards" / f"{shard_name(s)}.npy", arr)
        for k in range(n):
            i = s * shard_size + k
            y = rng.random(n_tags) < 0.1
            rows.append({"key": f"syn{i}", "split": "train", "shard": s, "offset": k,
                         "frames": spec.input_frames, "tags": multi_hot_string(y), "path": ""})
    write_index(root, rows)
    tags = [TagInfo(f"tag{j}", "other", f"Tag {j}") for j in range(n_tags)]
    meta = DatasetMeta("synthetic", spec, tags, spec.input_frames, shard_size, n_shards, "synthetic",
                       "random log-mel for benchmarking", complete=True)
    write_json_atomic(root / "meta.json", meta.to_json())
    return root


def _model(name: str, spec: FeatureSpec, n_tags: int, device: torch.device, channels_last: bool):
    torch.manual_seed(0)
    kwargs = {"n_tags": n_tags, "n_mels": spec.n_mels}
    if name != "tiny":
        kwargs["n_frames"] = spec.input_frames
    model = build_model(name, **kwargs).to(device)
    if channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


def _step_fn(model, device, dtype, compile_model: bool):
    net = torch.compile(model) if compile_model else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def step(x, y):
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = net(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss
    return step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_resident(name: str, spec: FeatureSpec, device: torch.device, dtype, *, batch_size: int,
                   steps: int, warmup: int, channels_last: bool, compile_model: bool) -> BenchRow:
    model = _model(name, spec, 50, device, channels_last).train()
    step = _step_fn(model, device, dtype, compile_model)
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch_size, spec.n_mels, spec.input_frames, device=device, generator=g) * 20 - 30
    y = (torch.rand(batch_size, 50, device=device, generator=g) < 0.1).float()
    for _ in range(warmup):
        step(x, y)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    _sync(device)
    rate = batch_size * steps / (time.perf_counter() - t0)
    return BenchRow(name, sum(p.numel() for p in model.parameters()), batch_size, "resident", steps,
                    rate, MSD_TRAIN_CLIPS / rate)


def _loader_rate(loader, sampler, device: torch.device, on_batch, *, batch_size: int, steps: int,
                 warmup: int) -> float:
    """Clips per second over ``steps`` batches after ``warmup`` ones (epochs restart as needed):
    each batch goes to ``device`` as float, then ``on_batch(x, y)``."""
    done, timed, epoch, t0 = 0, 0, 0, time.perf_counter()
    while timed < steps:
        sampler.set_epoch(epoch)
        for x, y in loader:
            on_batch(x.to(device, non_blocking=True).float(), y)
            done += 1
            if done == warmup:
                _sync(device)
                t0 = time.perf_counter()
            elif done > warmup:
                timed += 1
                if timed >= steps:
                    break
        epoch += 1
    _sync(device)
    return batch_size * steps / (time.perf_counter() - t0)


def bench_shards(name: str, data: Path, device: torch.device, dtype, *, batch_size: int, steps: int,
                 warmup: int, workers: int, prefetch: int, channels_last: bool,
                 compile_model: bool) -> BenchRow:
    ds = ShardDataset(data, None, mode="train")
    spec = ds.spec
    model = _model(name, spec, ds.n_tags, device, channels_last).train()
    step = _step_fn(model, device, dtype, compile_model)
    sampler = EpochSampler(ds, seed=0)
    loader = make_loader(ds, batch_size=batch_size, sampler=sampler, workers=workers,
                         pin_memory=device.type == "cuda", prefetch=prefetch, drop_last=True)

    def train_step(x, y):
        step(x, y.to(device, non_blocking=True))

    rate = _loader_rate(loader, sampler, device, train_step, batch_size=batch_size, steps=steps,
                        warmup=warmup)
    return BenchRow(name, sum(p.numel() for p in model.parameters()), batch_size, "shards", steps,
                    rate, MSD_TRAIN_CLIPS / rate)


def bench_loader(data: Path, device: torch.device, *, batch_size: int, steps: int, warmup: int,
                 workers: int, prefetch: int) -> BenchRow:
    """The input pipeline alone: shards -> DataLoader -> device (its ceiling for any model)."""
    ds = ShardDataset(data, None, mode="train")
    sampler = EpochSampler(ds, seed=0)
    loader = make_loader(ds, batch_size=batch_size, sampler=sampler, workers=workers,
                         pin_memory=device.type == "cuda", prefetch=prefetch, drop_last=True)
    rate = _loader_rate(loader, sampler, device, lambda x, y: None, batch_size=batch_size,
                        steps=steps, warmup=warmup)
    return BenchRow("-", 0, batch_size, "loader", steps, rate, MSD_TRAIN_CLIPS / rate)


def main(argv: list[str] | None = None) -> int:
    cuda = torch.cuda.is_available()
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_training.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["k2c1", "k1c2", "k2c2"])
    ap.add_argument("--batch-size", type=int, default=64 if cuda else 8)
    ap.add_argument("--steps", type=int, default=50 if cuda else 3, help="timed steps per measurement")
    ap.add_argument("--warmup", type=int, default=10 if cuda else 1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", default="auto", help="auto | bf16 | fp16 | off (as tagatlas-train fit)")
    ap.add_argument("--no-channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--source", choices=["resident", "shards", "both"], default="both")
    ap.add_argument("--data", help="a prepared data set to read (default: synthetic shards in a temp folder)")
    ap.add_argument("--items", type=int, default=0, help="synthetic shard items (default: enough for the steps)")
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1) if cuda else 2)
    ap.add_argument("--prefetch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: default)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device if args.device != "auto" else ("cuda" if cuda else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    dtype = amp_dtype(FitConfig(amp=args.amp), device)
    channels_last = not args.no_channels_last
    spec = SEED_SPEC
    print(f"device: {device_name(device)}; torch {torch.__version__}; amp {dtype or 'off'}; "
          f"channels-last {'on' if channels_last and device.type == 'cuda' else 'off'}; "
          f"compile {'on' if args.compile else 'off'}; input {spec.n_mels} x {spec.input_frames}", flush=True)

    rows: list[BenchRow] = []
    tmp = None
    try:
        data = Path(args.data) if args.data else None
        if args.source in ("shards", "both") and data is None:
            tmp = tempfile.TemporaryDirectory(prefix="tagatlas-bench-")
            n = args.items or max(4 * args.batch_size, args.batch_size * (args.steps + args.warmup + 1))
            t0 = time.perf_counter()
            data = write_synthetic_shards(Path(tmp.name), n, spec)
            print(f"wrote {n} synthetic clips of float16 shards in {time.perf_counter() - t0:.1f} s", flush=True)
        if args.source in ("shards", "both"):
            rows.append(bench_loader(data, device, batch_size=args.batch_size, steps=args.steps,
                                     warmup=args.warmup, workers=args.workers, prefetch=args.prefetch))
            _print_row(rows[-1])
        for name in args.models:
            if args.source in ("resident", "both"):
                rows.append(bench_resident(name, spec, device, dtype, batch_size=args.batch_size,
                                           steps=args.steps, warmup=args.warmup,
                                           channels_last=channels_last, compile_model=args.compile))
                _print_row(rows[-1])
            if args.source in ("shards", "both"):
                rows.append(bench_shards(name, data, device, dtype, batch_size=args.batch_size,
                                         steps=args.steps, warmup=args.warmup, workers=args.workers,
                                         prefetch=args.prefetch, channels_last=channels_last,
                                         compile_model=args.compile))
                _print_row(rows[-1])
    finally:
        if tmp is not None:
            tmp.cleanup()
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device_name(device), "torch": torch.__version__,
                                               "amp": str(dtype or "off"), "rows": [asdict(r) for r in rows]},
                                              indent=1) + "\n")
    return 0


def _print_row(r: BenchRow) -> None:
    params = f"{r.parameters:>10,d} params" if r.parameters else f"{'(no model)':>17s}"
    print(f"{r.model:6s} {params}  batch {r.batch_size:>4d}  {r.source:8s} "
          f"{r.clips_per_s:>10,.1f} clips/s  MSD epoch ({MSD_TRAIN_CLIPS:,} clips) {_fmt_s(r.msd_epoch_s)}",
          flush=True)


def _fmt_s(s: float) -> str:
    if s < 120:
        return f"{s:,.1f} s"
    if s < 7200:
        return f"{s:,.0f} s ({s / 60:,.1f} min)"
    return f"{s:,.0f} s ({s / 3600:,.1f} h)"


if __name__ == "__main__":
    sys.exit(main())
