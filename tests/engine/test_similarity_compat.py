"""Tempo and key compatibility for "more like this": the pure masks and ``tagatlas similar``."""
from __future__ import annotations

import numpy as np
import pytest

from engine.similarity.compat import key_mask, tempo_mask


def test_tempo_mask_allows_the_other_octave():
    b = np.array([120.0, 126.0, 127.0, 60.5, 240.0, np.nan, 90.0])
    assert tempo_mask(120.0, b, 5).tolist() == [True, True, False, True, True, False, False]
    assert tempo_mask(120.0, b, 5, octaves=False).tolist() == [True, True, False, False, False, False, False]
    with pytest.raises(ValueError):
        tempo_mask(120.0, b, -1)


def test_key_mask_is_the_camelot_neighbourhood():
    keys = [(9, "minor"), (0, "major"), (4, "minor"), (2, "minor"), (7, "major"), (1, "minor"), None]
    # A minor (8A): itself, C (8B), E minor (9A), D minor (7A); not G major (9B), not C#m
    assert key_mask((9, "minor"), keys).tolist() == [True, True, True, True, False, False, False]


def test_similar_cli_filters_by_tempo_and_key(tmp_path, capsys):
    from engine.bundle import BundleInfo
    from engine.cli import main
    from engine.features import SEED_SPEC
    from engine.library import Library, RhythmRecord
    from engine.vocab import msd50_tag_infos

    db = tmp_path / "lib.sqlite3"
    rng = np.random.default_rng(0)
    rhythm = [(120.0, (9, "minor")), (123.0, (0, "major")), (150.0, (9, "minor")),
              (61.0, (4, "minor")), (119.0, (1, "major"))]
    with Library(db) as lib:
        tags = msd50_tag_infos()
        lib.register_model(BundleInfo(name="musicnn-msd", architecture="tiny", arch_args={},
                                      feature_spec=SEED_SPEC, tags=tags, embedding_dim=8))
        for i, (bpm, key) in enumerate(rhythm):
            tid = lib.add_track(tmp_path / f"t{i}.flac", size=1, mtime_ns=1, format="flac",
                                metadata={"title": f"T{i}", "artist": f"A{i}"}, status="analysed")
            lib.store_analysis(tid, "musicnn-msd", rng.uniform(size=len(tags)), rng.normal(size=8))
            lib.store_rhythm(RhythmRecord(tid, bpm, 0.9, key_tonic=key[0], key_mode=key[1],
                                          key_confidence=0.5, model="beatnet-gtzan"))
    seed = str(tmp_path / "t0.flac")
    assert main(["--db", str(db), "similar", seed, "--json", "--bpm-within", "4"]) == 0
    import json

    got = {r["title"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert got == {"T1", "T3", "T4"}                       # 123, 61 (half of 122), 119
    assert main(["--db", str(db), "similar", seed, "--json", "--bpm-within", "4", "--harmonic"]) == 0
    got = {r["title"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert got == {"T1", "T3"}                             # C major and E minor mix with A minor
    assert main(["--db", str(db), "similar", seed, "--bpm-within", "200"]) == 2
