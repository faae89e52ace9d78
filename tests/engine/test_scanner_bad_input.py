"""Bad input: every kind of broken file ends as a clear error of that file alone; the scan
finishes, the good files are analysed, no file is modified and the database stays consistent."""
from __future__ import annotations

import io
import os
import shutil
import stat

import numpy as np
import pytest
import soundfile as sf

from tests._library_util import (TINY_MODEL, tone, tree_digest, unprivileged,
                           world_tmpdir, write_audio, write_long_flac)
from engine.library import Library
from engine.library.scanner import scan


def _encoded(fmt: str, seconds: float = 10.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, 8000, 1), 8000, format=fmt)
    return buf.getvalue()


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 127, (n >> 14) & 127, (n >> 7) & 127, n & 127])


def _consistent(lib: Library, root) -> None:
    assert lib.integrity_check() == ["ok"]
    c = lib.connection
    assert c.execute("SELECT count(*) - count(DISTINCT path) FROM tracks").fetchone()[0] == 0
    assert c.execute("SELECT count(*) FROM analyses a LEFT JOIN tracks t ON t.id = a.track_id"
                     " WHERE t.id IS NULL").fetchone()[0] == 0
    on_disk = {os.fsencode(os.path.join(d, f)) for d, _, fs in os.walk(os.fsencode(root)) for f in fs}
    for r in lib.query_tracks(under=root):
        assert os.fsencode(r.path) in on_disk


