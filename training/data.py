"""Loading prepared shards for training and evaluation.

:class:`ShardDataset` reads the float16 memory-mapped shards of :mod:`training.shards`:

- ``mode="train"``: one model input per item — the stored excerpt for centre-crop specs, a
  random ``input_frames`` crop of the stored excerpt for patch specs — plus optional
  augmentation. Indices come from :class:`EpochSampler` as ``(epoch, index)`` pairs, and every
  random choice is a pure function of ``(seed, epoch, index)``: the same run gives the same
  batches whatever the number of loader workers, and a resumed run continues identically.
- ``mode="eval"``: every model input the app would see — one centre excerpt, or all patches
  tiling the stored excerpt every ``patch_hop_frames`` — collated with :func:`collate_patches`
  so that patch scores can be averaged per item exactly as :class:`engine.tagger.Tagger` does.

Shuffling is global (across shards); :func:`make_loader` adds worker processes, pinned memory
and prefetching so that the GPU does not wait for data. Inputs stay float16 (as stored) up to
the device, where the training loop converts them: half the copying and host-to-device traffic.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from engine.errors import ParameterError
from engine.features import FeatureSpec

from .shards import DatasetMeta, Index, open_shard, read_index, read_meta


@dataclass(frozen=True)
class Augment:
    """Training-time augmentation, all off by default.

    ``gain_db``: random gain in ±gain_db dB (exact in the log-mel domain for both log
    compressions). ``noise_std``: Gaussian noise of this std added to the log-mel values.
    ``time_shift``: random circular shift along time for centre-crop inputs (patch inputs are
    already random crops). ``mixup_alpha``: mixup of pairs within a batch (applied on the
    device by the training loop, see :func:`mixup`).
    """

    gain_db: float = 0.0
    noise_std: float = 0.0
    time_shift: bool = False
    mixup_alpha: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.gain_db or self.noise_std or self.time_shift or self.mixup_alpha)


def apply_gain(x: np.ndarray, gain_db: float, spec: FeatureSpec) -> np.ndarray:
    """Scale the audio power by ``gain_db`` dB, in the log-mel domain of ``spec``."""
    if spec.log == "db":
        return x + np.float32(gain_db)
    g = 10.0 ** (gain_db / 10.0)   # log10(10000 m + 1): m -> g m
    return np.log10(np.maximum((10.0 ** x - 1.0) * g + 1.0, 1.0)).astype(np.float32)


class ShardDataset(Dataset):
    """Items of one split of a prepared data set (see module doc)."""

    def __init__(self, root: str | os.PathLike, split: str | None, *, mode: str = "train",
                 augment: Augment | None = None, seed: int = 0, index: Index | None = None,
                 meta: DatasetMeta | None = None) -> None:
        if mode not in ("train", "eval"):
            raise ParameterError(f"mode must be 'train' or 'eval', not {mode!r}")
        self.root = Path(root)
        self.meta = meta or read_meta(self.root)
        if not self.meta.complete:
            raise ParameterError(f"{self.root}: preparation did not finish; rerun the same prepare command")
        index = index or read_index(self.root)
        self.rows = index.select(split)
        self.split, self.mode, self.seed = split, mode, seed
        self.augment = augment or Augment()
        self.spec: FeatureSpec = self.meta.spec
        self.shard = index.shard[self.rows]
        self.offset = index.offset[self.rows]
        self.frames = index.frames[self.rows]
        self.labels = index.labels[self.rows].astype(np.float32)
        self.keys = [index.keys[i] for i in self.rows]
        self._shards: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def n_tags(self) -> int:
        return self.labels.shape[1]

    def __getstate__(self):          # worker processes open their own memory maps
        state = self.__dict__.copy()
        state["_shards"] = {}
        return state

    def _array(self, shard: int) -> np.ndarray:
        arr = self._shards.get(shard)
        if arr is None:
            arr = self._shards[shard] = open_shard(self.root, shard)
        return arr

    def stored(self, i: int) -> np.ndarray:
        """The stored log-mel of item ``i``: float16 ``[n_mels, stored_frames]`` (memory-mapped)."""
        return self._array(int(self.shard[i]))[int(self.offset[i])]

    def usable_frames(self, i: int) -> int:
        """Frames an input may start in: the real audio, but at least one full input."""
        return max(int(self.frames[i]), self.spec.input_frames)

    def patch_starts(self, i: int) -> list[int]:
        """Where the app's patches start for item ``i`` (hop ``patch_hop_frames`` from frame 0)."""
        spec = self.spec
        if spec.excerpt == "centre":
            return [0]
        count = (self.usable_frames(i) - spec.input_frames) // spec.patch_hop_frames + 1
        return [k * spec.patch_hop_frames for k in range(count)]

    def _train_item(self, epoch: int, i: int) -> torch.Tensor:
        spec, aug = self.spec, self.augment
        rng = np.random.default_rng((self.seed, epoch, i))
        x = self.stored(i)
        T = spec.input_frames
        if x.shape[-1] > T:
            start = int(rng.integers(0, self.usable_frames(i) - T + 1))
            x = x[:, start:start + T]
        if not (aug.time_shift or aug.gain_db or aug.noise_std):
            return torch.from_numpy(np.array(x, dtype=np.float16))
        x = np.asarray(x, dtype=np.float32)
        if aug.time_shift and spec.excerpt == "centre":
            x = np.roll(x, int(rng.integers(0, T)), axis=-1)
        if aug.gain_db:
            x = apply_gain(x, float(rng.uniform(-aug.gain_db, aug.gain_db)), spec)
        if aug.noise_std:
            x = x + rng.normal(0.0, aug.noise_std, size=x.shape).astype(np.float32)
        return torch.from_numpy(x.astype(np.float16))

    def __getitem__(self, idx):
        y = torch.from_numpy(self.labels[idx if isinstance(idx, (int, np.integer)) else idx[1]])
        if self.mode == "train":
            epoch, i = idx if isinstance(idx, tuple) else (0, idx)
            return self._train_item(int(epoch), int(i)), y
        i = int(idx)
        x = self.stored(i)
        T = self.spec.input_frames
        patches = np.stack([x[:, a:a + T] for a in self.patch_starts(i)]).astype(np.float16, copy=False)
        return torch.from_numpy(patches), y, i


