"""Decoding: every format, sections without whole-file decodes, and every kind of bad input."""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

from engine.audio.decode import SUPPORTED_EXTENSIONS, load_audio, probe
from engine.audio.excerpts import decode_for_spec
from engine.errors import (AudioError, CorruptAudioError, EmptyFileError, TooShortAudioError,
                           UnreadableFileError, UnsupportedFormatError)
from engine.features import SEED_SPEC
from tests.audio_fixtures import music_like, sparse_wav, write_audio

FORMATS = ["wav", "flac", "ogg", "opus", "mp3", "aiff", "m4a", "alac.m4a"]


@pytest.fixture(scope="module")
def tone_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    files = {}
    for ext in FORMATS:
        sr = 48000 if ext == "opus" else 44100
        y = music_like(4.0, sr, seed=1, stereo=ext in ("wav", "flac"))
        files[ext] = (write_audio(d / f"tone.{ext}", y, sr), y, sr)
    return files


@pytest.mark.parametrize("ext", FORMATS)
def test_every_format_decodes_to_mono_float32_at_the_requested_rate(tone_files, ext):
    path, y, sr = tone_files[ext]
    info = probe(path)
    assert info.samplerate == sr and abs(info.duration_s - 4.0) < 0.1
    out = load_audio(path, 12000)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(out.size / 12000 - 4.0) < 0.1
    # the content survives: same loudness as the mono mix, within codec tolerance
    mono = y.mean(axis=1) if y.ndim == 2 else y
    assert np.sqrt(np.mean(out ** 2)) == pytest.approx(np.sqrt(np.mean(mono ** 2)), rel=0.15)


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "m4a", "alac.m4a"])
def test_a_section_matches_the_same_part_of_the_whole(tone_files, ext):
    path, _, _ = tone_files[ext]
    whole = load_audio(path, 44100, resampler="soxr_hq")
    part = load_audio(path, 44100, start_s=1.5, duration_s=1.0)
    a = int(1.5 * 44100)
    assert part.size == 44100
    ref = whole[a:a + 44100]
    # lossless formats are exact; lossy ones may shift by a few samples of decoder delay
    if ext in ("wav", "flac", "alac.m4a"):
        np.testing.assert_allclose(part, ref, atol=1e-6)
    else:
        corr = np.corrcoef(part, ref)[0, 1]
        assert corr > 0.95


def test_supported_extensions_cover_the_issue_list():
    for ext in (".mp3", ".flac", ".ogg", ".opus", ".wav", ".aiff", ".m4a", ".mp4"):
        assert ext in SUPPORTED_EXTENSIONS


# --- bad input, one by one -------------------------------------------------------------------
def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.mp3"
    p.touch()
    with pytest.raises(EmptyFileError, match="empty"):
        load_audio(p, 12000)


def test_truncated_mp3(tmp_path):
    full = write_audio(tmp_path / "full.mp3", music_like(20.0, seed=2))
    data = full.read_bytes()
    p = tmp_path / "cut.mp3"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptAudioError, match="truncated") as info:
        decode_for_spec(p, SEED_SPEC)
    assert info.value.path == p


def test_damaged_mp3_says_so_without_library_jargon(tmp_path):
    p = tmp_path / "Bad Song.mp3"
    p.write_bytes(b"\xff\xfb\x90\x00" + np.random.default_rng(1).bytes(5000))   # a frame header, then noise
    with pytest.raises(CorruptAudioError) as info:
        load_audio(p, 12000)
    reason = info.value.reason
    assert reason.startswith("the file looks like MP3 audio but its data is damaged or truncated")
    assert "Bad Song" not in reason and "Errno" not in reason and "pipe" not in reason


def test_decoder_detail_drops_paths_and_error_numbers(tmp_path):
    from engine.audio.decode import decoder_detail

    p = tmp_path / "x.ogg"
    assert decoder_detail("ffmpeg", OSError(f"[Errno 1094995529] Invalid data found when processing input: '{p}'"),
                          p) == "FFmpeg: invalid data"
    assert decoder_detail("soundfile", RuntimeError(f"Error opening '{p}': Unspecified internal error."),
                          p) == "libsndfile: Unspecified internal error"
    assert decoder_detail("ffmpeg", ValueError(""), p) == "FFmpeg: ValueError"


