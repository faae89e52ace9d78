"""Tempo, beats and key in the library: analysed during the scan (once, in worker processes or
in this one), stored per track, written by ``tag --write`` with the genres and undone with them."""
from __future__ import annotations

import numpy as np
import pytest

from engine.library import Library
from engine.library.scanner import scan
from engine.library.writing import plan_writes, undo_last_batch, write_planned
from engine.metadata import CategoryRule, TagPolicy, read_tags
from tests.audio_fixtures import drum_pattern, write_audio

POLICY = TagPolicy(rules={"genre": CategoryRule(threshold=0.0, max_count=1)}, write_scores=False)


def _song(path, bpm, seconds=16.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    y, _ = drum_pattern(bpm, seconds, sr=22050)
    t = np.arange(len(y)) / 22050
    chord = sum(0.08 * np.sin(2 * np.pi * 220.0 * r * t) for r in (1.0, 2 ** (3 / 12), 2 ** (7 / 12)))
    return write_audio(path, (0.7 * (y + chord) / np.abs(y + chord).max()).astype(np.float32), 22050)


def test_scan_analyses_tempo_and_key_once(tmp_path, tagger):
    music = tmp_path / "music"
    _song(music / "a.flac", 100.0)
    _song(music / "b.mp3", 140.0)
    (music / "broken.flac").write_bytes(b"fLaC" + b"\0" * 100)
    with Library(tmp_path / "lib.sqlite3") as lib:
        s = scan(lib, [music], tagger=tagger, workers=0)
        assert s.rhythm_analysed == 2
        by_name = {t.path.rsplit("/", 1)[1]: t.id for t in lib.query_tracks()}
        a, b = lib.get_rhythm(by_name["a.flac"]), lib.get_rhythm(by_name["b.mp3"])
        assert a.bpm == pytest.approx(100.0, rel=0.02) and b.bpm == pytest.approx(140.0, rel=0.02)
        assert a.key == (9, "minor") and a.model == "beatnet-gtzan" and len(a.beats) > 20
        assert lib.get_rhythm(by_name["broken.flac"]) is None        # it failed to decode
        assert [t.path.rsplit("/", 1)[1] for t in lib.query_tracks("bpm:95-105")] == ["a.flac"]
        assert [t.path.rsplit("/", 1)[1] for t in lib.query_tracks("bpm:140")] == ["b.mp3"]
        assert {t.path.rsplit("/", 1)[1] for t in lib.query_tracks("key:8A")} == {"a.flac", "b.mp3"}
        from engine.errors import LibraryError

        with pytest.raises(LibraryError, match="bpm: needs a tempo"):
            lib.query_tracks("bpm:fast")
        with pytest.raises(LibraryError, match="not a key"):
            lib.query_tracks("key:H")
        again = scan(lib, [music], tagger=tagger, workers=0)
        assert again.rhythm_analysed == 0                              # nothing left to do
        _song(music / "a.flac", 120.0)                                 # new content: analysed afresh
        third = scan(lib, [music], tagger=tagger, workers=0)
        assert third.rhythm_analysed == 1
        assert lib.get_rhythm(by_name["a.flac"]).bpm == pytest.approx(120.0, rel=0.02)
        off = tmp_path / "other"
        _song(off / "c.wav", 90.0)
        assert scan(lib, [off], tagger=tagger, workers=0, rhythm=False).rhythm_analysed == 0


def test_scan_in_worker_processes(tmp_path, tagger, monkeypatch):
    import engine.library.scanner as scanner

    monkeypatch.setattr(scanner, "SMALL_RHYTHM_PHASE", 0)     # workers even for three tracks
    music = tmp_path / "music"
    for i, bpm in enumerate((95.0, 125.0, 150.0)):
        _song(music / f"s{i}.wav", bpm)
    with Library(tmp_path / "lib.sqlite3") as lib:
        s = scan(lib, [music], tagger=tagger, workers=2)
        assert s.rhythm_analysed == 3 and not s.failures
        got = sorted(lib.get_rhythm(t.id).bpm for t in lib.query_tracks())
        np.testing.assert_allclose(got, [95.0, 125.0, 150.0], rtol=0.02)


def test_bpm_and_key_are_written_with_the_genres_and_undone(tmp_path, tagger):
    music = tmp_path / "music"
    _song(music / "a.flac", 100.0)
    _song(music / "mine.mp3", 140.0)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scan(lib, [music], tagger=tagger, workers=0)
        ids = {t.path.rsplit("/", 1)[1]: t.id for t in lib.query_tracks()}
        # the user's own BPM on one file: fill never overwrites it
        import mutagen.id3

        tags = mutagen.id3.ID3()
        tags.add(mutagen.id3.TBPM(encoding=3, text="70"))
        tags.save(str(music / "mine.mp3"))
        before = {n: read_tags(music / n) for n in ("a.flac", "mine.mp3")}
        plan = plan_writes(lib, list(ids.values()), POLICY)
        changes = {pw.path.rsplit("/", 1)[1]: pw.change for pw in plan.changes}
        assert changes["a.flac"].after["bpm"] == ["100"] and changes["a.flac"].after["key"] == ["Am"]
        assert "bpm" not in changes["mine.mp3"].after and changes["mine.mp3"].after["key"] == ["Am"]
        write_planned(lib, plan)
        after = read_tags(music / "a.flac")
        assert after.get("bpm") == ["100"] and after.get("key") == ["Am"] and after.get("genre")
        assert read_tags(music / "mine.mp3").get("bpm") == ["70"]
        undo_last_batch(lib)
        for n, t in before.items():
            now = read_tags(music / n)
            assert (now.get("bpm"), now.get("key"), now.get("genre")) == (t.get("bpm"), t.get("key"), t.get("genre"))
