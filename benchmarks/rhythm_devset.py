"""A tempo / beat / key development set with exact ground truth, rendered from MIDI.

    python benchmarks/rhythm_devset.py build [OUT_DIR] [--jobs N] [--soundfont SF2] [--debs DIR]
    python benchmarks/rhythm_devset.py list  [OUT_DIR]
    python benchmarks/rhythm_devset.py check [OUT_DIR] [--limit N]      # librosa sanity check

OUT_DIR defaults to /work/rhythmset. ``build`` writes

* ``audio/<source>/<id>.wav`` — mono, 22,050 Hz, 16-bit PCM, rendered with FluidSynth
  (``fluidsynth -ni -g 0.6 -r 22050``, General-MIDI soundfont FluidR3_GM), at most 120 s,
  trailing silence dropped;
* ``midi/<source>/<id>.mid`` — the MIDI each WAV was rendered from (the original file for
  the packaged compositions);
* ``truth.json`` — ``{"generator", "version", "sample_rate", "sources", "items": [...]}``, one
  item per WAV: ``id, source, path (relative to OUT_DIR), bpm, beats [s], downbeats [s],
  meter, key ("F#m" or null), tonic (0-11, C = 0, or null), mode ("major"/"minor"/null),
  variable_tempo, duration_s, note`` and some provenance fields (below);
* ``build_info.json`` — the build's wall time, job count and tool versions (kept out of
  ``truth.json`` so that file is byte-identical between builds).

Sources
-------
``synthetic`` (96 items): pieces composed here with mido (:func:`compose_piece`): each of the
24 keys four times; tempo log-uniform in 60-200 BPM (seeded); 4/4, or 3/4 for a quarter of
them; 30-40 s (30-38.5 s notated, plus the release); a diatonic progression typical of the
mode (major I-V-vi-IV, I-IV-V-I, ...; minor i-VI-III-VII, i-iv-v-i, i-iv-V-i with the
harmonic-minor V, ...) voiced as block, arpeggiated,
sustained or off-beat chords on a GM piano / strings / guitar / organ program, a bass line on
the roots, a scale melody (raised 7th over the minor V), and in two thirds of them a GM drum
kit (channel 10) with a kick/snare/hi-hat pattern; a sixth are swung (2:1 triplet eighths),
a quarter syncopated. The file carries key_signature, time_signature and set_tempo meta
events. Truth: the key; bpm = 60e6 / the set_tempo value in microseconds (exact, so the
drawn tempo is rounded to a whole microsecond per quarter); beats at every quarter note;
downbeats at every bar; no tempo changes.

``openttd-openmsx``, ``planetblupi-music-midi``: the MIDI compositions of those Debian
packages (GPL-2 and GPL-3+ respectively; see each package's copyright file). The ``.deb``
files are looked for in ``--debs``, ``OUT_DIR/_debs`` and ``/tmp/midipk``; missing ones are
fetched with ``apt-get download`` into ``OUT_DIR/_debs`` (the only step that needs the
network) and unpacked with ``dpkg -x``; an already unpacked tree at ``/tmp/midipk/ex`` is used
when no ``.deb`` is at hand. Truth comes from the MIDI file itself:

* beats and downbeats from the time-signature and tempo maps, over the rendered part (from
  the first note onset, less 70 ms, to the end of the last note or of the rendered audio).
  The beat is the denominator note, or a dotted one for compound meters x/8 and x/16 with
  x = 6, 9, 12, ... (pretty_midi's convention); x/4 meters always beat in quarters (a 6/4 bar
  has six beats; pretty_midi's ``get_beats`` would give two dotted halves). The grid is
  computed from the ticks and checked against ``pretty_midi``'s ``get_beats()`` and
  ``get_downbeats()`` (``pretty_midi_check_ms``, the largest difference, ms).
  Without a time_signature event 4/4 is assumed (the MIDI default; ``meter_assumed``).
* bpm: the set_tempo value that holds longest over the rendered part (in beats per minute of
  the beat above); ``variable_tempo`` when the set_tempo values over the rendered part differ
  by more than 4 %; ``tempo_changes`` lists them. A file without set_tempo plays at 120 BPM.
* key: from key_signature events, only where present and not the sequencer's default: a
  package in which every file says only "C" at time 0 (planetblupi) has key null. A file whose
  key changes gets the key that holds for at least 80 % of the rendered part, else null.
  ``note`` says why a key is null. ``notes_key`` / ``key_check`` compare the key with a
  Krumhansl-Kessler estimate from the MIDI notes (duration-weighted pitch classes, drums
  excluded): "same", "relative", "fifth", "parallel" or "other" - a check, not truth.

What the truth can and cannot tell
----------------------------------
It is the notated (MIDI) tempo and grid: exact for the rendering, but a listener may tap at
half or double of it (Accuracy2 forgives that). The synthetic harmony is simple and diatonic,
in a few GM timbres of one soundfont, with no tempo drift and no expressive timing; the
packaged pieces are real compositions, still rendered by that soundfont (no recorded audio,
no mixing, no vocals). Key signatures state the notation, not always the sounding key
(modal pieces, mode flags left unset); ``key_check`` shows where the notes disagree.
FluidSynth starts notes about 6 ms after their MIDI time (block processing); the truth is not
shifted for that (far inside the 70 ms beat window).

Everything is seeded and deterministic; rendering runs ``--jobs`` FluidSynth processes at
a time (default: the CPU count).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import mido

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path("/work/rhythmset")
DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DEB_SEARCH = (Path("/tmp/midipk"),)
UNPACKED_FALLBACK = Path("/tmp/midipk/ex")
GENERATOR = "benchmarks/rhythm_devset.py"
VERSION = 1
SR = 22050
MAX_SECONDS = 120.0
GAIN = 0.6
BASE_SEED = 20240615
SILENCE_DB = -60.0          # trailing audio below this (relative to the peak) is dropped
BEAT_LEAD_S = 0.07          # beats earlier than the first onset by more than this are dropped
TEMPO_VARIATION = 0.04      # variable_tempo when set_tempo values differ by more than this
KEY_DOMINANCE = 0.8         # a changing key is kept when one key holds this share
SYNTH_MIN_S = 30.0          # synthetic pieces: 30-38.5 s notated, rendered (with the release
SYNTH_NOTATED_MAX_S = 38.5  # of the last notes) to at most SYNTH_MAX_S
SYNTH_MAX_S = 40.0

PACKAGES: dict[str, dict[str, str]] = {
    "openttd-openmsx": {"license": "GPL-2.0 (OpenMSX, the OpenTTD base music set)",
                        "homepage": "https://github.com/OpenTTD/OpenMSX"},
    "planetblupi-music-midi": {"license": "GPL-3.0-or-later (Planet Blupi, EPSITEC / Mathieu Schroeter)",
                               "homepage": "https://github.com/blupi-games/planetblupi"},
}
SOURCE_PREFIX = {"synthetic": "synth", "openttd-openmsx": "openmsx", "planetblupi-music-midi": "blupi"}

# ---------------------------------------------------------------------------------------------
# keys

MAJOR = "major"
MINOR = "minor"
#: same spelling as engine.key (MAJOR_NAMES / MINOR_NAMES)
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
#: Krumhansl & Kessler (1982) probe-tone profiles, index 0 = tonic (for the symbolic key check)
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def key_name(tonic: int, mode: str) -> str:
    """Standard spelling: "C", "Db", ..., "F#m", "Ebm"."""
    return (MAJOR_NAMES if mode == MAJOR else MINOR_NAMES)[int(tonic) % 12]


def parse_key_signature(name: str) -> tuple[int, str]:
    """A mido key_signature name ("Bb", "F#m", "Cb") -> (tonic pitch class, mode)."""
    mode = MINOR if name.endswith("m") else MAJOR
    base = name[:-1] if mode == MINOR else name
    tonic = _LETTERS[base[0].upper()]
    for acc in base[1:]:
        tonic += 1 if acc == "#" else -1 if acc == "b" else 0
    return tonic % 12, mode


def symbolic_key(pc_weights: np.ndarray) -> tuple[int, str, float]:
    """Krumhansl-Schmuckler on a 12-bin pitch-class weight vector -> (tonic, mode, Pearson r)."""
    w = np.asarray(pc_weights, dtype=float)
    if w.shape != (12,) or not np.any(w > 0):
        raise ValueError("need a non-zero 12-bin pitch-class vector")
    best = (0, MAJOR, -2.0)
    for mode, prof in ((MAJOR, KK_MAJOR), (MINOR, KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(w, np.roll(prof, tonic))[0, 1])
            if r > best[2]:
                best = (tonic, mode, r)
    return best


def key_relation(est: tuple[int, str], ref: tuple[int, str]) -> str:
    """"same", "fifth", "relative", "parallel" or "other" (the MIREX categories)."""
    (et, em), (rt, rm) = est, ref
    if (et, em) == (rt, rm):
        return "same"
    if em == rm and (et - rt) % 12 in (5, 7):
        return "fifth"
    if rm == MAJOR and em == MINOR and (rt - et) % 12 == 3:
        return "relative"
    if rm == MINOR and em == MAJOR and (et - rt) % 12 == 3:
        return "relative"
    if et == rt:
        return "parallel"
    return "other"


# ---------------------------------------------------------------------------------------------
# composition

TPB = 480
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
#: roman numeral -> (semitones above the tonic, triad quality)
CHORDS: dict[str, tuple[int, str]] = {
    "I": (0, "maj"), "ii": (2, "min"), "iii": (4, "min"), "IV": (5, "maj"), "V": (7, "maj"),
    "vi": (9, "min"), "i": (0, "min"), "iv": (5, "min"), "v": (7, "min"), "III": (3, "maj"),
    "VI": (8, "maj"), "VII": (10, "maj"),
}
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}
PROGRESSIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    MAJOR: (("I", "V", "vi", "IV"), ("I", "IV", "V", "I"), ("I", "vi", "IV", "V"),
            ("I", "IV", "vi", "V"), ("I", "ii", "V", "I")),
    MINOR: (("i", "VI", "III", "VII"), ("i", "iv", "v", "i"), ("i", "iv", "V", "i"),
            ("i", "VII", "VI", "V"), ("i", "VI", "iv", "V")),
}
HARMONY_PROGRAMS = {"acoustic grand piano": 0, "electric piano": 4, "string ensemble": 48,
                    "nylon guitar": 24, "steel guitar": 25, "drawbar organ": 16, "church organ": 19}
SUSTAINED = {"string ensemble", "drawbar organ", "church organ"}
BASS_PROGRAMS = {"acoustic bass": 32, "fingered bass": 33, "fretless bass": 35}
MELODY_PROGRAMS = {"flute": 73, "clarinet": 71, "violin": 40, "vibraphone": 11, "oboe": 68,
                   "trumpet": 56, "alto sax": 65}
CH_HARMONY, CH_BASS, CH_MELODY, CH_DRUMS = 0, 1, 2, 9
KICK, SNARE, SIDE_STICK, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 37, 42, 44, 46, 49, 51

#: drum patterns: name -> {note: [(beat position in the bar, velocity), ...]}
DRUM_PATTERNS: dict[int, dict[str, dict[int, list[tuple[float, int]]]]] = {
    4: {
        "rock": {KICK: [(0, 105), (2, 100)], SNARE: [(1, 95), (3, 95)],
                 HAT: [(i / 2, 75 if i % 2 == 0 else 55) for i in range(8)]},
        "rock-push": {KICK: [(0, 105), (2, 100), (2.5, 85)], SNARE: [(1, 95), (3, 95)],
                      HAT: [(i / 2, 75 if i % 2 == 0 else 55) for i in range(8)]},
        "four-on-the-floor": {KICK: [(b, 105) for b in range(4)], SNARE: [(1, 90), (3, 90)],
                              HAT: [(b, 60) for b in range(4)],
                              OPEN_HAT: [(b + 0.5, 70) for b in range(4)]},
        "syncopated": {KICK: [(0, 105), (1.5, 90), (2.5, 95)], SNARE: [(1, 95), (3, 95)],
                       HAT: [(i / 2, 75 if i % 2 == 0 else 55) for i in range(8)]},
        "jazz-ride": {RIDE: [(0, 85), (1, 90), (1.5, 65), (2, 85), (3, 90), (3.5, 65)],
                      PEDAL_HAT: [(1, 70), (3, 70)], KICK: [(0, 70), (2, 65)],
                      SIDE_STICK: [(3, 60)]},
    },
    3: {
        "waltz": {KICK: [(0, 105)], SNARE: [(1, 70), (2, 70)], HAT: [(b, 65) for b in range(3)]},
        "waltz-eighths": {KICK: [(0, 105)], SNARE: [(2, 90)],
                          HAT: [(i / 2, 75 if i % 2 == 0 else 55) for i in range(6)]},
        "syncopated": {KICK: [(0, 105), (1.5, 90)], SNARE: [(2, 95)],
                       HAT: [(i / 2, 75 if i % 2 == 0 else 55) for i in range(6)]},
        "jazz-ride": {RIDE: [(0, 85), (1, 80), (1.5, 60), (2, 80), (2.5, 60)],
                      KICK: [(0, 70)], PEDAL_HAT: [(1, 65), (2, 65)]},
    },
}
#: melody rhythms (note lengths in beats) per meter; plain and syncopated
MELODY_RHYTHMS = {
    4: ((1, 1, 1, 1), (2, 1, 1), (1, 1, 2), (1.5, 0.5, 1, 1), (0.5, 0.5, 1, 0.5, 0.5, 1),
        (3, 1), (1, 0.5, 0.5, 1, 1), (2, 2)),
    3: ((1, 1, 1), (2, 1), (1.5, 0.5, 1), (0.5, 0.5, 1, 1), (3,), (1, 2)),
}
SYNCOPATED_RHYTHMS = {
    4: ((0.5, 1, 1, 1, 0.5), (1.5, 1.5, 1), (0.5, 1.5, 0.5, 1.5), (1, 1.5, 1.5)),
    3: ((0.5, 1, 1.5), (1.5, 1.5), (0.5, 1, 1, 0.5)),
}


def _swing(pos: float, swing: bool) -> float:
    """Delay off-beat eighths (x.5 beats) to x.667 (2:1 triplet swing)."""
    if not swing:
        return pos
    whole = math.floor(pos + 1e-9)
    if abs(pos - whole - 0.5) < 1e-9:
        return whole + 2.0 / 3.0
    return pos


def _voice(tones: tuple[int, ...], previous: list[int] | None) -> list[int]:
    """Three-note close voicing of the pitch classes, nearest (voice leading) to ``previous``."""
    target = previous or [60, 64, 67]
    best: list[int] | None = None
    best_cost = float("inf")
    for low in range(52, 68):
        if low % 12 not in tones:
            continue
        chord = [low]
        while len(chord) < 3:
            n = chord[-1] + 1
            while n % 12 not in tones:
                n += 1
            chord.append(n)
        cost = sum(abs(a - b) for a, b in zip(chord, target))
        if cost < best_cost:
            best, best_cost = chord, cost
    assert best is not None
    return best


def _scale_pcs(tonic: int, mode: str, numeral: str) -> set[int]:
    steps = list(MAJOR_SCALE if mode == MAJOR else MINOR_SCALE)
    if mode == MINOR and numeral == "V":          # harmonic minor over the major dominant
        steps[6] = 11
    return {(tonic + s) % 12 for s in steps}


def compose_piece(key_tonic: int, mode: str, bpm: float, meter: int, seed: int, *,
                  drums: bool | None = None, swing: bool | None = None,
                  syncopation: bool | None = None,
                  duration_s: float | None = None) -> tuple[mido.MidiFile, dict[str, Any]]:
    """Compose a short piece in ``key_tonic`` (0 = C) ``mode`` at ``bpm`` in ``meter``/4.

    The options left ``None`` are drawn from ``seed`` (drums with probability 2/3, swing 1/6,
    syncopation 1/4, duration uniform in 30-38.5 s rounded to whole bars, so that the render
    with its release stays within 40 s). Returns the type-1
    MIDI file (track 0: track name, time_signature, key_signature, set_tempo) and its truth:
    ``bpm`` (exact: 60e6 / the set_tempo microseconds), ``beats`` (every quarter note),
    ``downbeats`` (every bar), ``meter``, ``key``/``tonic``/``mode``, ``duration_s`` (the
    notated length; the rendered file rings a little longer) and the composition's choices.
    """
    import mido

    if mode not in (MAJOR, MINOR):
        raise ValueError(f"mode must be 'major' or 'minor', got {mode!r}")
    if meter not in DRUM_PATTERNS:
        raise ValueError(f"meter must be one of {sorted(DRUM_PATTERNS)}, got {meter!r}")
    if not 20 <= bpm <= 400:
        raise ValueError(f"bpm out of range: {bpm!r}")
    tonic = int(key_tonic) % 12
    rng = np.random.default_rng(seed)
    draws = rng.random(3)
    drums = bool(draws[0] < 2 / 3) if drums is None else bool(drums)
    swing = bool(draws[1] < 1 / 6) if swing is None else bool(swing)
    syncopation = bool(draws[2] < 1 / 4) if syncopation is None else bool(syncopation)

    tempo_us = int(mido.bpm2tempo(bpm))
    beat_s = tempo_us / 1e6
    bar_s = meter * beat_s
    target = float(rng.uniform(SYNTH_MIN_S, SYNTH_NOTATED_MAX_S)) if duration_s is None else float(duration_s)
    n_bars = max(2, int(round(target / bar_s)))
    if duration_s is None:
        while n_bars * bar_s > SYNTH_NOTATED_MAX_S and n_bars > 2:
            n_bars -= 1
        while n_bars * bar_s < SYNTH_MIN_S:
            n_bars += 1

    progression = PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
    harmony_name = list(HARMONY_PROGRAMS)[int(rng.integers(len(HARMONY_PROGRAMS)))]
    bass_name = list(BASS_PROGRAMS)[int(rng.integers(len(BASS_PROGRAMS)))]
    melody_name = list(MELODY_PROGRAMS)[int(rng.integers(len(MELODY_PROGRAMS)))]
    styles = ["block", "arpeggio"]
    if drums:
        if harmony_name in SUSTAINED:
            styles.append("sustained")
        if syncopation:
            styles.append("off-beat")
    harmony_style = styles[int(rng.integers(len(styles)))]
    if drums:
        names = list(DRUM_PATTERNS[meter])
        if syncopation:
            drum_pattern = "syncopated"
        elif swing and rng.random() < 0.5:
            drum_pattern = "jazz-ride"
        else:
            plain = [n for n in names if n not in ("syncopated", "jazz-ride")]
            drum_pattern = plain[int(rng.integers(len(plain)))]
    else:
        drum_pattern = None
    if meter == 4:
        bass_pattern = "syncopated" if (syncopation and drums) else ("half", "quarters")[int(rng.integers(2))]
    else:
        bass_pattern = "syncopated" if (syncopation and drums) else ("dotted", "waltz")[int(rng.integers(2))]
    melody_start_bar = 2 if (rng.random() < 0.3 and n_bars > 8) else 0

    tonic_numeral = "I" if mode == MAJOR else "i"
    numerals = [progression[b % len(progression)] for b in range(n_bars - 1)] + [tonic_numeral]

    # events: (start beat, end beat, channel, note, velocity), positions before swing
    events: list[tuple[float, float, int, int, int]] = []
    voicing: list[int] | None = None
    for b, numeral in enumerate(numerals):
        bar0 = b * meter
        offset, quality = CHORDS[numeral]
        root = (tonic + offset) % 12
        tones = tuple((root + i) % 12 for i in TRIADS[quality])
        voicing = _voice(tones, voicing)
        # harmony
        if harmony_style == "block":
            for k in range(meter):
                vel = 72 if k == 0 else 60
                for n in voicing:
                    events.append((bar0 + k, bar0 + k + 0.9, CH_HARMONY, n, vel))
        elif harmony_style == "arpeggio":
            arp = [voicing[0], voicing[1], voicing[2], voicing[0] + 12]
            order = [0, 1, 2, 3, 2, 1, 0, 1] if meter == 4 else [0, 1, 2, 3, 2, 1]
            for j, idx in enumerate(order):
                pos = bar0 + j / 2
                vel = 75 if j == 0 else 64 if j % 2 == 0 else 52
                events.append((pos, pos + 0.5, CH_HARMONY, arp[idx], vel))
        elif harmony_style == "sustained":
            for n in voicing:
                events.append((bar0, bar0 + meter - 0.05, CH_HARMONY, n, 62))
        else:  # off-beat chords
            for k in range(meter):
                for n in voicing:
                    events.append((bar0 + k + 0.5, bar0 + k + 0.9, CH_HARMONY, n, 66))
        # bass
        broot = 36 + (root - 36) % 12
        fifth = broot + 7 if broot + 7 <= 50 else broot - 5
        if bass_pattern == "half":
            notes = [(0, 1.9, broot), (2, 3.9, fifth if b % 2 else broot)]
        elif bass_pattern == "quarters":
            notes = [(0, 0.9, broot), (1, 1.9, broot), (2, 2.9, fifth), (3, 3.9, broot)]
        elif bass_pattern == "dotted":
            notes = [(0, 2.9, broot)]
        elif bass_pattern == "waltz":
            notes = [(0, 0.9, broot), (1, 1.9, fifth), (2, 2.9, fifth)]
        elif meter == 4:  # syncopated
            notes = [(0, 1.4, broot), (1.5, 1.95, broot), (2, 3.4, fifth), (3.5, 3.95, broot)]
        else:
            notes = [(0, 1.4, broot), (1.5, 2.9, fifth)]
        for s, e, n in notes:
            events.append((bar0 + s, bar0 + e, CH_BASS, n, 92 if s == 0 else 80))
        # drums
        if drum_pattern is not None:
            for note, hits in DRUM_PATTERNS[meter][drum_pattern].items():
                for pos, vel in hits:
                    events.append((bar0 + pos, bar0 + pos + 0.25, CH_DRUMS, note, vel))
            if b == 0 or b == n_bars - 1 or (b % 8 == 0):
                events.append((bar0, bar0 + 1, CH_DRUMS, CRASH, 90))

    # melody
    scale_notes_cache: dict[str, list[int]] = {}

    def scale_notes(numeral: str) -> list[int]:
        if numeral not in scale_notes_cache:
            pcs = _scale_pcs(tonic, mode, numeral)
            scale_notes_cache[numeral] = [n for n in range(62, 88) if n % 12 in pcs]
        return scale_notes_cache[numeral]

    pitch = min((n for n in range(62, 88) if n % 12 == tonic), key=lambda n: abs(n - 74))
    for b in range(melody_start_bar, n_bars):
        bar0 = b * meter
        numeral = numerals[b]
        offset, quality = CHORDS[numeral]
        root = (tonic + offset) % 12
        chord_pcs = {(root + i) % 12 for i in TRIADS[quality]}
        notes = scale_notes(numeral)
        if b == n_bars - 1:
            final = min((n for n in notes if n % 12 == tonic), key=lambda n: abs(n - pitch))
            events.append((bar0, bar0 + meter - 0.1, CH_MELODY, final, 92))
            break
        pool = SYNCOPATED_RHYTHMS[meter] if (syncopation and rng.random() < 0.6) else MELODY_RHYTHMS[meter]
        rhythm = pool[int(rng.integers(len(pool)))]
        pos = 0.0
        for length in rhythm:
            start = pos
            pos += length
            if rng.random() < 0.08:
                continue                                   # a rest
            if abs(start - round(start)) < 1e-9:           # on the beat: a chord tone nearby
                cands = sorted((n for n in notes if n % 12 in chord_pcs), key=lambda n: abs(n - pitch))
                pitch = cands[int(rng.integers(min(2, len(cands))))]
            else:                                          # off the beat: a scale step
                i = min(range(len(notes)), key=lambda k: abs(notes[k] - pitch))
                step = int(rng.choice([-2, -1, -1, 1, 1, 2]))
                pitch = notes[int(np.clip(i + step, 0, len(notes) - 1))]
            vel = int(np.clip(88 + (8 if start == 0 else 0) + rng.integers(-8, 9), 40, 127))
            events.append((bar0 + start, bar0 + start + length * 0.92, CH_MELODY, pitch, vel))

    # MIDI
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    key = key_name(tonic, mode)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name=f"synthetic {key} {meter}/4 {60e6 / tempo_us:.2f} BPM", time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=meter, denominator=4,
                                 clocks_per_click=24, notated_32nd_notes_per_beat=8, time=0))
    meta.append(mido.MetaMessage("key_signature", key=key, time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=tempo_us, time=0))
    end_tick = n_bars * meter * TPB
    meta.append(mido.MetaMessage("end_of_track", time=end_tick))
    mid.tracks.append(meta)

    parts = [(CH_HARMONY, harmony_name, HARMONY_PROGRAMS[harmony_name], 88, 40),
             (CH_BASS, bass_name, BASS_PROGRAMS[bass_name], 100, 64),
             (CH_MELODY, melody_name, MELODY_PROGRAMS[melody_name], 96, 84)]
    if drum_pattern is not None:
        parts.append((CH_DRUMS, "drums", 0, 100, 64))
    for channel, name, program, volume, pan in parts:
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if channel != CH_DRUMS:
            track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        track.append(mido.Message("control_change", channel=channel, control=7, value=volume, time=0))
        track.append(mido.Message("control_change", channel=channel, control=10, value=pan, time=0))
        msgs: list[tuple[int, int, mido.Message]] = []
        for s, e, ch, note, vel in events:
            if ch != channel:
                continue
            t_on = int(round(_swing(s, swing) * TPB))
            t_off = max(t_on + 1, int(round(_swing(e, swing) * TPB)))
            msgs.append((t_on, 1, mido.Message("note_on", channel=ch, note=note, velocity=vel)))
            msgs.append((t_off, 0, mido.Message("note_off", channel=ch, note=note, velocity=0)))
        msgs.sort(key=lambda m: (m[0], m[1], m[2].note))
        now = 0
        for tick, _, msg in msgs:
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
        mid.tracks.append(track)

    n_beats = n_bars * meter
    truth = {
        "bpm": 60e6 / tempo_us,
        "tempo_us": tempo_us,
        "beats": [round(k * beat_s, 6) for k in range(n_beats)],
        "downbeats": [round(b * bar_s, 6) for b in range(n_bars)],
        "meter": meter,
        "time_signature": f"{meter}/4",
        "key": key, "tonic": tonic, "mode": mode,
        "variable_tempo": False,
        "duration_s": round(n_bars * bar_s, 6),
        "n_bars": n_bars,
        "progression": list(progression),
        "harmony_program": harmony_name, "harmony_style": harmony_style,
        "bass_program": bass_name, "bass_pattern": bass_pattern,
        "melody_program": melody_name, "melody_start_bar": melody_start_bar,
        "drums": drums, "drum_pattern": drum_pattern,
        "swing": swing, "syncopation": syncopation,
        "seed": int(seed),
    }
    return mid, truth


def synthetic_plan(per_key: int = 4, seed: int = BASE_SEED) -> list[dict[str, Any]]:
    """The synthetic items' parameters: each of the 24 keys ``per_key`` times (seeded).

    Exactly a quarter (rounded) in 3/4, two thirds with drums, a sixth swung, a quarter
    syncopated, chosen by seeded permutations; tempo log-uniform in 60-200 BPM.
    """
    n = 24 * per_key
    rng = np.random.default_rng(seed)
    bpms = np.exp(rng.uniform(math.log(60.0), math.log(200.0), n))
    waltz = set(rng.permutation(n)[: round(n / 4)].tolist())
    with_drums = set(rng.permutation(n)[: round(2 * n / 3)].tolist())
    swung = set(rng.permutation(n)[: round(n / 6)].tolist())
    synco = set(rng.permutation(n)[: round(n / 4)].tolist())
    plan = []
    for i in range(n):
        k = i // per_key
        mode = MAJOR if k < 12 else MINOR
        tonic = k % 12
        meter = 3 if i in waltz else 4
        name = key_name(tonic, mode).replace("#", "s")
        plan.append({"index": i, "id": f"synth-{i:03d}-{name}-{meter}4",
                     "tonic": tonic, "mode": mode, "bpm": round(float(bpms[i]), 2), "meter": meter,
                     "seed": seed * 1000 + i, "drums": i in with_drums, "swing": i in swung,
                     "syncopation": i in synco})
    return plan


# ---------------------------------------------------------------------------------------------
# MIDI maps (all tracks, as a player reads them)

def _abs_events(mid: mido.MidiFile) -> list[tuple[int, int, Any]]:
    out = []
    for ti, track in enumerate(mid.tracks):
        t = 0
        for msg in track:
            t += msg.time
            out.append((t, ti, msg))
    out.sort(key=lambda x: (x[0], x[1]))
    return out


def tempo_map(mid: mido.MidiFile) -> list[tuple[int, int]]:
    """[(tick, microseconds per quarter)], from tick 0 (120 BPM until the first set_tempo)."""
    changes: dict[int, int] = {}
    for tick, _, msg in _abs_events(mid):
        if msg.type == "set_tempo":
            changes[tick] = msg.tempo
    tmap = [(0, 500000)] if 0 not in changes else []
    tmap += sorted(changes.items())
    dedup: list[tuple[int, int]] = []
    for tick, us in tmap:
        if dedup and dedup[-1][1] == us:
            continue
        dedup.append((tick, us))
    return dedup


def _segment_starts_s(tmap: list[tuple[int, int]], tpb: int) -> list[float]:
    starts = [0.0]
    for (t0, us), (t1, _) in zip(tmap, tmap[1:]):
        starts.append(starts[-1] + (t1 - t0) * us / 1e6 / tpb)
    return starts


def tick_to_seconds(ticks: np.ndarray | float, tmap: list[tuple[int, int]], tpb: int) -> np.ndarray:
    ticks = np.asarray(ticks, dtype=float)
    starts = np.array(_segment_starts_s(tmap, tpb))
    seg_ticks = np.array([t for t, _ in tmap], dtype=float)
    us = np.array([u for _, u in tmap], dtype=float)
    i = np.clip(np.searchsorted(seg_ticks, ticks, side="right") - 1, 0, len(tmap) - 1)
    return starts[i] + (ticks - seg_ticks[i]) * us[i] / 1e6 / tpb


def seconds_to_tick(seconds: float, tmap: list[tuple[int, int]], tpb: int) -> float:
    starts = _segment_starts_s(tmap, tpb)
    i = max(0, int(np.searchsorted(np.array(starts), seconds, side="right")) - 1)
    return tmap[i][0] + (seconds - starts[i]) * 1e6 * tpb / tmap[i][1]


def midi_length_s(mid: mido.MidiFile) -> float:
    last = max((t for t, _, _ in _abs_events(mid)), default=0)
    return float(tick_to_seconds(last, tempo_map(mid), mid.ticks_per_beat))


def truncate_midi(mid: mido.MidiFile, seconds: float) -> mido.MidiFile:
    """A copy holding the events before ``seconds`` (meta events kept), all notes released there."""
    import mido

    tmap = tempo_map(mid)
    cut = int(math.ceil(seconds_to_tick(seconds, tmap, mid.ticks_per_beat)))
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat)
    for track in mid.tracks:
        new = mido.MidiTrack()
        now = 0
        t = 0
        channels = set()
        for msg in track:
            t += msg.time
            if msg.type == "end_of_track":
                continue
            if t >= cut:
                continue
            if hasattr(msg, "channel"):
                channels.add(msg.channel)
            new.append(msg.copy(time=t - now))
            now = t
        for ch in sorted(channels):
            for control in (64, 123):           # sustain off, all notes off
                new.append(mido.Message("control_change", channel=ch, control=control, value=0,
                                        time=max(0, cut - now)))
                now = max(now, cut)
        new.append(mido.MetaMessage("end_of_track", time=max(0, cut - now)))
        out.tracks.append(new)
    return out


# ---------------------------------------------------------------------------------------------
# rendering

def _fluidsynth() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RuntimeError("fluidsynth is not installed (apt-get install fluidsynth fluid-soundfont-gm)")
    return exe


def render_midi(mid_path: str | os.PathLike, wav_path: str | os.PathLike, soundfont: str | os.PathLike,
                sr: int = SR, max_s: float = MAX_SECONDS, gain: float = GAIN) -> float:
    """Render a MIDI file with FluidSynth to a mono 16-bit WAV at ``sr``; returns its duration (s).

    Runs ``fluidsynth -ni -g GAIN -r SR -O float -F tmp.wav SOUNDFONT MIDI`` (float output, so
    nothing clips inside FluidSynth), averages the channels, keeps at most ``max_s`` seconds,
    drops trailing audio quieter than -60 dB below the peak (leading silence is kept, so MIDI
    time 0 stays audio time 0), scales down only if the peak would clip, and writes PCM_16.
    A file much longer than ``max_s`` is truncated (:func:`truncate_midi`) before rendering.
    """
    import mido
    import soundfile as sf

    exe = _fluidsynth()
    mid_path, wav_path, soundfont = Path(mid_path), Path(wav_path), Path(soundfont)
    if not soundfont.is_file():
        raise FileNotFoundError(f"soundfont not found: {soundfont}")
    with tempfile.TemporaryDirectory(prefix="rhythmset-") as tmp:
        src = mid_path
        mid = mido.MidiFile(mid_path)
        if midi_length_s(mid) > max_s + 5.0:
            src = Path(tmp) / "truncated.mid"
            truncate_midi(mid, max_s + 1.0).save(src)
        raw = Path(tmp) / "raw.wav"
        cmd = [exe, "-ni", "-q", "-g", str(gain), "-r", str(int(sr)), "-O", "float", "-T", "wav",
               "-F", str(raw), str(soundfont), str(src)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0 or not raw.is_file():
            raise RuntimeError(f"fluidsynth failed on {mid_path} (rc {proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-500:]}")
        y, file_sr = sf.read(raw, dtype="float64", always_2d=True)
    if file_sr != sr:
        raise RuntimeError(f"fluidsynth wrote {file_sr} Hz, expected {sr}")
    y = y.mean(axis=1)[: int(round(max_s * sr))]
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak <= 0:
        raise RuntimeError(f"{mid_path} rendered to silence")
    loud = np.flatnonzero(np.abs(y) > peak * 10 ** (SILENCE_DB / 20))
    end = min(y.size, int(loud[-1]) + 1 + int(0.05 * sr))
    y = y[:end]
    if peak > 0.98:
        y = y * (0.98 / peak)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(wav_path, y.astype(np.float32), sr, subtype="PCM_16")
    return y.size / sr


# ---------------------------------------------------------------------------------------------
# truth from packaged MIDI files

def _beat_grid(ts_changes: list[tuple[int, int, int]], end_tick: float,
               tpb: int) -> tuple[list[float], list[float], list[tuple[int, float]]]:
    """Beat and downbeat ticks up to ``end_tick`` from [(tick, numerator, denominator)].

    Bars restart at every time-signature change. Returns (beat ticks, downbeat ticks,
    [(segment start tick, beat length in quarters)]).
    """
    beats: list[float] = []
    downs: list[float] = []
    units: list[tuple[int, float]] = []
    for i, (t0, num, den) in enumerate(ts_changes):
        t1 = ts_changes[i + 1][0] if i + 1 < len(ts_changes) else end_tick
        unit = tpb * 4.0 / den
        if den >= 8 and num % 3 == 0 and num > 3:
            unit *= 3.0
        bar = tpb * 4.0 * num / den
        units.append((t0, unit / tpb))
        k = 0
        while t0 + k * unit < min(t1, end_tick) - 1e-6:
            beats.append(t0 + k * unit)
            k += 1
        k = 0
        while t0 + k * bar < min(t1, end_tick) - 1e-6:
            downs.append(t0 + k * bar)
            k += 1
    return beats, downs, units


def read_midi_maps(mid: mido.MidiFile) -> dict[str, Any]:
    """Time signatures, key signatures and notes (start/end ticks, channel, pitch) of a file."""
    ts: dict[int, tuple[int, int]] = {}
    keys: list[tuple[int, str]] = []
    on: dict[tuple[int, int], list[int]] = defaultdict(list)
    notes: list[tuple[int, int, int, int]] = []
    for tick, _, msg in _abs_events(mid):
        if msg.type == "time_signature":
            ts[tick] = (msg.numerator, msg.denominator)
        elif msg.type == "key_signature":
            keys.append((tick, msg.key))
        elif msg.type == "note_on" and msg.velocity > 0:
            on[(msg.channel, msg.note)].append(tick)
        elif msg.type in ("note_off", "note_on"):
            starts = on.get((msg.channel, msg.note))
            if starts:
                notes.append((starts.pop(0), tick, msg.channel, msg.note))
    last = max((t for t, _, _ in _abs_events(mid)), default=0)
    for (ch, note), starts in on.items():
        for s in starts:
            notes.append((s, last, ch, note))
    notes.sort()
    return {"time_signatures": sorted((t, n, d) for t, (n, d) in ts.items()), "keys": keys, "notes": notes}


def _segment_durations(changes: list[tuple[float, Any]], end_s: float) -> dict[Any, float]:
    """{value: seconds held within [0, end_s]} for [(start_s, value)] sorted by time."""
    held: dict[Any, float] = defaultdict(float)
    for i, (t0, value) in enumerate(changes):
        t1 = changes[i + 1][0] if i + 1 < len(changes) else end_s
        span = min(t1, end_s) - max(t0, 0.0)
        if span > 0:
            held[value] += span
    return dict(held)


def grid_offset(onset_ticks: np.ndarray | list[int], tpb: int) -> tuple[float, float, float]:
    """The constant offset (ticks) of the notes from the notated grid, if the file has one.

    The grid is the union of sixteenths, eighth triplets and sixteenth triplets. For offsets
    ``o`` within ±1/8 beat (half-tick steps) each onset scores ``exp(-d²/2σ²)``, ``d`` its
    distance to the grid shifted by ``o``, ``σ = tpb/96`` ticks, plus half that for the
    distances to the shifted beat and eighth grids; the best ``o`` maximises the sum. Returns
    (best offset, the share of onsets within 2σ of that grid, the same share for the
    unshifted grid); the caller shifts the beats only when the offset clearly wins.
    """
    t = np.asarray(onset_ticks, dtype=float)
    if t.size == 0:
        return 0.0, 0.0, 0.0
    sigma = max(1.0, tpb / 96.0)
    grids = (tpb / 4.0, tpb / 3.0, tpb / 6.0)

    def dist(o: float) -> np.ndarray:
        x = t - o
        d = np.full(t.size, np.inf)
        for g in grids:
            r = np.mod(x, g)
            d = np.minimum(d, np.minimum(r, g - r))
        return d

    def level(o: float, g: float) -> np.ndarray:
        r = np.mod(t - o, g)
        return np.minimum(r, g - r)

    def score(o: float) -> float:
        # the fine grid, plus the beat and eighth levels so that, of offsets one triplet
        # sixteenth apart that fit the fine grid equally, the one that puts notes on the beats wins
        total = np.exp(-0.5 * (dist(o) / sigma) ** 2).sum()
        for g in (float(tpb), tpb / 2.0):
            total += 0.5 * np.exp(-0.5 * (level(o, g) / sigma) ** 2).sum()
        return float(total)

    offsets = np.arange(-tpb / 8.0, tpb / 8.0 + 0.25, 0.5)
    scores = np.array([score(o) for o in offsets])
    top = scores.max()
    cands = offsets[scores >= top * (1 - 1e-9)]
    best = float(cands[np.argmin(np.abs(cands))])
    return best, float((dist(best) <= 2 * sigma).mean()), float((dist(0.0) <= 2 * sigma).mean())


def package_uses_default_key(key_events: list[list[tuple[int, str]]]) -> bool:
    """True when every file of a package has key events and all of them are "C" at tick 0."""
    return bool(key_events) and all(ev and all(t == 0 and k == "C" for t, k in ev) for ev in key_events)


def midi_truth(mid_path: str | os.PathLike, duration_s: float, default_key_package: bool = False) -> dict[str, Any]:
    """Ground truth of a packaged MIDI file over its first ``duration_s`` seconds (see module doc)."""
    import mido

    mid = mido.MidiFile(mid_path)
    tpb = mid.ticks_per_beat
    tmap = tempo_map(mid)
    maps = read_midi_maps(mid)
    notes_field: list[str] = []
    ts = [(t, n, d) for t, n, d in maps["time_signatures"]]
    meter_assumed = not ts
    if not ts:
        ts = [(0, 4, 4)]
        notes_field.append("no time_signature event: 4/4 assumed (the MIDI default)")
    elif ts[0][0] > 0:
        ts = [(0, 4, 4)] + ts
    notes = maps["notes"]
    if not notes:
        raise ValueError(f"{mid_path}: no notes")
    starts_s = tick_to_seconds([n[0] for n in notes], tmap, tpb)
    ends_s = tick_to_seconds([n[1] for n in notes], tmap, tpb)
    first_onset = float(starts_s.min())
    music_end = float(min(ends_s.max(), duration_s))
    end_tick = seconds_to_tick(music_end, tmap, tpb) + 1e-6
    beat_ticks, down_ticks, units = _beat_grid(ts, end_tick, tpb)
    # a constant offset of every note from the notated grid (planetblupi's music004-009 sit
    # 19-20 ticks of 192 late throughout): the beats follow the notes
    offset, share_best, share_zero = grid_offset([n[0] for n in notes], tpb)
    sigma = max(1.0, tpb / 96.0)
    shift = float(offset) if (abs(offset) >= sigma and share_best >= 0.6
                              and share_best - share_zero >= 0.3) else 0.0
    beats = tick_to_seconds(np.asarray(beat_ticks) + shift, tmap, tpb)
    downs = tick_to_seconds(np.asarray(down_ticks) + shift, tmap, tpb)
    notated_beats = tick_to_seconds(beat_ticks, tmap, tpb)
    if shift:
        ms = 1000 * shift * tmap[0][1] / 1e6 / tpb
        notes_field.append(f"the notes sit {shift:+g} ticks ({ms:+.0f} ms at the opening tempo) off the notated grid "
                           f"throughout ({share_best:.0%} of onsets, {share_zero:.0%} on the unshifted grid): "
                           "beats and downbeats shifted by that")
    lo = first_onset - BEAT_LEAD_S
    beats = beats[(beats >= lo) & (beats <= music_end)]
    downs = downs[(downs >= lo) & (downs <= music_end)]

    # meter: the time signature holding longest over the rendered part
    ts_s = [(float(tick_to_seconds(t, tmap, tpb)), (n, d)) for t, n, d in ts]
    held_ts = _segment_durations(ts_s, duration_s)
    first_seen = {v: i for i, (_, v) in reversed(list(enumerate(ts_s)))}
    num, den = max(held_ts, key=lambda k: (held_ts[k], -first_seen[k]))     # ties: the earliest
    unit_quarters = 4.0 / den * (3.0 if (den >= 8 and num % 3 == 0 and num > 3) else 1.0)
    if den == 4 and num % 3 == 0 and num > 3:
        notes_field.append(f"{num}/4: beats are quarter notes (pretty_midi's get_beats would give dotted halves)")

    # tempo over the rendered part
    tempo_s = [(float(tick_to_seconds(t, tmap, tpb)), us) for t, us in tmap]
    held_tempo = _segment_durations(tempo_s, duration_s)
    main_us = max(held_tempo, key=lambda us: held_tempo[us])
    in_part = [us for t, us in tempo_s if t < duration_s]
    qbpms = [60e6 / us for us in in_part]
    variable = max(qbpms) / min(qbpms) > 1.0 + TEMPO_VARIATION
    bpm_quarter = 60e6 / main_us
    bpm = bpm_quarter / unit_quarters
    if not any(True for tr in mid.tracks for m in tr if m.type == "set_tempo"):
        notes_field.append("no set_tempo event: 120 BPM (the MIDI default)")
    if variable:
        notes_field.append(f"tempo varies {min(qbpms):.1f}-{max(qbpms):.1f} BPM (quarters) over the rendered part")

    # key
    key = tonic = mode = None
    key_events = [(float(tick_to_seconds(t, tmap, tpb)), k) for t, k in maps["keys"]]
    key_events = [(t, k) for t, k in key_events if t < duration_s]
    if not maps["keys"]:
        notes_field.append("key null: no key_signature event")
    elif default_key_package:
        notes_field.append("key null: every file of this package says only 'C' at time 0 (the sequencer default)")
    elif not key_events:
        notes_field.append("key null: no key_signature event within the rendered part")
    else:
        collapsed: list[tuple[float, str]] = []
        for t, k in key_events:
            if collapsed and collapsed[-1][1] == k:
                continue
            if collapsed and collapsed[-1][0] == t:
                collapsed[-1] = (t, k)
                continue
            collapsed.append((t, k))
        held_key = _segment_durations(collapsed, duration_s)
        best = max(held_key, key=lambda k: held_key[k])
        share = held_key[best] / max(duration_s - collapsed[0][0], 1e-9)
        if len(held_key) > 1 and share < KEY_DOMINANCE:
            notes_field.append("key null: the key signature changes ("
                               + ", ".join(f"{k} at {t:.1f} s" for t, k in collapsed)
                               + f"); none holds {KEY_DOMINANCE:.0%} of the rendered part")
        else:
            tonic, mode = parse_key_signature(best)
            key = key_name(tonic, mode)
            if len(held_key) > 1:
                notes_field.append("key signature changes (" + ", ".join(f"{k} at {t:.1f} s" for t, k in collapsed)
                                   + f"); {key} holds {share:.0%}")

    # symbolic key check (drums excluded)
    pcs = np.zeros(12)
    for (_s_tick, _e_tick, ch, pitch), s, e in zip(notes, starts_s, ends_s):
        if ch == 9:
            continue
        span = min(e, duration_s) - s
        if span > 0:
            pcs[pitch % 12] += span
    check: dict[str, Any] = {}
    if pcs.any():
        st, sm, r = symbolic_key(pcs)
        check = {"notes_key": key_name(st, sm), "notes_key_r": round(r, 3)}
        if tonic is not None:
            check["key_check"] = key_relation((st, sm), (tonic, mode))

    # cross-check the grid with pretty_midi
    pm_ms = None
    try:
        import pretty_midi
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = pretty_midi.PrettyMIDI(str(mid_path))
        if not (den == 4 and num % 3 == 0 and num > 3):
            diffs = []
            unshifted = tick_to_seconds(np.asarray(down_ticks), tmap, tpb)
            for ours, theirs in ((notated_beats, pm.get_beats()), (unshifted, pm.get_downbeats())):
                ours = ours[(ours >= lo) & (ours <= music_end)]
                theirs = np.asarray(theirs)
                theirs = theirs[(theirs >= lo) & (theirs <= music_end)]
                if theirs.size and ours.size:
                    idx = np.clip(np.searchsorted(theirs, ours), 1, theirs.size - 1)
                    near = np.minimum(np.abs(theirs[idx] - ours), np.abs(theirs[idx - 1] - ours)) \
                        if theirs.size > 1 else np.abs(theirs[0] - ours)
                    diffs.append(float(near.max()))
            pm_ms = round(1000 * max(diffs), 3) if diffs else None
    except ImportError:
        pass

    tempo_changes = []
    for t, us in tempo_s:
        if t < duration_s:
            tempo_changes.append([round(t, 4), round(60e6 / us / unit_quarters, 3)])
    return {
        "bpm": round(bpm, 4), "bpm_quarter": round(bpm_quarter, 4),
        "beats": [round(float(b), 6) for b in beats],
        "downbeats": [round(float(d), 6) for d in downs],
        "meter": int(num), "time_signature": f"{num}/{den}", "meter_assumed": meter_assumed,
        "time_signatures": [[round(t, 4), f"{n}/{d}"] for t, (n, d) in ts_s if t < duration_s],
        "key": key, "tonic": tonic, "mode": mode,
        "variable_tempo": bool(variable),
        "tempo_changes": tempo_changes[:200],
        "first_onset_s": round(first_onset, 4),
        "grid_offset_ticks": shift, "grid_share": round(share_best if shift else share_zero, 3),
        "pretty_midi_check_ms": pm_ms,
        **check,
        "note": "; ".join(notes_field),
    }


# ---------------------------------------------------------------------------------------------
# the packages

def _find_debs(out: Path, extra: list[Path]) -> dict[str, Path | None]:
    dirs = [*extra, out / "_debs", *DEB_SEARCH, Path.cwd()]
    found: dict[str, Path | None] = {}
    for pkg in PACKAGES:
        hits = sorted(p for d in dirs if d.is_dir() for p in d.glob(f"{pkg}_*.deb"))
        found[pkg] = hits[-1] if hits else None
    return found


def _download_debs(pkgs: list[str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    print(f"apt-get download {' '.join(pkgs)} (into {dest})", file=sys.stderr)
    proc = subprocess.run(["apt-get", "download", *pkgs], cwd=dest, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"apt-get download failed: {proc.stderr.strip()[-500:]}")


def _package_of(path: Path) -> str | None:
    s = str(path)
    if "openttd" in s or "openmsx" in s:
        return "openttd-openmsx"
    if "planetblupi" in s:
        return "planetblupi-music-midi"
    return None


def package_midis(out: Path, work: Path, debs_dir: list[Path]) -> tuple[dict[str, list[Path]], dict[str, str]]:
    """{package: sorted .mid paths} and {package: version}, unpacking the .deb files."""
    found = _find_debs(out, debs_dir)
    missing = [p for p, d in found.items() if d is None]
    files: dict[str, list[Path]] = {}
    versions: dict[str, str] = {}
    if missing and UNPACKED_FALLBACK.is_dir() and not any(found.values()):
        print(f"using the unpacked tree {UNPACKED_FALLBACK}", file=sys.stderr)
        for p in sorted(UNPACKED_FALLBACK.rglob("*.mid")):
            pkg = _package_of(p)
            if pkg:
                files.setdefault(pkg, []).append(p)
        return files, {pkg: "unknown (unpacked tree)" for pkg in files}
    if missing:
        _download_debs(missing, out / "_debs")
        found = _find_debs(out, debs_dir)
    if shutil.which("dpkg") is None:
        raise RuntimeError("dpkg is needed to unpack the .deb files")
    cache = out / "_debs"
    cache.mkdir(parents=True, exist_ok=True)
    for pkg, deb in found.items():
        if deb is None:
            raise RuntimeError(f"no .deb for {pkg}")
        if deb.parent.resolve() != cache.resolve():
            shutil.copy2(deb, cache / deb.name)          # keep a copy: later builds need no network
        versions[pkg] = deb.name.split("_")[1]
        dest = work / pkg
        subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True)
        files[pkg] = sorted(dest.rglob("*.mid"))
    return files, versions


# ---------------------------------------------------------------------------------------------
# build / list / check

def _safe_stem(name: str) -> str:
    return "".join(c if (c.isalnum() or c in "-_.") else "_" for c in name)


def build(out: Path, soundfont: Path, jobs: int, debs_dir: list[Path], per_key: int = 4,
          max_s: float = MAX_SECONDS) -> dict[str, Any]:
    t_start = time.perf_counter()
    _fluidsynth()
    if not soundfont.is_file():
        sf_dir = soundfont.parent
        have = sorted(p.name for p in sf_dir.glob("*.sf2")) if sf_dir.is_dir() else []
        raise FileNotFoundError(f"soundfont not found: {soundfont} (in {sf_dir}: {have})")
    out.mkdir(parents=True, exist_ok=True)
    old = out / "truth.json"
    if old.is_file():
        try:
            ours = json.loads(old.read_text(encoding="utf-8")).get("generator") == GENERATOR
        except (ValueError, AttributeError):
            ours = False
        if not ours:
            raise RuntimeError(f"{out} holds a truth.json not written by {GENERATOR}; refusing to overwrite")
        for sub in ("audio", "midi"):
            if (out / sub).is_dir():
                shutil.rmtree(out / sub)

    jobs_list: list[tuple[dict[str, Any], Path, Path]] = []     # (partial item, midi, wav)
    for p in synthetic_plan(per_key):
        mid, truth = compose_piece(p["tonic"], p["mode"], p["bpm"], p["meter"], p["seed"],
                                   drums=p["drums"], swing=p["swing"], syncopation=p["syncopation"])
        midi_path = out / "midi" / "synthetic" / f"{p['id']}.mid"
        midi_path.parent.mkdir(parents=True, exist_ok=True)
        mid.save(midi_path)
        item = {"id": p["id"], "source": "synthetic", **truth}
        jobs_list.append((item, midi_path, out / "audio" / "synthetic" / f"{p['id']}.wav"))

    with tempfile.TemporaryDirectory(prefix="rhythmset-debs-") as work:
        files, versions = package_midis(out, Path(work), debs_dir)
        default_key: dict[str, bool] = {}
        for pkg, paths in files.items():
            import mido
            evs = [[(t, m.key) for t, _, m in _abs_events(mido.MidiFile(p)) if m.type == "key_signature"]
                   for p in paths]
            default_key[pkg] = package_uses_default_key(evs)
        real: list[tuple[dict[str, Any], Path, Path]] = []
        for pkg in PACKAGES:
            for p in files.get(pkg, []):
                stem = _safe_stem(p.stem)
                iid = f"{SOURCE_PREFIX[pkg]}-{stem}"
                midi_path = out / "midi" / pkg / f"{stem}.mid"
                midi_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, midi_path)
                rel = str(p.relative_to(Path(work) / pkg)) if str(p).startswith(work) else str(p)
                item = {"id": iid, "source": pkg, "package_path": "/" + rel.lstrip("/"),
                        "package_version": versions.get(pkg), "license": PACKAGES[pkg]["license"],
                        "_default_key": default_key[pkg]}
                real.append((item, midi_path, out / "audio" / pkg / f"{stem}.wav"))
        jobs_list += real

        def work_one(entry: tuple[dict[str, Any], Path, Path]) -> dict[str, Any]:
            item, midi_path, wav_path = entry
            dur = render_midi(midi_path, wav_path, soundfont, SR,
                              min(max_s, SYNTH_MAX_S) if item["source"] == "synthetic" else max_s)
            if item["source"] == "synthetic":
                pcs = np.zeros(12)
                maps = read_midi_maps(__import__("mido").MidiFile(midi_path))
                for s, e, ch, pitch in maps["notes"]:
                    if ch != CH_DRUMS:
                        pcs[pitch % 12] += e - s
                st, sm, r = symbolic_key(pcs)
                item = {**item, "beats": [b for b in item["beats"] if b <= dur],
                        "downbeats": [d for d in item["downbeats"] if d <= dur],
                        "notes_key": key_name(st, sm), "notes_key_r": round(r, 3),
                        "key_check": key_relation((st, sm), (item["tonic"], item["mode"])),
                        "note": ""}
            else:
                default = item.pop("_default_key")
                item = {**item, **midi_truth(midi_path, dur, default)}
            item["duration_s"] = round(dur, 4)
            item["path"] = str(wav_path.relative_to(out))
            item["midi"] = str(midi_path.relative_to(out))
            return item

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            items = list(pool.map(work_one, jobs_list))

    order = ["id", "source", "path", "midi", "bpm", "meter", "key", "tonic", "mode", "variable_tempo",
             "duration_s", "note"]
    items = [{**{k: it.get(k) for k in order}, **{k: v for k, v in it.items() if k not in order}}
             for it in items]
    # beats/downbeats last, for readability of the JSON
    items = [{**{k: v for k, v in it.items() if k not in ("beats", "downbeats")},
              "beats": it["beats"], "downbeats": it["downbeats"]} for it in items]
    doc = {
        "generator": GENERATOR, "version": VERSION, "sample_rate": SR, "max_seconds": max_s,
        "soundfont": soundfont.name, "fluidsynth_gain": GAIN, "seed": BASE_SEED,
        "sources": {
            "synthetic": {"n": sum(it["source"] == "synthetic" for it in items),
                          "license": "generated by this script"},
            **{pkg: {"n": sum(it["source"] == pkg for it in items), "version": versions.get(pkg),
                     "key_signatures_are_default": default_key.get(pkg), **PACKAGES[pkg]}
               for pkg in PACKAGES},
        },
        "items": items,
    }
    (out / "truth.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - t_start
    fs_version = subprocess.run([_fluidsynth(), "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()
    info = {"build_seconds": round(elapsed, 1), "jobs": jobs, "items": len(items),
            "fluidsynth": fs_version[0] if fs_version else None, "soundfont": str(soundfont),
            "python": sys.version.split()[0]}
    (out / "build_info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def load_items(out: Path) -> list[dict[str, Any]]:
    doc = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return doc["items"] if isinstance(doc, dict) else doc


def list_set(out: Path) -> str:
    items = load_items(out)
    by: dict[str, list[dict]] = defaultdict(list)
    for it in items:
        by[it["source"]].append(it)
    by["all"] = items
    lines = [f"{'source':24s} {'n':>4s} {'minutes':>8s} {'bpm min-median-max':>20s} {'variable':>8s} "
             f"{'key truth':>9s} {'drums':>5s}  meters"]
    for src in [*sorted(k for k in by if k != "all"), "all"]:
        rs = by[src]
        bpms = np.array([r["bpm"] for r in rs])
        meters = Counter(r.get("time_signature") or f"{r['meter']}" for r in rs)
        minutes = sum(r["duration_s"] for r in rs) / 60
        drums = sum(bool(r.get("drums")) for r in rs if r["source"] == "synthetic")
        lines.append(f"{src:24s} {len(rs):4d} {minutes:8.1f} "
                     f"{bpms.min():6.1f}-{np.median(bpms):5.1f}-{bpms.max():5.1f}  "
                     f"{sum(bool(r['variable_tempo']) for r in rs):8d} "
                     f"{sum(r['key'] is not None for r in rs):9d} "
                     f"{drums if src in ('synthetic', 'all') else '':>5}  "
                     + ", ".join(f"{k}: {v}" for k, v in sorted(meters.items())))
    keyed = [r for r in items if r["key"] is not None]
    modes = Counter(r["mode"] for r in keyed)
    lines.append(f"key truth: {len(keyed)} items ({modes.get(MAJOR, 0)} major, {modes.get(MINOR, 0)} minor); "
                 "Krumhansl-Kessler on the MIDI notes vs. the key truth (a check, not truth):")
    for src in sorted({r["source"] for r in keyed}):
        checks = Counter(r.get("key_check", "-") for r in keyed if r["source"] == src)
        lines.append(f"  {src}: " + ", ".join(f"{k} {v}" for k, v in sorted(checks.items())))
    assumed = sum(bool(r.get("meter_assumed")) for r in items)
    if assumed:
        lines.append(f"meter assumed 4/4 (no time_signature event): {assumed} items")
    nulls = Counter(next((part.strip().split(" (")[0] for part in (r.get("note") or "").split(";")
                          if part.strip().startswith("key null")), "key null: (no reason recorded)")
                    for r in items if r["key"] is None)
    for why, n in sorted(nulls.items()):
        lines.append(f"  key null ({n}): {why}")
    return "\n".join(lines)


def check_set(out: Path, limit: int | None = None, sources: list[str] | None = None) -> dict[str, Any]:
    """Sanity check of the renders: duration vs. truth, RMS, librosa's tempo vs. the truth."""
    import librosa
    import soundfile as sf

    sys.path.insert(0, str(REPO))
    from training.rhythm_metrics import beat_f_measure

    items = [it for it in load_items(out) if not sources or it["source"] in sources][:limit]
    rows = []
    for it in items:
        y, sr = sf.read(out / it["path"], dtype="float32")
        info = sf.info(out / it["path"])
        rms_db = 20 * math.log10(max(float(np.sqrt(np.mean(y ** 2))), 1e-12))
        tempo, frames = librosa.beat.beat_track(y=y, sr=sr, units="frames")
        est = float(np.atleast_1d(tempo)[0])
        ratio = est / it["bpm"]
        fit = min((abs(ratio / f - 1), f) for f in (1.0, 2.0, 0.5))
        f_beat = beat_f_measure(librosa.frames_to_time(frames, sr=sr), np.asarray(it["beats"]))
        # alignment: the lag (within ±80 ms) at which the onset envelope, sampled at the truth's
        # beats, is strongest; aligned renders give a small positive lag (FluidSynth's ~6 ms
        # plus the onset detector's latency), the same for every item
        env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=64)
        env = env - np.median(env)
        env_t = librosa.frames_to_time(np.arange(env.size), sr=sr, hop_length=64)
        lags = np.arange(-0.08, 0.0805, 0.002)
        beats_arr = np.asarray(it["beats"])
        lag_scores = [float(np.interp(beats_arr + lag, env_t, env).mean()) for lag in lags]
        lag_ms = 1000 * float(lags[int(np.argmax(lag_scores))])
        row = {"id": it["id"], "source": it["source"], "sr": sr, "channels": info.channels,
               "subtype": info.subtype, "duration_s": len(y) / sr, "rms_dbfs": rms_db,
               "truth_bpm": it["bpm"], "librosa_bpm": est, "factor": fit[1], "rel_err": fit[0],
               "agree_4pct": fit[0] <= 0.04, "agree_8pct": fit[0] <= 0.08, "beat_f": f_beat,
               "onset_lag_ms": lag_ms,
               "last_beat_s": it["beats"][-1] if it["beats"] else None}
        rows.append(row)
        print(f"{it['id'][:40]:40s} {row['duration_s']:6.1f}s rms {rms_db:6.1f} dBFS  truth {it['bpm']:6.1f}"
              f"  librosa {est:6.1f} (x{fit[1]:g}, {100 * fit[0]:4.1f}%)  F {f_beat:.2f}"
              f"  onset lag {lag_ms:+4.0f} ms", file=sys.stderr)
    summary: dict[str, Any] = {}
    for src in sorted({r["source"] for r in rows}) + ["all"]:
        rs = [r for r in rows if src == "all" or r["source"] == src]
        summary[src] = {
            "n": len(rs),
            "agree_4pct": sum(r["agree_4pct"] for r in rs),
            "agree_8pct": sum(r["agree_8pct"] for r in rs),
            "same_octave_4pct": sum(r["agree_4pct"] and r["factor"] == 1.0 for r in rs),
            "mean_beat_f": round(float(np.mean([r["beat_f"] for r in rs])), 3),
            "onset_lag_ms_median": round(float(np.median([r["onset_lag_ms"] for r in rs])), 1),
            "onset_lag_outside_0_60ms": [r["id"] for r in rs if not 0 <= r["onset_lag_ms"] <= 60],
            "rms_dbfs_min": round(min(r["rms_dbfs"] for r in rs), 1),
            "duration_min_max": [round(min(r["duration_s"] for r in rs), 1),
                                 round(max(r["duration_s"] for r in rs), 1)],
            "format_ok": all(r["sr"] == SR and r["channels"] == 1 and r["subtype"] == "PCM_16" for r in rs),
        }
    return {"rows": rows, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="compose, unpack, render and write truth.json")
    b.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    b.add_argument("--soundfont", type=Path, default=DEFAULT_SOUNDFONT)
    b.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    b.add_argument("--debs", type=Path, action="append", default=[],
                   help="a folder holding the .deb files (repeatable)")
    b.add_argument("--per-key", type=int, default=4, help="synthetic items per key (24 keys)")
    b.add_argument("--max-seconds", type=float, default=MAX_SECONDS)
    lp = sub.add_parser("list", help="print a summary table of a built set")
    lp.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    c = sub.add_parser("check", help="sanity-check the renders with librosa")
    c.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    c.add_argument("--limit", type=int, default=None)
    c.add_argument("--source", action="append", default=None)
    c.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.cmd == "build":
        info = build(args.out, args.soundfont, args.jobs, args.debs, args.per_key, args.max_seconds)
        print(f"built {info['items']} items in {args.out} in {info['build_seconds']:.1f} s "
              f"({info['jobs']} jobs)")
        print(list_set(args.out))
    elif args.cmd == "list":
        print(list_set(args.out))
    else:
        report = check_set(args.out, args.limit, args.source)
        for src, s in report["summary"].items():
            print(f"{src:24s} n={s['n']:3d}  librosa tempo agrees (x1/x2/x1/2) within 4%: {s['agree_4pct']}"
                  f"  within 8%: {s['agree_8pct']}  (x1 within 4%: {s['same_octave_4pct']})"
                  f"  mean beat F {s['mean_beat_f']:.3f}  min RMS {s['rms_dbfs_min']} dBFS"
                  f"  duration {s['duration_min_max']}  format ok: {s['format_ok']}"
                  f"\n{'':24s} onset lag at the truth beats: median {s['onset_lag_ms_median']} ms;"
                  f" outside 0-60 ms: {s['onset_lag_outside_0_60ms'] or 'none'}")
        if args.json:
            args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
