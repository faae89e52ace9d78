"""The library commands through ``engine.cli.main``: scan, tag (dry run, write, failures), undo,
show, export, errors, and their exit codes."""
from __future__ import annotations

import csv
import io
import json
import os

import mutagen
import numpy as np
import pytest
import soundfile as sf

from tests._library_util import TINY_MODEL, ensure_tiny_bundle, tone, tree_digest, write_audio
from engine.cli import main
from engine.library import Library


@pytest.fixture(scope="module", autouse=True)
def _model():
    ensure_tiny_bundle()


@pytest.fixture
def env(tmp_path):
    """A music folder (FLAC, Ogg, MP3 with and without an existing genre) and a library path."""
    root = tmp_path / "music"
    files = {
        "flac": write_audio(root / "a" / "one.flac", seed=1),
        "ogg": write_audio(root / "a" / "two.ogg", seed=2),
        "wav": write_audio(root / "b" / "three.wav", seed=3),
    }
    mp3 = root / "b" / "four.mp3"
    with open(mp3, "wb") as fh:
        sf.write(fh, tone(1.5, 8000, 4), 8000, format="MP3")
    files["mp3"] = str(mp3)
    f = mutagen.File(files["flac"])
    f["GENRE"] = ["Polka"]
    f["TITLE"] = ["One"]
    f["ARTIST"] = ["The Testers"]
    f.save()
    return root, files, str(tmp_path / "lib.sqlite3")


