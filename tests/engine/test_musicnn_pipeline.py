"""Audio file -> track scores with the converted musicnn bundles, against the original.

The reference scores were computed by the unmodified musicnn 0.1.0 code (``extractor``: librosa
load at 16 kHz with resampy 0.2 kaiser_best, float16 mel power, 187-frame patches, mean of the
patch sigmoids). The fixture audio is the reference audio, stored losslessly as FLAC (decoded
samples are identical to the reference WAVs).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.bundle import DEFAULT_MODEL
from engine.tagger import Tagger

FIX = Path(__file__).parents[1] / "fixtures" / "musicnn"
AUDIO = FIX / "audio"
REF = json.loads((FIX / "reference_scores.json").read_text())
ORIGINAL = {"musicnn-msd": "MSD_musicnn", "vgg-msd": "MSD_vgg",
            "musicnn-mtt": "MTT_musicnn", "vgg-mtt": "MTT_vgg"}
#: reference file name -> our fixture (all lossless WAV/FLAC sources)
FILES = {
    "am_tone_16k_20s.wav": "am_tone_16k_20s.flac",       # 16 kHz: no resampling
    "quiet_piano_22k.wav": "quiet_piano_22k.flac",       # 22.05 kHz
    "log_chirp.flac": "log_chirp.flac",                  # 44.1 kHz
    "click_track.wav": "click_track.flac",
    "sines_440_660.wav": "sines_440_660.flac",
    "synth_song_stereo.wav": "synth_song_stereo.flac",   # stereo -> mean of channels
}


def _check_against_reference(bundle: str, results) -> None:
    ref = REF[ORIGINAL[bundle]]
    labels = ref["labels"]
    for (name, _), r in zip(FILES.items(), results):
        assert r.ok, f"{name}: {getattr(r, 'error', '')}"
        expect = ref["files"][name]
        scores = np.asarray(expect["scores"], dtype=np.float32)
        assert r.n_patches == expect["n_patches"], name
        err = np.abs(r.scores - scores).max()
        assert err <= 0.01, f"{bundle} {name}: max score difference {err:.4f}"
        top = [labels[i] for i in np.argsort(-r.scores)[:5]]
        top_ref = [labels[i] for i in np.argsort(-scores)[:5]]
        assert top == top_ref, f"{bundle} {name}: top-5 {top} vs original {top_ref}"
        assert r.embedding.shape == ((200,) if bundle.startswith("musicnn") else (256,))
        assert not r.warnings


def test_default_tagger_matches_original_track_scores():
    tagger = Tagger(workers=0, device="cpu")
    assert tagger.name == DEFAULT_MODEL == "musicnn-msd"
    results = tagger.tag_files([AUDIO / f for f in FILES.values()])
    _check_against_reference("musicnn-msd", results)


@pytest.mark.slow
@pytest.mark.parametrize("bundle", ["vgg-msd", "musicnn-mtt", "vgg-mtt"])
def test_other_bundles_match_original_track_scores(bundle):
    results = Tagger(bundle, workers=0, device="cpu").tag_files([AUDIO / f for f in FILES.values()])
    _check_against_reference(bundle, results)


def test_shorter_than_one_patch_is_repeat_padded_with_a_warning():
    """The original crashes on < 187 frames; we repeat the audio to one patch and say so."""
    assert "error" in REF["MSD_musicnn"]["files"]["short_2s.wav"]
    with Tagger("musicnn-msd", workers=1, device="cpu") as tagger:      # decoded in a worker process
        [r] = tagger.tag_files([AUDIO / "short_2s.flac"])
    assert r.ok and r.n_patches == 1
    assert r.duration_s == pytest.approx(2.0, abs=0.01)
    assert np.isfinite(r.scores).all() and r.scores.shape == (50,)
    assert len(r.warnings) == 1 and "repeated" in r.warnings[0] and "2.00 s" in r.warnings[0]


def test_fast_mode_bounds_patches_and_stays_close():
    path = AUDIO / "synth_song_stereo.flac"
    full = Tagger("musicnn-msd", workers=0, device="cpu").tag_files([path])[0]
    fast = Tagger("musicnn-msd", workers=0, device="cpu", max_patches=4).tag_files([path])[0]
    assert full.n_patches == 10 and fast.n_patches == 4
    assert np.abs(fast.scores - full.scores).mean() < 0.02
    assert len(set(np.argsort(-fast.scores)[:5]) & set(np.argsort(-full.scores)[:5])) >= 3
