"""``tagatlas-gui``: the desktop app."""
from __future__ import annotations

import os
import sys


def make_app(argv: list[str] | None = None):
    """The QApplication, styled (follows the system's light/dark setting)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from . import theme

    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName("Tag Atlas")
    app.setOrganizationName("TagAtlas")
    app.setApplicationDisplayName("Tag Atlas")
    app.setWindowIcon(theme.app_icon())
    theme.apply_theme(app, dark=_env_dark())
    return app


def _env_dark() -> bool | None:
    """TAGATLAS_THEME=dark|light forces a scheme (for screenshots); otherwise follow the system."""
    value = os.environ.get("TAGATLAS_THEME", "").strip().lower()
    return {"dark": True, "light": False}.get(value)


def make_main_window(*, settings=None, db_path=None, load_sync: bool = False):
    from .window import MainWindow

    return MainWindow(settings, db_path=db_path, load_sync=load_sync)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="tagatlas-gui", description="Tag Atlas: tag your music library "
                                     "from the sound and explore it as a map.")
    parser.add_argument("--db", default=None, help="the library database (default: your data folder)")
    parser.add_argument("folder", nargs="?", help="a music folder to add and scan")
    args, qt_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    # Qt aborts (core dump) when its xcb plugin's system libraries are missing: say which
    from .platform_check import EXIT_MISSING_LIBRARIES, check_before_qt

    problem = check_before_qt()
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_MISSING_LIBRARIES
    from .qt_refcount import guard_none_refcount

    guard_none_refcount()   # once, before any painting (PySide6 6.12 on Python 3.11)
    app = make_app([sys.argv[0], *qt_args])
    win = make_main_window(db_path=args.db)
    win.show()
    if args.folder:
        win.first_scan(os.path.abspath(args.folder))
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
