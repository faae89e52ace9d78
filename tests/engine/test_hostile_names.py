"""Hostile file names and tags in exports (issue 12, item 5): an M3U8 playlist holds exactly
the tracks it should (a line break in a name cannot forge entries or split one; ``#names``
are not comments), and CSV cells cannot run as spreadsheet formulas.

The hostile files are created on disk (Linux allows line breaks in names) and the written
playlists are read back the way players read them: one entry per non-``#`` line."""
from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engine.cli import main
from engine.library import Library
from engine.safe_export import (
    csv_cell,
    csv_row,
    escaped_cells_note,
    m3u_path,
    m3u_path_problem,
    m3u_title,
    visible,
)
from engine.similarity import (
    PlaylistEntry,
    format_m3u8,
    left_out_lines,
    render_m3u8,
    write_m3u8,
)
from engine.similarity.synthetic import clustered_embeddings, random_tag_scores
from engine.vocab import msd50_tag_infos

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs line breaks in file names")

INJECTION = "x\n#EXTINF:-1,INJECTED\nINJECTED_ENTRY.mp3"
SPLIT = "new\nline.mp3"
CR = "carriage\rreturn.mp3"
HASH = "#hash.mp3"
HASH_DIR = "#dir"           # a folder starting with '#'
LEADING_SPACE = " space.mp3"
PLAIN = ["a.mp3", "b.flac", "c ünï.ogg", "=formula.mp3"]
BROKEN = [INJECTION, SPLIT, CR]


def read_m3u(playlist: Path) -> tuple[list[str], list[str]]:
    """(entries, #EXTINF titles) as a typical player reads them: universal newlines, stripped
    lines, ``#`` lines are directives, anything else is a path relative to the playlist."""
    text = playlist.read_bytes().decode("utf-8", "surrogateescape")
    entries, titles = [], []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#EXTINF:"):
            titles.append(line.split(",", 1)[1])
        elif not line.startswith("#"):
            entries.append(os.path.normpath(os.path.join(playlist.parent, line)))
    return entries, titles


@pytest.fixture()
def hostile_music(tmp_path):
    music = tmp_path / "Music"
    (music / "Album").mkdir(parents=True)
    (music / HASH_DIR).mkdir()
    names = [*PLAIN[:2], INJECTION, HASH, SPLIT, LEADING_SPACE, CR, PLAIN[2], PLAIN[3]]
    files = [music / "Album" / n for n in names] + [music / HASH_DIR / "in hash dir.mp3"]
    for f in files:
        f.write_bytes(b"not really audio")
    assert all(f.exists() for f in files) and len(os.listdir(music / "Album")) == len(names)
    return music, files


def _expected(files):
    return [str(f) for f in files if m3u_path_problem(str(f)) is None]


# --- the pure encoding ---------------------------------------------------------------------------
def test_m3u_encoding_rules():
    assert m3u_path_problem("/m/a.mp3") is None
    for bad in (INJECTION, SPLIT, CR, "a\r\nb", "a\u2028b", "a\x85b", "a\x0bb", ""):
        assert m3u_path_problem(bad), repr(bad)
    assert m3u_path_problem(INJECTION) == "name contains a line break"
    assert m3u_path("#a.mp3") == os.curdir + os.sep + "#a.mp3"
    assert m3u_path(" a.mp3") == os.curdir + os.sep + " a.mp3"
    assert m3u_path("/m/#a.mp3") == "/m/#a.mp3" and m3u_path("x/#a") == "x/#a"
    with pytest.raises(ValueError):
        m3u_path(SPLIT)
    assert m3u_title("A\nB\r\nC\rD\u2028E\x00F\x1bG") == "A B C D E F G"
    assert m3u_title("tab\there, comma, ok") == "tab\there, comma, ok"
    assert visible(INJECTION) == r"x\n#EXTINF:-1,INJECTED\nINJECTED_ENTRY.mp3"


