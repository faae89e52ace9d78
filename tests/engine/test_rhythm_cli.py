"""``tagatlas rhythm``: tempo, meter and key of files, per-file errors, ranges and notations."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.rhythm.track import analyse_file
from tests.audio_fixtures import drum_pattern, write_audio


def _song(path, bpm, seconds=20.0, tonic_hz=220.0):
    y, beats = drum_pattern(bpm, seconds, sr=22050)
    t = np.arange(len(y)) / 22050
    # an A-minor triad under the drums: the key to hear
    chord = sum(0.08 * np.sin(2 * np.pi * tonic_hz * r * t) for r in (1.0, 2 ** (3 / 12), 2 ** (7 / 12)))
    write_audio(path, (0.8 * (y + chord) / np.abs(y + chord).max()).astype(np.float32), 22050)
    return beats


def test_analyse_file_quick_reads_the_middle(tmp_path):
    beats = _song(tmp_path / "long.wav", 124.0, seconds=90.0)
    r = analyse_file(tmp_path / "long.wav")
    assert r.duration_s == pytest.approx(90.0, abs=0.05)
    assert r.rhythm.start_s == pytest.approx(15.0) and r.rhythm.end_s == pytest.approx(75.0, abs=0.05)
    assert r.rhythm.bpm == pytest.approx(124.0, rel=0.02)
    assert np.min(np.abs(beats[:, None] - r.rhythm.beats[None]), axis=0).max() <= 0.07
    assert (r.key.tonic, r.key.mode) == (9, "minor")


def test_cli_prints_tempo_key_and_errors(tmp_path, capsys):
    _song(tmp_path / "a.wav", 100.0)
    (tmp_path / "notes.txt").write_text("not audio")
    rc = main(["rhythm", str(tmp_path / "a.wav"), str(tmp_path / "notes.txt"), "--notation", "camelot"])
    out, err = capsys.readouterr()
    assert rc == 1                                                 # some files failed
    assert "tempo: 100." in out and "key:   8A" in out           # A minor in Camelot
    assert "error:" in out and "1 of 2 files could not be analysed" in err


def test_cli_json_and_bpm_range(tmp_path, capsys):
    _song(tmp_path / "a.wav", 160.0)
    assert main(["rhythm", str(tmp_path / "a.wav"), "--json", "--bpm-range", "60-120"]) == 0
    doc = json.loads(capsys.readouterr().out)[0]
    assert doc["bpm"] == pytest.approx(80.0, rel=0.02)                # folded into the range
    assert any(abs(a - 160.0) < 3 for a in doc["alternatives"])       # the other octave is kept
    assert doc["key"] == "Am" and doc["beats"] and doc["meter"] in (3, 4)


def test_cli_refuses_bad_options(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["rhythm", "x.wav", "--bpm-range", "100-150"])
    assert e.value.code == 2 and "octave" in capsys.readouterr().err
    assert main(["rhythm", "x.wav", "--key-profile", "nope"]) == 2   # said before decoding
    err = capsys.readouterr().err
    assert "tagatlas: unknown key profile 'nope'; choose one of" in err and "x.wav" not in err
