"""A small preview player: play/pause, position, time, volume (QtMultimedia).

``PreviewPlayer(parent=None, *, from_middle=True, middle_fraction=0.35)``

Signals
    ``state_changed(str)``      "playing", "paused" or "stopped"
    ``track_changed(object)``   the track id given to :meth:`play_file` (or None)
    ``error_occurred(str)``     a plain sentence, e.g. "Cannot play song.mp3: the file is damaged"

Methods / slots
    ``play_file(path, *, track_id=None, title=None, artist=None, from_middle=None) -> bool``
    ``toggle_play()``, ``play()``, ``pause()``, ``stop()``, ``seek(seconds)``
    ``set_volume(0..1)``, ``volume()``, ``set_from_middle(bool)``
    ``state()``, ``current_path()``, ``current_track_id()``, ``position_s()``, ``duration_s()``
    ``is_available()`` / ``unavailable_reason()``: whether QtMultimedia loaded here

Without QtMultimedia (e.g. no PulseAudio library on a server) or without an audio device,
the player shows why in its label, keeps its buttons disabled and reports through
``error_occurred``; it never raises into the caller.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QUrl, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPalette, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QSlider, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

try:  # QtMultimedia needs system libraries (libpulse on Linux) that may be missing
    from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
    _MULTIMEDIA_ERROR: str | None = None
except (ImportError, OSError) as exc:  # pragma: no cover - depends on the machine
    QAudioOutput = QMediaDevices = QMediaPlayer = None  # type: ignore[assignment]
    _MULTIMEDIA_ERROR = f"previews need QtMultimedia, and it is not available on this system ({exc})"

#: Where a preview starts when it starts "from the middle": this fraction of the track.
MIDDLE_FRACTION = 0.35


def format_time(seconds: float | None) -> str:
    """``83.4`` -> ``"1:23"``; hours when needed; ``"–:––"`` when unknown."""
    if seconds is None or seconds < 0:
        return "–:––"
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def transport_icon(kind: str, colour, size: int = 32) -> QIcon:
    """"play", "pause", "stop" or "volume" drawn in ``colour`` (the palette's text colour,
    so the icons stay visible in dark and light themes alike)."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    s = float(size)
    if kind == "play":
        p.drawPolygon(QPolygonF([QPointF(0.3 * s, 0.2 * s), QPointF(0.8 * s, 0.5 * s),
                                 QPointF(0.3 * s, 0.8 * s)]))
    elif kind == "pause":
        p.drawRoundedRect(QRectF(0.25 * s, 0.2 * s, 0.17 * s, 0.6 * s), 1.5, 1.5)
        p.drawRoundedRect(QRectF(0.58 * s, 0.2 * s, 0.17 * s, 0.6 * s), 1.5, 1.5)
    elif kind == "stop":
        p.drawRoundedRect(QRectF(0.25 * s, 0.25 * s, 0.5 * s, 0.5 * s), 2, 2)
    elif kind == "volume":
        p.drawPolygon(QPolygonF([QPointF(0.12 * s, 0.38 * s), QPointF(0.3 * s, 0.38 * s),
                                 QPointF(0.52 * s, 0.18 * s), QPointF(0.52 * s, 0.82 * s),
                                 QPointF(0.3 * s, 0.62 * s), QPointF(0.12 * s, 0.62 * s)]))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(colour, 0.07 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawArc(QRectF(0.42 * s, 0.3 * s, 0.3 * s, 0.4 * s), -50 * 16, 100 * 16)
        p.drawArc(QRectF(0.4 * s, 0.16 * s, 0.46 * s, 0.68 * s), -50 * 16, 100 * 16)
    p.end()
    return QIcon(pm)


def _plain_media_error(path: str, error, message: str) -> str:
    """A sentence for a QMediaPlayer error."""
    name = os.path.basename(path) or path
    if QMediaPlayer is None:
        return f"Cannot play {name}: {message}"
    E = QMediaPlayer.Error
    reasons = {
        E.ResourceError: "the file could not be opened or read",
        E.FormatError: "its format is not supported for playback here",
        E.NetworkError: "it could not be reached",
        E.AccessDeniedError: "permission to read it was denied",
    }
    reason = reasons.get(error, message or "playback failed")
    return f"Cannot play {name}: {reason}" + (f" ({message})" if message and message != reason else "")


class _ElidedLabel(QLabel):
    """One line of text that ends in "…" when the bar is too narrow for it. Its tooltip is the
    one set explicitly (a track's path), else the whole text while it is elided; ``text()``
    stays the whole text."""

    _explicit_tip = ""

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip("")

    def setToolTip(self, tip: str) -> None:  # noqa: N802
        self._explicit_tip = tip
        super().setToolTip(tip)

    def paintEvent(self, event) -> None:  # noqa: N802
        rect = self.contentsRect()
        full = self.text()
        shown = self.fontMetrics().elidedText(full, Qt.TextElideMode.ElideRight, rect.width())
        if not self._explicit_tip:
            QLabel.setToolTip(self, full if shown != full else "")
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), shown)
        painter.end()


