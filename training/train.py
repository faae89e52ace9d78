"""Train a tagging CNN on prepared shards.

    tagatlas-train fit --model k2c2 --data ~/data/msd-seed --out runs/k2c2-msd
    torchrun --standalone --nproc_per_node=8 -m training.cli fit --model k2c2 --data … --out …

Read top to bottom: the config, distributed setup, data, model, evaluation, checkpoints, and
the loop in :func:`fit`. The model is built from :mod:`engine.models` by name and fed the
log-mel that :class:`engine.features.LogMel` computed during preparation, so the trained
weights drop into a bundle the app runs unchanged (``tagatlas-train export``).

Exact resume: every random choice is a function of ``(seed, epoch, …)`` — the shuffle and
crops (:class:`training.data.EpochSampler`), mixup (seeded per step), and dropout (the global
torch generator is reseeded from ``(seed, epoch, rank)`` at the start of each epoch). A
checkpoint at the end of an epoch (weights, optimizer, LR scheduler, AMP scaler, early-stopping
state, history) therefore continues exactly as the uninterrupted run would have. On CUDA, set
``deterministic`` for bit-identical results (cuDNN otherwise picks the fastest algorithms).
"""
from __future__ import annotations

import csv
import inspect
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import ParameterError
from engine.models.registry import architecture_class, build_model
from engine.tagger import pick_device

from .data import Augment, EpochSampler, ShardDataset, StridedSampler, make_loader, mixup
from .metrics import macro_auc
from .shards import DatasetMeta, read_index, read_meta


# --- config --------------------------------------------------------------------------------------
@dataclass
class FitConfig:
    # data and model
    data: str = ""                     # prepared data set (tagatlas-train prepare --out)
    out: str = "runs/run"              # run folder: config.json, log.csv, checkpoints/, tensorboard/
    model: str = "k2c2"                # architecture name in engine.models.registry
    arch_args: dict[str, Any] = field(default_factory=dict)   # extra constructor args, e.g. {"dropout": 0.3}
    init: str = ""                     # start from these weights (fine-tuning): a bundle, run or checkpoint folder
    # optimisation (Adam with the dissertation's settings, binary cross-entropy)
    epochs: int = 100
    batch_size: int = 32               # per process; the global batch is batch_size x world size
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    grad_clip: float = 0.0             # max gradient norm; 0 = off
    schedule: str = "plateau"          # "plateau": ReduceLROnPlateau on val ROC-AUC; "cosine"; "none"
    plateau_factor: float = 0.2
    plateau_patience: int = 3          # epochs without improvement before the LR drops
    min_lr: float = 1e-6
    early_stop_patience: int = 10      # epochs without val ROC-AUC improvement before stopping; 0 = never
    max_steps_per_epoch: int = 0       # 0 = whole epochs (smaller for smoke tests)
    # augmentation (training only; see training.data.Augment)
    gain_db: float = 0.0
    noise_std: float = 0.0
    time_shift: bool = False
    mixup_alpha: float = 0.0
    # system
    device: str = "auto"               # "auto": cuda:<local rank> when available, else cpu
    amp: str = "auto"                  # "auto" (bf16 on CUDA if supported, else fp16; off on CPU), "bf16",
    #                                    "fp16" or "off"
    channels_last: bool = True         # NHWC convolutions on CUDA
    compile: bool = False              # torch.compile the training model
    deterministic: bool = False        # deterministic cuDNN (bit-identical resume on GPU; slower)
    workers: int = 4                   # DataLoader worker processes per training process
    prefetch: int = 4                  # batches prefetched per worker
    eval_batch_size: int = 0           # 0 = 2 x batch_size
    seed: int = 0
    resume: bool = False               # continue from OUT/checkpoints/last
    log_every: int = 20                # steps between progress lines
    quiet: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "FitConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)


@dataclass
class FitResult:
    run_dir: Path
    best_epoch: int                    # 1-based epoch with the best validation ROC-AUC
    best_val_roc_auc: float
    epochs_run: int                    # epochs completed in total (including before a resume)
    stopped_early: bool
    history: list[dict[str, float]]


