"""The Parquet records a catalogue batch writes, and the folder of part files that holds them.

One row per file and model: the file (``path`` printable, ``path_bytes`` exact, ``size``,
``mtime_ns``, content ``fingerprint`` — the library scanner's own
:func:`engine.library.scanner.content_fingerprint`, so an import matches by content), the
track's ``duration_s``, the ``model`` and its per-tag ``scores`` (in the bundle's tag order; the
tag names and the whole bundle JSON are in the file's key-value metadata ``tagatlas.models``),
the ``embedding``, and the tempo/beats/key analysis of the file (the same on every row of the
file). A file that could not be analysed is one row with ``outcome = "error"``, no model, and the
stage, kind and plain reason of the failure.

The output is a folder of ``part-*.parquet`` files. Each is written to a hidden temporary name
and renamed when complete, so a run that is killed leaves only whole part files; a rerun skips
every file whose fingerprint is already in one of them (:func:`done_fingerprints`), or with
``--retry-errors`` every file analysed there, so that the failed ones are tried again.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator

SCHEMA_VERSION = 1
META_SCHEMA = b"tagatlas.schema"
META_MODELS = b"tagatlas.models"
META_ANALYSIS = b"tagatlas.analysis"
PART_GLOB = "part-*.parquet"

_SCHEMA = None


def schema():
    """The :class:`pyarrow.Schema` of a catalogue row."""
    global _SCHEMA
    if _SCHEMA is None:
        import pyarrow as pa

        f32 = pa.list_(pa.float32())
        _SCHEMA = pa.schema([
            ("path", pa.string()),              # printable (undecodable bytes shown as escapes)
            ("path_bytes", pa.binary()),        # the exact file name (os.fsencode)
            ("size", pa.int64()),
            ("mtime_ns", pa.int64()),
            ("fingerprint", pa.binary(16)),     # engine.library.scanner.content_fingerprint
            ("duration_s", pa.float64()),
            ("outcome", pa.string()),           # "ok" or "error"
            ("model", pa.string()),
            ("n_patches", pa.int32()),
            ("scores", f32),
            ("embedding", f32),
            ("warnings", pa.list_(pa.string())),
            ("error_stage", pa.string()),       # scan | decode | analyse (as the library's errors)
            ("error_kind", pa.string()),        # e.g. EmptyFileError, CorruptAudioError
            ("error_reason", pa.string()),      # a plain sentence
            ("max_patches", pa.int32()),        # null: every patch (full analysis)
            ("rhythm_model", pa.string()),
            ("bpm", pa.float64()),
            ("bpm_confidence", pa.float32()),
            ("bpm_alternatives", f32),
            ("tempo_variable", pa.bool_()),
            ("meter", pa.int16()),
            ("key_tonic", pa.int16()),
            ("key_mode", pa.string()),
            ("key_confidence", pa.float32()),
            ("beats", f32),
            ("downbeats", f32),
            ("rhythm_start_s", pa.float64()),
            ("rhythm_end_s", pa.float64()),
            ("rhythm_error_kind", pa.string()),
            ("rhythm_error_reason", pa.string()),
            ("analysed_at", pa.float64()),
            ("host", pa.string()),
        ])
    return _SCHEMA


def column_names() -> list[str]:
    return list(schema().names)


def error_fields(error: BaseException) -> tuple[str, str]:
    """``(kind, reason)`` of an exception, as :meth:`Library.add_file_error` would store them."""
    from ..errors import FileError

    if isinstance(error, FileError):
        return error.kind, error.reason
    if isinstance(error, OSError):
        return type(error).__name__, error.strerror or str(error)
    return type(error).__name__, str(error) or type(error).__name__


def _rhythm_fields(rhythm: Any, rhythm_error: BaseException | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rhythm is not None:
        from ..rhythm.track import BEAT_MODEL

        r, k = rhythm.rhythm, rhythm.key
        out.update(
            rhythm_model=BEAT_MODEL, bpm=None if r.bpm is None else float(r.bpm),
            bpm_confidence=float(r.confidence), bpm_alternatives=[float(a) for a in r.alternatives],
            tempo_variable=bool(r.variable_tempo), meter=int(r.meter),
            key_tonic=None if k is None else int(k.tonic), key_mode=None if k is None else str(k.mode),
            key_confidence=0.0 if k is None else float(k.confidence),
            beats=[float(x) for x in r.beats], downbeats=[float(x) for x in r.downbeats],
            rhythm_start_s=r.start_s, rhythm_end_s=r.end_s)
    elif rhythm_error is not None:
        kind, reason = error_fields(rhythm_error)
        out.update(rhythm_error_kind=kind, rhythm_error_reason=reason)
    return out


def file_rows(item: dict[str, Any], results: list | None = None, *, error: BaseException | None = None,
              error_stage: str = "decode", max_patches: int | None = None) -> list[dict[str, Any]]:
    """The rows of one file: one per model of ``results`` (:class:`engine.tagger.TrackTags`,
    the primary and its companions), or one error row when ``error`` is given.

    ``item``: ``path_bytes``, ``size``, ``mtime_ns``, ``fingerprint`` and optionally ``rhythm``
    (an :class:`engine.rhythm.track.TrackRhythm`) or ``rhythm_error``."""
    from ..errors import printable_path

    pb = item["path_bytes"]
    base = {
        "path": printable_path(os.fsdecode(pb)), "path_bytes": pb, "size": item.get("size"),
        "mtime_ns": item.get("mtime_ns"), "fingerprint": item.get("fingerprint"),
        "max_patches": max_patches, "analysed_at": time.time(), "host": socket.gethostname(),
    }
    if error is not None:
        kind, reason = error_fields(error)
        return [{**base, "outcome": "error", "error_stage": error_stage, "error_kind": kind,
                 "error_reason": reason}]
    rhythm = _rhythm_fields(item.get("rhythm"), item.get("rhythm_error"))
    rows = []
    for r in results or []:
        rows.append({**base, **rhythm, "outcome": "ok", "model": r.model, "duration_s": float(r.duration_s),
                     "n_patches": int(r.n_patches), "scores": r.scores.astype("float32").tolist(),
                     "embedding": r.embedding.astype("float32").tolist(), "warnings": list(r.warnings)})
    return rows


def to_table(rows: list[dict[str, Any]]):
    import pyarrow as pa

    s = schema()
    return pa.Table.from_pylist([{k: r.get(k) for k in s.names} for r in rows], schema=s)


def models_metadata(infos: Iterable[Any], max_patches: int | None) -> dict[bytes, bytes]:
    """The key-value metadata every part file carries: the bundles (tags, thresholds, spec)."""
    return {
        META_SCHEMA: str(SCHEMA_VERSION).encode(),
        META_MODELS: json.dumps([i.to_json() for i in infos], ensure_ascii=False).encode(),
        META_ANALYSIS: json.dumps({"max_patches": max_patches}).encode(),
    }


# --- the output folder --------------------------------------------------------------------------


def part_files(folder: str | os.PathLike) -> list[Path]:
    """The complete part files of an output folder (or ``[folder]`` for a single Parquet file)."""
    p = Path(folder)
    if p.is_file():
        return [p]
    if not p.is_dir():
        return []
    return sorted(p.glob(PART_GLOB))


def write_part(folder: str | os.PathLike, table, metadata: dict[bytes, bytes], *, run_id: str,
               seq: int) -> Path:
    """Write ``table`` as one new part file (atomically: temporary name, fsync, rename)."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    final = folder / f"part-{run_id}-{seq:06d}.parquet"
    tmp = folder / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    pq.write_table(table.replace_schema_metadata(metadata), tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final


def remove_temporary(folder: str | os.PathLike) -> int:
    """Delete the half-written part files a killed run left behind; returns how many."""
    n = 0
    for t in Path(folder).glob(".part-*.tmp"):
        try:
            t.unlink()
            n += 1
        except OSError:
            pass
    return n


def done_fingerprints(folder: str | os.PathLike, *, failed: bool = True) -> set[bytes]:
    """Content fingerprints of the files already in the output: analysed ones, and with
    ``failed`` (the default) also the ones that failed, so that a rerun skips both."""
    import pyarrow.parquet as pq

    done: set[bytes] = set()
    for part in part_files(folder):
        table = pq.read_table(part, columns=["fingerprint", "outcome"])
        for fp, outcome in zip(table.column("fingerprint").to_pylist(), table.column("outcome").to_pylist()):
            if fp is not None and (failed or outcome == "ok"):
                done.add(fp)
    return done


def read_models(part: str | os.PathLike) -> list[dict[str, Any]]:
    """The bundle JSONs stored in a part file's metadata."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(part).metadata or {}
    raw = meta.get(META_MODELS)
    return json.loads(raw) if raw else []


def iter_files(part: str | os.PathLike) -> Iterator[list[dict[str, Any]]]:
    """The rows of one part file grouped by file (``path_bytes``), in file order."""
    import pyarrow.parquet as pq

    rows = pq.read_table(part).to_pylist()
    groups: dict[bytes, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["path_bytes"], []).append(r)
    yield from groups.values()


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


__all__ = ["SCHEMA_VERSION", "schema", "column_names", "file_rows", "to_table", "models_metadata",
           "part_files", "write_part", "remove_temporary", "done_fingerprints", "read_models",
           "iter_files", "error_fields", "new_run_id"]
