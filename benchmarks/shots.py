"""``python benchmarks/shots.py FOLDER OUT_DIR``: drive the real app offscreen over a folder of
music and save screenshots.

The app starts with empty settings (in ``OUT_DIR/config``) and its own library database
(``--db``, default ``OUT_DIR/library.sqlite3``; reuse it to skip the analysis next time), goes
through the first-run page, scans and analyses the folder with the chosen model, then shows the
library, the review panel, the map, "more like this" and the problems panel, grabbing each
window as it is drawn:

    first-run.png  scanning.png  main.png  review.png  map.png  similar.png  map-key.png  problems.png
    review-album.png  main-dark.png  map-dark.png

Nothing is mocked: it is the app a user runs, with ``QT_QPA_PLATFORM=offscreen``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository root


class Script:
    """Steps run one after the other on the GUI thread: each waits for its condition
    (polled), then acts. The app quits after the last step or on a timeout."""

    def __init__(self, app, timeout_s: float) -> None:
        self.app = app
        self.steps: list[tuple[str, Callable[[], bool], Callable[[], None], float]] = []
        self.deadline = time.monotonic() + timeout_s
        self.failed: str | None = None

    def add(self, name: str, when: Callable[[], bool], then: Callable[[], None], settle_s: float = 0.4) -> None:
        self.steps.append((name, when, then, settle_s))

    def run(self) -> int:
        from PySide6.QtCore import QTimer

        timer = QTimer()
        timer.setInterval(100)
        state = {"i": 0, "ready_at": None}

        def tick() -> None:
            if time.monotonic() > self.deadline:
                self.failed = f"timed out waiting for step {self.steps[state['i']][0]!r}"
                self.app.quit()
                return
            if state["i"] >= len(self.steps):
                self.app.quit()
                return
            name, when, then, settle = self.steps[state["i"]]
            try:
                ok = when()
            except Exception as exc:  # noqa: BLE001 - a failed step is reported, the driver stops
                self.failed = f"step {name!r}: {exc}"
                self.app.quit()
                return
            if not ok:
                state["ready_at"] = None
                return
            if state["ready_at"] is None:         # let layouts and paints settle first
                state["ready_at"] = time.monotonic() + settle
                return
            if time.monotonic() < state["ready_at"]:
                return
            print(f"[shots] {name}", file=sys.stderr)
            try:
                then()
            except Exception as exc:  # noqa: BLE001 - a failed step is reported, the driver stops
                import traceback

                traceback.print_exc()
                self.failed = f"step {name!r}: {exc}"
                self.app.quit()
                return
            state["i"] += 1
            state["ready_at"] = None

        timer.timeout.connect(tick)
        timer.start()
        self.app.exec()
        return 1 if self.failed else 0


def _grab(widget, path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    widget.repaint()
    pm = widget.grab()
    pm.save(str(path))
    print(f"[shots] saved {path} ({pm.width()}x{pm.height()})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/shots.py", description=__doc__.splitlines()[0])
    p.add_argument("folder", help="a folder of music to scan")
    p.add_argument("out_dir", help="where to save the PNG files")
    p.add_argument("--db", default=None, help="library database (default: OUT_DIR/library.sqlite3)")
    p.add_argument("--model", default=None, help="model bundle (default: the app's default)")
    p.add_argument("--full", action="store_true",
                   help="full analysis (every excerpt) instead of the default quick one")
    p.add_argument("--size", default="1600x960", help="window size, WIDTHxHEIGHT")
    p.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    args = p.parse_args(argv)

    out = Path(args.out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["TAGATLAS_CONFIG_DIR"] = str(out / "config")
    os.environ["TAGATLAS_DB"] = str(Path(args.db).resolve() if args.db else out / "library.sqlite3")
    for f in (out / "config" / "settings.ini",):
        if f.exists():
            f.unlink()
    width, height = (int(v) for v in args.size.lower().split("x"))
    folder = str(Path(args.folder).resolve())

    from PySide6.QtCore import Qt

    from desktop import theme
    from desktop.app import make_app
    from desktop.qt_refcount import guard_none_refcount
    from desktop.settings import Settings
    from desktop.window import PAGE_LIBRARY, PAGE_WELCOME, TAB_LIBRARY, TAB_MAP, TAB_PROBLEMS, MainWindow

    guard_none_refcount()   # as the app does at start-up (PySide6 6.12 on Python 3.11)
    app = make_app([sys.argv[0]])
    theme.apply_theme(app, dark=False)
    settings = Settings()
    if args.model:
        settings.model = args.model
    settings.quick_analysis = not args.full
    win = MainWindow(settings)
    win.resize(width, height)
    win.show()
    panels = win.panels
    script = Script(app, args.timeout)
    seen = {"scan_started": False, "scanning_shot": False, "review": None}

    def first_run_ready() -> bool:
        return not win.is_loading() and win.first_run.device_label.text() not in ("", "…")

    def start() -> None:
        win.first_run.folder_edit.setText(folder)
        win.first_run.quick_check.setChecked(not args.full)
        _grab(win, out / "first-run.png")
        win.first_scan(folder)

    script.add("first run", lambda: win.pages.currentIndex() in (PAGE_WELCOME, PAGE_LIBRARY) and first_run_ready(),
               lambda: (win.pages.setCurrentIndex(PAGE_WELCOME), None)[1], settle_s=0.8)
    script.add("start scan", lambda: True, start)

    def mid_scan() -> bool:
        t = win.scan_task
        if t is None:
            return True      # too fast to catch: skip the shot
        v = win.progress.value(), win.progress.maximum()
        return win.meter.phase == "analyse" and v[1] > 0 and v[0] >= max(3, v[1] // 4) \
            and bool(win.rate_label.text())

    def scanning_shot() -> None:
        if win.scan_task is not None:
            rows = win.library_model.rowCount()
            if rows:
                win.select_ids([win.library_model.track_id(min(2, rows - 1))], scroll=False)
            _grab(win, out / "scanning.png")

    script.add("scanning", mid_scan, scanning_shot, settle_s=0.2)
    script.add("scan finished", lambda: win.scan_task is None and not win.is_loading(), lambda: None)

    def pick_track() -> int:
        """A well-tagged, confidently predicted track to show."""
        model = win.library_model
        snap = model.snapshot
        best, best_score = None, -1.0
        for i, row in enumerate(snap.rows):
            if not snap.analysed[i]:
                continue
            score = float(snap.scores[i].max()) + (0.3 if row.title and row.artist else 0.0)
            if score > best_score:
                best, best_score = row.id, score
        return best

    def main_shot() -> None:
        win.tabs.setCurrentIndex(TAB_LIBRARY)
        tid = pick_track()
        win.select_ids([tid])
        win.table.setFocus()
        app.processEvents()
        time.sleep(0.3)
        app.processEvents()
        _grab(win, out / "main.png")

    script.add("main window", lambda: True, main_shot, settle_s=0.5)

    def open_review() -> None:
        dlg = win.open_review()
        seen["review"] = dlg

    def review_ready() -> bool:
        dlg = seen["review"]
        return dlg is not None and bool(dlg.file_tags)

    def review_shot() -> None:
        dlg = seen["review"]
        # show the thresholds at work: genres from 20 %, moods from 15 %
        dlg.set_threshold("genre", 0.2)
        dlg.set_threshold("mood", 0.15)
        dlg.resize(1180, 760)
        app.processEvents()
        _grab(dlg, out / "review.png")
        dlg.close()

    script.add("open review", lambda: True, open_review, settle_s=0.3)
    script.add("review", review_ready, review_shot, settle_s=0.8)

    def open_album_review() -> None:
        """The review of a whole album (the selected track's)."""
        model = win.library_model
        row = model.get_row(win.selected_ids()[0])
        same = [r.id for r in model.snapshot.rows if r.album and r.album == row.album][:40]
        win.select_ids(same or win.selected_ids())
        seen["review"] = win.open_review()

    def album_review_shot() -> None:
        dlg = seen["review"]
        dlg.set_threshold("genre", 0.2)
        dlg.set_threshold("mood", 0.15)
        dlg.resize(1280, 760)
        if dlg.track_list.count() > 2:
            dlg.track_list.setCurrentRow(2)
        app.processEvents()
        _grab(dlg, out / "review-album.png")
        dlg.close()
        win.select_ids([pick_track()])

    script.add("open album review", lambda: True, open_album_review, settle_s=0.3)
    script.add("album review", review_ready, album_review_shot, settle_s=1.0)

    def map_ready() -> bool:
        return panels.map_ready()

    def to_map() -> None:
        win.tabs.setCurrentIndex(TAB_MAP)

    def map_shot() -> None:
        view = win.map_panel.view
        view.fit_all()
        app.processEvents()
        tid = win.selected_ids()[0] if win.selected_ids() else None
        if tid is not None:
            panels.show_similar(tid)
            win.tabs.setCurrentIndex(TAB_MAP)
            pos = view.screen_pos(tid)
            if pos is not None:   # hover the selected point so its tooltip ring shows
                from PySide6.QtGui import QMouseEvent
                from PySide6.QtCore import QEvent, QPointF

                ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(view.mapToGlobal(pos.toPoint())),
                                 Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
                app.sendEvent(view, ev)
        app.processEvents()
        time.sleep(0.3)
        app.processEvents()
        _grab(win, out / "map.png")

    script.add("map tab", lambda: True, to_map, settle_s=0.2)
    script.add("map", map_ready, map_shot, settle_s=1.0)

    def similar_shot() -> None:
        win.tabs.setCurrentIndex(TAB_LIBRARY)
        win.side_tabs.setCurrentIndex(1)
        app.processEvents()
        _grab(win, out / "similar.png")

    script.add("more like this", lambda: True, similar_shot, settle_s=0.5)

    def key_map_shot() -> None:
        """The map coloured by key, and "more like this" that also mixes (tempo and key)."""
        panel = win.map_panel
        if not panel.set_color_by("key"):
            return
        win.tabs.setCurrentIndex(TAB_MAP)
        win.side_tabs.setCurrentIndex(1)
        win.similar_panel.set_mixing_filters(same_tempo=True, harmonic=True)
        app.processEvents()
        time.sleep(0.3)
        app.processEvents()
        _grab(win, out / "map-key.png")
        panel.set_color_by("top_genre")
        win.similar_panel.set_mixing_filters(same_tempo=False, harmonic=False)

    script.add("map by key", lambda: True, key_map_shot, settle_s=0.5)

    def problems_shot() -> None:
        win.tabs.setCurrentIndex(TAB_PROBLEMS)
        win.side_tabs.setCurrentIndex(0)
        app.processEvents()
        _grab(win, out / "problems.png")

    script.add("problems", lambda: True, problems_shot, settle_s=0.3)

    def go_dark() -> None:
        theme.apply_theme(app, dark=True)
        win.refresh_theme()
        win.map_panel.view.set_theme("dark")
        win.tabs.setCurrentIndex(TAB_LIBRARY)

    def dark_shots() -> None:
        _grab(win, out / "main-dark.png")
        win.tabs.setCurrentIndex(TAB_MAP)
        app.processEvents()
        time.sleep(0.3)
        app.processEvents()
        _grab(win, out / "map-dark.png")

    script.add("dark theme", lambda: True, go_dark, settle_s=0.3)
    script.add("dark shots", lambda: True, dark_shots, settle_s=0.8)
    rc = script.run()
    if script.failed:
        print(f"[shots] failed: {script.failed}", file=sys.stderr)
    win.close()
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
