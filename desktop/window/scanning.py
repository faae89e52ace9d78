"""Scanning from the main window: starting a scan in the background, its progress strip
(phase, count, tracks per second, time left, the current file), Cancel, and what the window
says when the scan ends.

:class:`ScanMixin` is part of :class:`desktop.window.MainWindow` (its widgets come from
:mod:`desktop.window.layout`).
"""
from __future__ import annotations

import os
import time

from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.background import ScanRequest, Task, scan_job
from desktop.settings import default_music_folder

from .layout import PAGE_LIBRARY

PHASES = {"load": "Loading the model", "walk": "Looking for music", "read": "Reading tags",
          "analyse": "Analysing", "rhythm": "Tempo and key"}
#: While a scan analyses, the table is refreshed this often (ms) for libraries up to
#: LIVE_REFRESH_MAX_TRACKS tracks (bigger ones refresh when the scan ends).
LIVE_REFRESH_MS = 2500
LIVE_REFRESH_MAX_TRACKS = 20000


class RateMeter:
    """Tracks per second and time left for one phase of a job."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.t0 = 0.0
        self.done0 = 0

    def update(self, phase: str, done: int, total: int) -> tuple[float, float | None]:
        now = time.monotonic()
        if phase != self.phase:
            self.phase, self.t0, self.done0 = phase, now, done
        elapsed = now - self.t0
        rate = (done - self.done0) / elapsed if elapsed > 0.5 else 0.0
        eta = (total - done) / rate if rate > 0 and total > 0 else None
        return rate, eta


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s left"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s left"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min left"


class ScanMixin:
    """The scan's part of the main window (``scan_task``, ``meter``, the strip's labels)."""

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a music folder", default_music_folder())
        if folder:
            self.settings.add_folder(folder)
            self.start_scan([folder])

    def first_scan(self, folder: str) -> None:
        """The welcome page's "Scan": remember the folder, show the library, scan it."""
        self.settings.add_folder(folder)
        self.settings.sync()
        self.pages.setCurrentIndex(PAGE_LIBRARY)
        self.start_scan([folder])

    def rescan(self) -> None:
        self.start_scan()

    def retry_failed(self) -> None:
        self.start_scan(retry_failed=True)

    def start_scan(self, folders: list[str] | None = None, *, retry_failed: bool = False) -> Task | None:
        """Scan ``folders`` (default: every library folder) and analyse what is new."""
        if self.scan_task is not None:
            return None
        folders = folders or self.settings.folders
        if not folders:
            self.add_folder()
            return None
        s = self.settings
        req = ScanRequest(folders=list(folders), model=s.model, device=s.engine_device,
                          workers=s.workers, max_patches=s.max_patches, retry_failed=retry_failed)
        task = Task(scan_job, self.db_path, req, name="scan")
        task.progress.connect(self._scan_progress)
        task.result.connect(self._scan_done)
        task.error.connect(self._scan_failed)
        self.scan_task = task
        self.meter = RateMeter()
        self.phase_label.setText("Starting…")
        self.rate_label.setText("")
        self.file_label.setText("")
        self.progress.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.strip.show()
        self.update_actions()
        self.update_empty_state()
        self.runner.start(task)
        self._live_timer.start()
        return task

    def _scan_progress(self, value) -> None:
        phase, done, total, path = value
        label = PHASES.get(phase, phase.capitalize())
        if self.scan_task is not None and self.scan_task.cancelled:
            return
        if total <= 0:
            self.progress.setRange(0, 0)
            self.phase_label.setText(label + "…")
            self.rate_label.setText(f"{done:,} files found" if phase == "walk" else "")
        else:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            rate, eta = self.meter.update(phase, done, total)
            self.phase_label.setText(f"{label}  {done:,} / {total:,}")
            parts = []
            if rate > 0:
                parts.append(f"{rate:.1f} tracks/s")
            if eta is not None and done < total:
                parts.append(format_eta(eta))
            self.rate_label.setText("  ·  ".join(parts))
        self.file_label.setText(os.path.basename(path) if path and phase != "load" else "")

    def _scan_done(self, summary) -> None:
        self.scan_task = None
        self._live_timer.stop()
        self.strip.hide()
        found = summary.new + summary.changed + summary.unchanged + summary.moved
        if summary.cancelled:
            msg = "Scan cancelled. Rescan (Ctrl+R) to carry on where it stopped."
        elif not (summary.new or summary.changed or summary.moved or summary.gone or summary.analysed):
            msg = f"Your library is up to date: {found:,} tracks, nothing new or changed."
        else:
            msg = (f"Scan finished: {found:,} tracks, {summary.new:,} new, {summary.analysed:,} "
                   f"analysed in {summary.elapsed_s:.0f} s")
            if summary.failed:
                msg += f", {summary.failed:,} with problems (see Problems)"
        self.statusBar().showMessage(msg, 15000)
        self.reload()
        self.reload_errors()
        self.update_actions()
        self.scan_finished.emit(summary)

    def _scan_failed(self, exc: BaseException) -> None:
        self.scan_task = None
        self._live_timer.stop()
        self.strip.hide()
        self.update_actions()
        QMessageBox.warning(self, "The scan could not run", str(exc))
        self.reload()
        self.reload_errors()
        self.scan_finished.emit(exc)

    def _live_refresh(self) -> None:
        if self.library_model.snapshot.n <= LIVE_REFRESH_MAX_TRACKS:
            self.reload()

    def cancel_work(self) -> None:
        if self.scan_task is not None:
            self.scan_task.cancel()
            self.phase_label.setText("Stopping…")
            self.cancel_button.setEnabled(False)
            self.rate_label.setText("")
