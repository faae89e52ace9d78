"""The map widget, offscreen: drawing, hover, click, rectangle and lasso selection, search,
zoom and pan, the context actions, and the speed of hover picking at 50,000 points."""
from __future__ import annotations

import time

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QToolTip  # noqa: E402

from desktop.map.colors import hex_to_rgb  # noqa: E402
from desktop.map.data import CategoryColoring, MapData, RegionLabel, ValueColoring  # noqa: E402
from desktop.map.map_view import MapView  # noqa: E402

W, H = 640, 440


def clustered(n: int = 400, k: int = 4, seed: int = 0):
    """``n`` points in ``k`` well separated blobs: (ids, xy, cluster per point)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-10, -6], [10, -6], [-10, 6], [10, 6], [0, 0], [0, 12]], float)[:k]
    lab = rng.integers(0, k, n)
    xy = centres[lab] + rng.normal(scale=1.6, size=(n, 2))
    ids = 1000 + np.arange(n) * 7          # ids are not row numbers
    return ids, xy, lab


def make_view(qtbot, data: MapData, coloring=None, *, size=(W, H)) -> MapView:
    view = MapView(theme="dark")
    qtbot.addWidget(view)
    view.resize(*size)
    view.set_data(data)
    if coloring is not None:
        view.set_coloring(coloring)
    view.show()
    qtbot.waitExposed(view)
    view.fit_all()
    return view


@pytest.fixture
def cluster_view(qtbot):
    ids, xy, lab = clustered()
    names = np.array(["Jazz", "Rock", "Folk", "Techno"])[lab]
    data = MapData(ids, xy, titles=[f"Song {i}" for i in ids],
                   artists=[f"Artist {i % 13}" for i in ids],
                   tags=[f"{g} 90% · Mellow 40%" for g in names])
    view = make_view(qtbot, data, CategoryColoring(list(names), title="Top genre"))
    return view, ids, xy, names


def pixel(img, x: float, y: float) -> tuple[int, int, int]:
    c = QColor(img.pixel(int(round(x)), int(round(y))))
    return c.red(), c.green(), c.blue()


def blend(bg: tuple[int, int, int], fg: tuple[int, int, int], alpha: float) -> np.ndarray:
    return np.array(bg) + (np.array(fg) - np.array(bg)) * alpha


# --- drawing -------------------------------------------------------------------------------------
def test_points_drawn_in_their_colours_at_their_places(qtbot):
    # a 6 x 4 grid of isolated points, three categories with different counts
    gx, gy = np.meshgrid(np.arange(6) * 10.0, np.arange(4) * 10.0)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    labels = ["Jazz"] * 12 + ["Rock"] * 8 + ["Folk"] * 4
    view = make_view(qtbot, MapData(np.arange(24), xy), CategoryColoring(labels))
    img = view.grab().toImage()
    bg = hex_to_rgb(view.theme().background)
    legend = {e.label: hex_to_rgb(e.colour) for e in view.legend()}
    assert [e.label for e in view.legend()] == ["Jazz", "Rock", "Folk"]   # by frequency
    assert len(set(legend.values())) == 3
    alpha = view.point_alpha()
    legend_rect = view.legend_rows()
    assert legend_rect, "a categorical colouring draws a legend"
    checked = 0
    for tid, label in enumerate(labels):
        pos = view.screen_pos(tid)
        if any(r.adjusted(-12, -12, 12, 12).contains(pos) for r, _ in legend_rect):
            continue
        got = np.array(pixel(img, pos.x(), pos.y()))
        want = blend(bg, legend[label], alpha)
        assert np.abs(got - want).max() <= 6, (tid, label, got, want)
        checked += 1
    assert checked >= 18
    # half-way between two neighbours there is only background
    a, b = view.screen_pos(0), view.screen_pos(1)
    assert pixel(img, (a.x() + b.x()) / 2, (a.y() + b.y()) / 2) == bg
    # y grows upwards on the map: row 3 of the grid is drawn above row 0
    assert view.screen_pos(18).y() < view.screen_pos(0).y()


def test_map_is_not_blank_and_labels_are_drawn(cluster_view):
    view, ids, xy, names = cluster_view
    view.set_regions([RegionLabel("Jazz · Mellow", -10, -6, 100), RegionLabel("Rock", 10, -6, 90),
                      RegionLabel("Rock", 10.5, -6.5, 10),   # same words nearby: left out
                      RegionLabel("Far away", 500, 500, 50)])  # off screen
    img = view.grab().toImage()
    bg = QColor(view.theme().background).rgb()
    arr = np.array([[img.pixel(x, y) for x in range(0, W, 4)] for y in range(0, H, 4)])
    assert (arr != bg).mean() > 0.05
    assert view.drawn_labels() == ["Jazz · Mellow", "Rock"]


def test_value_colouring_puts_high_scores_on_top_in_bright_colours(qtbot):
    ids, xy, lab = clustered(300)
    values = np.where(lab == 1, 0.95, 0.05)
    view = make_view(qtbot, MapData(ids, xy), ValueColoring(values, title="Jazz score"))
    colours = view.point_colours()
    hi = np.array([QColor(int(c)).lightness() for c in colours[lab == 1]])
    lo = np.array([QColor(int(c)).lightness() for c in colours[lab != 1]])
    assert hi.min() > lo.max()
    assert view.legend() == ()
    img = view.grab().toImage()
    centre = view.screen_pos(int(ids[lab == 1][0]))
    assert img.width() == W and centre is not None


def test_empty_map_draws_a_message(qtbot):
    view = make_view(qtbot, MapData.empty())
    img = view.grab().toImage()
    assert img.width() == W
    assert view.point_at(QPointF(10, 10)) is None


# --- hover ---------------------------------------------------------------------------------------
def test_hover_picks_the_point_under_the_mouse_and_shows_its_tooltip(qtbot, cluster_view):
    view, ids, xy, names = cluster_view
    rng = np.random.default_rng(3)
    for tid in rng.choice(ids, 8, replace=False):
        pos = view.screen_pos(int(tid))
        # the nearest point to the mouse, by brute force over screen positions
        sx, sy = view.map_to_screen(xy[:, 0], xy[:, 1])
        target = QPoint(int(round(pos.x())), int(round(pos.y())))
        d = np.hypot(sx - target.x(), sy - target.y())
        expected = int(ids[np.argmin(d)])
        with qtbot.waitSignal(view.hovered_changed, timeout=1000, raising=False):
            qtbot.mouseMove(view, target)
        assert view.hovered_id == expected
        text = view.tooltip_text(expected)
        row = int(np.flatnonzero(ids == expected)[0])
        assert f"Song {expected}" in text and names[row] in text
        if QToolTip.isVisible():
            assert f"Song {expected}" in QToolTip.text()
    # far from every point: nothing is hovered
    qtbot.mouseMove(view, QPoint(3, 3))
    assert view.hovered_id is None


def test_custom_tooltip_provider(cluster_view):
    view, ids, *_ = cluster_view
    view.set_tooltip_provider(lambda tid: f"track #{tid}")
    assert view.tooltip_text(int(ids[5])) == f"track #{ids[5]}"


def test_hover_pick_is_fast_at_50000_points(qtbot):
    n = 50_000
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=40, size=(30, 2))
    xy = centres[rng.integers(0, 30, n)] + rng.normal(scale=3, size=(n, 2))
    view = make_view(qtbot, MapData(np.arange(n), xy), size=(1200, 800))
    sx, sy = view.map_to_screen(xy[:, 0], xy[:, 1])
    probes = rng.integers(0, n, 300)
    times = []
    for i in probes:
        p = QPointF(sx[i] + 0.3, sy[i] - 0.2)
        t0 = time.perf_counter()
        got = view.point_at(p)
        times.append(time.perf_counter() - t0)
        d = np.hypot(sx - p.x(), sy - p.y())
        assert d[got] == pytest.approx(d.min(), abs=1e-6)
    assert max(times) < 0.050, f"slowest hover pick {max(times) * 1000:.1f} ms"


# --- click, double click, selection --------------------------------------------------------------
def test_click_selects_and_emits(qtbot, cluster_view):
    view, ids, xy, _ = cluster_view
    tid = int(ids[17])
    pos = view.screen_pos(tid).toPoint()
    selections, currents, plays = [], [], []
    view.selection_changed.connect(selections.append)
    view.current_changed.connect(currents.append)
    view.play_requested.connect(plays.append)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=pos)
    picked = view.point_at(QPointF(pos))
    assert selections == [[picked]] and currents == [picked]
    assert plays == [picked]                       # a click plays the preview too
    assert view.selected_ids() == [picked] and view.current_id == picked
    # Ctrl+click adds another, Ctrl+click again removes it
    other = int(ids[200])
    opos = view.screen_pos(other).toPoint()
    oid = view.point_at(QPointF(opos))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, opos)
    assert sorted(view.selected_ids()) == sorted({picked, oid})
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, opos)
    assert view.selected_ids() == [picked]
    assert plays == [picked]                       # Ctrl+click only edits the selection
    view.set_play_on_click(False)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=pos)
    assert plays == [picked] and view.selected_ids() == [picked]
    # a click on empty space clears
    with qtbot.waitSignal(view.selection_changed, timeout=1000) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(2, H // 2))
    assert blocker.args == [[]]


def test_double_click_and_return_request_play(qtbot, cluster_view):
    view, ids, *_ = cluster_view
    view.set_play_on_click(False)
    pos = view.screen_pos(int(ids[3])).toPoint()
    tid = view.point_at(QPointF(pos))
    with qtbot.waitSignal(view.play_requested, timeout=1000) as blocker:
        qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [tid]
    view.set_selection([int(ids[9])])
    view._current_row = None
    with qtbot.waitSignal(view.play_requested, timeout=1000) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Return)
    assert blocker.args == [int(ids[9])]


def test_set_selection_follows_the_table_without_emitting(qtbot, cluster_view):
    view, ids, *_ = cluster_view
    with qtbot.assertNotEmitted(view.selection_changed):
        view.set_selection([int(ids[1]), int(ids[2]), 123456789])   # unknown ids are ignored
    assert sorted(view.selected_ids()) == sorted([int(ids[1]), int(ids[2])])
    img_sel = view.grab().toImage()
    view.set_selection([])
    img_none = view.grab().toImage()
    p = view.screen_pos(int(ids[1]))
    ring = QPointF(p.x() + view.last_radius * 1.3 + 0.8, p.y())
    assert pixel(img_sel, ring.x(), ring.y()) != pixel(img_none, ring.x(), ring.y())


def drag(qtbot, view, points, modifier=Qt.KeyboardModifier.NoModifier):
    pts = [QPoint(int(round(x)), int(round(y))) for x, y in points]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, modifier, pts[0])
    for p in pts[1:]:
        qtbot.mouseMove(view, p)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, modifier, pts[-1])


def test_rectangle_selects_exactly_the_points_inside(qtbot, cluster_view):
    view, ids, xy, _ = cluster_view
    x0, y0, x1, y1 = 90.0, 60.0, 330.0, 250.0
    sx, sy = view.map_to_screen(xy[:, 0], xy[:, 1])
    inside = (sx >= x0) & (sx <= x1) & (sy >= y0) & (sy <= y1)
    assert 5 < inside.sum() < len(ids)
    with qtbot.waitSignal(view.selection_changed, timeout=1000) as blocker:
        drag(qtbot, view, [(x0, y0), (200, 150), (x1, y1)], Qt.KeyboardModifier.ShiftModifier)
    assert sorted(blocker.args[0]) == sorted(int(i) for i in ids[inside])
    # the transform did not change: a rectangle drag is not a pan
    assert view.zoom() == pytest.approx(1.0)


def test_lasso_selects_exactly_the_points_inside_a_concave_polygon(qtbot, cluster_view):
    view, ids, xy, _ = cluster_view
    view.set_drag_mode("lasso")
    # a "C" shape over the left half of the map
    poly = [(60, 40), (330, 40), (330, 120), (150, 120), (150, 300), (330, 300), (330, 400),
            (60, 400)]
    sx, sy = view.map_to_screen(xy[:, 0], xy[:, 1])
    expected = MplPath(np.array(poly + [poly[0]], float)).contains_points(np.column_stack([sx, sy]))
    assert 5 < expected.sum() < len(ids)
    with qtbot.waitSignal(view.selection_changed, timeout=1000) as blocker:
        drag(qtbot, view, poly)
    assert sorted(blocker.args[0]) == sorted(int(i) for i in ids[expected])
    # Ctrl adds a second lasso to the selection
    poly2 = [(500, 40), (630, 40), (630, 400), (500, 400)]
    extra = MplPath(np.array(poly2 + [poly2[0]], float)).contains_points(np.column_stack([sx, sy]))
    with qtbot.waitSignal(view.selection_changed, timeout=1000) as blocker:
        drag(qtbot, view, poly2, Qt.KeyboardModifier.ControlModifier)
    assert sorted(blocker.args[0]) == sorted(int(i) for i in ids[expected | extra])


def test_ctrl_drag_lassos_in_move_mode_and_escape_clears(qtbot, cluster_view):
    view, ids, xy, _ = cluster_view
    poly = [(W / 2, 10), (W - 10, 10), (W - 10, H - 10), (W / 2, H - 10)]
    sx, sy = view.map_to_screen(xy[:, 0], xy[:, 1])
    expected = MplPath(np.array(poly + [poly[0]], float)).contains_points(np.column_stack([sx, sy]))
    with qtbot.waitSignal(view.selection_changed, timeout=1000) as blocker:
        drag(qtbot, view, poly, Qt.KeyboardModifier.ControlModifier)
    assert sorted(blocker.args[0]) == sorted(int(i) for i in ids[expected])
    with qtbot.waitSignal(view.selection_changed, timeout=1000) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert blocker.args == [[]]


# --- search and legend ---------------------------------------------------------------------------
def test_search_highlights_matches_and_dims_the_rest(qtbot, cluster_view):
    view, ids, xy, names = cluster_view
    img_before = view.grab().toImage()
    with qtbot.waitSignal(view.highlight_changed, timeout=1000) as blocker:
        count = view.set_search("jazz mellow")
    jazz = names == "Jazz"
    assert count == jazz.sum() == blocker.args[0]
    assert sorted(view.highlighted_ids()) == sorted(int(i) for i in ids[jazz])
    assert view.set_search("  SONG 1007 ") == 1 and view.highlighted_ids() == [1007]
    view.set_search("jazz")
    img = view.grab().toImage()
    # a non-matching isolated-ish point got darker, a matching one did not
    sx, sy = view.map_to_screen(xy[:, 0], xy[:, 1])
    bg = np.array(hex_to_rgb(view.theme().background))

    def contrast(image, i):
        return np.abs(np.array(pixel(image, sx[i], sy[i])) - bg).sum()

    non = np.flatnonzero(~jazz)[:40]
    lit = np.flatnonzero(jazz)[:40]
    assert np.mean([contrast(img, i) for i in non]) < 0.7 * np.mean([contrast(img_before, i) for i in non])
    assert np.mean([contrast(img, i) for i in lit]) >= 0.9 * np.mean([contrast(img_before, i) for i in lit])
    assert view.set_search("") == len(ids) and view.highlighted_ids() is None
    # Ctrl+A selects the highlighted points
    view.set_search("techno")
    with qtbot.waitSignal(view.selection_changed, timeout=1000) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert sorted(blocker.args[0]) == sorted(int(i) for i in ids[names == "Techno"])


def test_clicking_a_legend_row_highlights_that_category(qtbot, cluster_view):
    view, ids, xy, names = cluster_view
    view.grab()
    rect, i = view.legend_rows()[1]
    label = view.legend()[i].label
    with qtbot.waitSignal(view.highlight_changed, timeout=1000):
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert sorted(view.highlighted_ids()) == sorted(int(t) for t in ids[names == label])
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert view.highlighted_ids() is None


# --- zoom and pan --------------------------------------------------------------------------------
def wheel(view, pos: QPointF, steps: int) -> None:
    ev = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * steps),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, ev)


def test_wheel_zooms_around_the_cursor(qtbot, cluster_view):
    view, ids, xy, _ = cluster_view
    tid = int(ids[42])
    p = view.screen_pos(tid)
    with qtbot.waitSignal(view.view_changed, timeout=1000):
        wheel(view, p, 3)
    assert view.zoom() == pytest.approx(1.25 ** 3)
    q = view.screen_pos(tid)
    assert (q.x(), q.y()) == pytest.approx((p.x(), p.y()), abs=1e-6)
    wheel(view, p, -3)
    assert view.zoom() == pytest.approx(1.0)


def test_keys_zoom_pan_and_fit(qtbot, cluster_view):
    view, ids, *_ = cluster_view
    t0 = view.transform()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.zoom() == pytest.approx(1.25)
    p = view.screen_pos(int(ids[0]))
    qtbot.keyClick(view, Qt.Key.Key_Right)     # the view moves right: points move left
    q = view.screen_pos(int(ids[0]))
    assert q.x() == pytest.approx(p.x() - 0.15 * W) and q.y() == pytest.approx(p.y())
    qtbot.keyClick(view, Qt.Key.Key_Up)
    r = view.screen_pos(int(ids[0]))
    assert r.y() == pytest.approx(q.y() + 0.15 * H)
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.transform() == pytest.approx(t0)


def test_drag_pans_the_map_with_the_mouse(qtbot, cluster_view):
    view, ids, *_ = cluster_view
    tid = int(ids[0])
    p = view.screen_pos(tid)
    drag(qtbot, view, [(5, 5), (40, 25), (85, 65)])
    q = view.screen_pos(tid)
    assert (q.x() - p.x(), q.y() - p.y()) == pytest.approx((80, 60), abs=1e-6)
    assert view.selected_ids() == []          # a pan is not a click
    # the picture follows: render at the new transform and find the point where it moved
    assert view.point_at(q) is not None


def test_stale_cache_is_moved_then_rerendered(qtbot, cluster_view, monkeypatch):
    import desktop.map.map_view as mv

    view, ids, *_ = cluster_view
    view.grab()
    monkeypatch.setattr(mv, "SYNC_RENDER_MS", -1.0)     # pretend rendering is slow
    key = view._cache_key
    view.pan_by(30, 0)
    view.grab()                                          # shows the shifted cached image
    assert view._cache_key == key
    qtbot.waitUntil(lambda: view._cache_key != key, timeout=2000)
    assert view._cache_key[:3] == view.transform()


def test_ensure_visible_brings_tracks_into_view(qtbot, cluster_view):
    view, ids, *_ = cluster_view
    view.zoom_by(8.0, QPointF(5, 5))
    tid = int(ids[-1])
    view.ensure_visible([tid])
    p = view.screen_pos(tid)
    assert 0 <= p.x() <= W and 0 <= p.y() <= H


# --- context actions -----------------------------------------------------------------------------
def test_context_menu_actions_emit_requests(qtbot, cluster_view):
    view, ids, *_ = cluster_view
    pos = view.screen_pos(int(ids[11]))
    tid = view.point_at(pos)
    menu = view.build_context_menu(pos)       # right-click on an unselected point selects it
    assert view.selected_ids() == [tid]
    actions = {a.text().split(" ")[0]: a for a in menu.actions() if a.text()}
    with qtbot.waitSignal(view.play_requested, timeout=1000) as blocker:
        actions["Play"].trigger()
    assert blocker.args == [tid]
    with qtbot.waitSignal(view.similar_requested, timeout=1000) as blocker:
        actions["More"].trigger()
    assert blocker.args == [tid]
    view.set_selection([int(i) for i in ids[:5]])
    menu = view.build_context_menu(view.screen_pos(int(ids[0])))
    actions = {a.text().split(" ")[0]: a for a in menu.actions() if a.text()}
    assert "5 tracks" in actions["Review"].text()
    with qtbot.waitSignal(view.review_requested, timeout=1000) as blocker:
        actions["Review"].trigger()
    assert sorted(blocker.args[0]) == sorted(int(i) for i in ids[:5])
    with qtbot.waitSignal(view.playlist_requested, timeout=1000) as blocker:
        actions["Make"].trigger()
    assert sorted(blocker.args[0]) == sorted(int(i) for i in ids[:5])
    # on empty space with nothing selected, the selection actions are disabled
    view.set_selection([])
    menu = view.build_context_menu(QPointF(2, 2))
    actions = {a.text().split(" ")[0]: a for a in menu.actions() if a.text()}
    assert not actions["Review"].isEnabled() and not actions["Play"].isEnabled()


def test_bad_input_is_refused(qtbot):
    with pytest.raises(ValueError):
        MapData([1, 1], [[0, 0], [1, 1]])
    with pytest.raises(ValueError):
        MapData([1, 2], [[0, 0], [np.nan, 1]])
    view = make_view(qtbot, MapData([1, 2, 3], [[0, 0], [1, 1], [2, 0]]))
    with pytest.raises(ValueError):
        view.set_coloring(CategoryColoring(["a", "b"]))
    with pytest.raises(ValueError):
        view.set_drag_mode("zoom")


def test_search_maps_matches_to_the_right_rows_with_odd_titles(qtbot):
    titles = ["Blue\nMoon", None, "odd\x00title moon", "Moonlight 50%", "sun"]
    tags = ["Jazz 80% · Mellow 20%", "Moon 90%", "", "Rock 99%", "Pop 100%"]
    view = make_view(qtbot, MapData([10, 11, 12, 13, 14], [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]],
                                    titles=titles, artists=[None, "Moon Band", "", None, "x"],
                                    tags=tags))
    assert view.set_search("moon") == 4 and view.highlighted_ids() == [10, 11, 12, 13]
    assert view.set_search("title") == 1 and view.highlighted_ids() == [12]
    assert view.set_search("99") == 0         # tag percentages are not searched
    assert view.set_search("pop x") == 1 and view.highlighted_ids() == [14]


def test_new_data_of_another_size_drops_the_old_colouring(qtbot):
    ids, xy, lab = clustered(300)
    view = make_view(qtbot, MapData(ids, xy), CategoryColoring([str(v) for v in lab]))
    view.set_selection([int(ids[0])])
    ids2, xy2, lab2 = clustered(500, seed=1)
    view.set_data(MapData(ids2, xy2))
    assert view.coloring() is None and view.selected_ids() == [] and view.legend() == ()
    view.grab()
    view.set_coloring(ValueColoring(lab2.astype(float)))
    view.set_data(MapData(ids2[:10], xy2[:10]))
    img = view.grab().toImage()
    assert img.width() == W and len(view.point_colours()) == 10
