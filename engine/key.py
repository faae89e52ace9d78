"""Global musical key estimation (24 major/minor keys) and key notation.

Method
------
1. :func:`chroma_profile` turns mono audio into one 12-bin pitch-class profile (a mean chroma
   vector, bin 0 = C):

   * a Hann-windowed STFT with a long window (``n_fft`` = 8192 at 22,050 Hz, scaled with the
     sample rate so the window stays ~0.37 s; hop = ``n_fft / 2``), giving ~2.7 Hz bins, fine
     enough to tell semitones apart down to about 100 Hz;
   * mildly log-compressed magnitudes, ``log1p(LOG_GAIN * |X| / max|X|)`` with
     ``LOG_GAIN = 3``, so that quiet passages still count and a few loud notes do not
     dominate (stronger compression, e.g. 100, lifts the upper partials until the third and
     fifth outweigh the tonic, and Krumhansl/EDMA then mistake C major for E minor);
   * a tuning estimate: the magnitude-weighted circular mean of the deviation (in fractions
     of a semitone, relative to A4 = 440 Hz) of the peaks of the average spectrum, so that
     recordings tuned away from A440 (by up to half a semitone) still fall in the right bins;
   * librosa's chroma filterbank (``librosa.filters.chroma``, Ellis's Gaussian mapping of FFT
     bins to pitch classes), shifted by that tuning, with its Gaussian octave weighting
     centred on A4 = 440 Hz (librosa's default centre, A5, let upper partials and broadband
     noise pull synthetic test pieces towards the mediant's minor key); the frames' chroma
     vectors are averaged and scaled to a maximum of 1.

2. :func:`key_from_chroma` correlates that profile (Pearson's r) with the 24 rotations of a
   major and a minor key profile (the Krumhansl–Schmuckler key-finding algorithm). The key
   whose rotated profile correlates best wins.

   ``confidence`` is the normalised margin between the best correlation ``r1`` and the
   second best ``r2`` (over the other 23 keys)::

       confidence = clip((r1 - r2) / (1 - r2), 0, 1)        (0 when r1 <= 0)

   i.e. the share of the room left above the runner-up that the winner took. It is 0 when two
   keys tie, and 1 only for a perfect match (``r1 = 1``). The runner-up is usually the
   relative or a fifth-related key.

Profiles (:data:`KEY_PROFILES`, 12 values each, index 0 = the tonic)
--------------------------------------------------------------------
* ``"krumhansl"`` – Krumhansl & Kessler (1982), "Tracing the dynamic changes in perceived
  tonal organization in a spatial representation of musical keys", Psychological Review
  89(4): 334–368; probe-tone ratings, as tabulated in Krumhansl (1990), *Cognitive
  Foundations of Musical Pitch*, and used by Essentia's ``"krumhansl"`` profile.
* ``"temperley"`` – Temperley (1999), "What's key for key? The Krumhansl-Schmuckler
  key-finding algorithm reconsidered", Music Perception 17(1): 65–100 (the revised profiles,
  also in Temperley 2001, *The Cognition of Basic Musical Structures*), exactly as in
  Essentia's ``"temperley"`` profile. (Essentia's separate ``"temperley2005"`` profile is the
  later Kostka–Payne corpus count; it is not included here.)
* ``"edma"`` – Faraldo, Gómez, Jordà & Herrera (2016), "Key estimation in electronic dance
  music", Proc. ECIR 2016 (LNCS 9626): 335–347; the profiles extracted automatically from a
  corpus of electronic dance music, as in Essentia's ``"edma"`` profile.

The numbers were copied from Essentia's ``src/algorithms/tonal/key.cpp`` (MTG/essentia); the
EDMA values also match ``edma_ecir`` in Faraldo's own ``miran/key/profile.py``. The profiles
are used raw, without Essentia's optional "polyphony" expansion into chords and harmonics.

Notation
--------
Tonics are pitch classes, 0 = C … 11 = B; modes are ``"major"`` or ``"minor"``. Key indices
(as in :attr:`KeyEstimate.correlations`) are 0–11 for C…B major and 12–23 for C…B minor.
:func:`key_name` spells keys the way DJ software commonly shows them (:data:`MAJOR_NAMES`,
:data:`MINOR_NAMES`), or in Camelot (C major = 8B, A minor = 8A) or Open Key (C major = 1d,
A minor = 1m) notation; :func:`parse_key` reads all of those and the usual variants.

Errors
------
Bad arguments and unusable audio (empty, silent, non-finite, not mono) raise ``ValueError``
with a plain message; ``engine.errors`` has no parameter-error class to use instead.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import ParameterError

MAJOR = "major"
MINOR = "minor"
MODES = (MAJOR, MINOR)
NOTATIONS = ("standard", "camelot", "openkey")

# Spelling table for "standard" notation (one name per key, as DJ software usually shows it).
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")


def _profile(values: list[float]) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    a.setflags(write=False)
    return a


# (major, minor), index 0 = tonic, then ascending semitones. Sources: see the module docstring;
# values as in Essentia, src/algorithms/tonal/key.cpp (MTG/essentia).
KEY_PROFILES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    # Krumhansl & Kessler (1982), probe-tone ratings.
    "krumhansl": (
        _profile([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
        _profile([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
    ),
    # Temperley (1999), revised Krumhansl-Schmuckler profiles (Essentia "temperley").
    "temperley": (
        _profile([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0]),
        _profile([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0]),
    ),
    # Faraldo, Gomez, Jorda & Herrera (2016), EDMA (automatic, electronic dance music).
    "edma": (
        _profile([0.16519551, 0.04749026, 0.08293076, 0.06687112, 0.09994645, 0.09274123,
                  0.05294487, 0.13159476, 0.05218986, 0.07443653, 0.06940723, 0.0642515]),
        _profile([0.17235348, 0.05336489, 0.0761009, 0.10043649, 0.05621498, 0.08527853,
                  0.0497915, 0.13451001, 0.07458916, 0.05003023, 0.09187879, 0.05545106]),
    ),
}

DEFAULT_PROFILE = "temperley"

# Chroma front end.
LOG_GAIN = 3.0             # log1p(LOG_GAIN * |X| / max|X|)
OCTAVE_CENTRE = 4.0        # octaves above A0 (27.5 Hz) of the chroma octave weighting: A4
OCTAVE_WIDTH = 2.0         # its Gaussian's standard deviation, in octaves
_WINDOW_SECONDS = 8192 / 22050
_TUNING_FMIN = 80.0         # Hz, spectral peaks used for the tuning estimate
_TUNING_FMAX = 4000.0
_TUNING_PEAK_FLOOR = 0.05   # peaks below this fraction of the largest one are ignored
_SILENCE_RMS = 1e-5         # about -100 dBFS


# --------------------------------------------------------------------------- notation

def _check_key(tonic: int, mode: str) -> tuple[int, str]:
    if isinstance(tonic, bool) or not isinstance(tonic, (int, np.integer)) or not 0 <= tonic <= 11:
        raise ParameterError(f"tonic must be a pitch class 0..11 (0 = C), not {tonic!r}")
    if mode not in MODES:
        raise ParameterError(f"mode must be 'major' or 'minor', not {mode!r}")
    return int(tonic), mode


def _relative_major(tonic: int, mode: str) -> int:
    """Tonic of the major key with the same key signature."""
    return tonic if mode == MAJOR else (tonic + 3) % 12


def _circle_position(tonic: int, mode: str) -> int:
    """0..11: steps of a fifth from C major / A minor (C=0, G=1, ..., F=11)."""
    return (7 * _relative_major(tonic, mode)) % 12


def key_name(tonic: int, mode: str, notation: str = "standard") -> str:
    """The key's name.

    ``"standard"``: :data:`MAJOR_NAMES` / :data:`MINOR_NAMES` ("C", "Db", "F#m", "Ebm").
    ``"camelot"``: Camelot wheel, B = major, A = minor (C = "8B", Am = "8A", F#m = "11A").
    ``"openkey"``: Open Key, d = major, m = minor (C = "1d", G = "2d", Am = "1m", Em = "2m").
    """
    tonic, mode = _check_key(tonic, mode)
    if notation == "standard":
        return (MAJOR_NAMES if mode == MAJOR else MINOR_NAMES)[tonic]
    if notation == "camelot":
        return f"{(_circle_position(tonic, mode) + 7) % 12 + 1}{'B' if mode == MAJOR else 'A'}"
    if notation == "openkey":
        return f"{_circle_position(tonic, mode) + 1}{'d' if mode == MAJOR else 'm'}"
    raise ParameterError(f"unknown key notation {notation!r}; choose one of {', '.join(NOTATIONS)}")


def _from_circle(position: int, mode: str) -> tuple[int, str]:
    major_tonic = (7 * position) % 12          # 7 is its own inverse mod 12
    return (major_tonic if mode == MAJOR else (major_tonic + 9) % 12), mode


_LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_CAMELOT_RE = re.compile(r"(1[0-2]|0?[1-9])\s*([ab])", re.IGNORECASE)
_OPENKEY_RE = re.compile(r"(1[0-2]|0?[1-9])\s*([dm])", re.IGNORECASE)
_NOTE_RE = re.compile(
    r"(?P<letter>[a-g])\s*"
    r"(?P<accidental>#|b|sharp|flat|-sharp|-flat|\s+sharp|\s+flat)?"
    r"\s*-?\s*"
    r"(?P<mode>m|min|minor|moll|maj|major|dur|M)?\.?",
    re.IGNORECASE,
)
_MINOR_WORDS = {"min", "minor", "moll"}
_MAJOR_WORDS = {"maj", "major", "dur"}


def parse_key(text: str) -> tuple[int, str] | None:
    """``(tonic, mode)`` for a key as people and tools write it in tags, or None.

    Reads standard names ("F#m", "Gbm", "Bb", "B♭", "F# minor", "A min", "Amin", "C major",
    "Ebmaj", "C sharp minor"), Camelot ("8A", "12B", "08a") and Open Key ("1d", "10m"). Letters
    and words are case-insensitive ("bbm" = B-flat minor), except the one-letter mode suffix:
    "m" means minor and "M" means major (chord-symbol convention); no suffix means major.
    Enharmonic spellings are accepted (Gb = F#, Cb = B, E# = F). Anything else ("", "o",
    "unknown", "X", "N/A") gives None.
    """
    if not isinstance(text, str):
        return None
    s = text.strip()
    for a, b in (("♭", "b"), ("♯", "#"), ("＃", "#"), ("\u266e", "")):
        s = s.replace(a, b)
    if not s:
        return None
    m = _CAMELOT_RE.fullmatch(s)
    if m:
        number, letter = int(m.group(1)), m.group(2).upper()
        return _from_circle((number - 8) % 12, MAJOR if letter == "B" else MINOR)
    m = _OPENKEY_RE.fullmatch(s)
    if m:
        number, letter = int(m.group(1)), m.group(2).lower()
        return _from_circle(number - 1, MAJOR if letter == "d" else MINOR)
    m = _NOTE_RE.fullmatch(s)
    if not m:
        return None
    tonic = _LETTERS[m.group("letter").lower()]
    accidental = (m.group("accidental") or "").strip(" -").lower()
    if accidental in ("#", "sharp"):
        tonic = (tonic + 1) % 12
    elif accidental in ("b", "flat"):
        tonic = (tonic - 1) % 12
    word = m.group("mode") or ""
    if word == "m" or word.lower() in _MINOR_WORDS:
        mode = MINOR
    elif word in ("", "M") or word.lower() in _MAJOR_WORDS:
        mode = MAJOR
    else:  # pragma: no cover - the regex allows nothing else
        return None
    return tonic, mode


def harmonic_neighbours(tonic: int, mode: str) -> list[tuple[int, str]]:
    """The "harmonic mixing" set: the key, its relative major/minor, and the keys a fifth up
    and a fifth down in the same mode (Camelot: same number, other letter; ±1, same letter).
    A minor → [Am, C, Em, Dm]."""
    tonic, mode = _check_key(tonic, mode)
    relative = ((tonic + 9) % 12, MINOR) if mode == MAJOR else ((tonic + 3) % 12, MAJOR)
    return [(tonic, mode), relative, ((tonic + 7) % 12, mode), ((tonic + 5) % 12, mode)]


def mirex_key_score(est: tuple[int, str], ref: tuple[int, str]) -> float:
    """MIREX key score, following ``mir_eval.key.weighted_score`` exactly:

    1.0 same key; 0.5 same mode and ``est`` a perfect fifth *above* ``ref`` (a fifth below
    scores 0, as in mir_eval); 0.3 ``est`` is the relative minor/major of ``ref``;
    0.2 parallel (same tonic, other mode); 0.0 otherwise.
    """
    et, em = _check_key(*est)
    rt, rm = _check_key(*ref)
    if et == rt and em == rm:
        return 1.0
    if em == rm and (et - rt) % 12 == 7:
        return 0.5
    if em != rm == MAJOR and (et - rt) % 12 == 9:
        return 0.3
    if em != rm == MINOR and (et - rt) % 12 == 3:
        return 0.3
    if em != rm and et == rt:
        return 0.2
    return 0.0


# --------------------------------------------------------------------------- estimate

@dataclass(frozen=True)
class KeyEstimate:
    """One key estimate. ``correlations`` (read-only, left out of ``==`` and ``hash``) holds
    Pearson's r with each key's profile: indices 0..11 are C..B major, 12..23 C..B minor."""

    tonic: int                  # 0 = C .. 11 = B
    mode: str                   # "major" | "minor"
    confidence: float           # 0..1, see the module docstring
    correlations: np.ndarray = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        """Standard notation, e.g. "F#m"."""
        return key_name(self.tonic, self.mode, "standard")

    @property
    def camelot(self) -> str:
        """Camelot notation, e.g. "11A"."""
        return key_name(self.tonic, self.mode, "camelot")

    @property
    def open_key(self) -> str:
        """Open Key notation, e.g. "4m"."""
        return key_name(self.tonic, self.mode, "openkey")

    @property
    def index(self) -> int:
        """0..23: the key's position in ``correlations``."""
        return self.tonic + (12 if self.mode == MINOR else 0)


@functools.lru_cache(maxsize=None)
def _templates(profile: str) -> np.ndarray:
    """[24, 12] z-scored profiles rotated to every tonic (rows as in ``correlations``)."""
    major, minor = KEY_PROFILES[profile]
    rows = [np.roll(major, t) for t in range(12)] + [np.roll(minor, t) for t in range(12)]
    t = np.array(rows, dtype=np.float64)
    t = (t - t.mean(axis=1, keepdims=True)) / t.std(axis=1, keepdims=True)
    t.setflags(write=False)
    return t


def check_profile(profile: str) -> str:
    """``profile`` if it names one of :data:`KEY_PROFILES`; else :class:`ParameterError`."""
    if profile not in KEY_PROFILES:
        raise ParameterError(
            f"unknown key profile {profile!r}; choose one of {', '.join(sorted(KEY_PROFILES))}")
    return profile


def key_from_chroma(chroma: np.ndarray, profile: str = DEFAULT_PROFILE) -> KeyEstimate:
    """The best of the 24 keys for a 12-bin pitch-class profile (bin 0 = C), by Pearson
    correlation with the rotated ``profile``; ``confidence`` as in the module docstring."""
    check_profile(profile)
    c = np.asarray(chroma, dtype=np.float64)
    if c.shape != (12,):
        raise ParameterError(f"chroma must have 12 values (C..B), not shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("chroma contains NaN or infinite values")
    sd = c.std()
    if sd <= 1e-12 * max(1.0, float(np.abs(c).max())):
        raise ValueError("chroma is flat (all pitch classes equal): no key can be found")
    z = (c - c.mean()) / sd
    r = _templates(profile) @ z / 12.0
    r = np.clip(r, -1.0, 1.0)
    order = np.argsort(-r, kind="stable")
    best, second = int(order[0]), int(order[1])
    r1, r2 = float(r[best]), float(r[second])
    confidence = 0.0 if r1 <= 0 else float(np.clip((r1 - r2) / max(1.0 - r2, 1e-12), 0.0, 1.0))
    r.setflags(write=False)
    return KeyEstimate(tonic=best % 12, mode=MAJOR if best < 12 else MINOR,
                       confidence=confidence, correlations=r)


def _fft_size(sr: int) -> int:
    """Power of two nearest a ~0.37 s window (8192 at 22,050 Hz)."""
    return int(2 ** round(np.log2(_WINDOW_SECONDS * sr)))


@functools.lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    w.setflags(write=False)
    return w


@functools.lru_cache(maxsize=64)
def _chroma_filters(sr: int, n_fft: int, tuning_cents: int) -> np.ndarray:
    import librosa

    fb = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning_cents / 100.0,
                                ctroct=OCTAVE_CENTRE, octwidth=OCTAVE_WIDTH, dtype=np.float32)
    fb.setflags(write=False)
    return fb                                    # [12, n_fft // 2 + 1], row 0 = C


def _estimate_tuning(mean_spectrum: np.ndarray, sr: int, n_fft: int) -> float:
    """Tuning offset in semitones, [-0.5, 0.5), from the peaks of the average spectrum."""
    s = mean_spectrum
    k = np.arange(1, len(s) - 1)
    freqs = k * sr / n_fft
    peak = (s[k] > s[k - 1]) & (s[k] >= s[k + 1]) & (freqs >= _TUNING_FMIN) & (freqs <= _TUNING_FMAX)
    if not np.any(peak):
        return 0.0
    k = k[peak]
    peak_vals = s[k]
    keep = peak_vals >= _TUNING_PEAK_FLOOR * peak_vals.max()
    k, peak_vals = k[keep], peak_vals[keep]
    # Parabolic interpolation of the log magnitude around each peak.
    a, b, c = (np.log(s[k - 1] + 1e-12), np.log(s[k] + 1e-12), np.log(s[k + 1] + 1e-12))
    denom = a - 2 * b + c
    offset = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    f = (k + np.clip(offset, -0.5, 0.5)) * sr / n_fft
    semitones = 12.0 * np.log2(f / 440.0)
    phase = np.sum(peak_vals * np.exp(2j * np.pi * semitones))
    if abs(phase) <= 1e-12:
        return 0.0
    tuning = float(np.angle(phase) / (2 * np.pi))
    return -0.5 if tuning >= 0.5 else tuning


def _check_audio(y: np.ndarray, sr: int) -> np.ndarray:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sample rate must be a positive whole number of Hz, not {sr!r}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"audio must be mono (one dimension), not shape {y.shape}")
    if y.size == 0:
        raise ValueError("audio is empty: no key can be found")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"audio must be floating point samples, not {y.dtype}")
    y = y.astype(np.float32, copy=False)
    if not np.all(np.isfinite(y)):
        raise ValueError("audio contains NaN or infinite samples")
    if float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) < _SILENCE_RMS:
        raise ValueError("audio is silent: no key can be found")
    return y


