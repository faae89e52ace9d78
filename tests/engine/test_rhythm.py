"""Beats and tempo: the BeatNet front end, the bundled weights, the DBN beat decoder, the tempo
octave choice and the whole analysis on generated drum patterns."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.errors import ModelError
from engine.rhythm import TempoRange, analyse_rhythm
from engine.rhythm.dbn import DBNParams, decode_beats, tempo_periods
from engine.rhythm.features import FPS, HOP_SIZE, N_FEATURES, SAMPLE_RATE, beat_features, frames, log_filterbank
from engine.rhythm.network import EXPECTED_SHAPES, BeatNet, bundled_beat_model, load_beat_model
from engine.rhythm.tempo import estimate_bars, estimate_tempo, local_spread
from tests.audio_fixtures import drum_pattern as drums


# --- features ----------------------------------------------------------------------------------------
def test_filterbank_and_feature_layout():
    bank = log_filterbank()
    assert bank.shape == (705, 136)
    np.testing.assert_allclose(bank.sum(axis=0), 1.0, rtol=1e-5)     # every filter normalised
    centres = np.argmax(bank, axis=0)
    assert np.all(np.diff(centres) >= 0)                               # ascending frequencies
    y = np.zeros(SAMPLE_RATE * 2, np.float32)
    f = beat_features(y)
    assert f.shape == (int(np.ceil(len(y) / HOP_SIZE)), N_FEATURES) and not f.any()


def test_frames_are_centred_on_their_hop():
    y = np.zeros(HOP_SIZE * 20, np.float32)
    y[HOP_SIZE * 7] = 1.0
    fr = frames(y)
    assert fr.shape[0] == 20
    assert fr[7, 1411 // 2] == 1.0 and fr[7].sum() == 1.0
    energy = np.abs(beat_features(y)[:, :136]).sum(axis=1)
    assert int(np.argmax(energy)) == 7


# --- the bundled weights ----------------------------------------------------------------------------
def test_bundled_model_loads_and_hears_beats():
    net, info = load_beat_model()
    assert info.license == "CC-BY-4.0" and "Heydari" in info.attribution
    y, beats = drums(120.0, 12.0)
    act = net.activations(beat_features(y))
    assert act.shape == (int(np.ceil(len(y) / HOP_SIZE)), 2)
    assert np.all((act >= 0) & (act <= 1))
    b = act.sum(axis=1)
    on = b[np.round(beats[1:] * FPS).astype(int)].mean()
    assert on > 4 * np.median(b)                       # activations peak on the beats


def test_malformed_bundle_is_refused_with_its_name(tmp_path):
    from safetensors.torch import save_file

    src = bundled_beat_model()
    js = tmp_path / "broken.json"
    js.write_text(src.read_text())
    state = {k: torch.zeros(v) for k, v in EXPECTED_SHAPES.items()}
    state["linear.weight"] = torch.zeros(4, 150)
    save_file(state, str(tmp_path / "broken.safetensors"))
    with pytest.raises(ModelError, match=r"broken\.safetensors.*linear\.weight"):
        load_beat_model(js)
    js.write_text(json.dumps({"architecture": "musicnn"}))
    with pytest.raises(ModelError, match="not a beat model"):
        load_beat_model(js)


def test_converter_keeps_the_tensors(tmp_path):
    from safetensors.torch import load_file

    from training.convert_beatnet import convert

    models = tmp_path / "pkg" / "BeatNet" / "models"
    models.mkdir(parents=True)
    states = {}
    for i in (1, 2, 3):
        torch.manual_seed(i)
        states[i] = BeatNet().state_dict()
        torch.save(states[i], models / f"model_{i}_weights.pt")
    out = convert(tmp_path / "pkg", tmp_path / "out")
    assert [p.name for p in out] == ["beatnet-gtzan.json", "beatnet-ballroom.json", "beatnet-rock.json"]
    got = load_file(str(tmp_path / "out" / "beatnet-rock.safetensors"))
    for k, v in states[3].items():
        assert torch.equal(got[k], v)
    net, info = load_beat_model(out[0])
    assert info.name == "beatnet-gtzan"


# --- the DBN ------------------------------------------------------------------------------------------
def _impulses(period: float, n: int, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, noise, n)
    pos = np.arange(5.0, n, period)
    a[np.round(pos).astype(int)] = 0.9
    return a


def test_dbn_finds_steady_beats():
    a = _impulses(25.0, 1500)
    r = decode_beats(a)
    assert np.array_equal(r.beats, np.arange(5, 1500, 25))
    assert set(np.unique(r.periods[r.periods > 0])) == {25}


def test_dbn_follows_a_tempo_change_and_skips_missing_beats():
    a = np.concatenate([_impulses(25.0, 1000), _impulses(20.0, 1000, seed=1)])
    a[[255, 505]] = 0.02                              # two beats not heard
    r = decode_beats(a)
    b = r.beats
    assert np.abs(b - 255).min() <= 1 and np.abs(b - 505).min() <= 1   # the beat goes on through the gap
    assert np.median(np.diff(b[b < 950])) == 25 and np.median(np.diff(b[b > 1100])) == 20


def test_dbn_on_silence_and_grid():
    assert decode_beats(np.zeros(500)).beats.size == 0
    p = tempo_periods(DBNParams())
    assert p[0] == 14 and p[-1] == 55 and np.all(np.diff(p) > 0)


# --- tempo ---------------------------------------------------------------------------------------------
def test_tempo_octave_range_and_alternatives():
    a = _impulses(25.0, 3000)                         # 120 BPM
    beats = decode_beats(a).beats
    t = estimate_tempo(beats, a, FPS)
    assert t.bpm == pytest.approx(120.0, rel=0.01) and 240.0 in t.alternatives and 60.0 in t.alternatives
    assert t.confidence > 0.8 and not t.variable
    fast = estimate_tempo(beats, a, FPS, TempoRange(40, 80))
    assert fast.bpm == pytest.approx(60.0, rel=0.01) and fast.tracker_bpm == pytest.approx(120, rel=0.01)
    slow = estimate_tempo(np.arange(5, 3000, 40), _impulses(40.0, 3000), FPS, TempoRange(70, 180))
    assert slow.bpm == pytest.approx(75.0, rel=0.01)
    with pytest.raises(ValueError, match="octave"):
        TempoRange(100, 150)
    assert estimate_tempo(np.array([1, 2]), a, FPS) is None


def test_fine_tempo_resolution_and_variable_tempo():
    a = _impulses(50 * 60 / 128.0, 4000)             # 128 BPM is 23.4 frames: not a whole frame
    t = estimate_tempo(decode_beats(a).beats, a, FPS)
    assert t.bpm == pytest.approx(128.0, abs=0.6)
    times = np.cumsum(60.0 / np.linspace(100, 130, 120))
    assert local_spread(times) > 0.08
    assert local_spread(np.arange(120) * 0.5) == 0.0


def test_bars_from_downbeat_activation():
    beats = np.arange(10, 2000, 25)
    db = np.zeros(2000)
    db[beats[2::3]] = 0.8                              # every third beat, from the third
    bars = estimate_bars(beats, db)
    assert bars.meter == 3 and bars.downbeats[0] == 2 and bars.confidence > 0.5
    assert estimate_bars(beats, np.zeros(2000)).meter == 0


# --- the whole analysis ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bpm", [96.0, 128.0, 150.0])
def test_analysis_of_drum_patterns(bpm):
    y, beats = drums(bpm, 20.0, sr=44100)
    r = analyse_rhythm(y, 44100)
    assert r.bpm == pytest.approx(bpm, rel=0.02)
    est = np.asarray(r.beats)
    hits = sum(np.min(np.abs(est - b)) <= 0.07 for b in beats[2:-2])
    assert hits >= 0.9 * len(beats[2:-2])
    assert not r.variable_tempo


def test_excerpt_keeps_the_tracks_time_and_drift_is_reported():
    y, beats = drums(110.0, 40.0)
    r = analyse_rhythm(y, SAMPLE_RATE, excerpt_s=20.0)
    assert r.start_s == pytest.approx(10.0) and r.end_s == pytest.approx(30.0)
    assert r.beats.min() >= 10.0 and r.beats.max() <= 30.0
    assert np.min(np.abs(beats[:, None] - r.beats[None]), axis=0).max() <= 0.07
    y, _ = drums(90.0, 60.0, accelerate=0.4)
    assert analyse_rhythm(y, SAMPLE_RATE).variable_tempo


def test_octave_rule_doubles_and_halves():
    from engine.rhythm.tempo import rescale_beats

    a = np.full(3000, 0.02)
    beats = np.arange(10, 3000, 50)                    # the tracker says 60 BPM ...
    a[beats] = 0.9
    a[beats[:-1] + 25] = 0.5                           # ... but every midpoint is heard too
    t = estimate_tempo(beats, a, FPS)
    assert t.bpm == pytest.approx(120.0, rel=0.01) and t.factor == 2.0 and t.tracker_bpm == pytest.approx(60.0)
    assert len(rescale_beats(beats, t)) == 2 * len(beats) - 1
    b = np.full(3000, 0.02)
    fast = np.arange(10, 3000, 12)                     # 250 BPM, strong-weak: the off-beats were taken
    b[fast[0::2]] = 0.9
    b[fast[1::2]] = 0.3
    t = estimate_tempo(fast, b, FPS, TempoRange(60, 260))
    assert t.factor == 0.5 and t.bpm == pytest.approx(125.0, rel=0.01)
    assert np.array_equal(rescale_beats(fast, t), fast[0::2])
    a2 = np.full(3000, 0.02)
    a2[beats] = 0.9                                    # nothing between the beats: stays 60
    assert estimate_tempo(beats, a2, FPS).bpm == pytest.approx(60.0, rel=0.01)
