"""The look: Fusion with a light or dark palette that follows the system, a few semantic colours,
a light style sheet, and the SVG icons in ``resources/icons`` tinted to the palette.

Icons are drawn with ``stroke="currentColor"``; :func:`icon` replaces that with the palette's
text colour (or a given colour) before rendering, so they read well on light and dark.
"""
from __future__ import annotations

import os
import weakref
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QStyleFactory

from engine.paths import bundled_file

ICON_DIR = bundled_file("icons")

_LIGHT = {
    "window": "#f5f6f8", "base": "#ffffff", "alt": "#f7f8fa", "text": "#1f2328",
    "muted": "#6b7280", "border": "#dfe2e7", "button": "#ffffff", "accent": "#3d6ef5",
    "accent_text": "#ffffff", "highlight": "#dbe6ff", "highlight_text": "#0f1f4d",
    "chip": "#eef2ff", "chip_text": "#1e3a8a", "chip_dim": "#f1f2f4", "chip_dim_text": "#6b7280",
    "new": "#8b95a5", "analysed": "#3d6ef5", "written": "#16a34a", "error": "#dc2626",
    "gone": "#9ca3af", "panel": "#ffffff", "header": "#f1f3f6", "danger": "#dc2626",
}
_DARK = {
    "window": "#1c1e22", "base": "#24272c", "alt": "#272a30", "text": "#e6e8eb",
    "muted": "#9aa1ad", "border": "#363a41", "button": "#2c3036", "accent": "#6d92ff",
    "accent_text": "#0b1020", "highlight": "#2f4a8f", "highlight_text": "#ffffff",
    "chip": "#2a3558", "chip_text": "#c7d4ff", "chip_dim": "#2c2f35", "chip_dim_text": "#8b929e",
    "new": "#8b95a5", "analysed": "#6d92ff", "written": "#3ecf74", "error": "#f87171",
    "gone": "#6b7280", "panel": "#24272c", "header": "#2a2d33", "danger": "#f87171",
}

_state = {"dark": False}


def is_dark() -> bool:
    return _state["dark"]


def color(name: str) -> QColor:
    """A semantic colour of the current scheme (``"accent"``, ``"muted"``, a status name…)."""
    return QColor((_DARK if _state["dark"] else _LIGHT)[name])


def hex_color(name: str) -> str:
    return (_DARK if _state["dark"] else _LIGHT)[name]


def system_prefers_dark(app: QGuiApplication) -> bool:
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    # Unknown (no platform theme): judge by the platform palette's window colour
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 110


def _palette(c: dict[str, str]) -> QPalette:
    p = QPalette()
    R = QPalette.ColorRole
    for role, key in ((R.Window, "window"), (R.WindowText, "text"), (R.Base, "base"),
                      (R.AlternateBase, "alt"), (R.Text, "text"), (R.Button, "button"),
                      (R.ButtonText, "text"), (R.Highlight, "accent"),
                      (R.HighlightedText, "accent_text"), (R.ToolTipBase, "base"),
                      (R.ToolTipText, "text"), (R.PlaceholderText, "muted"), (R.Link, "accent"),
                      (R.Mid, "border"), (R.Midlight, "border"), (R.Light, "base"),
                      (R.Dark, "muted"), (R.Shadow, "border")):
        p.setColor(role, QColor(c[key]))
    G = QPalette.ColorGroup
    for role in (R.Text, R.WindowText, R.ButtonText):
        p.setColor(G.Disabled, role, QColor(c["muted"]))
    return p


def _arrow_file(name: str, colour: str) -> str:
    """A tinted copy of an icon as a file, for style sheets (which take file names)."""
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"tagatlas-theme-{os.getuid() if hasattr(os, 'getuid') else 0}"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}-{colour.lstrip('#')}.svg"
    if not out.exists():
        svg = (ICON_DIR / f"{name}.svg").read_text(encoding="utf-8").replace("currentColor", colour)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(svg, encoding="utf-8")
        os.replace(tmp, out)
    return out.as_posix()


