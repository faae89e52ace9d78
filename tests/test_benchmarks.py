"""Smoke runs of the benchmarks at their smallest sizes: they start, use only public names, and
print their figures (the figures themselves are docs/benchmarks.md's business, not a test's)."""
from __future__ import annotations

import json

import numpy as np

from engine.audio.synthetic import make_corpus, synth_track


def test_synth_track_is_seeded_music_like_audio():
    a, b = synth_track(3.0, 8000, seed=1), synth_track(3.0, 8000, seed=1)
    assert a.dtype == np.float32 and a.shape == (24000,)
    assert np.array_equal(a, b) and not np.array_equal(a, synth_track(3.0, 8000, seed=2))
    assert 0.5 < np.abs(a).max() <= 0.9 + 1e-6


def test_make_corpus_reuses_files(tmp_path):
    first = make_corpus(tmp_path, 2, seconds=2.0, sr=22050)
    stamp = first[0].stat().st_mtime_ns
    assert [p.name for p in first] == ["bench_2s_000.mp3", "bench_2s_001.mp3"]
    assert make_corpus(tmp_path, 2, seconds=2.0, sr=22050) == first
    assert first[0].stat().st_mtime_ns == stamp


def test_tagatlas_bench_smallest(tmp_path, capsys, monkeypatch):
    import tempfile

    from engine.cli import main

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))    # the random-weight bundle goes here

    assert main(["bench", "-n", "1", "--seconds", "4", "--workers", "0", "--device", "cpu",
                 "--model", "k2c1", "--dir", str(tmp_path), "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["tracks"] == report["ok"] == 1
    for stage in ("decode_1_process", "features", "model_only", "end_to_end"):
        assert report[stage]["tracks_per_s"] > 0


def test_bench_library_rescan_smallest(tmp_path, capsys):
    from benchmarks.bench_library import main

    assert main(["--only", "rescan", "--rescan-files", "20", "--work", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["rescan"]["files"] == 20 and result["rescan"]["rescan_s"] < 5
