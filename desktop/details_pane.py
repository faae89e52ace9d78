"""The details pane: the selected track's cover, what is in its file, and what the model heard.

The cover is read with :func:`engine.metadata.read_cover` in a worker (cached per path); all the
rest comes from the table's snapshot, so selecting a track never waits on the disk.
"""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QImage, QLinearGradient, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)

from engine.errors import MetadataError
from engine.vocab import TagInfo

from . import theme
from .background import Runner
from .library_model import STATUS_LABELS
from .settings import CATEGORY_LABELS

COVER_SIZE = 168


def category_scores(scores: np.ndarray, tags: list[TagInfo], thresholds: np.ndarray | None,
                    per_category: int = 4) -> list[tuple[str, list[tuple[str, float, float]]]]:
    """Per category, the best ``(display name, score, threshold)``; near-duplicates merged."""
    thr = np.full(len(tags), 0.5, np.float32) if thresholds is None else np.asarray(thresholds)
    out = []
    for cat in ("genre", "mood", "instrument", "era", "other"):
        best: dict[str, tuple[str, float, float]] = {}
        for i, t in enumerate(tags):
            if t.category != cat:
                continue
            key = t.display.casefold()
            cur = best.get(key)
            if cur is None or scores[i] > cur[1]:
                best[key] = (t.display, float(scores[i]), float(thr[i]))
        if best:
            ranked = sorted(best.values(), key=lambda e: -e[1])[:per_category]
            out.append((cat, ranked))
    return out


