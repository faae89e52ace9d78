"""Entries named like audio that are not files are listed with a reason, never silently dropped;
exit codes follow the README's table."""
from __future__ import annotations

import os

from _library_util import TINY_MODEL, ensure_tiny_bundle, write_audio
from engine.cli import main
from engine.library.scanner import walk_audio_files


def _odd_tree(root):
    root.mkdir()
    write_audio(root / "real.wav")
    os.mkfifo(root / "pipe.mp3")
    os.symlink("/dev/zero", root / "zero.wav")
    os.symlink("/dev/urandom", root / "noise.flac")
    os.symlink(root / "missing.ogg", root / "dangling.ogg")
    (root / "sub").mkdir()
    os.symlink(root, root / "sub" / "loop")
    return root


def test_walk_lists_what_it_leaves_out(tmp_path):
    root = _odd_tree(tmp_path / "music")
    walk = walk_audio_files([root])
    assert [os.path.basename(f.path) for f in walk.files] == ["real.wav"]
    why = {os.path.basename(p): reason for p, reason in walk.not_files}
    assert "named pipe" in why["pipe.mp3"]
    assert "device" in why["zero.wav"] and "device" in why["noise.flac"]
    assert "does not exist" in why["dangling.ogg"]
    assert "loop" in why["loop"]


def test_scan_prints_each_skipped_entry_and_exits_0(tmp_path, capsys):
    ensure_tiny_bundle()
    root = _odd_tree(tmp_path / "music")
    code = main(["--db", str(tmp_path / "lib.sqlite3"), "scan", "--model", TINY_MODEL, "--workers", "0", str(root)])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("pipe.mp3", "zero.wav", "noise.flac", "dangling.ogg"):
        assert f"skipped {root / name}" in out


def test_one_failure_among_good_files_exits_1(tmp_path, capsys):
    ensure_tiny_bundle()
    root = tmp_path / "music"
    root.mkdir()
    for i in range(3):
        write_audio(root / f"ok{i}.wav", seed=i)
    db = str(tmp_path / "lib.sqlite3")
    assert main(["--db", db, "scan", "--model", TINY_MODEL, "--workers", "0", str(root)]) == 0
    (root / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    assert main(["--db", db, "scan", "--model", TINY_MODEL, "--workers", "0", str(root)]) == 1
