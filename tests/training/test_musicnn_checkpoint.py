"""training.tf_checkpoint against checkpoints written here by a minimal table writer that
follows the format (LevelDB table + BundleEntryProto), so no TensorFlow is needed."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from training.tf_checkpoint import (CheckpointError, crc32c, masked_crc32c, read_checkpoint,
                                    read_checkpoint_bytes, read_index)

_DT = {np.dtype("<f4"): 1, np.dtype("<f8"): 2, np.dtype("<i4"): 3, np.dtype("<i8"): 9, np.dtype("<f2"): 19}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


def _entry(arr: np.ndarray, offset: int, crc: int) -> bytes:
    dims = b"".join(_field(2, 2, _varint(len(d)) + d) for d in (_field(1, 0, _varint(s)) for s in arr.shape))
    return (_field(1, 0, _varint(_DT[arr.dtype])) + _field(2, 2, _varint(len(dims)) + dims)
            + _field(4, 0, _varint(offset)) + _field(5, 0, _varint(arr.nbytes))
            + _field(6, 5, struct.pack("<I", crc)))


def _block(items: list[tuple[bytes, bytes]], restart_every: int = 3) -> bytes:
    out, restarts, prev = bytearray(), [], b""
    for i, (k, v) in enumerate(items):
        shared = 0
        if i % restart_every == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(k), len(prev)) and k[shared] == prev[shared]:
                shared += 1
        out += _varint(shared) + _varint(len(k) - shared) + _varint(len(v)) + k[shared:] + v
        prev = k
    restarts = restarts or [0]
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def write_checkpoint(tensors: dict[str, np.ndarray], per_block: int = 2) -> tuple[bytes, bytes]:
    data, items = bytearray(), [(b"", _field(1, 0, _varint(1)))]          # header: 1 shard
    for name in sorted(tensors):
        raw = np.ascontiguousarray(tensors[name]).tobytes()
        items.append((name.encode(), _entry(tensors[name], len(data), masked_crc32c(raw))))
        data += raw
    index, handles = bytearray(), []
    for a in range(0, len(items), per_block):
        chunk = items[a:a + per_block]
        blk = _block(chunk)
        handles.append((chunk[-1][0], _varint(len(index)) + _varint(len(blk))))
        index += blk + b"\0" + b"\0\0\0\0"
    meta = _block([])
    meta_handle = _varint(len(index)) + _varint(len(meta))
    index += meta + b"\0\0\0\0\0"
    idx = _block(handles, restart_every=1)
    idx_handle = _varint(len(index)) + _varint(len(idx))
    index += idx + b"\0\0\0\0\0"
    footer = (meta_handle + idx_handle).ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    return bytes(index + footer), bytes(data)


@pytest.fixture
def tensors():
    rng = np.random.default_rng(0)
    return {
        "conv2d/kernel": rng.standard_normal((7, 38, 1, 4)).astype("<f4"),
        "conv2d/bias": rng.standard_normal(4).astype("<f4"),
        "conv2d/kernel/Adam": np.zeros((7, 38, 1, 4), "<f4"),
        "batch_normalization/moving_variance": np.array([0.5], "<f8"),
        "global_step": np.array(1234, "<i8"),
        "half": np.arange(6, dtype="<f2").reshape(2, 3),
        "counts": np.arange(5, dtype="<i4"),
    }


def test_crc32c_known_value():
    assert crc32c(b"123456789") == 0xE3069283


def test_round_trip_from_bytes_and_files(tensors, tmp_path):
    index, data = write_checkpoint(tensors)
    assert set(read_index(index)) == set(tensors)
    got = read_checkpoint_bytes(index, {0: data})
    assert set(got) == set(tensors) - {"conv2d/kernel/Adam", "global_step"}   # optimizer state skipped
    for k, v in got.items():
        assert v.dtype == tensors[k].dtype and np.array_equal(v, tensors[k]), k
    assert read_checkpoint_bytes(index, {0: data}, skip_optimizer=False)["global_step"] == 1234
    prefix = tmp_path / "MSD_musicnn" / ""
    prefix.mkdir()
    (tmp_path / "MSD_musicnn" / ".index").write_bytes(index)
    (tmp_path / "MSD_musicnn" / ".data-00000-of-00001").write_bytes(data)
    files = read_checkpoint(str(tmp_path / "MSD_musicnn") + "/")
    assert np.array_equal(files["conv2d/kernel"], tensors["conv2d/kernel"])


def test_corruption_is_detected(tensors):
    index, data = write_checkpoint(tensors)
    bad = bytearray(data)
    bad[10] ^= 0xFF
    with pytest.raises(CheckpointError, match="checksum"):
        read_checkpoint_bytes(index, {0: bytes(bad)})
    with pytest.raises(CheckpointError, match="magic"):
        read_index(index[:-1] + b"\0")
    with pytest.raises(CheckpointError, match="short"):
        read_checkpoint_bytes(index, {0: data[:20]})
