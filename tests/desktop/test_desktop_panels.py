"""The main window with the map, the preview player and "more like this": selection goes both
ways between the table and the map, Space plays the selected track, playlists and M3U8."""
from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from tests._desktop_util import make_music

pytestmark = pytest.mark.timeout(120)


def _wait(condition, timeout_s: float) -> None:
    import time

    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("timed out")
        QApplication.processEvents()
        time.sleep(0.01)


@pytest.fixture(scope="module")
def scanned(qapp, tmp_path_factory):
    """One window over one scanned library for the tests of this module (they only read)."""
    import os as _os

    from desktop import theme
    from desktop.window import MainWindow
    from desktop.settings import Settings
    from tests._desktop_util import ensure_gui_model

    tmp = tmp_path_factory.mktemp("panels")
    old = {k: _os.environ.get(k) for k in ("TAGATLAS_CONFIG_DIR", "TAGATLAS_DB")}
    _os.environ["TAGATLAS_CONFIG_DIR"] = str(tmp / "config")
    _os.environ["TAGATLAS_DB"] = str(tmp / "library.sqlite3")
    theme.apply_theme(qapp, dark=False)
    settings = Settings()
    settings.model = ensure_gui_model()
    settings.workers = 0
    settings.device = "cpu"
    music = tmp / "Music"
    make_music(music, 8)
    settings.folders = [str(music)]
    win = MainWindow(settings)
    win.resize(1500, 900)
    win.show()
    done = []
    win.scan_finished.connect(done.append)
    win.start_scan()
    _wait(lambda: done and not win.is_loading(), 60)
    yield win
    win.close()
    for k, v in old.items():
        if v is None:
            _os.environ.pop(k, None)
        else:
            _os.environ[k] = v


def _map_loaded(qtbot, win):
    integ = win.panels
    win.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: integ.map_panel.library_map() is not None and integ.map_task is None,
                    timeout=30_000)
    return integ.map_panel.view


def test_selection_syncs_between_table_and_map(qtbot, scanned):
    win = scanned
    view = _map_loaded(qtbot, win)
    ids = [r.id for r in win.library_model.snapshot.rows]
    assert sorted(int(i) for i in view.data().ids) == sorted(ids)
    # table -> map
    win.tabs.setCurrentIndex(0)
    win.select_ids(ids[2:4])
    assert sorted(view.selected_ids()) == sorted(ids[2:4])
    # map -> table: click a point
    win.tabs.setCurrentIndex(1)
    qtbot.waitUntil(view.isVisible)
    target = ids[5]
    pos = view.screen_pos(target)
    assert pos is not None
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=pos.toPoint())
    qtbot.waitUntil(lambda: win.selected_ids() == [target], timeout=5000)
    row = win.library_model.get_row(target)
    assert win.details.title.text() == row.title
    # and the map kept the one point selected (no echo back)
    assert view.selected_ids() == [target]


def test_space_plays_a_preview_of_the_selected_track(qtbot, scanned):
    win = scanned
    player = win.player
    assert player is not None
    win.tabs.setCurrentIndex(0)
    tid = win.library_model.snapshot.rows[1].id
    win.select_ids([tid])
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    win.table.setFocus()
    errors = []
    player.error_occurred.connect(errors.append)
    qtbot.keyClick(win.table, Qt.Key.Key_Space)
    path = win.library_model.get_row(tid).path
    if player.is_available():
        qtbot.waitUntil(lambda: player.current_path() == path, timeout=5000)
        assert player.current_track_id() == tid
    else:   # no QtMultimedia backend here: the player says why, naming the file
        qtbot.waitUntil(lambda: bool(errors), timeout=5000)
        assert os.path.basename(path) in errors[-1]


def test_more_like_this_playlist_and_m3u8(qtbot, scanned, tmp_path):
    win = scanned
    integ = win.panels
    similar = win.similar_panel
    assert similar is not None
    qtbot.waitUntil(lambda: similar.source() is not None and integ.similar_task is None, timeout=30_000)
    ids = [r.id for r in win.library_model.snapshot.rows]
    win.select_ids([ids[0]])
    neighbours = similar.neighbours()
    assert similar.seeds() == [ids[0]]
    assert len(neighbours) == len(ids) - 1 and ids[0] not in {int(n.id) for n in neighbours}
    # "Make playlist" (Ctrl+P) grows a playlist from the selection
    win.act_playlist.trigger()
    playlist = similar.playlist()
    assert playlist[0] == ids[0] and len(set(playlist)) == len(playlist) > 1
    # "Export M3U8" writes the selected tracks
    out = tmp_path / "picked.m3u8"
    task = win.export_m3u8(ids[:3], str(out))
    qtbot.waitUntil(lambda: task.done and out.exists(), timeout=10_000)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    paths = [ln for ln in lines if not ln.startswith("#")]
    rows = {r.id: r for r in win.library_model.snapshot.rows}
    assert [os.path.basename(p) for p in paths] == [os.path.basename(rows[i].path) for i in ids[:3]]