def _style_sheet(c: dict[str, str]) -> str:
    down = _arrow_file("chevron-down", c["muted"])
    up = _arrow_file("chevron-up", c["muted"])
    return f"""
    QMainWindow, QDialog {{ background: {c['window']}; }}
    QToolBar {{ background: {c['window']}; border: none; border-bottom: 1px solid {c['border']};
               padding: 6px 8px; spacing: 4px; }}
    QToolBar QToolButton {{ padding: 5px 8px; border-radius: 6px; border: 1px solid transparent; }}
    QToolBar QToolButton:hover {{ background: {c['header']}; border-color: {c['border']}; }}
    QToolBar QToolButton:pressed {{ background: {c['highlight']}; }}
    QToolBar QToolButton:disabled {{ color: {c['muted']}; }}
    QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox {{ border: 1px solid {c['border']};
        border-radius: 6px; padding: 4px 8px; background: {c['base']}; min-height: 20px; }}
    QLineEdit:focus, QComboBox:focus, QSpinBox:focus, QDoubleSpinBox:focus {{ border-color: {c['accent']}; }}
    QComboBox {{ padding-right: 24px; }}
    QComboBox::drop-down {{ subcontrol-origin: padding; subcontrol-position: center right;
        width: 22px; border: none; background: transparent; }}
    QComboBox::down-arrow {{ image: url("{down}"); width: 12px; height: 12px; }}
    QComboBox QAbstractItemView {{ border: 1px solid {c['border']}; background: {c['base']};
        selection-background-color: {c['highlight']}; selection-color: {c['highlight_text']};
        outline: none; padding: 2px; }}
    QSpinBox, QDoubleSpinBox {{ padding-right: 20px; }}
    QSpinBox::up-button, QDoubleSpinBox::up-button {{ subcontrol-origin: border;
        subcontrol-position: top right; width: 18px; border: none; background: transparent; }}
    QSpinBox::down-button, QDoubleSpinBox::down-button {{ subcontrol-origin: border;
        subcontrol-position: bottom right; width: 18px; border: none; background: transparent; }}
    QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{ image: url("{up}"); width: 10px; height: 10px; }}
    QSpinBox::down-arrow, QDoubleSpinBox::down-arrow {{ image: url("{down}"); width: 10px; height: 10px; }}
    QTableView, QTreeView, QListView, QListWidget, QTreeWidget, QTextBrowser, QPlainTextEdit {{
        border: 1px solid {c['border']}; border-radius: 8px; background: {c['base']};
        selection-background-color: {c['highlight']}; selection-color: {c['highlight_text']}; }}
    QTableView {{ gridline-color: transparent; }}
    QTreeView::item {{ padding: 3px 2px; }}
    QListView::item {{ padding: 4px 6px; }}
    QTableView::item {{ padding: 0 6px; border: none; }}
    QHeaderView::section {{ background: {c['header']}; color: {c['muted']}; border: none;
        border-bottom: 1px solid {c['border']}; padding: 6px 8px; font-weight: 600; }}
    QTabWidget::pane {{ border: none; }}
    QTabBar::tab {{ padding: 7px 14px; margin-right: 2px; border: none; color: {c['muted']};
        border-bottom: 2px solid transparent; }}
    QTabBar::tab:selected {{ color: {c['text']}; border-bottom: 2px solid {c['accent']}; }}
    QTabBar::tab:hover {{ color: {c['text']}; }}
    QPushButton {{ border: 1px solid {c['border']}; border-radius: 6px; padding: 6px 14px;
        background: {c['button']}; }}
    QPushButton:hover {{ border-color: {c['accent']}; }}
    QPushButton:disabled {{ color: {c['muted']}; }}
    QPushButton[role="primary"] {{ background: {c['accent']}; color: {c['accent_text']};
        border-color: {c['accent']}; font-weight: 600; }}
    QPushButton[role="primary"]:disabled {{ background: {c['border']}; border-color: {c['border']};
        color: {c['muted']}; }}
    QLabel[role="hint"], QLabel[role="caption"] {{ color: {c['muted']}; }}
    QLabel[role="caption"] {{ font-weight: 600; }}
    QLabel[role="title"] {{ font-size: 15pt; font-weight: 600; }}
    QLabel[role="heading"] {{ font-size: 11pt; font-weight: 600; }}
    QFrame[role="card"] {{ background: {c['panel']}; border: 1px solid {c['border']};
        border-radius: 10px; }}
    QFrame[role="strip"] {{ background: {c['panel']}; border-top: 1px solid {c['border']}; }}
    QProgressBar {{ border: none; border-radius: 4px; background: {c['header']}; max-height: 8px;
        text-align: center; }}
    QProgressBar::chunk {{ background: {c['accent']}; border-radius: 4px; }}
    QSplitter::handle {{ background: {c['window']}; }}
    QStatusBar {{ color: {c['muted']}; border-top: 1px solid {c['border']}; }}
    QStatusBar::item {{ border: none; }}
    QGroupBox {{ border: 1px solid {c['border']}; border-radius: 8px; margin-top: 14px;
        padding: 10px 8px 8px 8px; }}
    QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {c['muted']};
        font-weight: 600; }}
    QSlider::groove:horizontal {{ height: 4px; background: {c['border']}; border-radius: 2px; }}
    QSlider::sub-page:horizontal {{ background: {c['accent']}; border-radius: 2px; }}
    QSlider::handle:horizontal {{ background: {c['base']}; border: 2px solid {c['accent']};
        width: 12px; height: 12px; margin: -6px 0; border-radius: 8px; }}
    QScrollArea {{ border: none; background: transparent; }}
    QToolTip {{ border: 1px solid {c['border']}; padding: 4px 6px; }}
    """


