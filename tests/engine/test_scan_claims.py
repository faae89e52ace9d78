"""Two scans at once do not analyse the same tracks twice (issue 12, item 7): the analysing scan
claims its tracks in the database, a second scan leaves claimed tracks to it, and the claims of
a scan that died are taken over."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests._library_util import TINY_MODEL, ensure_tiny_bundle, make_tree
from engine.library import Library
from engine.library import ProcessOwner
from engine.library.scanner import scan

REPO = Path(__file__).resolve().parents[2]

# A scan that reports each analysed track and takes its time over it, so that a second scan
# starts while it is still analysing.
SLOW_SCAN = textwrap.dedent("""
    import sys, time
    from engine.library import Library
    from engine.library.scanner import scan

    db, root, model = sys.argv[1:4]

    def progress(phase, done, total, path):
        if phase == "analyse":
            print("analyse", done, flush=True)
            time.sleep(0.1)

    with Library(db) as lib:
        s = scan(lib, [root], model=model, device="cpu", workers=0, progress=progress,
                 commit_every=2, commit_seconds=0.1)
    print("finished", s.analysed, s.in_progress_elsewhere, flush=True)
""")


def _start(db: Path, root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SLOW_SCAN, str(db), str(root), TINY_MODEL],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _claims(db: Path) -> list[tuple[int, str]]:
    with Library(db) as lib:
        return lib.connection.execute("SELECT track_id, owner FROM scan_claims").fetchall()


def test_a_second_scan_leaves_the_tracks_of_a_running_one_to_it(tmp_path):
    ensure_tiny_bundle()
    root = tmp_path / "music"
    make_tree(root, 30, seconds=1.0)
    db = tmp_path / "lib.sqlite3"
    with Library(db) as lib:
        scan(lib, [root], analyse=False)               # both scans then only analyse

    first = _start(db, root)
    try:
        for line in first.stdout:                     # the first scan is analysing
            if line.startswith("analyse"):
                break
        assert len(_claims(db)) == 30
        with Library(db) as lib:
            second = scan(lib, [root], model=TINY_MODEL, device="cpu", workers=0)
        assert second.analysed == 0
        assert second.in_progress_elsewhere == 30
        rest = first.stdout.read()
        assert first.wait(timeout=120) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
        first.stderr.close()
    words = rest.split("finished", 1)[1].split()
    assert (int(words[0]), int(words[1])) == (30, 0)  # the first analysed all, once
    assert _claims(db) == []                         # and released its claims
    with Library(db) as lib:
        assert len(lib.query_tracks(analysed_with=TINY_MODEL)) == 30


def test_the_claims_of_a_killed_scan_are_taken_over(tmp_path):
    ensure_tiny_bundle()
    root = tmp_path / "music"
    make_tree(root, 20, seconds=1.0)
    db = tmp_path / "lib.sqlite3"
    first = _start(db, root)
    try:
        for line in first.stdout:
            if line.startswith("analyse"):
                break
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
        first.stderr.close()
    assert _claims(db)                               # the dead scan's claims are still there
    with Library(db) as lib:
        s = scan(lib, [root], model=TINY_MODEL, device="cpu", workers=0)
        assert s.in_progress_elsewhere == 0
        assert len(lib.query_tracks(analysed_with=TINY_MODEL)) == 20
    assert _claims(db) == []


@pytest.mark.parametrize("owner, taken", [
    # the parent process (alive) on this host: its claim holds
    (lambda: ProcessOwner(socket.gethostname(), os.getppid(), ""), False),
    # a process that no longer exists: its claim ends
    (lambda: ProcessOwner(socket.gethostname(), 2 ** 22 + 12345, "x:1"), True),
    # this host, a recycled pid (same pid, another start time): not the claimant
    (lambda: ProcessOwner(socket.gethostname(), os.getpid(), "another-boot:1"), True),
    # another host, claimed just now: cannot be checked, so it holds for a while
    (lambda: ProcessOwner("some-other-host.invalid", 4242, ""), False),
])
def test_claim_tracks_respects_live_claims_only(tmp_path, owner, taken):
    root = tmp_path / "music"
    make_tree(root, 3, seconds=0.3)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scan(lib, [root], analyse=False)
        ids = [t.id for t in lib.query_tracks()]
        lib.connection.execute("INSERT INTO scan_claims (track_id, owner, at) VALUES (?,?,?)",
                               (ids[0], owner().to_json(), time.time()))
        got = lib.claim_tracks(ids)
        assert got == (set(ids) if taken else set(ids[1:]))
        lib.release_claims(got)
        left = lib.connection.execute("SELECT track_id, owner FROM scan_claims").fetchall()
        assert left == ([] if taken else [(ids[0], owner().to_json())])


def test_a_foreign_claim_expires(tmp_path):
    root = tmp_path / "music"
    make_tree(root, 2, seconds=0.3)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scan(lib, [root], analyse=False)
        ids = [t.id for t in lib.query_tracks()]
        old = time.time() - Library.FOREIGN_CLAIM_TTL_S - 1
        lib.connection.execute("INSERT INTO scan_claims (track_id, owner, at) VALUES (?,?,?)",
                               (ids[0], json.dumps({"host": "elsewhere", "pid": 1}), old))
        assert lib.claim_tracks(ids) == set(ids)
