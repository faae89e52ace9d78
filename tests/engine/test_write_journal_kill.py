"""A ``tagatlas tag --write`` killed (SIGKILL) at any point stays undoable (issue 12, item 1).

The write journal is write-ahead: each file's entry is committed as pending before the file is
swapped, marked done after. These tests run the real command line in a child process, kill it
at chosen points (the ``TAGATLAS_TEST_KILL_AT`` hook of :mod:`engine.library.writing`) or after
random delays (slow suite), and check after every kill that

* the next run resolves the unfinished entry (done when the file carries the write, dropped
  when it does not),
* no file carries Tag Atlas's tags without a journal entry that undo knows,
* ``undo --last``, repeated over the batches, restores every file's tags exactly.

Expectations are checked with plain mutagen, not with the code under test.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mutagen
import mutagen.id3
import mutagen.wave
import numpy as np
import pytest

from tests._library_util import SMALL_SPEC, write_audio
from engine.bundle import BundleInfo
from engine.library import Library
from engine.library import schema as dbmod
from engine.library.scanner import scan
from engine.library.writing import KILL_ENV
from engine.vocab import msd50_tag_infos

MODEL = "journal-test-model"
N_FILES = 24
REPO = Path(__file__).resolve().parents[2]
TAG_ARGS = ["tag", "--write", "--model", MODEL, "--policy", "replace", "--threshold", "genre=0",
            "--max", "genre=2", "--threshold", "mood=0", "--max", "mood=1"]


# --- a library of tagged and untagged files, analysed with made-up scores ---------------------------

def _tag_original(path: str, i: int) -> None:
    """Give two thirds of the files tags of their own (the others keep none)."""
    if i % 3 == 2:
        return
    if path.endswith(".wav"):
        f = mutagen.wave.WAVE(path)
        f.add_tags()
        f.tags.add(mutagen.id3.TIT2(encoding=3, text=[f"Song {i}"]))
        if i % 3 == 0:
            f.tags.add(mutagen.id3.TCON(encoding=3, text=["My Genre"]))
        f.save()
        return
    f = mutagen.File(path)
    f["TITLE"] = [f"Song {i}"]
    if i % 3 == 0:
        f["GENRE"] = ["My Genre", "Second"]
        f["MOOD"] = ["calm"]
    f.save()


def snapshot(path: str):
    """Every tag of the file as plain comparable data (None: no tag at all)."""
    f = mutagen.File(path)
    if f is None or f.tags is None:
        return None
    if isinstance(f.tags, mutagen.id3.ID3):
        return sorted((k, repr(v)) for k, v in f.tags.items())
    return sorted((k.upper(), v) for k, v in f.tags)


def _make_library(tmp_path: Path, n: int = N_FILES) -> tuple[Path, list[str], dict[str, object]]:
    root = tmp_path / "music"
    exts = [".flac", ".wav", ".ogg"]
    files = [write_audio(root / f"album{i % 2}" / f"t{i:02d}{exts[i % 3]}", seconds=0.3, seed=i)
             for i in range(n)]
    for i, p in enumerate(files):
        _tag_original(p, i)
    db = tmp_path / "lib.sqlite3"
    rng = np.random.default_rng(1)
    info = BundleInfo(name=MODEL, architecture="tiny", arch_args={}, feature_spec=SMALL_SPEC,
                      tags=msd50_tag_infos())
    with Library(db) as lib:
        scan(lib, [root], analyse=False)
        lib.register_model(info)
        for p in files:
            lib.store_analysis(lib.get_track_by_path(p).id, MODEL, rng.random(50).astype(np.float32))
    return db, files, {p: snapshot(p) for p in files}


def cli(db: Path, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop(KILL_ENV, None)
    if kill_at is not None:
        env[KILL_ENV] = kill_at
    return subprocess.run([sys.executable, "-m", "engine.cli", "--db", str(db), *args], env=env,
                          capture_output=True, text=True, timeout=120)


# --- the checks ------------------------------------------------------------------------------------

def pending_count(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM write_journal WHERE state = 'pending'").fetchone()[0]
    finally:
        con.close()


def check_journal_knows_every_change(db: Path, files: list[str], originals: dict) -> int:
    """After recovery: no pending entry is left, and each file whose tags differ from the original
    has a write that undo knows. Returns how many files are changed."""
    changed = 0
    with Library(db) as lib:
        assert not lib.pending_journal_entries()
        for p in files:
            if snapshot(p) != originals[p]:
                changed += 1
                assert lib.journal_entries(path=p, include_undone=False), \
                    f"{p} carries Tag Atlas's tags but the journal does not know it"
    return changed


def undo_everything(db: Path, files: list[str], originals: dict) -> None:
    """``undo --last`` until nothing is left; then every file holds exactly its original tags."""
    for _ in range(50):
        r = cli(db, "undo", "--last")
        if r.returncode == 2 and "no tag write to undo" in r.stderr:
            break
        assert r.returncode == 0, r.stdout + r.stderr
    else:
        pytest.fail("undo --last never ran out of batches")
    for p in files:
        assert snapshot(p) == originals[p], f"{p} was not restored exactly"


def kill_and_check(db: Path, files: list[str], originals: dict, point: str, index: int) -> None:
    """One deterministic kill: the run dies at ``point`` of file ``index``; recovery resolves it."""
    before = {p: snapshot(p) for p in files}
    r = cli(db, *TAG_ARGS, kill_at=f"{point}:{index}")
    assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
    assert pending_count(db) == (1 if point in ("pending", "swapped") else 0)
    with Library(db) as lib:
        out = lib.recover_unfinished_writes()
    assert len(out.completed) == (1 if point == "swapped" else 0)
    assert len(out.rolled_back) == (1 if point == "pending" else 0)
    for p in out.rolled_back:                 # rolled back: the file really was not changed
        assert snapshot(p) == before[p]
    check_journal_knows_every_change(db, files, originals)


# --- tests -------------------------------------------------------------------------------------------

def test_kills_at_every_journal_step_stay_undoable(tmp_path):
    db, files, originals = _make_library(tmp_path)
    # each run writes the files the earlier ones left (policy replace: written ones are unchanged)
    for point, index in [("pending", 2), ("swapped", 3), ("journal", 0), ("done", 1),
                         ("swapped", 0)]:
        kill_and_check(db, files, originals, point, index)
    r = cli(db, *TAG_ARGS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert check_journal_knows_every_change(db, files, originals) == N_FILES
    undo_everything(db, files, originals)


def test_undo_right_after_a_kill_restores_the_swapped_file(tmp_path):
    """The issue's case: killed before the first entry was done, 'undo --last' must still
    restore the file that had been swapped (the command line recovers on opening)."""
    db, files, originals = _make_library(tmp_path)
    r = cli(db, *TAG_ARGS, kill_at="swapped:0")
    assert r.returncode == -signal.SIGKILL
    changed = [p for p in files if snapshot(p) != originals[p]]
    assert len(changed) == 1
    r = cli(db, "undo", "--last")
    assert r.returncode == 0 and "1 restored" in r.stdout, r.stdout + r.stderr
    assert "interrupted tag write had changed 1 files" in r.stdout
    r = cli(db, "undo", changed[0])
    assert r.returncode == 2        # nothing left to undo for it: it was restored already
    for p in files:
        assert snapshot(p) == originals[p]


def test_a_live_writers_pending_entry_is_left_alone(tmp_path):
    """Recovery only touches entries of dead processes: a pending entry of this (live) process
    stays pending."""
    db, files, originals = _make_library(tmp_path)
    with Library(db) as lib:
        batch = lib.begin_write_batch(model=MODEL)
        tid = lib.get_track_by_path(files[0]).id
        lib.add_journal_entry(batch, files[0], {"raw": None}, {"raw": None}, track_id=tid,
                              state="pending")
        assert not lib.recover_unfinished_writes()
        assert len(lib.pending_journal_entries()) == 1
        assert lib.last_write_batch() is None          # pending entries are not undoable yet


def test_a_version_1_library_opens_and_its_writes_stay_undoable(tmp_path, monkeypatch):
    db, files, originals = _make_library(tmp_path / "new")
    r = cli(db, *TAG_ARGS)
    assert r.returncode == 0, r.stderr
    # the same library as schema 1 held it: copy its rows into a version-1 database
    old = tmp_path / "old.sqlite3"
    monkeypatch.setattr(dbmod, "MIGRATIONS", dbmod.MIGRATIONS[:1])
    with Library(old) as lib:
        lib.connection.execute("ATTACH DATABASE ? AS cur", (str(db),))
        with lib.transaction():
            for table in ("tracks", "models", "analyses", "write_batches", "write_journal"):
                cols = [r[1] for r in lib.connection.execute(f"PRAGMA main.table_info({table})")]
                names = ", ".join(cols)
                lib.connection.execute(f"INSERT INTO main.{table} ({names}) SELECT {names} FROM cur.{table}")
        lib.connection.execute("DETACH DATABASE cur")
        assert lib.schema_version == 1
    monkeypatch.undo()
    with Library(old) as lib:
        assert lib.schema_version == dbmod.SCHEMA_VERSION
        assert lib.last_write_batch().n_entries == N_FILES
    assert list(tmp_path.glob("old.sqlite3.v1-*.bak"))
    undo_everything(old, files, originals)


@pytest.mark.slow
def test_many_kill_points_and_random_kills(tmp_path):
    db, files, originals = _make_library(tmp_path, 40)
    points = ["journal", "pending", "swapped", "done"]
    for index in (0, 1, 4, 9):
        for point in points:             # four killed runs, then everything undone
            kill_and_check(db, files, originals, point, index)
        undo_everything(db, files, originals)
    rng = random.Random(12)
    killed = 0
    for _ in range(16):                  # kills at random moments, of writes and of undos
        args = TAG_ARGS if rng.random() < 0.7 else ["undo", "--last"]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop(KILL_ENV, None)
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "--db", str(db), *args],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if args is TAG_ARGS:             # wait for the writing phase, then kill within it
            for line in proc.stderr:
                if b"writing tags" in line:
                    break
            time.sleep(rng.uniform(0.0, 0.1))
        else:
            time.sleep(rng.uniform(0.2, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.stderr.close()
        finished = proc.wait() != -signal.SIGKILL
        killed += not finished
        with Library(db) as lib:
            lib.recover_unfinished_writes()
        check_journal_knows_every_change(db, files, originals)
        if finished and args is TAG_ARGS:    # everything written: start again from the originals
            undo_everything(db, files, originals)
    assert killed >= 8, f"only {killed} of 16 runs were still running when killed"
    r = cli(db, *TAG_ARGS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert check_journal_knows_every_change(db, files, originals) == len(files)
    undo_everything(db, files, originals)
