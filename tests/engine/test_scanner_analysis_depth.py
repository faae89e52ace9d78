"""Library scans use the fast analysis (bounded patches) by default; --full analyses every patch."""
from __future__ import annotations

from engine.cli import main
from engine.library.db import Library
from engine.tagger import QUICK_ANALYSIS_PATCHES
from tests.audio_fixtures import music_like, write_audio
from tests.tagger_util import TINY_PATCHES, tiny_bundle


def test_fast_by_default_full_on_request(tmp_path):
    bundle = tiny_bundle(tmp_path / "models", "tiny-depth", TINY_PATCHES)
    music = tmp_path / "music"
    music.mkdir()
    song = write_audio(music / "long.wav", music_like(30.0, 8000, seed=1), 8000)
    fast_db, full_db = tmp_path / "fast.sqlite3", tmp_path / "full.sqlite3"
    assert main(["--db", str(fast_db), "scan", "--model", str(bundle), "--workers", "0", str(music)]) == 0
    assert main(["--db", str(full_db), "scan", "--model", str(bundle), "--workers", "0", "--full", str(music)]) == 0
    with Library(fast_db) as lib:
        fast = lib.get_analysis(lib.get_track_by_path(song).id)
    with Library(full_db) as lib:
        full = lib.get_analysis(lib.get_track_by_path(song).id)
    assert fast.n_patches == QUICK_ANALYSIS_PATCHES
    assert full.n_patches == (TINY_PATCHES.n_frames(30 * 8000) - 64) // 64 + 1 > QUICK_ANALYSIS_PATCHES