def collate_patches(batch):
    """Eval batches: ``(x [total_patches, n_mels, T], y [b, n_tags], owner [total_patches], idx [b])``."""
    xs, ys, idx = zip(*batch)
    owner = torch.cat([torch.full((x.shape[0],), k, dtype=torch.long) for k, x in enumerate(xs)])
    return torch.cat(xs), torch.stack(ys), owner, torch.tensor(idx, dtype=torch.long)


class EpochSampler(DistributedSampler):
    """A DistributedSampler (also for one process) that yields ``(epoch, index)`` pairs, so each
    item's random crop and augmentation depend only on ``(seed, epoch, index)``."""

    def __init__(self, dataset, *, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True, drop_last: bool = False) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)

    def __iter__(self):
        epoch = self.epoch
        return ((epoch, int(i)) for i in super().__iter__())


class StridedSampler(torch.utils.data.Sampler):
    """Evaluation: every ``num_replicas``-th item from ``rank``, no padding, no duplicates."""

    def __init__(self, n: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.indices = list(range(rank, n, num_replicas))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def make_loader(dataset: ShardDataset, *, batch_size: int, sampler, workers: int = 4,
                pin_memory: bool = False, prefetch: int = 4, seed: int = 0,
                drop_last: bool = False) -> DataLoader:
    """A DataLoader with worker processes, pinned memory and prefetching.

    Its ``generator`` is seeded explicitly, so creating an iterator never consumes the global
    torch RNG. An evaluation data set (``mode="eval"``) is batched with
    :func:`collate_patches`.

    Parameters
    ----------
    dataset : ShardDataset
        The prepared data to load.
    batch_size : int
        Items per batch.
    sampler : torch.utils.data.Sampler
        The order of the items (e.g. :class:`EpochSampler` for training,
        :class:`StridedSampler` for evaluation).
    workers : int, default 4
        Loader worker processes (0: load in this process); they persist across epochs.
    pin_memory : bool, default False
        Put batches in pinned memory (faster copies to a CUDA device).
    prefetch : int, default 4
        Batches each worker loads in advance (only with ``workers`` > 0).
    seed : int, default 0
        The seed of the loader's own random generator.
    drop_last : bool, default False
        Drop the last batch when it is smaller than ``batch_size``.

    Returns
    -------
    DataLoader
        The loader.
    """
    g = torch.Generator()
    g.manual_seed(seed)
    kwargs = {}
    if workers > 0:
        kwargs.update(prefetch_factor=prefetch, persistent_workers=True)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
        pin_memory=pin_memory, drop_last=drop_last, generator=g,
        collate_fn=collate_patches if dataset.mode == "eval" else None, **kwargs,
    )


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator):
    """Mix each example with a random partner of the batch: ``λx + (1-λ)x'``, and the labels alike.

    ``λ ~ Beta(alpha, alpha)`` per example and the partners come from ``rng`` (seeded per step by
    the training loop, so a resumed run mixes identically)."""
    b = x.shape[0]
    lam = torch.from_numpy(rng.beta(alpha, alpha, size=b).astype(np.float32)).to(x.device)
    perm = torch.from_numpy(rng.permutation(b)).to(x.device)
    lx = lam.view(b, *([1] * (x.ndim - 1))).to(x.dtype)
    ly = lam.view(b, 1).to(y.dtype)
    return lx * x + (1 - lx) * x[perm], ly * y + (1 - ly) * y[perm]