class PreviewPlayer(QWidget):
    """Transport for previews. See the module docstring for the API."""

    state_changed = Signal(str)
    track_changed = Signal(object)
    error_occurred = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, from_middle: bool = True,
                 middle_fraction: float = MIDDLE_FRACTION) -> None:
        super().__init__(parent)
        self._path: str | None = None
        self._track_id = None
        self._pending_seek: float | None = None
        self._middle_fraction = float(middle_fraction)
        self._dragging = False
        self._state = "stopped"
        self._last_error: str | None = None
        self._player = None
        self._audio = None
        self._unavailable = _MULTIMEDIA_ERROR

        self._play_button = QToolButton(self)
        self._play_button.setIcon(self._icon("play"))
        self._play_button.setToolTip("Play / pause (Space)")
        self._play_button.setAutoRaise(True)
        self._play_button.clicked.connect(self.toggle_play)
        self._stop_button = QToolButton(self)
        self._stop_button.setIcon(self._icon("stop"))
        self._stop_button.setToolTip("Stop")
        self._stop_button.setAutoRaise(True)
        self._stop_button.clicked.connect(self.stop)
        self._title = _ElidedLabel("Nothing playing", self)
        self._title.setTextFormat(Qt.TextFormat.PlainText)
        self._title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._position = QSlider(Qt.Orientation.Horizontal, self)
        self._position.setRange(0, 0)
        self._position.setToolTip("Position")
        self._position.sliderPressed.connect(self._slider_pressed)
        self._position.sliderReleased.connect(self._slider_released)
        self._position.sliderMoved.connect(self._slider_moved)
        self._time = QLabel(f"{format_time(0)} / {format_time(None)}", self)
        self._time.setMinimumWidth(self._time.fontMetrics().horizontalAdvance("00:00:00 / 00:00:00"))
        self._volume = QSlider(Qt.Orientation.Horizontal, self)
        self._volume.setRange(0, 100)
        self._volume.setValue(80)
        self._volume.setFixedWidth(90)
        self._volume.setToolTip("Volume")
        self._volume.valueChanged.connect(lambda v: self.set_volume(v / 100.0))
        self._middle = QCheckBox("From the middle", self)
        self._middle.setToolTip("Start previews part-way into the track, where the music is")
        self._middle.setChecked(from_middle)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self._play_button)
        top.addWidget(self._stop_button)
        top.addWidget(self._title, 1)
        top.addWidget(self._middle)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self._position, 1)
        bottom.addWidget(self._time)
        vol_icon = QLabel(self)
        vol_icon.setPixmap(self._icon("volume").pixmap(16, 16))
        bottom.addWidget(vol_icon)
        bottom.addWidget(self._volume)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(bottom)

        if self._unavailable is None:
            self._make_player()
        self._update_enabled()

    # ------------------------------------------------------------------ setup
    def _make_player(self) -> None:
        if not self.has_audio_device():
            # Without an output device Qt's audio backends can block inside QAudioOutput calls
            # (seen with PulseAudio absent); say so plainly instead of starting them.
            self._unavailable = "no audio output device was found on this computer"
            return
        try:
            self._player = QMediaPlayer(self)
            self._audio = QAudioOutput(self)
            self._player.setAudioOutput(self._audio)
            self._audio.setVolume(self._volume.value() / 100.0)
        except Exception as exc:  # noqa: BLE001 - any backend failure means "no playback"
            self._player = self._audio = None
            self._unavailable = f"audio playback could not start ({exc})"
            return
        if not self._player.isAvailable():
            self._unavailable = "no media backend is available for playback"
        p = self._player
        p.playbackStateChanged.connect(self._on_state)
        p.positionChanged.connect(self._on_position)
        p.durationChanged.connect(self._on_duration)
        p.errorOccurred.connect(self._on_error)
        p.mediaStatusChanged.connect(self._on_status)

    def _icon(self, kind: str) -> QIcon:
        return transport_icon(kind, self.palette().color(QPalette.ColorRole.WindowText))

    def is_available(self) -> bool:
        return self._unavailable is None and self._player is not None

    def unavailable_reason(self) -> str | None:
        return self._unavailable

    def has_audio_device(self) -> bool:
        return QMediaDevices is not None and bool(QMediaDevices.audioOutputs())

    def _update_enabled(self) -> None:
        ok = self.is_available()
        loaded = ok and self._path is not None
        self._play_button.setEnabled(loaded)
        self._stop_button.setEnabled(loaded)
        self._position.setEnabled(loaded)
        self._volume.setEnabled(ok)
        if not ok:
            self._title.setText(f"Preview unavailable: {self._unavailable}")
            self._title.setToolTip(self._unavailable)

    # ------------------------------------------------------------------ API
    def play_file(self, path: str | os.PathLike, *, track_id=None, title: str | None = None,
                  artist: str | None = None, from_middle: bool | None = None) -> bool:
        """Load ``path`` and start playing (part-way in when "from the middle" is on, or
        ``from_middle`` says so). Returns False, and emits ``error_occurred``, when playback
        is impossible; errors found while decoding arrive later through the signal."""
        path = os.fspath(path)
        self._track_id = track_id
        if not self.is_available():
            self._report(f"Cannot play {os.path.basename(path)}: {self._unavailable}")
            return False
        if not os.path.isfile(path):
            self._report(f"Cannot play {os.path.basename(path)}: the file is not there any more")
            return False
        self._path = path
        self._last_error = None
        name = title or Path(path).stem
        self._title.setText(f"{artist} – {name}" if artist else name)
        self._title.setToolTip(path)
        use_middle = self._middle.isChecked() if from_middle is None else bool(from_middle)
        self._pending_seek = self._middle_fraction if use_middle else None
        p = self._player
        p.stop()
        p.setSource(QUrl.fromLocalFile(path))
        p.play()
        self._update_enabled()
        self.track_changed.emit(track_id)
        return True

    def play(self) -> None:
        if self.is_available() and self._path is not None:
            self._player.play()

    def pause(self) -> None:
        if self.is_available():
            self._player.pause()

    def stop(self) -> None:
        if self.is_available():
            self._player.stop()

    def toggle_play(self) -> None:
        if not self.is_available() or self._path is None:
            return
        if self._player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self._player.pause()
        else:
            self._player.play()

    def seek(self, seconds: float) -> None:
        if self.is_available():
            self._player.setPosition(int(max(0.0, seconds) * 1000))

    def set_volume(self, volume: float) -> None:
        volume = min(1.0, max(0.0, float(volume)))
        if self._volume.value() != round(volume * 100):
            self._volume.setValue(round(volume * 100))
        if self._audio is not None:
            self._audio.setVolume(volume)

    def volume(self) -> float:
        return self._volume.value() / 100.0

    def set_from_middle(self, on: bool) -> None:
        self._middle.setChecked(bool(on))

    def from_middle(self) -> bool:
        return self._middle.isChecked()

    def state(self) -> str:
        return self._state

    def current_path(self) -> str | None:
        return self._path

    def current_track_id(self):
        return self._track_id

    def source_path(self) -> str | None:
        """The file the media player was given (from QMediaPlayer itself)."""
        if self._player is None:
            return None
        url = self._player.source()
        return url.toLocalFile() if url.isValid() and not url.isEmpty() else None

    def position_s(self) -> float:
        return self._player.position() / 1000.0 if self._player is not None else 0.0

    def duration_s(self) -> float | None:
        if self._player is None or self._player.duration() <= 0:
            return None
        return self._player.duration() / 1000.0

    def last_error(self) -> str | None:
        return self._last_error

    # ------------------------------------------------------------------ player events
    def _report(self, message: str) -> None:
        self._last_error = message
        self._title.setText(message)
        self.error_occurred.emit(message)

    def _on_state(self, state) -> None:
        S = QMediaPlayer.PlaybackState
        name = {S.PlayingState: "playing", S.PausedState: "paused"}.get(state, "stopped")
        self._state = name
        self._play_button.setIcon(self._icon("pause" if name == "playing" else "play"))
        self.state_changed.emit(name)

    def _on_duration(self, ms: int) -> None:
        self._position.setRange(0, max(0, int(ms)))
        if ms > 0 and self._pending_seek is not None:
            self._player.setPosition(int(ms * self._pending_seek))
            self._pending_seek = None
        self._update_time()

    def _on_position(self, ms: int) -> None:
        if not self._dragging:
            self._position.setValue(int(ms))
        self._update_time()

    def _on_status(self, status) -> None:
        if status == QMediaPlayer.MediaStatus.InvalidMedia and self._last_error is None:
            self._report(_plain_media_error(self._path or "", QMediaPlayer.Error.FormatError, ""))

    def _on_error(self, error, message: str) -> None:
        if error == QMediaPlayer.Error.NoError:
            return
        self._report(_plain_media_error(self._path or "", error, message))

    def _update_time(self) -> None:
        self._time.setText(f"{format_time(self.position_s())} / {format_time(self.duration_s())}")

    def _slider_pressed(self) -> None:
        self._dragging = True

    def _slider_released(self) -> None:
        self._dragging = False
        if self.is_available():
            self._player.setPosition(self._position.value())

    def _slider_moved(self, value: int) -> None:
        self._time.setText(f"{format_time(value / 1000.0)} / {format_time(self.duration_s())}")

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space:
            self.toggle_play()
            event.accept()
            return
        super().keyPressEvent(event)
