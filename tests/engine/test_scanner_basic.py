"""The scanner: walking folders, incremental rescans, moves, gone files, progress and cancel."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests._library_util import TINY_MODEL, make_tree, write_audio
from engine.errors import LibraryError
from engine.library import reading as reading_mod
from engine.library.scanner import scan, walk_audio_files


def _analysed_at(lib, tid):
    return lib.get_analysis(tid, TINY_MODEL).analysed_at


# --- walking --------------------------------------------------------------------------------------
def test_walk_finds_audio_once_and_skips_hidden_system_and_loops(tmp_path):
    root = tmp_path / "music"
    write_audio(root / "A" / "UPPER.WAV")
    write_audio(root / "A" / "mixed.Flac")
    write_audio(root / "B" / "plain.wav")
    write_audio(root / ".hidden" / "x.wav")
    write_audio(root / "@eaDir" / "thumb.wav")
    write_audio(root / "A" / "._resource.wav")
    (root / "A" / "notes.txt").write_text("not audio")
    (root / "Thumbs.db").write_bytes(b"x")
    os.symlink(root, root / "B" / "loop")                  # a folder link back to the top
    os.symlink(root / "A" / "UPPER.WAV", root / "B" / "link.wav")   # a second name of a file
    os.symlink(root / "nowhere.wav", root / "B" / "dangling.wav")
    os.mkfifo(root / "B" / "pipe.wav")
    w = walk_audio_files([root])
    names = sorted(os.path.basename(f.path) for f in w.files)
    assert names == ["UPPER.WAV", "mixed.Flac", "plain.wav"]
    assert w.loops >= 1 and w.skipped == 4 and w.complete
    f = next(f for f in w.files if f.path.endswith("plain.wav"))
    st = os.stat(f.path)
    assert (f.size, f.mtime_ns) == (st.st_size, st.st_mtime_ns) and os.path.isabs(f.path)


def test_walk_cancel_and_bad_root(tmp_path):
    make_tree(tmp_path / "m", 4)
    assert not walk_audio_files([tmp_path / "m"], cancel=lambda: True).complete
    with pytest.raises(LibraryError, match="No such file"):
        walk_audio_files([tmp_path / "missing"])
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(LibraryError, match="not a folder or an audio file"):
        walk_audio_files([tmp_path / "x.txt"])


# --- incremental scanning -----------------------------------------------------------------------------
def test_incremental_rescan_reads_and_analyses_only_what_changed(lib, tmp_path, tagger, monkeypatch):
    root = tmp_path / "music"
    paths = make_tree(root, 6)
    s = scan(lib, [root], tagger=tagger)
    assert (s.new, s.changed, s.unchanged, s.analysed, s.failed) == (6, 0, 0, 6, 0)
    rows = lib.query_tracks()
    assert len(rows) == 6 and {r.status for r in rows} == {"analysed"}
    stamps = {r.id: _analysed_at(lib, r.id) for r in rows}

    def must_not_read(path):
        raise AssertionError(f"{path} was read again")

    with monkeypatch.context() as m:
        m.setattr(reading_mod, "read_file_metadata", must_not_read)
        s = scan(lib, [root], tagger=tagger)
    assert (s.new, s.changed, s.unchanged, s.analysed) == (0, 0, 6, 0)
    assert {r.id: _analysed_at(lib, r.id) for r in rows} == stamps

    write_audio(paths[2], seconds=2.0, seed=99)           # new content
    st = os.stat(paths[2])
    os.utime(paths[2], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    s = scan(lib, [root], tagger=tagger)
    assert (s.new, s.changed, s.unchanged, s.analysed) == (0, 1, 5, 1)
    t = lib.get_track_by_path(paths[2])
    assert _analysed_at(lib, t.id) > stamps[t.id] and t.size == os.path.getsize(paths[2])
    assert lib.count_tracks() == 6


def test_moved_and_renamed_files_keep_their_analysis(lib, tmp_path, tagger):
    root = tmp_path / "music"
    paths = make_tree(root, 4)
    scan(lib, [root], tagger=tagger)
    a, b = lib.get_track_by_path(paths[0]), lib.get_track_by_path(paths[1])
    before = {a.id: lib.get_analysis(a.id, TINY_MODEL), b.id: lib.get_analysis(b.id, TINY_MODEL)}
    pid = lib.create_playlist("mine", [a.id, b.id])
    new_a = root / "elsewhere" / "renamed.wav"
    new_a.parent.mkdir()
    os.rename(paths[0], new_a)                             # moved to another folder and renamed
    new_b = paths[1].replace(".wav", " (1).wav")
    os.rename(paths[1], new_b)                             # renamed in place
    s = scan(lib, [root], tagger=tagger)
    assert (s.moved, s.new, s.gone, s.analysed) == (2, 0, 0, 0)
    assert lib.get_track_by_path(new_a).id == a.id and lib.get_track_by_path(new_b).id == b.id
    assert lib.get_track_by_path(paths[0]) is None
    for tid, old in before.items():
        now = lib.get_analysis(tid, TINY_MODEL)
        assert now.analysed_at == old.analysed_at and np.array_equal(now.scores, old.scores)
        assert lib.get_track(tid).status == "analysed"
    assert lib.get_playlist(pid).track_ids == [a.id, b.id]
    assert lib.count_tracks() == 4


def test_copies_and_duplicates_are_not_moves(lib, tmp_path, tagger):
    root = tmp_path / "music"
    paths = make_tree(root, 2)
    scan(lib, [root], tagger=tagger)
    shutil.copy2(paths[0], root / "copy.wav")             # the original stays
    for i in range(3):                                    # three more copies elsewhere
        shutil.copy2(paths[1], tmp_path / f"dup{i}.wav")
    os.remove(paths[1])                                   # ...and the original goes
    s = scan(lib, [root], tagger=tagger)
    assert (s.new, s.moved, s.gone, s.analysed) == (1, 0, 1, 1)
    s = scan(lib, [tmp_path], tagger=tagger)              # one of the copies takes the gone track
    assert (s.moved, s.new) == (1, 2)
    assert lib.count_tracks() == 5 and lib.count_tracks("gone") == 0


def test_move_across_roots_scanned_separately(lib, tmp_path, tagger):
    one, two = tmp_path / "one", tmp_path / "two"
    p = write_audio(one / "song.wav", seed=5)
    two.mkdir()
    scan(lib, [one], tagger=tagger)
    tid = lib.get_track_by_path(p).id
    dest = two / "song.wav"
    shutil.move(p, dest)
    s = scan(lib, [two], tagger=tagger)                   # the old folder is not rescanned
    assert (s.moved, s.new, s.analysed) == (1, 0, 0)
    assert lib.get_track_by_path(dest).id == tid


def test_removed_files_are_marked_gone_and_come_back(lib, tmp_path, tagger):
    root = tmp_path / "music"
    paths = make_tree(root, 3)
    scan(lib, [root], tagger=tagger)
    tid = lib.get_track_by_path(paths[1]).id
    kept = root.parent / "kept.wav"
    shutil.move(paths[1], kept)
    s = scan(lib, [root], tagger=tagger)
    assert (s.gone, s.unchanged, s.moved) == (1, 2, 0)
    assert lib.get_track(tid).status == "gone"
    assert tid not in [r.id for r in lib.query_tracks()]
    assert lib.get_analysis(tid, TINY_MODEL) is not None  # kept in case it comes back
    s = scan(lib, [root], tagger=tagger)
    assert s.gone == 0                                    # already gone: not counted again
    shutil.move(kept, paths[1])                           # back, same size and time
    s = scan(lib, [root], tagger=tagger)
    assert (s.unchanged, s.analysed, s.gone) == (3, 0, 0)
    assert lib.get_track(tid).status == "analysed"


def test_missing_root_changes_nothing(lib, tmp_path, tagger):
    root = tmp_path / "music"
    make_tree(root, 2)
    scan(lib, [root], tagger=tagger)
    with pytest.raises(LibraryError):
        scan(lib, [root, tmp_path / "unplugged-drive"], tagger=tagger)
    assert lib.status_counts() == {"analysed": 2}


def test_scan_removes_leftovers_of_killed_tag_writes_only(lib, tmp_path, monkeypatch):
    """A tag write killed mid-way leaves a hidden copy of the song; the next scan deletes it,
    unless a write in progress holds it or it changed within the last minute."""
    import fcntl
    import time

    root = tmp_path / "music"
    paths = [Path(p) for p in make_tree(root, 2)]
    folder = paths[0].parent
    leftover = folder / ".tagatlas-k1ll3d00.tmp"
    live = folder / ".tagatlas-l1ve0000.tmp"
    foreign = folder / ".tagatlas-mine.tmp"               # not a name Tag Atlas makes
    for p in (leftover, live, foreign):
        p.write_bytes(paths[0].read_bytes())
    s = scan(lib, [root], analyse=False)
    assert s.temp_files_removed == 0 and leftover.exists()   # too recent to be sure
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 120)
    with open(live, "rb") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        s = scan(lib, [root], analyse=False)
    assert s.temp_files_removed == 1 and not leftover.exists()
    assert live.exists() and foreign.exists() and all(p.exists() for p in paths)
    assert s.unchanged == 2


def test_no_analyse_then_analyse_later_and_a_second_model(lib, tmp_path, tagger):
    root = tmp_path / "music"
    make_tree(root, 3)
    s = scan(lib, [root], analyse=False)
    assert (s.new, s.analysed) == (3, 0)
    assert lib.status_counts() == {"new": 3}
    s = scan(lib, [root], tagger=tagger)
    assert (s.unchanged, s.analysed) == (3, 3)
    assert lib.status_counts() == {"analysed": 3}
    lib.connection.execute("UPDATE analyses SET model = 'older-model'")  # as if another model ran first
    s = scan(lib, [root], tagger=tagger)
    assert s.analysed == 3
    assert lib.analysed_models() == {"older-model": 3, TINY_MODEL: 3}


def test_progress_phases_and_cancel_keep_what_was_done(lib, tmp_path, tagger):
    from engine.tagger import Tagger

    one_by_one = Tagger(TINY_MODEL, device="cpu", workers=0, batch_size=1)
    root = tmp_path / "music"
    make_tree(root, 6)
    calls = []
    analysed = []

    def progress(phase, done, total, path):
        calls.append((phase, done, total))
        if phase == "analyse":
            analysed.append(path)

    s = scan(lib, [root], tagger=one_by_one, progress=progress,
             cancel=lambda: len(analysed) >= 2, commit_every=1)
    assert s.cancelled
    phases = [c[0] for c in calls]
    assert phases[0] == "walk" and "read" in phases and "analyse" in phases
    assert ("read", 6, 6) in calls
    assert 2 <= s.analysed < 6
    assert len(lib.query_tracks(analysed_with=TINY_MODEL)) == s.analysed
    s2 = scan(lib, [root], tagger=tagger)
    assert s2.analysed == 6 - s.analysed and lib.status_counts() == {"analysed": 6}


def test_scan_fails_fast_on_unknown_model(lib, tmp_path):
    from engine.errors import ModelError

    make_tree(tmp_path / "m", 1)
    with pytest.raises(ModelError):
        scan(lib, [tmp_path / "m"], model="no-such-model")
    assert lib.count_tracks() == 0