def _run(capsys, db, *argv):
    code = main(["--db", db, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _diff_blocks(out: str) -> dict[str, list[str]]:
    """``{path: [field lines]}`` of the per-file diffs a dry run prints."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("/"):
            current = blocks.setdefault(line, [])
        elif line.startswith("  ") and current is not None:
            current.append(line.strip())
        else:
            current = None
    return blocks


def _scan(capsys, db, root, *extra):
    return _run(capsys, db, "scan", str(root), "--model", TINY_MODEL, "--workers", "0", *extra)


def test_scan_summary_progress_and_exit_codes(env, capsys, tmp_path):
    root, files, db = env
    code, out, err = _scan(capsys, db, root)
    assert code == 0
    assert "4 new, 0 changed, 0 unchanged, 0 moved, 0 gone, 0 failed" in out
    assert f"analysed 4 tracks with {TINY_MODEL}" in out
    assert "analysing: 4/4 (100%)" in err           # plain progress lines when not a terminal
    code, out, _ = _scan(capsys, db, root)
    assert code == 0 and "0 new, 0 changed, 4 unchanged" in out

    (root / "b" / "broken.wav").write_bytes(b"RIFF" + os.urandom(300))
    code, out, _ = _scan(capsys, db, root)
    assert code == 1
    assert "1 new" in out and "1 failed" in out and "broken.wav" in out

    lonely = tmp_path / "only-bad"
    lonely.mkdir()
    (lonely / "empty.flac").write_bytes(b"")
    code, out, _ = _scan(capsys, db, lonely)
    assert code == 2 and "the file is empty" in out

    code, _, err = _scan(capsys, db, tmp_path / "not-there")
    assert code == 2 and "not-there" in err and "Traceback" not in err
    code, _, err = _run(capsys, db, "scan", str(root), "--model", "no-such-model")
    assert code == 2 and "no-such-model" in err


def test_scan_with_worker_processes(env, capsys):
    root, files, db = env
    (root / "b" / "noise.mp3").write_bytes(os.urandom(5000))
    code, out, _ = _run(capsys, db, "scan", str(root), "--model", TINY_MODEL, "--workers", "2")
    assert code == 1 and "analysed 4 tracks" in out and "noise.mp3" in out


def test_tag_dry_run_write_and_undo(env, capsys):
    root, files, db = env
    _scan(capsys, db, root)
    digest = tree_digest(root)

    code, out, _ = _run(capsys, db, "tag", "--threshold", "genre=0", "--max", "genre=2")
    assert code == 0
    assert "dry run" in out and "nothing was written" in out
    assert "genre:" in out and "TAGATLAS_SCORES" in out
    assert "4 files would change" in out
    diffs = _diff_blocks(out)
    assert set(diffs) == {os.fsdecode(p) for p in files.values()}
    # the FLAC already has a genre: with "fill" it is left alone; the others get two
    assert not any(line.startswith("genre:") for line in diffs[files["flac"]])
    (genre,) = [line for line in diffs[files["ogg"]] if line.startswith("genre:")]
    assert genre.split("->")[0].split(":", 1)[1].strip() == "(none)"
    assert len(genre.split("->")[1].split(",")) == 2
    assert tree_digest(root) == digest               # a dry run writes nothing
    audio = {k: sf.read(p)[0] for k, p in files.items()}

    code, out, _ = _run(capsys, db, "tag", "--write", "--threshold", "genre=0", "--max", "genre=2",
                        "--threshold", "mood=0", "--max", "mood=1")
    assert code == 0 and "wrote tags to 4 files" in out and "undo --last" in out
    flac = mutagen.File(files["flac"])
    assert flac["GENRE"] == ["Polka"] and len(flac["MOOD"]) == 1
    assert json.loads(flac["TAGATLAS_SCORES"][0])["model"] == TINY_MODEL
    ogg = mutagen.File(files["ogg"])
    assert len(ogg["GENRE"]) == 2
    mp3 = mutagen.File(files["mp3"])
    assert mp3.tags.version[:2] == (2, 4) and len(mp3.tags.getall("TCON")[0].text) == 2
    for k, p in files.items():
        assert np.array_equal(sf.read(p)[0], audio[k]), k
    with Library(db) as lib:
        assert lib.get_track_by_path(files["ogg"]).status == "written"
        assert lib.last_write_batch().n_entries == 4
    # the scanner sees the written files as unchanged: nothing is read or analysed again
    code, out, _ = _scan(capsys, db, root)
    assert "0 changed, 4 unchanged" in out

    code, out, _ = _run(capsys, db, "show", files["ogg"])
    assert code == 0 and "status: written" in out and "tags written" in out

    code, out, _ = _run(capsys, db, "undo", "--last")
    assert code == 0 and "4 restored" in out
    assert mutagen.File(files["flac"])["GENRE"] == ["Polka"]
    assert "MOOD" not in mutagen.File(files["flac"]) and "GENRE" not in mutagen.File(files["ogg"])
    for k, p in files.items():                       # the audio itself never changed
        assert np.array_equal(sf.read(p)[0], audio[k]), k
    with Library(db) as lib:
        assert lib.get_track_by_path(files["ogg"]).status == "analysed"
        assert lib.last_write_batch() is None
    code, out, err = _run(capsys, db, "undo", "--last")
    assert code == 2 and "no tag write to undo" in err


def test_tag_options_policy_scores_id3_mtime(env, capsys):
    root, files, db = env
    _scan(capsys, db, root)
    st = os.stat(files["mp3"])
    code, out, _ = _run(capsys, db, "tag", "--write", "--policy", "merge", "--threshold", "genre=0",
                        "--max", "genre=1", "--no-scores", "--id3", "3", "--preserve-mtime", "four")
    assert code == 0 and "wrote tags to 1 files" in out
    mp3 = mutagen.File(files["mp3"])
    assert mp3.tags.version[:2] == (2, 3)
    assert not [f for f in mp3.tags.getall("TXXX") if f.desc == "TAGATLAS_SCORES"]
    assert os.stat(files["mp3"]).st_mtime_ns == st.st_mtime_ns
    code, out, _ = _run(capsys, db, "tag", "--write", "--policy", "merge", "--threshold", "genre=0",
                        "--max", "genre=1", "one")
    flac = mutagen.File(files["flac"])
    assert flac["GENRE"][0] == "Polka" and len(flac["GENRE"]) == 2    # merge keeps the user's first

    code, _, err = _run(capsys, db, "tag", "--threshold", "tempo=0.3")
    assert code == 2 and "tagatlas: --threshold needs CATEGORY=VALUE" in err
    code, _, err = _run(capsys, db, "tag", "--max", "genre=many")
    assert code == 2 and "not a number" in err
    code, _, err = _run(capsys, db, "tag", "--threshold", "genre=1.5")      # the policy's words
    assert code == 2 and "tagatlas: threshold must be between 0 and 1, not 1.5" in err
    code, out, _ = _run(capsys, db, "tag", "nothing-matches-this")
    assert code == 0 and "no track analysed" in out


def test_tag_failures_are_reported_and_the_rest_is_written(env, capsys):
    root, files, db = env
    _scan(capsys, db, root)
    os.chmod(files["ogg"], 0o444)                    # read-only
    os.remove(files["wav"])                          # deleted since the scan
    malformed = mutagen.File(files["flac"])          # tags damaged since the scan
    with open(files["flac"], "r+b") as fh:
        data = bytearray(fh.read())
        i = data.find(b"The Testers")
        data[i - 40:i + 20] = os.urandom(60)
        fh.seek(0)
        fh.write(data)
    del malformed
    mp3_before = open(files["mp3"], "rb").read()
    code, out, _ = _run(capsys, db, "tag", "--write", "--threshold", "genre=0")
    assert code == 1
    assert "wrote tags to 1 files" in out
    assert "the file is read-only" in out
    assert "three.wav" in out and ("no longer exists" in out or "does not exist" in out)
    assert "one.flac" in out
    assert open(files["mp3"], "rb").read() != mp3_before
    code, out, _ = _run(capsys, db, "errors")
    assert code == 0 and "tags could not be written" in out and "read-only" in out
    code, out, _ = _run(capsys, db, "errors", "--json")
    kinds = {(os.path.basename(e["path"]), e["stage"]) for e in json.loads(out)}
    assert ("two.ogg", "write") in kinds and ("one.flac", "write") in kinds

    os.chmod(files["ogg"], 0o644)
    code, out, _ = _run(capsys, db, "undo", files["mp3"])
    assert code == 0 and "1 restored" in out
    assert mutagen.File(files["mp3"]).tags is None or not mutagen.File(files["mp3"]).tags.getall("TCON")
    code, out, _ = _run(capsys, db, "undo", files["ogg"])
    assert code == 2 and "no write of this file" in out
    code, out, _ = _run(capsys, db, "undo")
    assert code == 2 and "either --last or" in out


def test_show_export_errors(env, capsys, tmp_path):
    root, files, db = env
    (root / "bad.ogg").write_text("no music here\n" * 50)
    _scan(capsys, db, root)
    code, out, _ = _run(capsys, db, "show", files["flac"])
    assert code == 0
    assert "title: One" in out and "artist: The Testers" in out and "genre: Polka" in out
    assert f"predicted by {TINY_MODEL}" in out
    for cat in ("genre:", "mood:", "instrument:", "era:"):
        assert cat in out
    code, out, _ = _run(capsys, db, "show", "--json", files["flac"])
    (d,) = json.loads(out)
    assert len(d["analyses"][0]["scores"]) == 50 and d["metadata"]["genre"] == ["Polka"]
    code, out, _ = _run(capsys, db, "show", str(root / "bad.ogg"))
    assert code == 0 and "error (decode" in out and "text file" in out
    code, out, _ = _run(capsys, db, "show", str(tmp_path / "unknown.mp3"))
    assert code == 2 and "not in the library" in out

    csv_path = tmp_path / "out" / "scores.csv"
    csv_path.parent.mkdir()
    code, out, _ = _run(capsys, db, "export", "--csv", str(csv_path))
    assert code == 0 and "4 tracks" in out
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert rows[0][:6] == ["path", "title", "artist", "album", "duration_s", "model"]
    assert len(rows[0]) == 56 and len(rows) == 5
    assert {r[0] for r in rows[1:]} == {os.fsdecode(p) for p in files.values()}
    assert all(0.0 <= float(x) <= 1.0 for r in rows[1:] for x in r[6:])
    json_path = tmp_path / "out" / "scores.json"
    code, _, _ = _run(capsys, db, "export", "--json", str(json_path), "artist:testers")
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    assert doc["model"] == TINY_MODEL and len(doc["tags"]) == 50
    assert [t["title"] for t in doc["tracks"]] == ["One"] and len(doc["tracks"][0]["scores"]) == 50
    code, _, err = _run(capsys, db, "export", "--csv", str(tmp_path / "no" / "dir" / "x.csv"))
    assert code == 2

    code, out, _ = _run(capsys, db, "errors")
    assert "could not be decoded" in out and "bad.ogg" in out and "text file" in out
    code, out, _ = _run(capsys, db, "errors", "--stage", "write")
    assert "no errors recorded" in out


def test_commands_on_an_empty_library(capsys, tmp_path):
    db = str(tmp_path / "lib.sqlite3")
    code, _, err = _run(capsys, db, "tag")
    assert code == 2 and "run 'tagatlas scan' first" in err
    code, out, _ = _run(capsys, db, "errors")
    assert code == 0 and "no errors recorded" in out
    code, _, err = _run(capsys, db, "export", "--json", "-")
    assert code == 2 and "analysed" in err


def test_progress_bar_on_a_terminal_and_plain_lines_otherwise():
    from engine.cli.scan import PhaseProgress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    p = PhaseProgress(tty)
    p("walk", 10, 0, "/m")
    for i in range(1, 51):
        p("analyse", i, 50, f"/m/{i}.mp3")
    p.finish()
    out = tty.getvalue()
    assert "\rfinding files: 10 found" in out
    assert "\ranalysing [########################] 50/50" in out
    assert "tracks/s" in out and "ETA" in out and out.endswith("\n")

    plain = io.StringIO()
    p = PhaseProgress(plain)
    for i in range(1, 101):
        p("read", i, 100, "")
    lines = plain.getvalue().splitlines()
    assert "\r" not in plain.getvalue()
    assert lines[0] == "reading tags: 100 files" and lines[-1].startswith("reading tags: 100/100 (100%)")
    assert 10 <= len(lines) <= 12                     # about every 10 %
