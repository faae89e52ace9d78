"""Review and write: the predicted tags of the selected tracks, per category, with confidences;
accept or reject each one; per-category threshold sliders; a live preview of what would change in
the file (``engine.metadata.plan_changes`` against the file's current tags); Write with progress
and Undo.

The dialog works on copies: the tracks' rows and scores from the table, and the file tags it
reads itself (in a worker). Writing goes through :func:`desktop.background.write_job` on the runner's
single file-write thread: the engine plans again from the files as they are then, applies the
plan as one journaled batch, and :func:`desktop.background.undo_job` restores it.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QDialog, QFrame, QGridLayout, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QProgressBar, QPushButton, QScrollArea,
                               QSlider, QSplitter, QTextBrowser, QVBoxLayout, QWidget)

from engine.vocab import CATEGORIES, TagInfo

from . import theme
from .background import Runner, Task, WriteResult, read_tags_job, undo_job, write_job
from .settings import CATEGORY_LABELS, Settings

#: Categories shown in the review (``other`` is not written by default and is left out).
REVIEW_CATEGORIES = ("genre", "mood", "instrument", "era")
#: Candidates listed per category (the best ones, written or not).
CANDIDATES = 6
#: A live summary over more tracks than this is computed only on demand.
LIVE_SUMMARY_LIMIT = 3000


@dataclass
class ReviewTrack:
    """One track under review: its table row (:class:`engine.library.TrackRow`) and scores."""

    row: object
    scores: np.ndarray
    #: the analysed (bpm, bpm confidence, (tonic, mode) or None, key confidence), or None
    rhythm: tuple | None = None

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def label(self) -> str:
        title = self.row.title or os.path.splitext(os.path.basename(self.row.path))[0]
        return f"{title} — {self.row.artist}" if self.row.artist else title


class _CategoryBox(QFrame):
    """One category: a threshold slider and the candidate tags as checkboxes with scores."""

    threshold_changed = Signal(str, object)       # category, float or None (the model's)
    toggled = Signal(str, str, bool)              # category, display name, checked

    def __init__(self, category: str, threshold: float | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.category = category
        self.setProperty("role", "card")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 12)
        lay.setSpacing(6)
        head = QHBoxLayout()
        title = QLabel(CATEGORY_LABELS[category])
        title.setProperty("role", "heading")
        head.addWidget(title)
        head.addStretch(1)
        self.thr_label = QLabel()
        self.thr_label.setProperty("role", "hint")
        head.addWidget(self.thr_label)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setFixedWidth(150)
        self.slider.setToolTip("Minimum confidence for a tag of this category to be written")
        head.addWidget(self.slider)
        lay.addLayout(head)
        self.rows = QGridLayout()
        self.rows.setHorizontalSpacing(10)
        self.rows.setVerticalSpacing(2)
        self.rows.setColumnStretch(1, 1)
        lay.addLayout(self.rows)
        self.field_label = QLabel()
        self.field_label.setProperty("role", "hint")
        lay.addWidget(self.field_label)
        self._checks: dict[str, QCheckBox] = {}
        self._model_threshold = threshold is None
        self.slider.setValue(int(round((0.5 if threshold is None else threshold) * 100)))
        self._show_threshold()
        self.slider.valueChanged.connect(self._slider_moved)

    @property
    def threshold(self) -> float | None:
        return None if self._model_threshold else self.slider.value() / 100.0

    def set_model_default(self, value: float) -> None:
        """Where the slider rests while the model's own thresholds apply."""
        if self._model_threshold:
            self.slider.blockSignals(True)
            self.slider.setValue(int(round(value * 100)))
            self.slider.blockSignals(False)
            self._show_threshold()

    def _slider_moved(self, value: int) -> None:
        self._model_threshold = False
        self._show_threshold()
        self.threshold_changed.emit(self.category, value / 100.0)

    def _show_threshold(self) -> None:
        v = self.slider.value()
        self.thr_label.setText(f"from {v}%" + (" (model)" if self._model_threshold else ""))

    def set_candidates(self, items: list[tuple[str, float, bool]], field: str | None) -> None:
        """``items``: (display name, score, will be written)."""
        while self.rows.count():
            w = self.rows.takeAt(0).widget()
            if w is not None:
                w.hide()
                w.setParent(None)
                w.deleteLater()
        self._checks = {}
        for r, (name, score, checked) in enumerate(items):
            box = QCheckBox(name)
            box.setChecked(checked)
            box.setEnabled(field is not None)
            box.setProperty("tag", name)
            box.toggled.connect(self._box_toggled)
            bar = _Bar(score)
            pct = QLabel(f"{score:.0%}")
            pct.setProperty("role", "hint")
            pct.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            pct.setMinimumWidth(38)
            self.rows.addWidget(box, r, 0)
            self.rows.addWidget(bar, r, 1)
            self.rows.addWidget(pct, r, 2)
            self._checks[name] = box
        if not items:
            none = QLabel("No tags of this kind in the model.")
            none.setProperty("role", "hint")
            self.rows.addWidget(none, 0, 0, 1, 3)
        self.field_label.setText(f"Written to: {_field_name(field)}" if field else
                                 "Not written (turned off in Settings › Tag writing)")

    def _box_toggled(self, on: bool) -> None:
        box = self.sender()
        if box is not None:
            self.toggled.emit(self.category, box.property("tag"), on)

    def checkbox(self, name: str) -> QCheckBox | None:
        return self._checks.get(name)


