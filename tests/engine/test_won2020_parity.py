"""The converted MTG-Jamendo taggers of Won et al. 2020 against the original implementation.

``fixtures/won2020/jamendo_reference.npz`` holds the original code's outputs (copied from
``../shared/reference/won2020``): per file, the 16 evenly spread chunks its evaluation script
uses (``chunk_starts``, samples), the sigmoid score of every chunk and their mean. Our fixture
audio (``fixtures/musicnn/audio``) is the same signals stored losslessly; decoded at 16 kHz by our
decoder and resampler they are sample-identical to the original's librosa input.

* network: on the 16-kHz signal that needs no resampling, every chunk's 50 scores within 1e-4;
* pipeline: our decoder, resampler, front end and network at the original's chunk positions
  give track scores within 0.01 and the same top-5 for every file and model;
* tagger: the app's Tagger on exactly one chunk reproduces that chunk's scores.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.audio.decode import load_audio
from engine.bundle import load_bundle, read_bundle_info
from engine.features import LogMel
from engine.tagger import Tagger

FIX = Path(__file__).parents[1] / "fixtures"
AUDIO = FIX / "musicnn" / "audio"
REF = np.load(FIX / "won2020" / "jamendo_reference.npz")
TAGS = json.loads((FIX / "won2020" / "index.json").read_text())["tags_in_output_order"]
FILES = {  # reference name -> our lossless copy
    "am_tone_16k_20s.wav": "am_tone_16k_20s.flac",      # already 16 kHz
    "quiet_piano_22k.wav": "quiet_piano_22k.flac",
    "log_chirp.flac": "log_chirp.flac",
    "click_track.wav": "click_track.flac",
    "sines_440_660.wav": "sines_440_660.flac",
    "synth_song_stereo.wav": "synth_song_stereo.flac",
    "short_2s.wav": "short_2s.flac",                    # shorter than one chunk: zero-padded
}
ARCHS = ["musicnn", "fcn", "crnn"]


def _ref(arch: str, name: str, what: str) -> np.ndarray:
    return REF[f"{arch}/{name}/{what}"]


def _chunk_scores(arch: str, wave: np.ndarray, name: str) -> np.ndarray:
    net, info = load_bundle(f"jamendo-{arch}")
    front = LogMel(info.feature_spec, "cpu", filterbank=net.mel_filterbank)
    length = int(_ref(arch, name, "chunk_length"))
    if wave.size < length:
        wave = np.pad(wave, (0, length - wave.size))
    chunks = np.stack([wave[s:s + length] for s in _ref(arch, name, "chunk_starts")])
    with torch.inference_mode():
        return torch.sigmoid(net(front(chunks))).numpy()


def test_bundles_name_the_jamendo_tags_in_output_order():
    for arch in ARCHS:
        info = read_bundle_info(f"jamendo-{arch}")
        assert [f"{ {'mood': 'mood/theme'}.get(t.category, t.category)}---{t.name}" for t in info.tags] == TAGS
        assert info.license == "MIT" and "Won" in info.provenance["attribution"]
        assert {t.category for t in info.tags} == {"genre", "instrument", "mood"}


@pytest.mark.parametrize("arch", ARCHS)
def test_network_matches_original_chunk_scores(arch):
    name = "am_tone_16k_20s.wav"
    wave = load_audio(AUDIO / FILES[name], 16_000)
    err = np.abs(_chunk_scores(arch, wave, name) - _ref(arch, name, "chunk_scores")).max()
    assert err <= 1e-4, f"jamendo-{arch}: max chunk score difference {err:.2e}"


@pytest.mark.parametrize("arch", ["musicnn", pytest.param("fcn", marks=pytest.mark.slow),
                                  pytest.param("crnn", marks=pytest.mark.slow)])
def test_pipeline_matches_original_track_scores(arch):
    for name, ours in FILES.items():
        wave = load_audio(AUDIO / ours, 16_000, resampler=read_bundle_info(f"jamendo-{arch}").feature_spec.resampler)
        scores = _chunk_scores(arch, wave, name).mean(0)
        ref = _ref(arch, name, "track_scores")
        err = np.abs(scores - ref).max()
        assert err <= 0.01, f"jamendo-{arch} {name}: max track score difference {err:.4f}"
        top = [TAGS[i] for i in np.argsort(-scores)[:5]]
        assert top == [TAGS[i] for i in np.argsort(-ref)[:5]], f"jamendo-{arch} {name}: top-5 {top}"


def test_tagger_on_one_chunk_reproduces_the_original_chunk():
    name = "log_chirp.flac"
    wave = load_audio(AUDIO / FILES[name], 16_000)
    start = int(_ref("musicnn", name, "chunk_starts")[5])
    tagger = Tagger("jamendo-musicnn", workers=0, device="cpu")
    result = tagger.tag_waveform(wave[start:start + 48_000])
    assert result.n_patches == 1 and result.embedding.shape == (200,)
    err = np.abs(result.scores - _ref("musicnn", name, "chunk_scores")[5]).max()
    assert err <= 1e-4, f"max difference {err:.2e}"
