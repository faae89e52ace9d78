"""``tagatlas batch --retry-errors`` and how ``tagatlas import`` picks between a file's results.

A rerun normally skips every file already in the output, failed ones too; with
``--retry-errors`` it skips only the analysed ones. A file can then be in the output twice (a
failure, then an analysis): the import must take the analysis, whichever part comes first, and
of two failures the newer reason. The part files are written here with the batch's own record
functions, so these tests need pyarrow but not Ray.
"""
from __future__ import annotations

import argparse

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from audio_fixtures import music_like, write_audio  # noqa: E402
from engine.bundle import read_bundle_info  # noqa: E402
from engine.catalogue import records  # noqa: E402
from engine.catalogue.importer import import_analyses  # noqa: E402
from engine.library import Library  # noqa: E402
from engine.library.reading import content_fingerprint  # noqa: E402

MODEL = "musicnn-msd"


@pytest.fixture()
def song(tmp_path):
    path = tmp_path / "music" / "song.flac"
    path.parent.mkdir()
    write_audio(path, music_like(4.0, 22050, seed=3), 22050)
    return path


def _item(path):
    st = path.stat()
    return {"path_bytes": bytes(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "fingerprint": content_fingerprint(path)}


def _write(out, rows, run_id):
    info = read_bundle_info(MODEL)
    return records.write_part(out, records.to_table(rows), records.models_metadata([info], 8),
                              run_id=run_id, seq=0)


def _failed(path, reason, run_id, out):
    from engine.errors import CorruptAudioError

    rows = records.file_rows(_item(path), error=CorruptAudioError(str(path), reason), error_stage="decode")
    return _write(out, rows, run_id)


def _analysed(path, run_id, out):
    n_tags = len(read_bundle_info(MODEL).tags)
    rows = [{**_item(path), "path": str(path), "outcome": "ok", "model": MODEL, "duration_s": 4.0,
             "n_patches": 1, "scores": np.linspace(0.01, 0.9, n_tags).astype("float32").tolist(),
             "embedding": [0.5] * 16, "warnings": [], "max_patches": 8, "analysed_at": 1.0}]
    return _write(out, rows, run_id)


def test_a_rerun_skips_failed_files_unless_told_to_retry_them(song, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _failed(song, "the decoder stopped half-way", "20260101T000000-aaaaaa", out)
    fp = content_fingerprint(song)
    assert fp in records.done_fingerprints(out)
    assert fp not in records.done_fingerprints(out, failed=False)
    _analysed(song, "20260102T000000-bbbbbb", out)          # the retry succeeded
    assert fp in records.done_fingerprints(out, failed=False)


def test_the_cli_passes_retry_errors_to_the_batch():
    from engine.cli import batch as batch_cmd

    parser = argparse.ArgumentParser()
    batch_cmd.register(parser.add_subparsers())
    assert parser.parse_args(["batch", "x", "-o", "out", "--retry-errors"]).retry_errors is True
    assert parser.parse_args(["batch", "x", "-o", "out"]).retry_errors is False


@pytest.mark.parametrize("analysis_first", [False, True])
def test_import_takes_the_analysis_over_the_failure(song, tmp_path, analysis_first):
    out = tmp_path / "out"
    out.mkdir()
    if analysis_first:      # e.g. two output folders given in this order
        _analysed(song, "20260101T000000-aaaaaa", out)
        _failed(song, "the decoder stopped half-way", "20260102T000000-bbbbbb", out)
    else:                   # the usual order: a failure, then a rerun with --retry-errors
        _failed(song, "the decoder stopped half-way", "20260101T000000-aaaaaa", out)
        _analysed(song, "20260102T000000-bbbbbb", out)
    with Library(tmp_path / "lib.sqlite3") as lib:
        summary = import_analyses(lib, out)
        assert summary.files == 1 and summary.new_tracks == 1
        assert summary.analyses == 1 and summary.errors == 0
        track = lib.get_track_by_path(song)
        assert track.status != "error"
        assert lib.get_analysis(track.id, MODEL) is not None
        assert lib.errors(track_id=track.id) == []


def test_of_two_failures_the_newer_reason_is_recorded(song, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _failed(song, "first reason", "20260101T000000-aaaaaa", out)
    _failed(song, "second reason", "20260102T000000-bbbbbb", out)
    progress = []
    with Library(tmp_path / "lib.sqlite3") as lib:
        summary = import_analyses(lib, out, progress=lambda d, t, p: progress.append((d, t)))
        assert summary.files == 1 and summary.errors == 1
        errors = lib.errors(track_id=lib.get_track_by_path(song).id)
        assert [e.reason for e in errors] == ["second reason"]
    assert progress == [(1, 1)]                 # one file, counted once