def test_csv_encoding_rules():
    for hostile in ("=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                    "\t=1", "\r=1"):
        cell, changed = csv_cell(hostile)
        assert changed and cell == "'" + hostile
    for fine in ("Song", "a=b", " =x", "", "1.5", "'quoted", "Björk"):
        assert csv_cell(fine) == (fine, False)
    assert csv_cell(None) == ("", False)
    assert csv_row(["=1", "ok", "@x", None]) == (["'=1", "ok", "'@x", ""], 2)
    assert escaped_cells_note(0) == ""
    assert "3 cells" in escaped_cells_note(3) and "formula" in escaped_cells_note(3)
    assert "1 cell starts" in escaped_cells_note(1)


# --- M3U8 writer -------------------------------------------------------------------------------
@pytest.mark.parametrize("paths", ["relative", "absolute", "auto"])
def test_m3u8_holds_exactly_the_representable_tracks(hostile_music, paths):
    music, files = hostile_music
    out = music / "Playlists" / "mix.m3u8"
    entries = [PlaylistEntry(f, 61.0, None, None) for f in files]
    result = write_m3u8(out, entries, paths=paths)
    got, titles = read_m3u(out)
    assert got == _expected(files)                      # same tracks, same order, nothing forged
    assert all(os.path.exists(p) for p in got)
    assert not any("INJECTED" in p for p in got)
    assert result.written == len(got) == len(files) - 3 == len(titles)
    assert sorted(p for p, _ in result.left_out) == sorted(str(music / "Album" / n) for n in BROKEN)
    assert {why for _, why in result.left_out} == {"name contains a line break"}
    lines = left_out_lines(result.left_out)
    assert len(lines) == 3 and all(ln.startswith("left out: ") and "\n" not in ln for ln in lines)
    assert any(r"x\n#EXTINF:-1,INJECTED\nINJECTED_ENTRY.mp3" in ln for ln in lines)
    text = out.read_text(encoding="utf-8")
    assert text.count("#EXTINF:") == result.written and "INJECTED" not in text


def test_m3u8_titles_stay_on_one_line(tmp_path):
    track = tmp_path / "t.mp3"
    track.write_bytes(b"x")
    title = "Song\n#EXTINF:-1,INJECTED\nINJECTED_ENTRY.mp3"
    out = tmp_path / "p.m3u8"
    write_m3u8(out, [PlaylistEntry(track, 10.0, "Art\rist", title)])
    got, titles = read_m3u(out)
    assert got == [str(track)]
    assert titles == ["Art ist - Song #EXTINF:-1,INJECTED INJECTED_ENTRY.mp3"]
    assert out.read_text(encoding="utf-8").splitlines()[0] == "#EXTM3U"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_m3u8_title_from_a_hostile_file_name(tmp_path):
    """Without a title tag the file's stem is the title; a hash name is an entry, not a comment."""
    track = tmp_path / HASH
    track.write_bytes(b"x")
    text = format_m3u8([PlaylistEntry(track)], tmp_path / "p.m3u8", paths="relative")
    assert text.splitlines() == ["#EXTM3U", "#EXTINF:-1,#hash", os.curdir + os.sep + HASH]
    assert render_m3u8([PlaylistEntry(tmp_path / SPLIT)], tmp_path / "p.m3u8").written == 0


def test_m3u8_non_utf8_name_is_kept_as_its_bytes(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9 #1.mp3"
    with open(raw, "wb") as fh:
        fh.write(b"x")
    out = tmp_path / "p.m3u8"
    result = write_m3u8(out, [PlaylistEntry(os.fsdecode(raw))], paths="absolute")
    assert result.written == 1 and not result.left_out
    assert out.read_bytes().splitlines()[2] == raw


# --- the CLI -----------------------------------------------------------------------------------
MODEL = "musicnn-msd"


def _library(tmp_path, files, titles=None):
    n = len(files)
    x, labels = clustered_embeddings(n, dim=16, n_clusters=1, spread=0.3, seed=1)
    scores = random_tag_scores(labels, 50, seed=1)
    db = tmp_path / "lib.sqlite3"
    info = SimpleNamespace(name=MODEL, tags=msd50_tag_infos(), thresholds=None, embedding_dim=16,
                           to_json=lambda: {"name": MODEL})
    with Library(db) as lib:
        lib.register_model(info)
        with lib.transaction():
            for i, f in enumerate(files):
                title = titles[i] if titles else f"Track {i}"
                tid = lib.add_track(f, size=100 + i, mtime_ns=i, duration_s=100.0 + i, format="mp3",
                                    metadata={"title": title, "artist": "Band", "album": "Album"})
                lib.store_analysis(tid, MODEL, scores[i], x[i], duration_s=100.0 + i)
    return db


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_playlist_leaves_out_and_lists_unwritable_names(hostile_music, tmp_path, capsys):
    music, files = hostile_music
    db = _library(tmp_path, files)
    out_file = music / "Playlists" / "all.m3u8"
    code, out, err = _cli(capsys, "--db", db, "playlist", files[0], "--length", len(files),
                          "-o", out_file, "--no-save")
    assert code == 0
    got, _ = read_m3u(out_file)
    assert sorted(got) == sorted(_expected(files))      # the order is the playlist's
    assert len(got) == len(files) - 3 and not any("INJECTED" in p for p in got)
    left = [ln for ln in err.splitlines() if "left out:" in ln]
    assert len(left) == 3 and all("name contains a line break" in ln for ln in left)
    assert any("INJECTED_ENTRY" in ln for ln in left)
    assert f"{len(files) - 3} tracks (3 left out" in out
    # --json says the same
    code, out, _ = _cli(capsys, "--db", db, "playlist", files[0], "--length", len(files),
                        "-o", out_file, "--no-save", "--json")
    import json
    doc = json.loads(out)
    assert code == 0 and len(doc["m3u8_left_out"]) == 3 and len(doc["tracks"]) == len(files)


HOSTILE_TITLES = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3",
                  "@SUM(A1:A9)", "\t=1+1", "Plain title", "a=b"]


def test_cli_csv_export_escapes_formulas(tmp_path, capsys):
    music = tmp_path / "Music"
    music.mkdir()
    files = [music / f"{i} song.mp3" for i in range(len(HOSTILE_TITLES))] + [music / INJECTION]
    for f in files:
        f.write_bytes(b"x")
    db = _library(tmp_path, files, titles=[*HOSTILE_TITLES, "=1+1"])
    out_csv = tmp_path / "scores.csv"
    code, out, err = _cli(capsys, "--db", db, "export", "--csv", out_csv)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out_csv.read_text(encoding="utf-8"), newline="")))
    assert len(rows) == 1 + len(files)
    by_path = {r[0]: r for r in rows[1:]}
    assert set(by_path) == {str(f) for f in files}      # a line break in a path stays one cell
    titles = {by_path[str(f)][1] for f in files}
    assert titles == {"'" + t for t in HOSTILE_TITLES[:5]} | {"Plain title", "a=b", "'=1+1"}
    assert all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for c in r)
    assert all(0.0 <= float(x) <= 1.0 for r in rows[1:] for x in r[6:])
    assert "note: 6 cells start with" in out and "formula" in out
    # to standard output, the note goes to stderr and the data stays clean
    code, out, err = _cli(capsys, "--db", db, "export", "--csv", "-")
    assert code == 0 and "note: 6 cells" in err and "note:" not in out
    # nothing to escape, nothing said
    plain = tmp_path / "plain"
    plain.mkdir()
    f = plain / "ok.mp3"
    f.write_bytes(b"x")
    db2 = _library(plain, [f], titles=["Fine"])
    code, out, _ = _cli(capsys, "--db", db2, "export", "--csv", plain / "s.csv")
    assert code == 0 and "note:" not in out


def test_json_export_needs_no_escaping(tmp_path, capsys):
    import json

    f = tmp_path / INJECTION
    f.write_bytes(b"x")
    db = _library(tmp_path, [f], titles=["=1+1"])
    code, out, _ = _cli(capsys, "--db", db, "export", "--json", "-")
    doc = json.loads(out)
    assert code == 0 and doc["tracks"][0]["title"] == "=1+1" and doc["tracks"][0]["path"] == str(f)
    assert np.isfinite(list(doc["tracks"][0]["scores"].values())).all()
