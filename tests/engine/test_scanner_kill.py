"""A scan killed with SIGKILL (while reading tags, then while analysing) leaves a consistent
database, and the next scan finishes the work without duplicates."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests._library_util import TINY_MODEL, ensure_tiny_bundle, make_tree
from engine.library import Library
from engine.library.scanner import scan

REPO = Path(__file__).resolve().parents[2]

# The child scans with small commit batches and reports each step on stdout; a short sleep in
# its progress callback makes "midway" a reliable moment to kill it. (The tagger, and torch with
# it, is only loaded once there is something to analyse.)
CHILD = textwrap.dedent("""
    import sys, time
    from engine.library import Library
    from engine.library.scanner import scan

    db, root, model = sys.argv[1:4]

    def progress(phase, done, total, path):
        if phase in ("read", "analyse"):
            print(phase, done, flush=True)
            time.sleep(0.02)

    with Library(db) as lib:
        scan(lib, [root], model=model, device="cpu", workers=0, progress=progress,
             commit_every=5, commit_seconds=0.2)
    print("finished", flush=True)
""")


def _run_and_kill(db: Path, root: Path, phase: str, after: int) -> int:
    """Start a scan in a child process, SIGKILL it once ``after`` steps of ``phase`` happened;
    returns how many steps of that phase it reported."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(root), TINY_MODEL],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    seen = 0
    deadline = time.monotonic() + 120
    try:
        for line in proc.stdout:
            words = line.split()
            if words and words[0] == "finished":
                pytest.fail("the child scan finished before it could be killed")
            if words and words[0] == phase:
                seen = int(words[1])
                if seen >= after:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            if time.monotonic() > deadline:
                pytest.fail("the child scan made no progress")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return seen


def _check_consistent(lib: Library) -> None:
    assert lib.integrity_check() == ["ok"]
    c = lib.connection
    assert c.execute("SELECT count(*) - count(DISTINCT path) FROM tracks").fetchone()[0] == 0
    assert c.execute("SELECT count(*) FROM (SELECT track_id, model FROM analyses"
                     " GROUP BY track_id, model HAVING count(*) > 1)").fetchone()[0] == 0
    # every analysis belongs to a track whose row is complete
    assert c.execute("SELECT count(*) FROM analyses a JOIN tracks t ON t.id = a.track_id"
                     " WHERE t.fingerprint IS NULL OR t.size IS NULL").fetchone()[0] == 0


def test_killed_scans_resume_consistently(tmp_path):
    ensure_tiny_bundle()
    root = tmp_path / "music"
    make_tree(root, 60, seconds=1.0)
    db = tmp_path / "lib.sqlite3"

    seen = _run_and_kill(db, root, "read", 25)
    assert seen >= 25
    with Library(db) as lib:
        _check_consistent(lib)
        n_read = lib.count_tracks()
        assert 0 < n_read < 60                   # some batches committed, not all
        assert lib.query_tracks(analysed_with=TINY_MODEL) == []

    seen = _run_and_kill(db, root, "analyse", 20)
    with Library(db) as lib:
        _check_consistent(lib)
        assert lib.count_tracks() == 60          # the second run read the rest
        n_analysed = len(lib.query_tracks(analysed_with=TINY_MODEL))
        assert 0 < n_analysed < 60

    from engine.tagger import Tagger

    with Library(db) as lib, Tagger(TINY_MODEL, device="cpu", workers=0) as tagger:
        s = scan(lib, [root], tagger=tagger)
        assert (s.new, s.changed, s.unchanged, s.failed) == (0, 0, 60, 0)
        assert s.analysed == 60 - n_analysed     # only what was missing
        _check_consistent(lib)
        assert lib.status_counts() == {"analysed": 60}
        assert len(lib.query_tracks(analysed_with=TINY_MODEL)) == 60
