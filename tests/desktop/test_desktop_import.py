"""File menu → "Import analyses…": the results of ``tagatlas batch`` come into the library
without analysing again, and the table shows them."""
from __future__ import annotations

import os

import pytest

from tests._desktop_util import make_music

pytestmark = pytest.mark.timeout(120)


def _batch_output(music, out, model: str) -> int:
    """What ``tagatlas batch`` writes for ``music``: the app's Tagger run directly, one part
    file (no Ray needed here; tests/engine/test_catalogue_batch.py runs the real batch)."""
    from engine.bundle import read_bundle_info
    from engine.catalogue import records
    from engine.library.reading import content_fingerprint
    from engine.tagger import Tagger

    paths = sorted(str(p) for p in music.rglob("*.flac"))
    rows = []
    with Tagger(model, workers=0, device="cpu") as tagger:
        for res in tagger.tag_files(paths):
            st = os.stat(res.path)
            item = {"path_bytes": os.fsencode(res.path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                    "fingerprint": content_fingerprint(res.path)}
            rows += (records.file_rows(item, res.by_model) if res.ok
                     else records.file_rows(item, error=res.error))
    out.mkdir()
    meta = records.models_metadata([read_bundle_info(model)], None)
    records.write_part(out, records.to_table(rows), meta, run_id=records.new_run_id(), seq=0)
    return len(paths)


def test_import_analyses_from_the_file_menu(qtbot, themed_app, gui_settings, tmp_path):
    pytest.importorskip("pyarrow")
    from desktop.window import MainWindow

    music = tmp_path / "Music"
    make_music(music, 4)
    n = _batch_output(music, tmp_path / "batch-out", gui_settings.model)
    win = MainWindow(gui_settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.library_model.snapshot is not None)
    # the Add folder button's menu is the File menu, and it offers the import
    assert win.act_import in win.file_menu.actions() and win.act_import.isEnabled()

    task = win.import_analyses(str(tmp_path / "batch-out"))
    assert task is not None and not win.act_import.isEnabled()        # one import at a time
    qtbot.waitUntil(lambda: win.import_task is None, timeout=60_000)
    qtbot.waitUntil(lambda: win.library_model.rowCount() == n, timeout=20_000)
    assert "Imported the analyses of 4 files (4 new to the library" in win.statusBar().currentMessage()
    assert win.act_import.isEnabled()
    model = win.library_model
    assert all(model.scores_of(model.track_row(r).id) is not None for r in range(n))


def test_importing_something_that_is_not_batch_output_says_so(qtbot, themed_app, gui_settings, tmp_path,
                                                              monkeypatch):
    pytest.importorskip("pyarrow")
    from PySide6.QtWidgets import QMessageBox

    from desktop.window import MainWindow

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[1:3]))
    (tmp_path / "empty").mkdir()
    win = MainWindow(gui_settings)
    qtbot.addWidget(win)
    win.import_analyses(str(tmp_path / "empty"))
    qtbot.waitUntil(lambda: win.import_task is None, timeout=30_000)
    assert shown and shown[0][0] == "Nothing was imported" and shown[0][1]