# --- distributed setup ---------------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup_distributed(device: str) -> Dist:
    """Join the process group when started by torchrun (WORLD_SIZE > 1), pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    else:
        device = pick_device(device)   # DeviceError, in words, when it is not there
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, world, local, dev)


def amp_dtype(cfg: FitConfig, device: torch.device) -> torch.dtype | None:
    if cfg.amp == "off" or (cfg.amp == "auto" and device.type != "cuda"):
        return None
    if cfg.amp == "bf16" or (cfg.amp == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    if cfg.amp in ("fp16", "auto"):
        return torch.float16
    raise ParameterError(f"amp must be auto, bf16, fp16 or off, not {cfg.amp!r}")


# --- model ---------------------------------------------------------------------------------------
def model_arguments(arch: str, meta: DatasetMeta, extra: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments for ``arch`` on this data: tags, mel bands and input frames where
    the architecture takes them, plus ``extra``."""
    params = inspect.signature(architecture_class(arch).__init__).parameters
    args: dict[str, Any] = {}
    for name, value in (("n_tags", len(meta.tags)), ("n_mels", meta.spec.n_mels),
                        ("n_frames", meta.spec.input_frames)):
        if name in params:
            args[name] = value
    args.update(extra)
    return args


# --- evaluation ----------------------------------------------------------------------------------
@torch.no_grad()
def predict(model: torch.nn.Module, loader, device: torch.device, dtype: torch.dtype | None,
            n_items: int, dist: Dist | None = None) -> np.ndarray:
    """Track-level probabilities ``[n_items, n_tags]``: the mean of the patch probabilities.

    This is how the app aggregates them. Under DDP every rank predicts its share and all get
    the whole. The model is put in eval mode for the call and back as it was after.

    Parameters
    ----------
    model : torch.nn.Module
        The tagger, returning logits.
    loader : DataLoader
        An evaluation loader (:func:`training.data.make_loader` on an eval data set), yielding
        ``(x, y, owner, idx)`` batches.
    device : torch.device
        Where the model runs.
    dtype : torch.dtype or None
        The autocast dtype (e.g. ``torch.float16``); None: float32, no autocast.
    n_items : int
        Items in the data set (the rows of the result).
    dist : Dist, optional
        The distributed setup; when active, the ranks' predictions are gathered.

    Returns
    -------
    np.ndarray
        float32 [n_items, n_tags]; rows of items no rank predicted are 0.
    """
    was_training = model.training
    model.eval()
    idx_parts, prob_parts = [], []
    for x, _y, owner, idx in loader:
        x = x.to(device, non_blocking=True).float()
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(x)
        p = torch.sigmoid(logits.float()).cpu()
        sums = torch.zeros(len(idx), p.shape[1]).index_add_(0, owner, p)
        counts = torch.bincount(owner, minlength=len(idx)).clamp_min(1).unsqueeze(1)
        idx_parts.append(idx.numpy())
        prob_parts.append((sums / counts).numpy())
    model.train(was_training)
    idx = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int64)
    prob = np.concatenate(prob_parts) if prob_parts else np.zeros((0, 0), np.float32)
    if dist is not None and dist.active:
        gathered: list[Any] = [None] * dist.world
        torch.distributed.all_gather_object(gathered, (idx, prob))
        idx = np.concatenate([g[0] for g in gathered])
        prob = np.concatenate([g[1] for g in gathered if g[1].size])
    out = np.zeros((n_items, prob.shape[1] if prob.size else 0), np.float32)
    out[idx] = prob
    return out