def apply_theme(app: QApplication, *, dark: bool | None = None) -> None:
    """Style ``app``; ``dark`` None follows the system (and keeps following it)."""
    follow = dark is None
    if follow:
        dark = system_prefers_dark(app)
    _state["dark"] = bool(dark)
    c = _DARK if dark else _LIGHT
    if "Fusion" in QStyleFactory.keys():
        app.setStyle("Fusion")
    app.setPalette(_palette(c))
    app.setStyleSheet(_style_sheet(c))
    _tinted.cache_clear()
    _retint()
    if follow and not getattr(app, "_tagatlas_follows_scheme", False):
        app._tagatlas_follows_scheme = True  # type: ignore[attr-defined]
        app.styleHints().colorSchemeChanged.connect(lambda *_: _scheme_changed(app))


def _scheme_changed(app: QApplication) -> None:
    apply_theme(app)
    for w in app.topLevelWidgets():
        refresh = getattr(w, "refresh_theme", None)
        if callable(refresh):
            refresh()


@lru_cache(maxsize=256)
def _tinted(name: str, tint: str, size: int) -> QPixmap:
    path = ICON_DIR / f"{name}.svg"
    data = path.read_text(encoding="utf-8").replace("currentColor", tint)
    renderer = QSvgRenderer(QByteArray(data.encode("utf-8")))
    ratio = 2.0
    pm = QPixmap(QSize(int(size * ratio), int(size * ratio)))
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size * ratio, size * ratio))
    painter.end()
    pm.setDevicePixelRatio(ratio)
    return pm


def icon(name: str, tint: str | None = None, size: int = 20) -> QIcon:
    """The icon ``resources/icons/<name>.svg`` in the text colour (or ``tint``, a colour name
    of the scheme or ``#rrggbb``)."""
    if tint is None:
        value = hex_color("text")
    elif tint.startswith("#"):
        value = tint
    else:
        value = hex_color(tint)
    ic = QIcon()
    ic.addPixmap(_tinted(name, value, size))
    ic.addPixmap(_tinted(name, hex_color("muted"), size), QIcon.Mode.Disabled)
    return ic


_bound: list[tuple[weakref.ref, str, str | None, int]] = []


def set_icon(obj, name: str, tint: str | None = None, size: int = 20) -> None:
    """Give ``obj`` (a QAction, a button…) the icon ``name`` and keep it tinted to the scheme
    when the system switches between light and dark."""
    obj.setIcon(icon(name, tint, size))
    _bound.append((weakref.ref(obj), name, tint, size))


def _retint() -> None:
    alive = []
    for ref, name, tint, size in _bound:
        obj = ref()
        if obj is None:
            continue
        try:
            obj.setIcon(icon(name, tint, size))
        except RuntimeError:  # the Qt object is gone
            continue
        alive.append((ref, name, tint, size))
    _bound[:] = alive


def app_icon() -> QIcon:
    return QIcon(str(ICON_DIR / "tagatlas.svg"))
