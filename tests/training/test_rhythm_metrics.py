"""Tempo/beat metrics (training/rhythm_metrics.py) and the MIDI dev-set builder's pure parts.

The builder (benchmarks/rhythm_devset.py) is loaded from its path; nothing here needs
fluidsynth except the one render test, which is skipped where fluidsynth is not installed.
"""
from __future__ import annotations

import importlib.util
import io
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from training.rhythm_metrics import (beat_f_measure, match_beats, mean_with_count, summarise,
                                     tempo_accuracy1, tempo_accuracy2, trim_beats)

DEVSET_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "rhythm_devset.py"


@pytest.fixture(scope="module")
def devset():
    spec = importlib.util.spec_from_file_location("rhythm_devset_under_test", DEVSET_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def mido():
    return pytest.importorskip("mido")


# --------------------------------------------------------------------------------- tempo


@pytest.mark.parametrize("est, ref, expected", [
    (100.0, 100.0, True),
    (104.0, 100.0, True),        # exactly +4 %
    (96.0, 100.0, True),         # exactly -4 %
    (104.01, 100.0, False),
    (95.99, 100.0, False),
    (124.8, 120.0, True),        # 4 % of 120
    (124.9, 120.0, False),
    (200.0, 100.0, False),       # double is not Accuracy1
    (50.0, 100.0, False),
])
def test_tempo_accuracy1_boundaries(est, ref, expected):
    assert tempo_accuracy1(est, ref) is expected


@pytest.mark.parametrize("est, ref, expected", [
    (100.0, 100.0, True),
    (104.0, 100.0, True),
    (104.01, 100.0, False),
    (200.0, 100.0, True),
    (208.0, 100.0, True),        # 2 x 104: the tolerance scales with the multiple
    (208.1, 100.0, False),
    (192.0, 100.0, True),
    (191.9, 100.0, False),
    (300.0, 100.0, True),
    (312.0, 100.0, True),
    (312.2, 100.0, False),
    (50.0, 100.0, True),
    (52.0, 100.0, True),
    (52.01, 100.0, False),
    (100.0 / 3.0, 100.0, True),
    (34.6, 100.0, True),         # 1/3 x 104 = 34.67
    (34.7, 100.0, False),
    (150.0, 100.0, False),       # 3:2 is not forgiven
    (66.7, 100.0, False),
    (400.0, 100.0, False),
    (25.0, 100.0, False),
])
def test_tempo_accuracy2_boundaries(est, ref, expected):
    assert tempo_accuracy2(est, ref) is expected


def test_tempo_accuracy_tolerance_and_bad_input():
    assert tempo_accuracy1(108.0, 100.0, tol=0.08)
    assert not tempo_accuracy1(108.0, 100.0)
    assert tempo_accuracy1(100.0, 100.0, tol=0.0)
    assert not tempo_accuracy1(100.001, 100.0, tol=0.0)
    assert not tempo_accuracy1(float("nan"), 100.0)
    assert not tempo_accuracy2(float("inf"), 100.0)
    assert not tempo_accuracy1(0.0, 100.0)
    with pytest.raises(ValueError):
        tempo_accuracy1(100.0, 0.0)
    with pytest.raises(ValueError):
        tempo_accuracy2(100.0, -5.0)
    with pytest.raises(ValueError):
        tempo_accuracy1(100.0, 100.0, tol=-0.1)


# --------------------------------------------------------------------------------- beats


def _grid(bpm=120.0, dur=30.0):
    return np.arange(0.0, dur, 60.0 / bpm)


def test_beat_f_measure_known_values():
    ref = _grid()
    assert beat_f_measure(ref, ref) == pytest.approx(1.0)
    assert beat_f_measure(ref + 0.05, ref) == pytest.approx(1.0)      # inside ±70 ms
    assert beat_f_measure(ref + 0.069, ref) == pytest.approx(1.0)
    assert beat_f_measure(ref + 0.071, ref) == 0.0
    assert beat_f_measure(ref + 0.1, ref) == 0.0                       # shifted by 100 ms
    assert beat_f_measure(ref - 0.1, ref) == 0.0
    # half the beats: P = 1, R = 1/2
    assert beat_f_measure(ref[::2], ref) == pytest.approx(2.0 / 3.0, abs=0.01)
    # double time: P = 1/2, R = 1
    double = np.arange(0.0, 30.0, 0.25)
    assert beat_f_measure(double, ref) == pytest.approx(2.0 / 3.0, abs=0.01)
    # off-beat (anti-phase) tracking finds nothing
    assert beat_f_measure(ref + 0.25, ref) == 0.0


def test_beat_f_measure_exact_half():
    ref = np.arange(5.0, 25.0, 0.5)                 # 40 beats after the skip
    est = ref[::2]                                  # 20 of them
    assert beat_f_measure(est, ref) == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_beat_f_measure_empty_and_skip():
    ref = _grid()
    assert beat_f_measure(np.array([]), ref) == 0.0
    assert beat_f_measure(ref, np.array([])) == 0.0
    early = np.arange(0.0, 4.9, 0.5)
    assert beat_f_measure(early, early) == 0.0      # everything before the 5-s skip
    assert beat_f_measure(early, early, skip_s=0.0) == pytest.approx(1.0)
    # beats before 5 s are ignored in both sequences
    est = np.concatenate([np.arange(0.0, 5.0, 0.1), ref[ref >= 5.0]])
    assert beat_f_measure(est, ref) == pytest.approx(1.0)


def test_matching_is_one_to_one():
    ref = np.array([10.0, 10.5, 11.0])
    est = np.array([10.0, 10.01, 10.02, 10.03])     # four estimates near one reference
    assert match_beats(est, ref) == 1
    # both estimates can reach 10.50, only the first can reach 10.40: a maximum matching pairs both
    ref = np.array([10.40, 10.50])
    est = np.array([10.44, 10.55])
    assert match_beats(est, ref) == 2
    assert match_beats(est[::-1], ref[::-1]) == 2   # order of the input does not matter


def test_trim_beats_sorts_and_trims():
    np.testing.assert_array_equal(trim_beats([7.0, 1.0, 5.0, 6.0]), [5.0, 6.0, 7.0])


@pytest.mark.filterwarnings("ignore:(Reference|Estimated) beats are empty:UserWarning")
def test_beat_f_measure_matches_mir_eval_on_random_sequences():
    mir_eval = pytest.importorskip("mir_eval")
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(5, 120))
        ref = np.cumsum(rng.uniform(0.25, 0.9, n))
        kind = trial % 6
        if kind == 0:       # jittered
            est = ref + rng.normal(0, 0.05, n)
        elif kind == 1:     # dropped and inserted beats
            est = np.concatenate([ref[rng.random(n) > 0.3], rng.uniform(0, ref.max(), n // 3)])
        elif kind == 2:     # shifted by a random amount
            est = ref + rng.uniform(-0.15, 0.15)
        elif kind == 3:     # dense estimates: several candidates per reference
            est = np.arange(rng.uniform(0, 0.05), ref.max() + 1, rng.uniform(0.03, 0.12))
        elif kind == 4:     # random times
            est = rng.uniform(0, ref.max() + 1, int(rng.integers(0, 100)))
        else:               # double time with jitter
            est = np.sort(np.concatenate([ref, (ref[1:] + ref[:-1]) / 2])) + rng.normal(0, 0.03, 2 * n - 1)
        est = np.unique(np.round(est, 6))
        est = est[est >= 0]
        ref = np.unique(np.round(ref, 6))
        window = float(rng.choice([0.07, 0.07, 0.05, 0.1]))
        expected = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est),
                                           f_measure_threshold=window)
        assert beat_f_measure(est, ref, window=window) == pytest.approx(expected, abs=1e-12), (trial, kind)


def test_summarise_means_with_counts():
    rows = [{"source": "a", "acc1": True, "f": 0.5},
            {"source": "a", "acc1": False, "f": None},
            {"source": "b", "acc1": True, "f": 1.0, "name": "x"}]
    s = summarise(rows)
    assert list(s) == ["all", "a", "b"]
    assert s["all"]["n"] == 3
    assert s["all"]["means"]["acc1"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["all"]["counts"]["f"] == 2
    assert s["all"]["means"]["f"] == pytest.approx(0.75)
    assert s["a"]["means"]["f"] == pytest.approx(0.5) and s["a"]["counts"]["f"] == 1
    assert s["b"]["means"] == {"acc1": 1.0, "f": 1.0}
    assert "name" not in s["all"]["means"]
    assert mean_with_count([None, float("nan")]) == (None, 0)
    assert summarise(rows, metrics=["missing"])["a"]["means"]["missing"] is None


# --------------------------------------------------------------------------------- the dev set: composition


def _events(mid, kind):
    out = []
    for ti, track in enumerate(mid.tracks):
        t = 0
        for msg in track:
            t += msg.time
            if msg.type == kind:
                out.append((t, ti, msg))
    return out


@pytest.mark.parametrize("tonic, mode, bpm, meter, seed", [
    (0, "major", 120.0, 4, 1),
    (6, "minor", 61.3, 4, 2),      # F#m, slow
    (10, "minor", 197.2, 3, 3),    # Bbm, fast waltz
    (3, "major", 88.88, 3, 4),     # Eb
    (8, "major", 150.0, 4, 5),     # Ab
])
def test_compose_piece_events_and_truth(devset, mido, tonic, mode, bpm, meter, seed):
    mid, truth = devset.compose_piece(tonic, mode, bpm, meter, seed)
    tempos = _events(mid, "set_tempo")
    assert len(tempos) == 1 and tempos[0][0] == 0
    us = tempos[0][2].tempo
    assert us == mido.bpm2tempo(bpm)
    assert truth["bpm"] == pytest.approx(60e6 / us, rel=1e-12)
    assert truth["bpm"] == pytest.approx(bpm, abs=0.01)
    keys = _events(mid, "key_signature")
    assert [m.key for _, _, m in keys] == [truth["key"]]
    assert truth["key"] == devset.key_name(tonic, mode)
    assert devset.parse_key_signature(truth["key"]) == (tonic, mode)
    assert (truth["tonic"], truth["mode"]) == (tonic, mode)
    ts = _events(mid, "time_signature")
    assert [(m.numerator, m.denominator) for _, _, m in ts] == [(meter, 4)]
    assert truth["meter"] == meter and truth["variable_tempo"] is False

    beats = np.asarray(truth["beats"])
    downs = np.asarray(truth["downbeats"])
    period = 60.0 / truth["bpm"]
    assert beats[0] == 0.0
    np.testing.assert_allclose(np.diff(beats), period, atol=2e-6)
    np.testing.assert_allclose(np.diff(downs), meter * period, atol=2e-6)
    np.testing.assert_allclose(beats[::meter], downs, atol=1e-9)
    assert len(beats) == truth["n_bars"] * meter
    assert 30.0 <= truth["duration_s"] <= 38.5
    assert truth["duration_s"] == pytest.approx(len(beats) * period, abs=1e-5)
    assert beats[-1] < mid.length <= truth["duration_s"] + 1e-6

    drums = [m for _, _, m in _events(mid, "note_on") if m.channel == 9]
    assert bool(drums) == truth["drums"]


def test_compose_piece_notes_stay_in_key(devset, mido):
    for tonic, mode, seed in ((2, "major", 11), (9, "minor", 12), (4, "minor", 13)):
        mid, truth = devset.compose_piece(tonic, mode, 100.0, 4, seed)
        steps = devset.MAJOR_SCALE if mode == "major" else devset.MINOR_SCALE + (11,)   # + leading tone
        allowed = {(tonic + s) % 12 for s in steps}
        pcs = {m.note % 12 for _, _, m in _events(mid, "note_on") if m.channel != 9}
        assert pcs <= allowed, (truth["key"], sorted(pcs - allowed))
        assert tonic in pcs


def test_compose_piece_options_swing_and_drums(devset, mido):
    mid, truth = devset.compose_piece(7, "major", 100.0, 4, 21, drums=False, swing=False, syncopation=False)
    assert truth["drums"] is False and not any(m.channel == 9 for _, _, m in _events(mid, "note_on"))
    onsets = {t % devset.TPB for t, _, m in _events(mid, "note_on")}
    assert onsets <= {0, 240}                        # straight eighths at most
    mid, truth = devset.compose_piece(7, "major", 100.0, 4, 21, drums=True, swing=True, syncopation=False)
    onsets = {t % devset.TPB for t, _, m in _events(mid, "note_on")}
    assert 320 in onsets and 240 not in onsets       # 2:1 swung off-beats
    assert truth["swing"] and truth["drums"]


def test_compose_piece_is_deterministic(devset, mido):
    def dump(m):
        buf = io.BytesIO()
        m.save(file=buf)
        return buf.getvalue()

    a, ta = devset.compose_piece(5, "minor", 133.0, 3, 99)
    b, tb = devset.compose_piece(5, "minor", 133.0, 3, 99)
    c, _ = devset.compose_piece(5, "minor", 133.0, 3, 100)
    assert dump(a) == dump(b) and ta == tb
    assert dump(a) != dump(c)


def test_compose_piece_rejects_bad_arguments(devset, mido):
    with pytest.raises(ValueError):
        devset.compose_piece(0, "dorian", 120.0, 4, 1)
    with pytest.raises(ValueError):
        devset.compose_piece(0, "major", 120.0, 5, 1)
    with pytest.raises(ValueError):
        devset.compose_piece(0, "major", 5.0, 4, 1)


def test_compose_piece_beats_agree_with_pretty_midi(devset, tmp_path, mido):
    pretty_midi = pytest.importorskip("pretty_midi")
    mid, truth = devset.compose_piece(1, "major", 77.7, 3, 5)
    path = tmp_path / "p.mid"
    mid.save(path)
    pm = pretty_midi.PrettyMIDI(str(path))
    pm_beats = pm.get_beats()[: len(truth["beats"])]
    np.testing.assert_allclose(pm_beats, truth["beats"], atol=1e-5)
    pm_downs = pm.get_downbeats()[: len(truth["downbeats"])]
    np.testing.assert_allclose(pm_downs, truth["downbeats"], atol=1e-5)


def test_synthetic_plan_design(devset):
    plan = devset.synthetic_plan()
    assert len(plan) == 96
    assert plan == devset.synthetic_plan()
    keys = {}
    for p in plan:
        keys[(p["tonic"], p["mode"])] = keys.get((p["tonic"], p["mode"]), 0) + 1
    assert len(keys) == 24 and set(keys.values()) == {4}
    assert sum(p["meter"] == 3 for p in plan) == 24
    assert sum(p["drums"] for p in plan) == 64
    assert 0 < sum(p["swing"] for p in plan) < 96 and 0 < sum(p["syncopation"] for p in plan) < 96
    bpms = np.array([p["bpm"] for p in plan])
    assert bpms.min() >= 60 and bpms.max() <= 200
    # log-uniform: about half below the geometric mean of the range
    assert 0.3 < np.mean(bpms < math.sqrt(60 * 200)) < 0.7
    assert len({p["id"] for p in plan}) == 96


# --------------------------------------------------------------------------------- the dev set: packaged MIDI truth


def _write_midi(mido, path, *, tempos, ts, key=None, notes, tpb=480):
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    meta = mido.MidiTrack()
    events = [(t, mido.MetaMessage("set_tempo", tempo=us)) for t, us in tempos]
    events += [(t, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in ts]
    if key:
        events += [(t, mido.MetaMessage("key_signature", key=k)) for t, k in key]
    now = 0
    for t, m in sorted(events, key=lambda x: x[0]):
        meta.append(m.copy(time=t - now))
        now = t
    mid.tracks.append(meta)
    tr = mido.MidiTrack()
    msgs = []
    for start, end, pitch, ch in notes:
        msgs.append((start, 1, mido.Message("note_on", channel=ch, note=pitch, velocity=90)))
        msgs.append((end, 0, mido.Message("note_off", channel=ch, note=pitch, velocity=0)))
    now = 0
    for t, _, m in sorted(msgs, key=lambda x: (x[0], x[1])):
        tr.append(m.copy(time=t - now))
        now = t
    mid.tracks.append(tr)
    mid.save(path)
    return path


def test_midi_truth_tempo_map_meter_and_key(devset, tmp_path, mido):
    tpb = 480
    # 3/4; 100 BPM for 12 beats (7.2 s), then 150 BPM for 48 beats (19.2 s); key Eb
    notes = [(k * tpb, k * tpb + 200, 63 if k % 3 == 0 else 67, 0) for k in range(60)]
    path = _write_midi(mido, tmp_path / "a.mid", tempos=[(0, 600000), (12 * tpb, 400000)],
                       ts=[(0, 3, 4)], key=[(0, "Eb")], notes=notes)
    truth = devset.midi_truth(path, duration_s=26.4)
    assert truth["bpm"] == pytest.approx(150.0)
    assert truth["variable_tempo"] is True
    assert truth["meter"] == 3 and truth["time_signature"] == "3/4"
    assert truth["key"] == "Eb" and truth["tonic"] == 3 and truth["mode"] == "major"
    beats = np.asarray(truth["beats"])
    assert beats[0] == 0.0
    np.testing.assert_allclose(np.diff(beats[:12]), 0.6, atol=1e-6)
    np.testing.assert_allclose(np.diff(beats[12:]), 0.4, atol=1e-6)
    np.testing.assert_allclose(truth["downbeats"], beats[::3], atol=1e-9)
    assert truth["pretty_midi_check_ms"] in (None, 0.0) or truth["pretty_midi_check_ms"] < 0.01


def test_midi_truth_defaults_and_null_keys(devset, tmp_path, mido):
    tpb = 96
    notes = [(k * tpb, k * tpb + 40, 60, 0) for k in range(40)]
    path = _write_midi(mido, tmp_path / "b.mid", tempos=[], ts=[], key=[(0, "C")], notes=notes, tpb=tpb)
    truth = devset.midi_truth(path, duration_s=20.0, default_key_package=True)
    assert truth["bpm"] == pytest.approx(120.0)       # the MIDI default tempo
    assert truth["meter"] == 4 and truth["meter_assumed"] is True
    assert truth["key"] is None and truth["tonic"] is None and truth["mode"] is None
    assert "sequencer default" in truth["note"]
    np.testing.assert_allclose(np.diff(truth["beats"]), 0.5, atol=1e-6)
    # the beats stop with the music (last note ends at 39 beats + 40 ticks)
    assert truth["beats"][-1] == pytest.approx(19.5)
    path = _write_midi(mido, tmp_path / "c.mid", tempos=[(0, 500000)], ts=[(0, 4, 4)], notes=notes, tpb=tpb)
    truth = devset.midi_truth(path, duration_s=20.0)
    assert truth["key"] is None and "no key_signature" in truth["note"]


def test_package_default_key_rule(devset):
    assert devset.package_uses_default_key([[(0, "C")], [(0, "C"), (0, "C")]])
    assert not devset.package_uses_default_key([[(0, "C")], [(0, "G")]])
    assert not devset.package_uses_default_key([[(0, "C")], []])
    assert not devset.package_uses_default_key([[(0, "C"), (960, "F")]])
    assert not devset.package_uses_default_key([])


def test_midi_truth_follows_a_constant_grid_offset(devset, tmp_path, mido):
    tpb = 192
    # every note 20 ticks late, eighths and sixteenths: the beats should move with them
    notes = [(k * 48 + 20, k * 48 + 60, 60 + (k % 5), 0) for k in range(4 * 40)]
    notes += [(k * tpb + 20, k * tpb + 60, 36, 9) for k in range(40)]
    path = _write_midi(mido, tmp_path / "d.mid", tempos=[(0, 500000)], ts=[(0, 4, 4)], notes=notes, tpb=tpb)
    truth = devset.midi_truth(path, duration_s=20.0)
    assert truth["grid_offset_ticks"] == pytest.approx(20.0)
    assert truth["beats"][0] == pytest.approx(20 / tpb * 0.5, abs=1e-6)
    assert "off the notated grid" in truth["note"]
    offset, share, share0 = devset.grid_offset([k * 48 for k in range(100)], tpb)
    assert offset == 0.0 and share == 1.0


def test_truncate_midi(devset, tmp_path, mido):
    mid, _ = devset.compose_piece(0, "major", 120.0, 4, 3)
    cut = devset.truncate_midi(mid, 10.0)
    assert devset.midi_length_s(cut) == pytest.approx(10.0, abs=0.01)
    assert sum(1 for t, _, m in _events(cut, "note_on") if m.velocity > 0) < \
        sum(1 for t, _, m in _events(mid, "note_on") if m.velocity > 0)


def test_key_helpers(devset):
    assert devset.parse_key_signature("F#m") == (6, "minor")
    assert devset.parse_key_signature("Cb") == (11, "major")
    assert devset.parse_key_signature("Bbm") == (10, "minor")
    assert devset.key_name(6, "minor") == "F#m" and devset.key_name(3, "major") == "Eb"
    assert devset.key_relation((9, "minor"), (0, "major")) == "relative"
    assert devset.key_relation((7, "major"), (0, "major")) == "fifth"
    assert devset.key_relation((0, "minor"), (0, "major")) == "parallel"
    pcs = np.zeros(12)
    for pc, w in ((0, 5), (2, 2), (4, 3), (5, 2), (7, 4), (9, 2), (11, 1)):
        pcs[pc] = w
    assert devset.symbolic_key(pcs)[:2] == (0, "major")


# --------------------------------------------------------------------------------- rendering (needs fluidsynth)

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not SOUNDFONT.is_file(),
                    reason="needs fluidsynth and the FluidR3 GM soundfont")
def test_render_midi(devset, tmp_path, mido):
    sf = pytest.importorskip("soundfile")
    mid, truth = devset.compose_piece(9, "minor", 120.0, 4, 8, drums=True, duration_s=6.0)
    mid_path = tmp_path / "p.mid"
    mid.save(mid_path)
    wav = tmp_path / "p.wav"
    dur = devset.render_midi(mid_path, wav, SOUNDFONT, sr=22050)
    info = sf.info(wav)
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert dur == pytest.approx(info.frames / 22050)
    assert truth["duration_s"] - 0.5 < dur < truth["duration_s"] + 3.0
    y, _ = sf.read(wav)
    assert np.sqrt(np.mean(y ** 2)) > 0.01
    first = np.flatnonzero(np.abs(y) > 1e-3)[0] / 22050
    assert first < 0.03                                # MIDI time 0 is audio time 0
    # max_s cuts
    short = devset.render_midi(mid_path, tmp_path / "s.wav", SOUNDFONT, sr=22050, max_s=2.0)
    assert short <= 2.0