class _Bar(QWidget):
    def __init__(self, value: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value = float(value)
        self.setMinimumWidth(60)
        self.setFixedHeight(18)

    def paintEvent(self, event) -> None:  # noqa: N802
        from PySide6.QtCore import QRectF
        from PySide6.QtGui import QPainter

        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(0, self.height() / 2 - 3, self.width(), 6)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(theme.color("header"))
        p.drawRoundedRect(r, 3, 3)
        p.setBrush(theme.color("accent"))
        p.drawRoundedRect(QRectF(r.left(), r.top(), max(3.0, r.width() * min(1.0, self.value)), 6), 3, 3)
        p.end()


def _field_name(field: str) -> str:
    return {"genre": "Genre", "mood": "Mood", "bpm": "BPM", "key": "Key"}.get(field, field)


class ReviewDialog(QDialog):
    """Review the predictions for ``tracks`` and write the accepted ones.

    ``model``: the model whose scores these are; ``tags`` / ``thresholds``: its tag list and
    per-tag thresholds (from the library). Emits ``written(WriteResult)`` and ``undone(outcome)``.
    """

    written = Signal(object)
    undone = Signal(object)

    def __init__(self, *, db_path: str, settings: Settings, runner: Runner, model: str,
                 tags: list[TagInfo], thresholds: np.ndarray | None, tracks: list[ReviewTrack],
                 can_undo: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db_path, self.settings, self.runner = db_path, settings, runner
        self.model, self.tags = model, tags
        self.model_thresholds = thresholds
        self.tracks = tracks
        self.by_id = {t.id: t for t in tracks}
        self.accept_over: dict[int, set[str]] = {}
        self.reject_over: dict[int, set[str]] = {}
        self.thresholds: dict[str, float | None] = {c: settings.threshold_for(c) for c in CATEGORIES}
        self.file_tags: dict[int, object] = {}
        self._policy = None
        self.current: ReviewTrack | None = tracks[0] if tracks else None
        self.write_task: Task | None = None
        self.last_result: WriteResult | None = None
        self.setWindowTitle("Review tags" if len(tracks) == 1 else f"Review tags of {len(tracks):,} tracks")
        self.resize(1040, 720)

        # left: the tracks (hidden for one)
        self.track_list = QListWidget()
        self.track_list.setMinimumWidth(220)
        for t in tracks[:5000]:
            item = QListWidgetItem(t.label)
            item.setData(Qt.ItemDataRole.UserRole, t.id)
            item.setToolTip(t.row.display_path)
            self.track_list.addItem(item)
        if len(tracks) > 5000:
            more = QListWidgetItem(f"… and {len(tracks) - 5000:,} more (written with the same settings)")
            more.setFlags(Qt.ItemFlag.NoItemFlags)
            self.track_list.addItem(more)
        self.track_list.currentItemChanged.connect(self._track_chosen)

        # middle: the categories
        self.header = QLabel()
        self.header.setProperty("role", "title")
        self.header.setWordWrap(True)
        self.subheader = QLabel()
        self.subheader.setProperty("role", "hint")
        self.subheader.setWordWrap(True)
        self.boxes: dict[str, _CategoryBox] = {}
        cats = QWidget()
        cl = QVBoxLayout(cats)
        cl.setContentsMargins(0, 0, 6, 0)
        cl.setSpacing(10)
        for cat in REVIEW_CATEGORIES:
            box = _CategoryBox(cat, self.thresholds[cat])
            box.threshold_changed.connect(self._threshold_changed)
            box.toggled.connect(self._toggled)
            self.boxes[cat] = box
            cl.addWidget(box)
        cl.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(cats)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        # right: the diff
        diff_title = QLabel("What changes in the file")
        diff_title.setProperty("role", "heading")
        self.diff = QTextBrowser()
        self.diff.setOpenLinks(False)
        self.diff.setMinimumWidth(300)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        rl.addWidget(diff_title)
        rl.addWidget(self.diff, 1)

        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(self.header)
        ml.addWidget(self.subheader)
        ml.addSpacing(6)
        ml.addWidget(scroll, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.track_list)
        split.addWidget(middle)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 4)
        split.setStretchFactor(2, 3)
        split.setChildrenCollapsible(False)
        self.track_list.setVisible(len(tracks) > 1)
        if len(tracks) > 1:
            split.setSizes([240, 460, 340])
        else:
            split.setSizes([0, 560, 440])

        # bottom: summary, progress, buttons
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.progress_label = QLabel()
        self.progress_label.setProperty("role", "hint")
        self.progress_label.hide()
        self.undo_button = QPushButton("Undo last write")
        theme.set_icon(self.undo_button, "undo")
        self.undo_button.setEnabled(can_undo)
        self.undo_button.clicked.connect(self.undo_last)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self._close_or_cancel)
        self.write_button = QPushButton("Write tags")
        theme.set_icon(self.write_button, "write", "accent_text")
        self.write_button.setProperty("role", "primary")
        self.write_button.setDefault(True)
        self.write_button.clicked.connect(self.write)
        QShortcut(QKeySequence("Ctrl+W"), self, activated=self.write)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.write)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.progress_label)
        bottom.addWidget(self.progress)
        bottom.addWidget(self.undo_button)
        bottom.addWidget(self.close_button)
        bottom.addWidget(self.write_button)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.addWidget(split, 1)
        lay.addSpacing(6)
        lay.addLayout(bottom)

        self._summary_timer = QTimer(self, singleShot=True, interval=120)
        self._summary_timer.timeout.connect(self._update_summary)
        self._rest_sliders()
        self._read_file_tags()
        if self.current is not None:
            if len(tracks) > 1:
                self.track_list.setCurrentRow(0)
            else:
                self._show_current()

    # -- policy and overrides -------------------------------------------------------------------------
    def policy(self):
        """The tag policy of the settings with this review's thresholds (cached)."""
        if self._policy is None:
            self._policy = self.settings.policy(thresholds=self.thresholds)
        return self._policy

    def _rest_sliders(self) -> None:
        """Sliders of categories that use the model's thresholds rest at their typical value."""
        thr = (np.full(len(self.tags), 0.5) if self.model_thresholds is None
               else np.asarray(self.model_thresholds))
        for cat, box in self.boxes.items():
            vals = [thr[i] for i, t in enumerate(self.tags) if t.category == cat]
            box.set_model_default(float(np.median(vals)) if vals else 0.5)

    def overrides(self) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
        acc = {t: sorted(v) for t, v in self.accept_over.items() if v}
        rej = {t: sorted(v) for t, v in self.reject_over.items() if v}
        return acc, rej

    def _predicted(self, track: ReviewTrack, *, overrides: bool = True) -> dict[str, list[str]]:
        from engine.metadata import predicted_values

        return predicted_values(track.scores, self.tags, self.policy(),
                                accept=self.accept_over.get(track.id) if overrides else None,
                                reject=self.reject_over.get(track.id) if overrides else None,
                                thresholds=self.model_thresholds)

    def _threshold_changed(self, category: str, value) -> None:
        self.thresholds[category] = value
        self._policy = None
        self._show_current(keep_scroll=True)
        self._summary_timer.start()

    def _toggled(self, category: str, name: str, checked: bool) -> None:
        t = self.current
        if t is None:
            return
        default = name in self._predicted(t, overrides=False)[category]
        acc = self.accept_over.setdefault(t.id, set())
        rej = self.reject_over.setdefault(t.id, set())
        acc.discard(name)
        rej.discard(name)
        if checked != default:
            (acc if checked else rej).add(name)
        self._show_diff()
        self._summary_timer.start()

    def set_tag_checked(self, name: str, checked: bool) -> bool:
        """Tick or untick a candidate of the current track (for keyboard users and tests)."""
        for box in self.boxes.values():
            cb = box.checkbox(name)
            if cb is not None:
                cb.setChecked(checked)
                return True
        return False

    def set_threshold(self, category: str, value: float) -> None:
        self.boxes[category].slider.setValue(int(round(value * 100)))

    # -- showing a track ---------------------------------------------------------------------------------
    def _track_chosen(self, item: QListWidgetItem | None, _prev=None) -> None:
        if item is None:
            return
        tid = item.data(Qt.ItemDataRole.UserRole)
        if tid is None:
            return
        self.current = self.by_id[int(tid)]
        self._show_current()

    def _show_current(self, keep_scroll: bool = False) -> None:
        t = self.current
        if t is None:
            self.header.setText("Nothing to review")
            self.subheader.setText("The selected tracks have not been analysed yet.")
            self.write_button.setEnabled(False)
            return
        title = t.row.title or os.path.splitext(os.path.basename(t.row.path))[0]
        self.header.setText(title)
        self.subheader.setText(" — ".join(x for x in (t.row.artist, t.row.album) if x) or t.row.display_path)
        policy = self.policy()
        chosen = self._predicted(t)
        for cat, box in self.boxes.items():
            best: dict[str, float] = {}
            for i, tag in enumerate(self.tags):
                if tag.category == cat:
                    best[tag.display] = max(best.get(tag.display, 0.0), float(t.scores[i]))
            ranked = sorted(best.items(), key=lambda kv: -kv[1])
            names = [n for n, _ in ranked[:CANDIDATES]]
            names += [n for n in chosen[cat] if n not in names]   # accepted ones stay visible
            box.blockSignals(True)
            box.set_candidates([(n, best.get(n, 0.0), n in chosen[cat]) for n in names],
                               policy.field_for(cat))
            box.blockSignals(False)
        self._show_diff()

    def _change_for(self, t: ReviewTrack):
        """The planned change of one track (None while its tags are being read; the exception
        when they cannot be read)."""
        from engine.metadata import plan_changes
        from engine.metadata.policy import rhythm_values

        current = self.file_tags.get(t.id)
        if current is None or isinstance(current, Exception):
            return current
        policy = self.policy()
        rhythm = None if t.rhythm is None else rhythm_values(
            policy, bpm=t.rhythm[0], bpm_confidence=t.rhythm[1], key=t.rhythm[2],
            key_confidence=t.rhythm[3])
        return plan_changes(current, t.scores, self.tags, self.model, policy,
                            accept=self.accept_over.get(t.id), reject=self.reject_over.get(t.id),
                            thresholds=self.model_thresholds, rhythm=rhythm)

    def _show_diff(self) -> None:
        t = self.current
        if t is None:
            return
        change = self._change_for(t)
        muted, added, removed = theme.hex_color("muted"), theme.hex_color("written"), theme.hex_color("error")
        if change is None:
            self.diff.setHtml(f"<p style='color:{muted}'>Reading the file's tags…</p>")
            return
        if isinstance(change, Exception):
            reason = getattr(change, "reason", str(change))
            self.diff.setHtml(f"<p style='color:{removed}'>This file's tags cannot be read: "
                              f"{html.escape(reason)}</p>")
            return
        if not change:
            self.diff.setHtml(f"<p style='color:{muted}'>Nothing would change: the file already has "
                              "these tags, or the policy keeps its own values (Settings › Tag "
                              "writing).</p>")
            return
        rows = []
        for name, after in change.after.items():
            before = change.before.get(name, [])
            label = html.escape(_field_name(name))
            if name == change.scores_field:
                rows.append(f"<tr><td style='color:{muted}' valign='top'>All scores</td>"
                            f"<td colspan='2' style='color:{muted}'>scores of all {len(self.tags)} "
                            f"tags ({html.escape(self.model)})</td></tr>")
                continue
            old = ", ".join(before) or "—"
            keep = {v.casefold() for v in before}
            new = ", ".join(f"<b style='color:{added}'>{html.escape(v)}</b>" if v.casefold() not in keep
                            else html.escape(v) for v in after) or "—"
            old_html = (f"<s style='color:{removed}'>{html.escape(old)}</s>" if before
                        and any(v.casefold() not in {a.casefold() for a in after} for v in before)
                        else f"<span style='color:{muted}'>{html.escape(old)}</span>")
            rows.append(f"<tr><td style='color:{muted}' valign='top'>{label}</td>"
                        f"<td valign='top'>{old_html}</td><td valign='top'>→&nbsp;{new}</td></tr>")
        self.diff.setHtml("<table cellspacing='0' cellpadding='5'>"
                          f"<tr><th align='left' style='color:{muted}'>Field</th>"
                          f"<th align='left' style='color:{muted}'>Now</th>"
                          f"<th align='left' style='color:{muted}'>After writing</th></tr>"
                          + "".join(rows) + "</table>")

    def diff_text(self) -> str:
        """The current track's planned change as plain text (``TagChange.format_diff``)."""
        change = self._change_for(self.current) if self.current else None
        if change is None or isinstance(change, Exception):
            return ""
        return change.format_diff(with_path=False)

    # -- file tags and the summary --------------------------------------------------------------------------
    def _read_file_tags(self) -> None:
        paths = {t.id: t.row.path for t in self.tracks}
        self.summary.setText("Reading the files' current tags…")

        def progress(value) -> None:
            done, total = value
            if total > 50:
                self.summary.setText(f"Reading the files' current tags… {done:,} of {total:,}")

        def done(tags: dict) -> None:
            self.file_tags = tags
            self._show_diff()
            self._update_summary()

        self._tags_task = self.runner.run(read_tags_job, paths, on_result=done, on_progress=progress,
                                          name="read tags")

    def _update_summary(self) -> None:
        if not self.file_tags or self.write_task is not None:
            return
        n = len(self.tracks)
        if n > LIVE_SUMMARY_LIMIT:
            self.summary.setText(f"{n:,} tracks selected. Tags are planned again from each file "
                                 "when you write.")
            self.write_button.setText("Write tags")
            self.write_button.setEnabled(True)
            return
        changing = unreadable = 0
        for t in self.tracks:
            change = self._change_for(t)
            if isinstance(change, Exception):
                unreadable += 1
            elif change:
                changing += 1
        text = (f"{changing:,} of {n:,} files would change." if n > 1 else
                ("This file would change." if changing else "This file would not change."))
        if unreadable:
            text += f" {unreadable:,} cannot be read."
        text += f"  Policy: {self.settings.mode}"
        if self.settings.write_scores:
            text += ", with scores"
        self.summary.setText(text)
        self.write_button.setText(f"Write tags to {changing:,} file{'s' if changing != 1 else ''}")
        self.write_button.setEnabled(changing > 0)

    # -- writing and undo ---------------------------------------------------------------------------------------
    def write(self) -> Task | None:
        if self.write_task is not None or not self.write_button.isEnabled():
            return None
        acc, rej = self.overrides()
        ids = [t.id for t in self.tracks]
        self._busy(True, "Writing tags…")
        task = Task(write_job, self.db_path, ids, self.policy(), self.model, acc, rej,
                    self.settings.preserve_mtime, name="write tags")
        task.progress.connect(self._write_progress)
        task.result.connect(self._write_done)
        task.error.connect(self._write_failed)
        self.write_task = task
        self.runner.start(task, writes=True)
        return task

    def _write_progress(self, value) -> None:
        phase, done, total, _path = value
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        verb = "Checking" if phase == "plan" else "Writing"
        self.progress_label.setText(f"{verb} {done:,} of {total:,}")

    def _write_done(self, res: WriteResult) -> None:
        self.write_task = None
        self.last_result = res
        self._busy(False)
        parts = [f"Wrote tags to {len(res.written):,} file{'s' if len(res.written) != 1 else ''}."]
        if res.unchanged:
            parts.append(f"{res.unchanged:,} already had them.")
        if res.failures:
            parts.append(f"{len(res.failures):,} failed (see Problems): {res.failures[0].reason}")
        if res.cancelled:
            parts.append("Stopped before the end.")
        self.summary.setText(" ".join(parts))
        self.undo_button.setEnabled(bool(res.written))
        self.write_button.setEnabled(False)
        self.write_button.setText("Written")
        self.close_button.setText("Done")
        self.written.emit(res)

    def _write_failed(self, exc: BaseException) -> None:
        self.write_task = None
        self._busy(False)
        self.summary.setText(f"Writing failed: {exc}")
        self.written.emit(WriteResult(failures=[]))

    def undo_last(self) -> Task:
        self._busy(True, "Restoring the previous tags…")
        task = Task(undo_job, self.db_path, self.settings.preserve_mtime, name="undo")
        task.result.connect(self._undo_done)
        task.error.connect(self._undo_failed)
        self.undo_task = task
        self.runner.start(task, writes=True)
        return task

    def _undo_done(self, out) -> None:
        self._busy(False)
        msg = f"Restored the previous tags of {len(out.restored):,} file{'s' if len(out.restored) != 1 else ''}."
        if out.failures:
            msg += f" {len(out.failures):,} could not be restored: {out.failures[0].reason}"
        self.summary.setText(msg)
        self.undo_button.setEnabled(False)
        self.write_button.setText("Write tags")
        self.close_button.setText("Close")
        self.undone.emit(out)
        self._read_file_tags()

    def _undo_failed(self, exc: BaseException) -> None:
        self._busy(False)
        self.summary.setText(f"Undo failed: {exc}")

    def _busy(self, busy: bool, text: str = "") -> None:
        self.progress.setVisible(busy)
        self.progress_label.setVisible(busy)
        self.progress.setRange(0, 0)
        self.progress_label.setText(text)
        self.write_button.setEnabled(not busy)
        self.undo_button.setEnabled(not busy and self.undo_button.isEnabled())
        for box in self.boxes.values():
            box.setEnabled(not busy)
        self.close_button.setText("Cancel" if busy else "Close")

    def _close_or_cancel(self) -> None:
        if self.write_task is not None:
            self.write_task.cancel()
            return
        self.accept()

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.write_task is not None:
            self.write_task.cancel()
        super().closeEvent(event)
