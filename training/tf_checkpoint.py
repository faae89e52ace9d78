"""Read TensorFlow V2 checkpoints (``PREFIX.index`` + ``PREFIX.data-00000-of-00001``) without
TensorFlow.

The ``.index`` file is a LevelDB-style sorted table: data blocks of prefix-compressed
``key -> value`` entries, an index block pointing at them and a 48-byte footer. Keys are
variable names; the value of the empty key is a ``BundleHeaderProto`` and every other value a
``BundleEntryProto`` (dtype, shape, shard, offset, size, masked CRC-32C), from which the raw
little-endian tensor is read out of the data shard.

``read_checkpoint(prefix_or_files)`` returns ``{name: np.ndarray}``. The files can come from
disk (``"…/MSD_musicnn/"``) or from anywhere else as bytes (e.g. straight out of a wheel's zip):
``read_checkpoint_bytes(index_bytes, {0: data_bytes})``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_LEN = 48
_BLOCK_TRAILER_LEN = 5            # 1 byte compression type + 4 bytes masked CRC-32C

#: tensorflow/core/framework/types.proto -> numpy little-endian dtype
_DTYPES = {
    1: np.dtype("<f4"),    # DT_FLOAT
    2: np.dtype("<f8"),    # DT_DOUBLE
    3: np.dtype("<i4"),    # DT_INT32
    4: np.dtype("u1"),     # DT_UINT8
    5: np.dtype("<i2"),    # DT_INT16
    6: np.dtype("i1"),     # DT_INT8
    9: np.dtype("<i8"),    # DT_INT64
    10: np.dtype("?"),     # DT_BOOL
    17: np.dtype("<u2"),   # DT_UINT16
    19: np.dtype("<f2"),   # DT_HALF
    22: np.dtype("<u4"),   # DT_UINT32
    23: np.dtype("<u8"),   # DT_UINT64
}


class CheckpointError(ValueError):
    """The checkpoint files are not a readable TensorFlow V2 checkpoint."""


# --- CRC-32C (Castagnoli), as TensorFlow masks it --------------------------------------------

def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (pure Python; about 10 MB/s, fine for checkpoints of a few MB)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# --- protobuf wire format (just what the two messages need) ----------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield ``(field_number, wire_type, value)``; value is an int or bytes."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value = bytes(buf[pos:pos + n])
            pos += n
        elif wire == 5:
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


@dataclass(frozen=True)
class TensorEntry:
    """One ``BundleEntryProto``."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for number, _, value in _fields(buf):
        if number == 2:                               # repeated Dim dim
            size = 0
            for n2, _, v2 in _fields(value):
                if n2 == 1:
                    size = v2 - (1 << 64) if v2 >= 1 << 63 else v2
            dims.append(size)
    return tuple(dims)


def _parse_entry(name: str, buf: bytes) -> TensorEntry:
    dtype = shard = offset = size = 0
    shape: tuple[int, ...] = ()
    crc = None
    for number, _, value in _fields(buf):
        if number == 1:
            dtype = value
        elif number == 2:
            shape = _parse_shape(value)
        elif number == 3:
            shard = value
        elif number == 4:
            offset = value
        elif number == 5:
            size = value
        elif number == 6:
            crc = value
        elif number == 7:
            raise CheckpointError(f"{name}: partitioned (sliced) variables are not supported")
    return TensorEntry(name, dtype, shape, shard, offset, size, crc)


# --- the sorted table --------------------------------------------------------------------