def bce_on_probabilities(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


# --- checkpoints ---------------------------------------------------------------------------------
def _write_checkpoint(folder: Path, model: torch.nn.Module, state: dict[str, Any],
                      train_state: dict[str, Any] | None) -> None:
    """Write ``folder`` atomically: model.safetensors, state.json [, train_state.pt]."""
    from safetensors.torch import save_file

    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(tmp / "model.safetensors"))
    if train_state is not None:
        torch.save(train_state, tmp / "train_state.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    if old.exists():
        shutil.rmtree(old)


def resolve_checkpoint(path: Path) -> Path | None:
    """The checkpoint folder of a run folder (best, else last), or ``path`` itself."""
    if (path / "model.safetensors").is_file() and (path / "state.json").is_file():
        return path
    for sub in ("best", "last"):
        c = path / "checkpoints" / sub
        if (c / "model.safetensors").is_file():
            return c
    return None


def initial_weights(model: torch.nn.Module, source: str) -> list[str]:
    """Load the weights of ``source`` (a bundle name or path, a run or checkpoint folder) into
    ``model`` wherever names and shapes match; returns the names left at their initial values
    (e.g. the output layer when the tags differ)."""
    p = Path(source)
    ckpt = resolve_checkpoint(p) if p.is_dir() else None
    if ckpt is not None:
        weights, _ = load_weights(ckpt)
    else:
        from engine.bundle import load_bundle

        weights = load_bundle(source, "cpu")[0].state_dict()
    own = model.state_dict()
    usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise ParameterError(f"{source}: no weights fit this architecture")
    model.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))