class ScoreBars(QWidget):
    """Category headings with one bar per tag; the tick marks the tag's threshold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data: list[tuple[str, list[tuple[str, float, float]]]] = []
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_data(self, data: list[tuple[str, list[tuple[str, float, float]]]]) -> None:
        self._data = [d for d in data if d[0] != "other"]
        self.setFixedHeight(self._height())
        self.update()

    def _row_h(self) -> int:
        return QFontMetrics(self.font()).height() + 8

    def _height(self) -> int:
        rh = self._row_h()
        return sum(rh + 2 + len(items) * rh for _, items in self._data) + 4

    def sizeHint(self) -> QSize:
        return QSize(260, self._height())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = QFontMetrics(self.font())
        rh = self._row_h()
        w = self.width()
        label_w = min(130, int(w * 0.42))
        pct_w = fm.horizontalAdvance("100%") + 6
        bar_x = label_w + 8
        bar_w = max(20, w - bar_x - pct_w - 4)
        y = 0
        caption = QFontMetrics(self.font())
        for cat, items in self._data:
            f = self.font()
            f.setBold(True)
            f.setPointSizeF(max(7.0, f.pointSizeF() - 0.5))
            p.setFont(f)
            p.setPen(theme.color("muted"))
            p.drawText(QRectF(0, y, w, rh), Qt.AlignmentFlag.AlignBottom,
                       CATEGORY_LABELS.get(cat, cat).upper())
            y += rh + 2
            p.setFont(self.font())
            for name, score, thr in items:
                passes = score >= thr
                p.setPen(theme.color("text") if passes else theme.color("muted"))
                p.drawText(QRectF(0, y, label_w, rh), Qt.AlignmentFlag.AlignVCenter,
                           caption.elidedText(name, Qt.TextElideMode.ElideRight, label_w))
                track = QRectF(bar_x, y + rh / 2 - 3, bar_w, 6)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(theme.color("header"))
                p.drawRoundedRect(track, 3, 3)
                fill = QRectF(track.left(), track.top(), max(3.0, bar_w * min(1.0, score)), 6)
                dim = theme.color("muted")
                dim.setAlphaF(0.45)
                p.setBrush(theme.color("accent") if passes else dim)
                p.drawRoundedRect(fill, 3, 3)
                tx = track.left() + bar_w * min(1.0, thr)
                p.setPen(theme.color("muted"))
                p.drawLine(int(tx), int(track.top() - 3), int(tx), int(track.bottom() + 3))
                p.setPen(theme.color("text") if passes else theme.color("muted"))
                p.drawText(QRectF(bar_x + bar_w + 4, y, pct_w, rh),
                           Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, f"{score:.0%}")
                y += rh
        p.end()


class CoverLabel(QLabel):
    """The cover art with rounded corners, or a placeholder."""

    def __init__(self, size: int = COVER_SIZE, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self.setFixedSize(size, size)
        self.set_cover(None)

    def set_cover(self, data: bytes | None, seed: str = "") -> None:
        img = QImage()
        if data:
            img.loadFromData(data)
        self.has_cover = not img.isNull()
        ratio = 2
        s = self._size * ratio
        pm = QPixmap(s, s)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, s, s), 12 * ratio, 12 * ratio)
        p.setClipPath(path)
        if self.has_cover:
            scaled = img.scaled(s, s, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                Qt.TransformationMode.SmoothTransformation)
            p.drawImage(int((s - scaled.width()) / 2), int((s - scaled.height()) / 2), scaled)
        else:
            hue = (sum(map(ord, seed)) * 37) % 360 if seed else 225
            g = QLinearGradient(0, 0, s, s)
            g.setColorAt(0, QColor.fromHsl(hue, 140, 150 if not theme.is_dark() else 90))
            g.setColorAt(1, QColor.fromHsl((hue + 40) % 360, 150, 110 if not theme.is_dark() else 60))
            p.fillRect(0, 0, s, s, g)
            icon = theme.icon("music", "#ffffff", 64).pixmap(QSize(64 * ratio, 64 * ratio))
            icon_size = s // 3
            p.setOpacity(0.85)
            p.drawPixmap(QRectF((s - icon_size) / 2, (s - icon_size) / 2, icon_size, icon_size).toRect(), icon)
        p.end()
        pm.setDevicePixelRatio(ratio)
        self.setPixmap(pm)


def _read_cover(task, path: str) -> bytes | None:
    from engine.metadata import read_cover

    try:
        return read_cover(path)
    except (MetadataError, OSError):  # no cover is not a problem worth showing here
        return None


class DetailsPane(QWidget):
    """What the selected track (or tracks) are. Emits the user's requests as signals."""

    review_requested = Signal()
    play_requested = Signal()

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._covers: OrderedDict[str, bytes | None] = OrderedDict()
        self._current_path: str | None = None
        self.setMinimumWidth(280)

        self.cover = CoverLabel()
        self.title = QLabel()
        self.title.setProperty("role", "title")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle = QLabel()
        self.subtitle.setWordWrap(True)
        self.meta = QLabel()
        self.meta.setProperty("role", "hint")
        self.meta.setWordWrap(True)
        self.file_tags = QLabel()
        self.file_tags.setWordWrap(True)
        self.file_tags.setTextFormat(Qt.TextFormat.RichText)
        self.bars = ScoreBars()
        self.bars_heading = QLabel("What the model hears")
        self.evidence = QLabel()
        self.evidence.setProperty("role", "hint")
        self.evidence.setWordWrap(True)
        self.evidence.setTextFormat(Qt.TextFormat.RichText)
        self.evidence.setVisible(False)
        self._evidence_for: int | None = None
        self.bars_heading.setProperty("role", "heading")
        self.file_heading = QLabel("In the file")
        self.file_heading.setProperty("role", "heading")
        self.path = QLabel()
        self.path.setProperty("role", "hint")
        self.path.setWordWrap(True)
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.play_button = QPushButton("Play preview")
        theme.set_icon(self.play_button, "play")
        self.play_button.clicked.connect(self.play_requested)
        self.review_button = QPushButton("Review tags…")
        theme.set_icon(self.review_button, "review", "accent_text")
        self.review_button.setProperty("role", "primary")
        self.review_button.clicked.connect(self.review_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.play_button)
        buttons.addWidget(self.review_button)
        buttons.addStretch(1)

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(16, 16, 16, 16)
        lay.setSpacing(6)
        top = QHBoxLayout()
        top.addWidget(self.cover, 0, Qt.AlignmentFlag.AlignTop)
        top.addStretch(1)
        lay.addLayout(top)
        lay.addSpacing(8)
        lay.addWidget(self.title)
        lay.addWidget(self.subtitle)
        lay.addWidget(self.meta)
        lay.addSpacing(6)
        lay.addLayout(buttons)
        lay.addSpacing(10)
        lay.addWidget(self.bars_heading)
        lay.addWidget(self.bars)
        lay.addWidget(self.evidence)
        lay.addSpacing(8)
        lay.addWidget(self.file_heading)
        lay.addWidget(self.file_tags)
        lay.addSpacing(8)
        lay.addWidget(self.path)
        lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_nothing()

    # -- states ----------------------------------------------------------------------------------
    def _set_visible(self, track: bool) -> None:
        for w in (self.bars_heading, self.bars, self.file_heading, self.file_tags, self.path,
                  self.play_button):
            w.setVisible(track)

    def show_nothing(self) -> None:
        self._current_path = None
        self.cover.set_cover(None)
        self.title.setText("No track selected")
        self.subtitle.setText("Pick a track in the list or on the map to see what the model "
                              "hears in it and what Tag Atlas would write.")
        self.subtitle.setProperty("role", "hint")
        self._restyle(self.subtitle)
        self.meta.setText("")
        self.review_button.setEnabled(False)
        self._set_visible(False)

    def show_many(self, n: int, summary: list[tuple[str, list[tuple[str, float, float]]]] | None) -> None:
        self._current_path = None
        self.cover.set_cover(None, seed=str(n))
        self.title.setText(f"{n:,} tracks selected")
        self.subtitle.setText("Review their predicted tags and write them in one go.")
        self.subtitle.setProperty("role", "hint")
        self._restyle(self.subtitle)
        self.meta.setText("")
        self.review_button.setEnabled(True)
        self._set_visible(False)
        if summary:
            self.bars_heading.setText("On average the model hears")
            self.bars_heading.setVisible(True)
            self.bars.set_data(summary)
            self.bars.setVisible(True)

    def show_track(self, row, scores: np.ndarray | None, tags: list[TagInfo],
                   thresholds: np.ndarray | None, rhythm: tuple | None = None,
                   key_notation: str = "standard") -> None:
        """Show one track in the pane.

        Its title, artist and album, format, duration, status, tempo and key, the model's scores per
        category (or why there are none), the genre and mood already in the file, its path and cover.

        Parameters
        ----------
        row : TrackRow
            The track (a :class:`engine.library.TrackRow`).
        scores : np.ndarray or None
            [n_tags] its tag probabilities in ``tags`` order; None: not analysed (the pane says so).
        tags : list of TagInfo
            The tags of ``scores``, with categories and display names.
        thresholds : np.ndarray or None
            [n_tags] per-tag thresholds drawn on the bars; None: 0.5 for every tag.
        rhythm : tuple, optional
            Its analysed (bpm, bpm confidence, (tonic, mode) or None, key confidence); None: not
            analysed.
        key_notation : str, default "standard"
            How the key is written (see :func:`engine.key.key_name`, e.g. "standard" or "camelot").

        Returns
        -------
        None
        """
        self._set_visible(True)
        if self._evidence_for != getattr(row, "id", None):
            self.evidence.setVisible(False)
        title = row.title or os.path.splitext(os.path.basename(row.path))[0]
        self.title.setText(title)
        parts = [row.artist or "Unknown artist"]
        if row.album:
            parts.append(row.album)
        self.subtitle.setText(" — ".join(parts))
        self.subtitle.setProperty("role", None)
        self._restyle(self.subtitle)
        meta = []
        if row.format:
            meta.append(row.format)
        if row.duration_s:
            m, s = divmod(int(round(row.duration_s)), 60)
            meta.append(f"{m}:{s:02d}")
        meta.append(STATUS_LABELS.get(row.status, row.status))
        if rhythm is not None:
            from engine.key import key_name

            if rhythm[0] is not None:
                meta.append(f"{rhythm[0]:.0f} BPM")
            if rhythm[2] is not None:
                meta.append(f"key {key_name(*rhythm[2], notation=key_notation)}")
        self.meta.setText("  ·  ".join(meta))
        self.review_button.setEnabled(scores is not None)
        self.bars_heading.setText("What the model hears")
        if scores is not None and tags:
            self.bars.set_data(category_scores(scores, tags, thresholds))
            self.bars.setVisible(True)
        else:
            self.bars.set_data([])
            self.bars.setVisible(False)
            self.bars_heading.setText("Not analysed yet" if row.status != "error"
                                      else "This file could not be analysed — see Problems")
        muted = theme.hex_color("muted")
        genre = ", ".join(row.genre) or f"<span style='color:{muted}'>none</span>"
        mood = ", ".join(row.mood) or f"<span style='color:{muted}'>none</span>"
        self.file_tags.setText(f"<table cellspacing='0' cellpadding='2'>"
                               f"<tr><td style='color:{muted}'>Genre&nbsp;&nbsp;</td><td>{_esc(genre)}</td></tr>"
                               f"<tr><td style='color:{muted}'>Mood</td><td>{_esc(mood)}</td></tr></table>")
        self.path.setText(row.display_path)
        self._load_cover(row.path, title)

    def show_evidence(self, track_id: int, items: list) -> None:
        """Which model said what for the shown track's best genres and moods (see
        :func:`desktop.background.evidence_job`)."""
        self._evidence_for = track_id
        if not items:
            self.evidence.setVisible(False)
            return
        lines = []
        for _cat, display, score, said in items:
            who = ", ".join(f"{_esc(model)}: {_esc(tag)} {raw:.2f}" for model, tag, raw in said[:3])
            lines.append(f"<b>{_esc(display)}</b> {score:.0%} &larr; {who}")
        self.evidence.setText("<br>".join(lines))
        self.evidence.setToolTip("The combined score of a tag is the strongest calibrated score of "
                                 "the model tags that mean it (50% = worth writing); the numbers "
                                 "after each model are its raw outputs.")
        self.evidence.setVisible(True)

    # -- cover -------------------------------------------------------------------------------------
    def _load_cover(self, path: str, seed: str) -> None:
        self._current_path = path
        if path in self._covers:
            self.cover.set_cover(self._covers[path], seed)
            return
        self.cover.set_cover(None, seed)

        def done(data: bytes | None, path=path, seed=seed) -> None:
            self._covers[path] = data
            while len(self._covers) > 200:
                self._covers.popitem(last=False)
            if self._current_path == path:
                self.cover.set_cover(data, seed)

        self.runner.run(_read_cover, path, on_result=done, name="cover")

    @staticmethod
    def _restyle(w: QWidget) -> None:
        w.style().unpolish(w)
        w.style().polish(w)


def _esc(html: str) -> str:
    # the values come from files: keep any markup in them inert, but keep our own span
    if html.startswith("<span"):
        return html
    return html.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