def test_random_bytes_named_flac(tmp_path):
    p = tmp_path / "noise.flac"
    p.write_bytes(np.random.default_rng(0).bytes(20000))
    with pytest.raises(UnsupportedFormatError, match="not an audio format"):
        load_audio(p, 12000)


def test_text_file_named_mp3(tmp_path):
    p = tmp_path / "notes.mp3"
    p.write_text("These are my notes, not a song.\n" * 50)
    with pytest.raises(UnsupportedFormatError, match="text file"):
        load_audio(p, 12000)


def test_a_very_short_file_is_padded_with_a_warning(tmp_path):
    p = write_audio(tmp_path / "blip.wav", music_like(0.3, seed=3))
    track = decode_for_spec(p, SEED_SPEC)
    assert track.segments[0].wave.size == SEED_SPEC.excerpt_samples
    assert any("only 0.30 s" in w and "padded" in w for w in track.warnings)


def test_a_file_with_no_samples_is_too_short(tmp_path):
    import soundfile as sf

    p = tmp_path / "nothing.wav"
    sf.write(p, np.zeros(0, np.float32), 44100)
    with pytest.raises((TooShortAudioError, EmptyFileError)):
        load_audio(p, 12000)


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableFileError, match="does not exist"):
        load_audio(tmp_path / "gone.flac", 12000)


def test_unreadable_file(tmp_path, monkeypatch):
    p = write_audio(tmp_path / "secret.wav", music_like(1.0))
    p.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(UnreadableFileError, match="permission denied"):
            load_audio(p, 12000)
        return
    # root reads anything: make the operating system refuse the open, as it would for a user
    import builtins

    import engine.audio.decode as decode

    def refusing_open(file, *args, **kwargs):
        if os.fsdecode(file) == str(p):
            raise PermissionError(13, "Permission denied", str(p))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(decode, "open", refusing_open, raising=False)
    with pytest.raises(UnreadableFileError, match="permission denied"):
        load_audio(p, 12000)


def test_non_utf8_file_name(tmp_path):
    name = os.fsencode(str(tmp_path)) + b"/caf\xe9-\xff.wav"  # latin-1 bytes, invalid UTF-8
    y = music_like(2.0, seed=4)
    import soundfile as sf
    with open(name, "wb") as f:
        sf.write(f, y, 44100, format="WAV")
    out = load_audio(name, 12000)
    assert abs(out.size / 12000 - 2.0) < 0.01
    with pytest.raises(AudioError) as info:  # and errors name it printably
        load_audio(os.fsencode(str(tmp_path)) + b"/\xff-missing.wav", 12000)
    assert "\\xff" in info.value.display_path


def test_two_hour_file_uses_bounded_memory(tmp_path):
    p = sparse_wav(tmp_path / "two_hours.wav", 2 * 3600.0, sr=44100)
    assert probe(p).duration_s == pytest.approx(7200.0)
    tracemalloc.start()
    track = decode_for_spec(p, SEED_SPEC)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert track.segments[0].wave.size == SEED_SPEC.excerpt_samples
    assert peak < 40e6, f"decoding a 29-s excerpt of a 2-h file peaked at {peak / 1e6:.0f} MB"


def test_two_hour_file_in_patch_mode_is_spread_and_bounded(tmp_path):
    from engine.audio.excerpts import MAX_FULL_ANALYSIS_SECONDS

    spec = SEED_SPEC.with_(sample_rate=16000, input_frames=187, excerpt="patches", patch_hop_frames=187)
    p = sparse_wav(tmp_path / "long.wav", 2 * 3600.0, sr=16000)
    tracemalloc.start()
    track = decode_for_spec(p, spec, max_patches=20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert track.n_patches == 20
    assert any("long track (2:00:00)" in w for w in track.warnings)
    assert peak < 60e6
    starts = [s.first_frame for s in track.segments]
    assert len(track.segments) == 20 and all(s >= 0 for s in starts)
    assert MAX_FULL_ANALYSIS_SECONDS < 7200