def _block(buf: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if end + _BLOCK_TRAILER_LEN > len(buf):
        raise CheckpointError("index block outside the file")
    if buf[end] != 0:
        raise CheckpointError("compressed index blocks are not supported")
    return buf[offset:end]


def _block_entries(block: bytes):
    """Yield ``(key, value)`` of one table block (prefix-compressed keys, restart array at end)."""
    if len(block) < 4:
        raise CheckpointError("index block too short")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * num_restarts
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        yield key, block[pos:pos + value_len]
        pos += value_len


def read_index(index: bytes) -> dict[str, TensorEntry]:
    """Parse a ``.index`` file into ``{variable name: TensorEntry}``."""
    if len(index) < _FOOTER_LEN:
        raise CheckpointError("index file too short")
    footer = index[-_FOOTER_LEN:]
    if struct.unpack_from("<Q", footer, _FOOTER_LEN - 8)[0] != _TABLE_MAGIC:
        raise CheckpointError("not a TensorFlow checkpoint index (bad table magic)")
    pos = 0
    _meta_off, pos = _varint(footer, pos)
    _meta_size, pos = _varint(footer, pos)
    idx_off, pos = _varint(footer, pos)
    idx_size, pos = _varint(footer, pos)
    entries: dict[str, TensorEntry] = {}
    for _, handle in _block_entries(_block(index, idx_off, idx_size)):
        off, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block_entries(_block(index, off, size)):
            if key == b"":                            # BundleHeaderProto
                for number, _, v in _fields(value):
                    if number == 2 and v == 1:
                        raise CheckpointError("big-endian checkpoints are not supported")
                continue
            name = key.decode("utf-8")
            entries[name] = _parse_entry(name, value)
    return entries


def read_checkpoint_bytes(index: bytes, shards: Mapping[int, bytes], *, verify: bool = True,
                          skip_optimizer: bool = True) -> dict[str, np.ndarray]:
    """Tensors of a checkpoint given as bytes. ``shards[i]`` is ``.data-0000i-of-…``.

    ``verify`` checks each tensor's masked CRC-32C; ``skip_optimizer`` drops Adam slots
    (``…/Adam``, ``…/Adam_1``), ``beta1_power``/``beta2_power`` and ``global_step``.
    """
    out: dict[str, np.ndarray] = {}
    for name, e in read_index(index).items():
        if skip_optimizer and (name.endswith(("/Adam", "/Adam_1"))
                               or name in ("beta1_power", "beta2_power", "global_step")):
            continue
        if e.dtype not in _DTYPES:
            raise CheckpointError(f"{name}: unsupported dtype code {e.dtype}")
        if e.shard_id not in shards:
            raise CheckpointError(f"{name}: data shard {e.shard_id} is missing")
        data = shards[e.shard_id]
        raw = data[e.offset:e.offset + e.size]
        if len(raw) != e.size:
            raise CheckpointError(f"{name}: data shard too short")
        if verify and e.crc32c is not None and masked_crc32c(raw) != e.crc32c:
            raise CheckpointError(f"{name}: checksum mismatch (corrupt checkpoint)")
        dt = _DTYPES[e.dtype]
        count = int(np.prod(e.shape)) if e.shape else 1
        if count * dt.itemsize != e.size:
            raise CheckpointError(f"{name}: {e.size} bytes do not hold {e.shape} of {dt}")
        out[name] = np.frombuffer(raw, dtype=dt).reshape(e.shape).astype(dt.newbyteorder("="))
    return out


def read_checkpoint(prefix: str | Path, **kwargs) -> dict[str, np.ndarray]:
    """Tensors of the checkpoint at ``prefix`` (``prefix + ".index"`` etc.; for the musicnn
    wheel the prefix is the model folder with a trailing slash, e.g. ``".../MSD_musicnn/"``)."""
    prefix = str(prefix)
    index = Path(prefix + ".index").read_bytes()
    n_shards = num_shards(index)
    shards = {i: Path(f"{prefix}.data-{i:05d}-of-{n_shards:05d}").read_bytes() for i in range(n_shards)}
    return read_checkpoint_bytes(index, shards, **kwargs)


def _header_bytes(index: bytes) -> bytes:
    """The ``BundleHeaderProto`` (value of the empty key); b"" if absent."""
    footer = index[-_FOOTER_LEN:]
    pos = 0
    for _ in range(2):
        _, pos = _varint(footer, pos)
    idx_off, pos = _varint(footer, pos)
    idx_size, pos = _varint(footer, pos)
    for _, handle in _block_entries(_block(index, idx_off, idx_size)):
        off, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block_entries(_block(index, off, size)):
            if key == b"":
                return value
            break
        break
    return b""


def num_shards(index: bytes) -> int:
    """Data shards the checkpoint has (``BundleHeaderProto.num_shards``; 1 when unset)."""
    for number, _, v in _fields(_header_bytes(index)):
        if number == 1:
            return v
    return 1