def load_weights(folder: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint's weights (safetensors) and its ``state.json``."""
    from safetensors.torch import load_file

    folder = Path(folder)
    return load_file(str(folder / "model.safetensors")), json.loads((folder / "state.json").read_text())


def load_model(folder: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model saved in a checkpoint folder (``RUN/checkpoints/best`` or ``last``)."""
    weights, state = load_weights(folder)
    model = build_model(state["architecture"], **state["arch_args"])
    model.load_state_dict(weights)
    return model.to(device).eval(), state


def write_log(run_dir: Path, history: list[dict[str, float]]) -> None:
    if not history:
        return
    tmp = run_dir / "log.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
    os.replace(tmp, run_dir / "log.csv")


class Progress:
    """One status line per ``every`` steps with loss and clips/s (rank 0 only)."""

    def __init__(self, enabled: bool, every: int) -> None:
        self.enabled, self.every = enabled, max(1, every)
        self.tty = sys.stderr.isatty()

    def step(self, epoch: int, epochs: int, step: int, steps: int, loss: float, clips_per_s: float) -> None:
        """Print the status line of one training step, at most one per ``every`` steps (and the last).

        Parameters
        ----------
        epoch : int
            The current epoch, from 1.
        epochs : int
            The epochs of the run.
        step : int
            The current step in the epoch, from 1.
        steps : int
            Steps per epoch.
        loss : float
            The mean training loss of the epoch so far.
        clips_per_s : float
            Training throughput, in clips per second (all ranks).

        Returns
        -------
        None
        """
        if not self.enabled or (step % self.every and step != steps):
            return
        line = (f"epoch {epoch}/{epochs}  step {step}/{steps}  loss {loss:.4f}  "
                f"{clips_per_s:,.0f} clips/s")
        print(("\r" + line) if self.tty else line, end="" if self.tty and step != steps else "\n",
              file=sys.stderr, flush=True)

    def line(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)


# --- the loop ------------------------------------------------------------------------------------
def fit(cfg: FitConfig, on_epoch_end: Callable[[dict[str, float]], bool | None] | None = None) -> FitResult:
    """Train per ``cfg``; returns the best epoch and the history. ``on_epoch_end(row)`` is
    called after each epoch's checkpoint; returning False stops the run there (as an
    interruption would)."""
    dist = setup_distributed(cfg.device)
    device = dist.device
    run_dir = Path(cfg.out)
    last_dir, best_dir = run_dir / "checkpoints" / "last", run_dir / "checkpoints" / "best"
    if (last_dir / "state.json").is_file() and not cfg.resume:
        raise FileExistsError(f"{run_dir} already holds a training run; pass --resume to continue "
                              "it, or choose another --out")
    if cfg.resume and not (last_dir / "state.json").is_file():
        raise FileNotFoundError(f"nothing to resume: {last_dir} has no checkpoint")
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(cfg.to_json(), indent=1) + "\n")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not cfg.deterministic
        torch.backends.cudnn.deterministic = cfg.deterministic
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    dtype = amp_dtype(cfg, device)
    progress = Progress(dist.main and not cfg.quiet, cfg.log_every)

    # data
    meta = read_meta(cfg.data)
    index = read_index(cfg.data)
    augment = Augment(cfg.gain_db, cfg.noise_std, cfg.time_shift, cfg.mixup_alpha)
    train_set = ShardDataset(cfg.data, "train", mode="train", augment=augment, seed=cfg.seed,
                             index=index, meta=meta)
    val_set = ShardDataset(cfg.data, "valid", mode="eval", index=index, meta=meta)
    if len(train_set) == 0 or len(val_set) == 0:
        raise ParameterError(f"{cfg.data}: needs items in both the train and valid splits "
                         f"(has {len(train_set)} and {len(val_set)})")
    sampler = EpochSampler(train_set, num_replicas=dist.world, rank=dist.rank, seed=cfg.seed)
    per_rank = len(sampler)
    pin = device.type == "cuda"
    train_loader = make_loader(train_set, batch_size=cfg.batch_size, sampler=sampler,
                               workers=cfg.workers, pin_memory=pin, prefetch=cfg.prefetch,
                               seed=cfg.seed, drop_last=per_rank > cfg.batch_size)
    val_loader = make_loader(val_set, batch_size=cfg.eval_batch_size or 2 * cfg.batch_size,
                             sampler=StridedSampler(len(val_set), dist.world, dist.rank),
                             workers=cfg.workers, pin_memory=pin, prefetch=cfg.prefetch, seed=cfg.seed)
    steps = len(train_loader) if not cfg.max_steps_per_epoch else min(cfg.max_steps_per_epoch, len(train_loader))

    # model
    torch.manual_seed(cfg.seed)
    arch_args = model_arguments(cfg.model, meta, cfg.arch_args)
    model = build_model(cfg.model, **arch_args)
    state: dict[str, Any] = {"epoch": 0, "best_metric": -float("inf"), "best_roc_auc": float("nan"),
                             "best_epoch": 0, "bad_epochs": 0, "history": []}
    if cfg.resume:
        weights, state = load_weights(last_dir)
        model.load_state_dict(weights)
    elif cfg.init:
        fresh = initial_weights(model, cfg.init)
        progress.line(f"started from {cfg.init}" + (f"; new: {', '.join(fresh)}" if fresh else ""))
    model.to(device)
    if cfg.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    net: torch.nn.Module = model
    if dist.active:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        net = torch.compile(net)

    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                 weight_decay=cfg.weight_decay)
    if cfg.schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=cfg.plateau_factor, patience=cfg.plateau_patience,
            min_lr=cfg.min_lr)
    elif cfg.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.min_lr)
    elif cfg.schedule == "none":
        scheduler = None
    else:
        raise ParameterError(f"schedule must be plateau, cosine or none, not {cfg.schedule!r}")
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    if cfg.resume:
        train_state = torch.load(last_dir / "train_state.pt", map_location=device, weights_only=True)
        optimizer.load_state_dict(train_state["optimizer"])
        if scheduler is not None and train_state.get("scheduler"):
            scheduler.load_state_dict(train_state["scheduler"])
        if train_state.get("scaler"):
            scaler.load_state_dict(train_state["scaler"])
        progress.line(f"resuming {run_dir} after epoch {state['epoch']}")

    writer = None
    if dist.main:
        try:
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:     # TensorBoard is optional
            writer = None
    n_params = sum(p.numel() for p in model.parameters())
    progress.line(f"{cfg.model}: {n_params:,} parameters on {device} (x{dist.world}), "
                  f"amp {dtype or 'off'}; {len(train_set)} train / {len(val_set)} valid clips, "
                  f"{steps} steps per epoch")

    history: list[dict[str, float]] = list(state["history"])
    stopped_early = False
    for epoch in range(int(state["epoch"]), cfg.epochs):
        if cfg.early_stop_patience and state["bad_epochs"] >= cfg.early_stop_patience:
            stopped_early = True
            break
        torch.manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + dist.rank)  # dropout etc.
        sampler.set_epoch(epoch)
        net.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        seen = 0
        for step, (x, y) in enumerate(train_loader, start=1):
            x = x.to(device, non_blocking=True).float()      # float16 on the wire
            y = y.to(device, non_blocking=True)
            if cfg.mixup_alpha > 0:
                x, y = mixup(x, y, cfg.mixup_alpha, np.random.default_rng((cfg.seed, epoch, step, dist.rank)))
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                logits = net(x)
            loss = F.binary_cross_entropy_with_logits(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach() * x.shape[0]
            seen += x.shape[0]
            if progress.enabled and (step % progress.every == 0 or step == steps):
                rate = seen * dist.world / max(1e-9, time.perf_counter() - t0)
                progress.step(epoch + 1, cfg.epochs, step, steps, float(loss_sum) / max(1, seen), rate)
            if step >= steps:
                break
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - t0
        totals = torch.tensor([float(loss_sum), float(seen)], dtype=torch.float64)
        if dist.active:
            torch.distributed.all_reduce(totals)
        train_loss = float(totals[0] / max(1.0, float(totals[1])))
        clips_per_s = float(totals[1]) / max(1e-9, train_seconds)

        # validation (every rank gets the full predictions, so decisions agree); batch-norm
        # statistics differ per rank after the last step: use rank 0's, which are the ones saved
        if dist.active:
            for buf in model.buffers():
                torch.distributed.broadcast(buf, 0)
        probs = predict(model, val_loader, device, dtype, len(val_set), dist)
        val_roc, val_pr = macro_auc(val_set.labels, probs)
        val_loss = bce_on_probabilities(val_set.labels, probs)
        lr = optimizer.param_groups[0]["lr"]
        # monitored: validation ROC-AUC (minus the loss if no tag has both classes in valid)
        metric = float(val_roc) if np.isfinite(val_roc) else -val_loss
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(metric)
        elif scheduler is not None:
            scheduler.step()
        improved = metric > state["best_metric"]
        if improved:
            state.update(best_metric=metric, best_roc_auc=float(val_roc), best_epoch=epoch + 1, bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        row = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
               "val_roc_auc": float(val_roc), "val_pr_auc": float(val_pr), "lr": lr,
               "train_clips_per_s": clips_per_s, "epoch_seconds": time.perf_counter() - t0}
        history.append(row)
        state.update(epoch=epoch + 1, history=history, architecture=cfg.model, arch_args=model.config(),
                     data=str(Path(cfg.data).resolve()), dataset=meta.dataset,
                     feature_spec=meta.spec.to_dict(), tags=meta.tag_names, config=cfg.to_json())

        # checkpoints and logs (rank 0)
        if dist.main:
            train_state = {"optimizer": optimizer.state_dict(),
                           "scheduler": scheduler.state_dict() if scheduler is not None else {},
                           "scaler": scaler.state_dict() if scaler.is_enabled() else {}}
            _write_checkpoint(last_dir, model, state, train_state)
            if improved:
                _write_checkpoint(best_dir, model, state, None)
            write_log(run_dir, history)
            if writer is not None:
                for k, v in row.items():
                    if k != "epoch":
                        writer.add_scalar(k, v, epoch + 1)
                writer.flush()
            progress.line(f"epoch {epoch + 1}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, "
                          f"val ROC-AUC {val_roc:.4f}, PR-AUC {val_pr:.4f}, {clips_per_s:,.0f} clips/s"
                          + ("  (best)" if improved else ""))
        if dist.active:
            torch.distributed.barrier()
        if on_epoch_end is not None and on_epoch_end(row) is False:
            break

    if writer is not None:
        writer.close()
    if dist.active:
        torch.distributed.destroy_process_group()
    return FitResult(run_dir, int(state["best_epoch"]), float(state["best_roc_auc"]),
                     int(state["epoch"]), stopped_early, history)
