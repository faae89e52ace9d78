"""Journaled writes and undo at the engine level: edits made after a write, moved files, and
several writes to the same file."""
from __future__ import annotations

import os

import mutagen
import pytest

from tests._library_util import TINY_MODEL, write_audio
from engine.errors import LibraryError
from engine.library import Library
from engine.library.scanner import scan
from engine.library.writing import (choose_model, plan_writes, undo_files, undo_last_batch,
                                    write_planned)
from engine.metadata import CategoryRule, TagPolicy

POLICY = TagPolicy(mode="replace", rules={"genre": CategoryRule(threshold=0.0, max_count=1)},
                   write_scores=False)


@pytest.fixture
def scanned(tmp_path, tagger):
    root = tmp_path / "music"
    paths = [write_audio(root / f"t{i}.flac", seed=i) for i in range(3)]
    with Library(tmp_path / "lib.sqlite3") as lib:
        scan(lib, [root], tagger=tagger)
        yield lib, root, paths, tagger


def _write(lib, ids, policy=POLICY, **kw):
    plan = plan_writes(lib, ids, policy, **kw)
    return plan, write_planned(lib, plan)


def test_choose_model(scanned):
    lib = scanned[0]
    assert choose_model(lib) == TINY_MODEL
    with pytest.raises(LibraryError, match="no track .* analysed with model 'other'"):
        choose_model(lib, "other")
    lib.connection.execute("UPDATE analyses SET model = 'second' WHERE track_id = 1")
    with pytest.raises(LibraryError, match="several models"):
        choose_model(lib)


def test_review_overrides_and_not_analysed(scanned):
    lib, root, paths, _ = scanned
    ids = [lib.get_track_by_path(p).id for p in paths]
    extra = lib.add_track(str(root / "unanalysed.flac"), size=1, mtime_ns=1)
    plan = plan_writes(lib, ids + [extra], POLICY, reject={ids[0]: ["rock", "pop", "jazz", "folk",
                                                                    "electronic", "classic rock"]},
                       accept={ids[1]: ["Hip-Hop"]})
    assert plan.not_analysed == [extra]
    after = {pw.track_id: pw.change.after for pw in plan.changes}
    assert "Hip-Hop" in after[ids[1]]["genre"]
    assert not any(g in ("Rock", "Pop", "Jazz", "Folk", "Electronic", "Classic Rock")
                   for g in after.get(ids[0], {}).get("genre", []))


def test_undo_refuses_to_overwrite_later_edits_unless_forced(scanned):
    lib, root, paths, _ = scanned
    tid = lib.get_track_by_path(paths[0]).id
    _, out = _write(lib, [tid])
    assert out.written == [tid]
    f = mutagen.File(paths[0])
    f["GENRE"] = ["My Own"]
    f.save()
    res = undo_last_batch(lib)
    assert res.restored == [] and len(res.failures) == 1
    assert "changed since Tag Atlas wrote them" in res.failures[0].reason
    assert mutagen.File(paths[0])["GENRE"] == ["My Own"]
    assert lib.last_write_batch() is not None              # still undoable
    assert [e.stage for e in lib.errors(track_id=tid)] == ["write"]
    res = undo_last_batch(lib, force=True)
    assert res.restored == [paths[0]]
    assert "GENRE" not in mutagen.File(paths[0])
    assert lib.errors(track_id=tid) == [] and lib.last_write_batch() is None


def test_undo_follows_a_file_moved_after_the_write(scanned):
    lib, root, paths, tagger = scanned
    tid = lib.get_track_by_path(paths[1]).id
    _write(lib, [tid])
    new = root / "moved" / "renamed.flac"
    new.parent.mkdir()
    os.rename(paths[1], new)
    s = scan(lib, [root], tagger=tagger)
    assert (s.moved, s.gone, s.new) == (1, 0, 0)            # the fingerprint was refreshed after the write
    assert lib.get_track(tid).path == str(new)
    res = undo_last_batch(lib)
    assert res.restored == [str(new)] and not res.failures
    assert "GENRE" not in mutagen.File(new)
    assert lib.get_track(tid).status == "analysed" and lib.get_track(tid).genre == []


def test_undo_files_goes_back_one_write_at_a_time(scanned):
    lib, root, paths, _ = scanned
    tid = lib.get_track_by_path(paths[2]).id
    _write(lib, [tid])
    first = mutagen.File(paths[2])["GENRE"]
    second_policy = TagPolicy(mode="replace", rules={"genre": CategoryRule(threshold=0.0, max_count=3)},
                              write_scores=False)
    _write(lib, [tid], second_policy)
    assert len(mutagen.File(paths[2])["GENRE"]) == 3
    assert lib.get_track(tid).genre == mutagen.File(paths[2])["GENRE"]   # the DB follows the file
    res = undo_files(lib, [paths[2]])
    assert res.restored == [paths[2]] and mutagen.File(paths[2])["GENRE"] == first
    assert lib.get_track(tid).status == "written"          # the first write still stands
    res = undo_files(lib, [paths[2]])
    assert "GENRE" not in mutagen.File(paths[2]) and lib.get_track(tid).status == "analysed"
    res = undo_files(lib, [paths[2]])
    assert res.failures and "no write of this file" in res.failures[0].reason
