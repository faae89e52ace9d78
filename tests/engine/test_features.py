"""The torch log-mel front end agrees with librosa, and FeatureSpec round-trips."""
from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest

from engine.features import SEED_SPEC, FeatureSpec, LogMel
from tests.audio_fixtures import music_like


def librosa_reference(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=spec.sample_rate, n_fft=spec.n_fft,
                                         hop_length=spec.hop_length, n_mels=spec.n_mels,
                                         power=2.0, center=True, pad_mode="constant")
    return librosa.power_to_db(mel, ref=1.0, amin=spec.db_amin, top_db=spec.db_top_db)


def test_seed_spec_shape_is_96_by_1366():
    assert SEED_SPEC.excerpt_samples == 349_440  # 29.12 s at 12 kHz
    assert SEED_SPEC.n_frames(SEED_SPEC.excerpt_samples) == 1366
    out = LogMel(SEED_SPEC)(np.zeros((2, SEED_SPEC.excerpt_samples), np.float32))
    assert tuple(out.shape) == (2, 96, 1366)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seed_log_mel_matches_librosa_within_001_db(seed):
    y = music_like(SEED_SPEC.excerpt_seconds, SEED_SPEC.sample_rate, seed=seed)
    ref = librosa_reference(y, SEED_SPEC)
    ours = LogMel(SEED_SPEC)(y[None])[0].numpy()
    assert ours.shape == ref.shape == (96, 1366)
    assert np.abs(ours - ref).max() <= 0.01


def test_batches_give_the_same_result_as_single_excerpts():
    ys = np.stack([music_like(SEED_SPEC.excerpt_seconds, SEED_SPEC.sample_rate, seed=s) for s in range(3)])
    lm = LogMel(SEED_SPEC)
    batch = lm(ys).numpy()
    for i in range(3):
        np.testing.assert_allclose(batch[i], lm(ys[i:i + 1])[0].numpy(), atol=1e-4)


def test_top_db_is_per_example():
    loud = music_like(2.0, 12000, seed=4)
    quiet = loud * 1e-3
    out = LogMel(SEED_SPEC)(np.stack([loud, quiet])).numpy()
    assert out[0].max() - out[1].max() == pytest.approx(60.0, abs=0.1)
    for ex in out:
        assert ex.max() - ex.min() <= 80.0 + 1e-3


def test_log10_compression_with_the_float16_step():
    spec = SEED_SPEC.with_(sample_rate=16000, log="log10_10000", float16_step=True, pad_mode="reflect")
    y = music_like(3.0, 16000, seed=5)
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96, pad_mode="reflect")
    ref = np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)
    ours = LogMel(spec)(y[None])[0].numpy()
    assert np.abs(ours - ref).max() < 1e-3


def test_feature_spec_round_trips_through_a_dict():
    spec = SEED_SPEC.with_(excerpt="patches", patch_hop_frames=100)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="unknown FeatureSpec"):
        FeatureSpec.from_dict({**spec.to_dict(), "colour": "blue"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.sample_rate = 1  # frozen
