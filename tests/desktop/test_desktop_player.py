"""The preview player, offscreen (usually without any audio device): it loads a generated WAV,
reports damaged and missing files in plain words, and degrades without QtMultimedia."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pytestqt")

# the media backend runs its own threads: a deadlock there must fail the run, not stall it
pytestmark = pytest.mark.timeout(90, method="thread")

import desktop.player as player_mod  # noqa: E402
from desktop.player import PreviewPlayer, format_time  # noqa: E402


def write_wav(path, seconds=2.0, sr=22050):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return str(path)


@pytest.fixture
def player(qtbot):
    p = PreviewPlayer()
    qtbot.addWidget(p)
    yield p
    p.stop()


def test_format_time():
    assert format_time(0) == "0:00"
    assert format_time(83.9) == "1:23"
    assert format_time(3725) == "1:02:05"
    assert format_time(None) == "–:––"


def test_plays_a_generated_wav_or_reports_why_not(qtbot, player, tmp_path):
    if not player.is_available():
        pytest.skip(f"QtMultimedia unavailable here: {player.unavailable_reason()}")
    path = write_wav(tmp_path / "tone.wav")
    errors, states, tracks = [], [], []
    player.error_occurred.connect(errors.append)
    player.state_changed.connect(states.append)
    player.track_changed.connect(tracks.append)
    assert player.play_file(path, track_id=42, title="Tone", artist="Gen", from_middle=True)
    assert player.source_path() == path and player.current_path() == path
    assert tracks == [42] and player.current_track_id() == 42
    # either playback starts (with or without a sound card, the FFmpeg backend plays into a
    # null sink) or a plain error arrives: never silence, never an exception
    qtbot.waitUntil(lambda: "playing" in states or bool(errors), timeout=5000)
    if errors:
        assert errors[0].startswith("Cannot play tone.wav")
        return
    qtbot.waitUntil(lambda: player.duration_s() is not None, timeout=5000)
    assert player.duration_s() == pytest.approx(2.0, abs=0.1)
    # started part-way in ("from the middle")
    qtbot.waitUntil(lambda: player.position_s() >= 0.5, timeout=5000)
    player.pause()
    qtbot.waitUntil(lambda: player.state() == "paused", timeout=3000)
    player.toggle_play()
    qtbot.waitUntil(lambda: player.state() == "playing", timeout=3000)
    player.stop()
    qtbot.waitUntil(lambda: player.state() == "stopped", timeout=3000)
    player.set_volume(0.25)
    assert player.volume() == pytest.approx(0.25)


def test_missing_file_is_reported_in_plain_words(qtbot, player, tmp_path):
    with qtbot.waitSignal(player.error_occurred, timeout=1000) as blocker:
        ok = player.play_file(tmp_path / "gone.mp3")
    assert not ok
    assert blocker.args[0].startswith("Cannot play gone.mp3")
    assert "Traceback" not in blocker.args[0]


def test_damaged_file_is_reported(qtbot, player, tmp_path):
    if not player.is_available():
        pytest.skip(f"QtMultimedia unavailable here: {player.unavailable_reason()}")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 20)
    with qtbot.waitSignal(player.error_occurred, timeout=5000) as blocker:
        player.play_file(bad)
    assert blocker.args[0].startswith("Cannot play broken.wav")
    assert player.last_error() == blocker.args[0]


def test_without_qtmultimedia_the_player_explains_and_stays_disabled(qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(player_mod, "_MULTIMEDIA_ERROR", "audio playback is not available (test)")
    p = PreviewPlayer()
    qtbot.addWidget(p)
    assert not p.is_available()
    assert "not available" in p.unavailable_reason()
    assert not p._play_button.isEnabled()
    with qtbot.waitSignal(p.error_occurred, timeout=1000) as blocker:
        assert not p.play_file(write_wav(tmp_path / "t.wav", 0.5))
    assert "not available" in blocker.args[0]
    p.toggle_play()      # no-ops, no exceptions
    p.stop()
    p.seek(3.0)
    assert p.state() == "stopped"


def test_without_an_audio_device_it_says_so_and_never_starts_the_backend(qtbot, tmp_path, monkeypatch):
    from desktop.player import PreviewPlayer

    monkeypatch.setattr(PreviewPlayer, "has_audio_device", lambda self: False)
    p = PreviewPlayer()
    qtbot.addWidget(p)
    assert not p.is_available() and p._audio is None
    assert p.unavailable_reason() == "no audio output device was found on this computer"
    with qtbot.waitSignal(p.error_occurred, timeout=1000) as blocker:
        assert not p.play_file(write_wav(tmp_path / "tone.wav"))
    assert blocker.args[0] == "Cannot play tone.wav: no audio output device was found on this computer"


def test_a_long_message_is_elided_with_the_whole_text_as_tooltip(qtbot, player):
    label = player._title
    message = "Preview unavailable: no audio output device was found on this computer"
    label.setText(message)
    player.resize(420, player.sizeHint().height())
    player.show()
    qtbot.waitExposed(player)
    label.grab()                                        # paints: the visible text is elided
    assert label.width() < label.fontMetrics().horizontalAdvance(message)
    assert label.text() == message and label.toolTip() == message
    label.setText("Short")
    label.grab()
    assert label.toolTip() == ""
    label.setToolTip("/music/a.flac")                   # a track's path stays the tooltip
    label.grab()
    assert label.toolTip() == "/music/a.flac"
