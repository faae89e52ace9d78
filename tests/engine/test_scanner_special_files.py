"""Entries named like audio that are not files are listed with a reason, never silently dropped;
exit codes follow the README's table."""
from __future__ import annotations

import os

from tests._library_util import TINY_MODEL, ensure_tiny_bundle, write_audio
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


def test_cut_short_wav_and_aiff_are_reported_with_their_real_duration(tmp_path, capsys):
    import struct

    import numpy as np
    import soundfile as sf

    from engine.library import Library

    ensure_tiny_bundle()
    root = tmp_path / "music"
    root.mkdir()
    y = (np.random.default_rng(0).normal(size=8000 * 20) * 0.1).astype(np.float32)
    for ext, fmt in (("wav", "WAV"), ("aiff", "AIFF")):
        sf.write(root / f"full.{ext}", y, 8000, subtype="PCM_16", format=fmt)
        data = (root / f"full.{ext}").read_bytes()
        (root / f"cut.{ext}").write_bytes(data[: len(data) // 10])      # cut to 10 %
    wav = bytearray((root / "full.wav").read_bytes())
    i = wav.find(b"data")
    wav[i + 4:i + 8] = struct.pack("<I", 10 * 3600 * 8000 * 2)          # "10 hours"
    (root / "ten_hours.wav").write_bytes(bytes(wav))
    (root / "song.mp3").mkdir()                                          # a folder, not a file
    db = tmp_path / "lib.sqlite3"
    code = main(["--db", str(db), "scan", "--model", TINY_MODEL, "--workers", "0", "--no-rhythm", str(root)])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("cut.wav", "cut.aiff", "ten_hours.wav"):
        assert f"note: {root / name}: the file is cut short" in out
    assert "full.wav: the file is cut short" not in out
    assert f"skipped {root / 'song.mp3'}: a folder named like an audio file" in out
    with Library(db) as lib:
        by_name = {os.path.basename(t.path): t for t in lib.query_tracks()}
        assert abs(by_name["cut.wav"].duration_s - 2.0) < 0.2
        assert abs(by_name["cut.aiff"].duration_s - 2.0) < 0.2
        assert abs(by_name["ten_hours.wav"].duration_s - 20.0) < 0.2
        assert abs(by_name["full.wav"].duration_s - 20.0) < 0.1
        assert any("cut short" in w for w in lib.get_analysis(by_name["cut.wav"].id).warnings)


def test_a_file_growing_during_the_scan_does_not_make_it_fail(tmp_path, capsys):
    """Issue 12: a file still being written while the library is rescanned is analysed or
    listed; the exit code follows the README's table (0 or 1, never 2 when tracks were done)."""
    import threading
    import time

    ensure_tiny_bundle()
    root = tmp_path / "music"
    root.mkdir()
    for i in range(4):
        write_audio(root / f"ok{i}.wav", seed=i)
    db = str(tmp_path / "lib.sqlite3")
    args = ["--db", db, "scan", "--model", TINY_MODEL, "--workers", "0", "--no-rhythm", str(root)]
    assert main(args) == 0
    growing = root / "ok2.wav"
    stop = threading.Event()

    def grow() -> None:
        while not stop.is_set():
            with open(growing, "ab") as fh:
                fh.write(os.urandom(20000))
            time.sleep(0.005)

    size_before = growing.stat().st_size
    writer = threading.Thread(target=grow)
    writer.start()
    try:
        while growing.stat().st_size == size_before:   # it has grown before the rescan starts
            time.sleep(0.001)
        code = main(args)
    finally:
        stop.set()
        writer.join()
    out = capsys.readouterr().out
    assert code in (0, 1), out
    assert "1 changed" in out
