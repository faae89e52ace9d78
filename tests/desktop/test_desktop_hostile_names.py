"""The app's M3U8 exports with hostile file names (issue 12, item 5): the "more like this"
panel and the main window's Export M3U8 leave out names with line breaks and say so."""
from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QMainWindow, QMessageBox

from desktop.background import SharedLibrary, export_m3u8_job
from desktop.window import MainWindow
from desktop.similar_panel import SimilarPanel, SimilarSource
from engine.similarity import M3U8Written
from tests.engine.test_hostile_names import BROKEN, _expected, _library, read_m3u

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs line breaks in file names")


@pytest.fixture()
def files(tmp_path):
    music = tmp_path / "Music"
    music.mkdir()
    names = ["a.mp3", BROKEN[0], "#hash.mp3", BROKEN[1], "b.mp3", BROKEN[2]]
    out = [music / n for n in names]
    for f in out:
        f.write_bytes(b"x")
    return out


def test_similar_panel_export_tells_what_was_left_out(qtbot, files, tmp_path):
    ids = list(range(1, len(files) + 1))
    vectors = np.random.default_rng(0).normal(size=(len(files), 8)).astype(np.float32)
    source = SimilarSource.from_arrays(ids, vectors, titles=[f"T{i}" for i in ids],
                                       paths=[str(f) for f in files], durations=[60.0] * len(ids))
    p = SimilarPanel()
    qtbot.addWidget(p)
    p.set_source(source)
    p.show_similar(ids[0], k=len(ids) - 1)
    out = tmp_path / "Music" / "Playlists" / "x.m3u8"
    messages = []
    p.error_occurred.connect(messages.append)
    with qtbot.waitSignal(p.playlist_exported, timeout=1000):
        assert p.export_m3u8(out) == out
    got, _ = read_m3u(out)
    assert sorted(got) == sorted(_expected(files))
    (msg,) = messages
    assert "left out 3" in msg and "line break" in msg and "\n" not in msg
    assert "Saved 3 tracks" in msg


def test_main_window_export_job_and_report(qtbot, files, tmp_path):
    db = _library(tmp_path, files)
    shared = SharedLibrary(db)
    with shared.use() as lib:
        track_ids = [t.id for t in lib.query_tracks(None)]
    out = tmp_path / "picked.m3u8"
    result = export_m3u8_job(None, shared, track_ids, str(out))
    shared.close()
    got, _ = read_m3u(out)
    assert sorted(got) == sorted(_expected(files)) and result.written == 3
    assert len(result.left_out) == 3
    # the window's report (any main window will do as the parent): status bar and a box
    win = QMainWindow()
    qtbot.addWidget(win)
    MainWindow._playlist_written(win, result)
    assert "3 left out" in win.statusBar().currentMessage()
    (box,) = [b for b in win.findChildren(QMessageBox) if b.objectName() == "playlistLeftOut"]
    assert box.isVisible() and "line break" in box.text()
    assert box.detailedText().count("left out: ") == 3 and "INJECTED_ENTRY" in box.detailedText()
    box.close()
    # nothing left out: a status message and no box
    win2 = QMainWindow()
    qtbot.addWidget(win2)
    MainWindow._playlist_written(win2, M3U8Written(out, 3))
    assert win2.statusBar().currentMessage() == f"Saved a playlist of 3 tracks: {out}"
    assert not win2.findChildren(QMessageBox)