def chroma_profile(y: np.ndarray, sr: int) -> np.ndarray:
    """A 12-bin mean chroma (pitch-class profile) of mono float audio, bin 0 = C, scaled to a
    maximum of 1; tuning-corrected and log-compressed as described in the module docstring.
    Empty, silent (RMS below about -100 dBFS) or non-finite input raises."""
    import librosa
    import scipy.fft

    y = _check_audio(y, sr)
    n_fft = _fft_size(int(sr))
    hop = n_fft // 2
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    frames = librosa.util.frame(y, frame_length=n_fft, hop_length=hop, axis=0)   # [T, n_fft]
    mag = np.abs(scipy.fft.rfft(frames * _window(n_fft), axis=-1, workers=1))     # [T, bins]
    top = float(mag.max())
    if top <= 0.0:
        raise ValueError("audio is silent: no key can be found")
    spec = np.log1p(mag * np.float32(LOG_GAIN / top))
    mean_spectrum = spec.mean(axis=0)
    tuning = _estimate_tuning(mean_spectrum.astype(np.float64), int(sr), n_fft)
    fb = _chroma_filters(int(sr), n_fft, int(round(tuning * 100)))
    chroma = (fb @ mean_spectrum).astype(np.float64)     # linear: mean of frame chromas
    peak = chroma.max()
    if not peak > 0:
        raise ValueError("audio has no pitched content: no key can be found")
    return chroma / peak


def estimate_key(y: np.ndarray, sr: int, profile: str = DEFAULT_PROFILE) -> KeyEstimate:
    """The global key of mono float audio: :func:`chroma_profile`, then :func:`key_from_chroma`."""
    check_profile(profile)
    return key_from_chroma(chroma_profile(y, sr), profile)
