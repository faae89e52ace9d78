"""The details pane says which model heard what behind the combined tags."""
from __future__ import annotations

from desktop.background import SharedLibrary, evidence_job
from engine.library.db import Library
from engine.library.scanner import scan
from tests.audio_fixtures import music_like, write_audio
from tests.tagger_util import TINY_PATCHES, tiny_bundle


def test_evidence_names_every_model_behind_a_tag(tmp_path, qtbot, themed_app):  # noqa: F811
    a = tiny_bundle(tmp_path / "models", "tiny-a", TINY_PATCHES, seed=1)
    b = tiny_bundle(tmp_path / "models", "tiny-b", TINY_PATCHES, seed=2)
    music = tmp_path / "music"
    music.mkdir()
    write_audio(music / "song.wav", music_like(6.0, 8000, seed=3), 8000)
    db = tmp_path / "lib.sqlite3"
    with Library(db) as lib:
        scan(lib, [music], model=[str(a), str(b)], workers=0)
        tid = lib.query_tracks()[0].id
    shared = SharedLibrary(db)
    try:
        got_id, items = evidence_job(None, shared, tid, "tiny-a+tiny-b")
    finally:
        shared.close()
    assert got_id == tid
    assert sorted(c for c, *_ in items) == ["genre", "genre", "mood", "mood"]
    for _cat, _display, score, said in items:
        assert 0 <= score <= 1
        assert {m for m, _, _ in said} == {"tiny-a", "tiny-b"}     # both models know the MSD tags

    from desktop.details_pane import DetailsPane
    from desktop.background import Runner

    pane = DetailsPane(Runner())
    qtbot.addWidget(pane)
    pane.show_evidence(tid, items)
    assert not pane.evidence.isHidden() and "tiny-b" in pane.evidence.text()