def test_each_bad_file_is_its_own_clear_error(tmp_path, tagger):
    root = tmp_path / "music"
    good = [write_audio(root / "good" / f"ok{i}.wav", seed=i) for i in range(2)]
    bad = root / "bad"
    bad.mkdir()
    (bad / "zero.wav").write_bytes(b"")
    flac = _encoded("FLAC")
    (bad / "truncated.flac").write_bytes(flac[: len(flac) * 3 // 10])
    mp3 = _encoded("MP3")
    (bad / "truncated.mp3").write_bytes(mp3[: len(mp3) * 3 // 10])
    (bad / "random.mp3").write_bytes(np.random.default_rng(0).bytes(20_000))
    (bad / "text.ogg").write_text("this is not music\n" * 100)
    # an ID3 tag of a version nobody writes, in front of good MP3 audio
    (bad / "bad-tag.mp3").write_bytes(b"ID3\x05\x00\x00" + _syncsafe(30) + b"\x00" * 30 + mp3)
    odd = {
        "latin1": write_audio(os.fsdecode(os.fsencode(str(root)) + b"/odd/caf\xe9 \xff.wav"), seed=7),
        "long": write_audio(str(root / "odd" / ("l" * 251 + ".wav")), seed=8),   # a 255-byte name
    }
    assert len(os.path.basename(odd["long"]).encode()) == 255
    os.symlink(root, root / "odd" / "loop")
    digest = tree_digest(root)

    with Library(tmp_path / "lib.sqlite3") as lib:
        s = scan(lib, [root], tagger=tagger)
        assert s.loops >= 1
        assert (s.new, s.analysed) == (10, 5)
        failures = {}
        for f in s.failures:
            failures.setdefault(os.path.basename(f.path), []).append((f.stage, f.kind, f.reason))
        assert set(failures) == {"zero.wav", "truncated.flac", "truncated.mp3", "random.mp3",
                                 "text.ogg", "bad-tag.mp3"}
        assert s.failed == 6
        assert failures["zero.wav"] == [("scan", "EmptyFileError", "the file is empty (0 bytes)")]
        assert ("decode", "CorruptAudioError") in [f[:2] for f in failures["truncated.flac"]]
        assert any("truncated" in r or "damaged" in r for _, _, r in failures["truncated.mp3"])
        assert ("decode", "UnsupportedFormatError") in [f[:2] for f in failures["random.mp3"]]
        assert any("text file" in r for _, _, r in failures["text.ogg"])
        # damaged tags: reported, but the audio is fine and is analysed
        assert [f[:2] for f in failures["bad-tag.mp3"]] == [("scan", "TagReadError")]
        assert "ID3" in failures["bad-tag.mp3"][0][2]
        t = lib.get_track_by_path(bad / "bad-tag.mp3")
        assert t.status == "analysed" and lib.get_analysis(t.id, TINY_MODEL) is not None
        for reason in (r for fs in failures.values() for _, _, r in fs):
            assert reason and "Traceback" not in reason and len(reason) < 400
        # the good files and the odd names are analysed, and their paths round-trip
        for p in good + list(odd.values()):
            t = lib.get_track_by_path(p)
            assert t is not None and t.status == "analysed", p
            assert os.fsencode(t.path) == os.fsencode(p) and os.path.exists(t.path)
        # errors are stored per file, in words
        stored = {(os.path.basename(e.path), e.stage) for e in lib.errors()}
        assert ("zero.wav", "scan") in stored and ("random.mp3", "decode") in stored
        _consistent(lib, root)
        # a rescan changes nothing and does not retry what failed
        s2 = scan(lib, [root], tagger=tagger)
        assert (s2.unchanged, s2.changed, s2.analysed, s2.failed) == (10, 0, 0, 0)
    assert tree_digest(root) == digest          # no file was modified


def test_two_hour_file(tmp_path, tagger):
    root = tmp_path / "music"
    root.mkdir()
    p = write_long_flac(root / "two-hours.flac", hours=2.0)
    assert os.path.getsize(p) < 2_000_000
    with Library(tmp_path / "lib.sqlite3") as lib:
        s = scan(lib, [root], tagger=tagger)
        assert (s.analysed, s.failed) == (1, 0)
        t = lib.get_track_by_path(p)
        assert abs(t.duration_s - 7200) < 1
        assert lib.get_analysis(t.id, TINY_MODEL).duration_s == pytest.approx(7200, abs=1)


def test_unreadable_file_and_folder(tagger):
    """Permission denied on a file and on a folder. As root, permissions are enforced by
    switching the effective user to nobody around the scan."""
    work = world_tmpdir()
    try:
        root = work / "music"
        warm = work / "warm"
        for d in (root, warm, root / "locked"):
            d.mkdir()
            d.chmod(0o755)
        for p in (write_audio(root / "fine.wav", seed=1), write_audio(root / "secret.wav", seed=2),
                  write_audio(root / "locked" / "inside.wav", seed=3), write_audio(warm / "w.wav")):
            os.chmod(p, 0o644)
        with Library(work / "lib.sqlite3") as lib:
            for f in work.glob("lib.sqlite3*"):
                f.chmod(0o666)
            scan(lib, [warm], tagger=tagger)      # imports everything a scan needs, as root
            scan(lib, [root], tagger=tagger)
            inside = lib.get_track_by_path(root / "locked" / "inside.wav")
            assert inside.status == "analysed"
            # now take the permissions away (a changed file, so that it is read again)
            os.chmod(root / "secret.wav", 0)
            st = os.stat(root / "secret.wav")
            os.utime(root / "secret.wav", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
            os.chmod(root / "locked", 0)
            with unprivileged():
                s = scan(lib, [root], tagger=tagger)
            assert s.failed == 1
            (f,) = s.failures
            assert (os.path.basename(f.path), f.stage, f.kind) == ("secret.wav", "scan", "UnreadableFileError")
            assert "permission denied" in f.reason
            assert [os.path.basename(d) for d, _ in s.unlisted] == ["locked"]
            # the folder that could not be listed keeps its tracks (not marked gone)
            assert s.gone == 0 and lib.get_track(inside.id).status == "analysed"
            assert lib.get_track_by_path(root / "secret.wav").status == "error"
            kinds = {(os.path.basename(e.path), e.kind) for e in lib.errors()}
            assert kinds == {("secret.wav", "UnreadableFileError"), ("locked", "UnreadableFolder")}
            # permission given back: the next scan reads it again, the errors go away
            os.chmod(root / "secret.wav", 0o644)
            os.chmod(root / "locked", 0o755)
            s = scan(lib, [root], tagger=tagger)
            assert (s.changed, s.failed, s.analysed) == (1, 0, 1)
            assert lib.errors() == []
            assert lib.integrity_check() == ["ok"]
    finally:
        for dirpath, dirs, _files in os.walk(work):
            for d in dirs:
                os.chmod(os.path.join(dirpath, d), stat.S_IRWXU)
        shutil.rmtree(work)
