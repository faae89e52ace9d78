"""The batched tagger: order, per-file failures, aggregation, workers, progress, cancel, crashes."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from engine.errors import DecoderCrashError, EmptyFileError, UnsupportedFormatError
from engine.tagger import Tagger, TrackFailure, TrackTags, pick_device
from tests._crashy_decoder import crash_on_name, huge_result
from tests.audio_fixtures import music_like, write_audio
from tests.tagger_util import TINY_CENTRE, TINY_PATCHES, tiny_bundle


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    d = tmp_path_factory.mktemp("lib")
    good = [write_audio(d / f"song{i}.{ext}", music_like(6.0 + i, 22050, seed=i), 22050)
            for i, ext in enumerate(["wav", "flac", "mp3", "ogg", "m4a", "wav"])]
    empty = d / "empty.mp3"
    empty.touch()
    text = d / "readme.flac"
    text.write_text("not music\n" * 20)
    return d, good, empty, text


@pytest.fixture(scope="module")
def centre_bundle(tmp_path_factory):
    return tiny_bundle(tmp_path_factory.mktemp("models"), "tiny-centre", TINY_CENTRE)


@pytest.fixture(scope="module")
def patch_bundle(tmp_path_factory):
    return tiny_bundle(tmp_path_factory.mktemp("models"), "tiny-patches", TINY_PATCHES)


def test_results_come_back_in_input_order_with_per_file_errors(library, centre_bundle):
    d, good, empty, text = library
    files = [good[0], empty, good[1], text, *good[2:]]
    with Tagger(centre_bundle, workers=2, batch_size=3) as tagger:
        results = tagger.tag_files(files)
    assert [r.path for r in results] == [str(f) for f in files]
    assert isinstance(results[1], TrackFailure) and isinstance(results[1].error, EmptyFileError)
    assert isinstance(results[3], TrackFailure) and isinstance(results[3].error, UnsupportedFormatError)
    ok = [r for r in results if r.ok]
    assert len(ok) == len(good)
    for r in ok:
        assert isinstance(r, TrackTags) and r.scores.shape == (50,) and r.embedding.shape == (32,)
        assert np.all((r.scores > 0) & (r.scores < 1)) and r.model == "tiny-centre"


def test_worker_processes_give_the_same_scores_as_decoding_in_process(library, centre_bundle):
    _, good, _, _ = library
    with Tagger(centre_bundle, workers=0) as a, Tagger(centre_bundle, workers=2, batch_size=2) as b:
        ra, rb = a.tag_files(good), b.tag_files(good)
    for x, y in zip(ra, rb):
        np.testing.assert_allclose(x.scores, y.scores, atol=1e-6)
        np.testing.assert_allclose(x.embedding, y.embedding, atol=1e-5)


def test_patch_scores_are_the_mean_of_per_patch_sigmoids(library, patch_bundle):
    _, good, _, _ = library
    tagger = Tagger(patch_bundle, workers=0)
    from engine.audio.decode import load_audio

    wave = load_audio(good[0], TINY_PATCHES.sample_rate, resampler=TINY_PATCHES.resampler)
    mel = tagger.logmel(wave[None])[0]
    n = (mel.shape[1] - 64) // 64 + 1
    patches = torch.stack([mel[:, i * 64:i * 64 + 64] for i in range(n)])
    with torch.no_grad():
        expected = torch.sigmoid(tagger.model(patches)).mean(0).numpy()
    result = tagger.tag_files([good[0]])[0]
    assert result.n_patches == n
    np.testing.assert_allclose(result.scores, expected, atol=1e-6)


def test_a_learnt_head_scores_the_mean_embedding_it_was_trained_on(library, tmp_path):
    """learn-tags fits its head on track-mean embeddings, so the app must apply it there too,
    not average the head's per-patch scores."""
    from engine.audio.decode import load_audio
    from engine.bundle import BundleInfo, save_bundle
    from engine.models.head import EmbeddingHead
    from engine.vocab import TagInfo

    _, good, _, _ = library
    torch.manual_seed(3)
    model = EmbeddingHead("tiny", {"n_tags": 50, "n_mels": TINY_PATCHES.n_mels}, n_tags=2, hidden=8).eval()
    model.emb_scale.fill_(4.0)                           # a head far from linear in the patch inputs
    path = save_bundle(model, BundleInfo("tiny-head", "embedding_head", model.config(), TINY_PATCHES,
                                         [TagInfo("a", "genre", "A"), TagInfo("b", "mood", "B")]), tmp_path)
    tagger = Tagger(path, workers=0)
    wave = load_audio(good[3], TINY_PATCHES.sample_rate, resampler=TINY_PATCHES.resampler)
    mel = tagger.logmel(wave[None])[0]
    patches = torch.stack([mel[:, i * 64:i * 64 + 64] for i in range((mel.shape[1] - 64) // 64 + 1)])
    with torch.no_grad():
        logits, emb = tagger.model.forward_with_embedding(patches)
        expected = torch.sigmoid(tagger.model.head_logits(emb.mean(0, keepdim=True)))[0].numpy()
        per_patch_mean = torch.sigmoid(logits).mean(0).numpy()
    result = tagger.tag_files([good[3]])[0]
    assert result.n_patches == patches.shape[0] > 1
    np.testing.assert_allclose(result.scores, expected, atol=1e-6)
    np.testing.assert_allclose(result.embedding, emb.mean(0).numpy(), atol=1e-6)
    assert np.abs(per_patch_mean - expected).max() > 1e-3  # the two aggregations do differ here


def test_fast_mode_uses_a_bounded_number_of_patches_spread_over_the_track(library, patch_bundle):
    _, good, _, _ = library
    full = Tagger(patch_bundle, workers=0).tag_files([good[5]])[0]
    fast = Tagger(patch_bundle, workers=0, max_patches=4).tag_files([good[5]])[0]
    assert full.n_patches > 4 and fast.n_patches == 4
    assert np.abs(full.scores - fast.scores).max() < 0.2


def test_a_file_shorter_than_one_patch_is_repeat_padded_with_a_warning(tmp_path, patch_bundle):
    short = write_audio(tmp_path / "short.wav", music_like(0.4, 22050, seed=9), 22050)
    result = Tagger(patch_bundle, workers=0).tag_files([short])[0]
    assert result.ok and result.n_patches == 1
    assert any("repeated" in w for w in result.warnings)


def test_progress_is_reported_for_every_file(library, centre_bundle):
    _, good, empty, _ = library
    seen = []
    with Tagger(centre_bundle, workers=1) as tagger:
        tagger.tag_files([*good, empty], progress=lambda done, total, path: seen.append((done, total)))
    assert [d for d, _ in seen] == list(range(1, len(good) + 2)) and all(t == len(good) + 1 for _, t in seen)


def test_cancel_stops_within_a_second(tmp_path, centre_bundle):
    files = [write_audio(tmp_path / f"c{i}.wav", music_like(3.0, 8000, seed=i), 8000) for i in range(40)]
    flag = {"stop": False, "at": None}

    def progress(done, total, path):
        if done == 2 and flag["at"] is None:
            flag["stop"], flag["at"] = True, time.perf_counter()

    with Tagger(centre_bundle, workers=2, batch_size=1) as tagger:
        results = list(tagger.iter_tag(files, progress=progress, cancel=lambda: flag["stop"]))
        stopped = time.perf_counter()
    assert 2 <= len(results) < len(files)
    assert stopped - flag["at"] < 1.0


def test_a_crashing_decoder_fails_only_its_own_file(library, tmp_path, centre_bundle):
    _, good, _, _ = library
    crash = write_audio(tmp_path / "crash.wav", music_like(2.0, 8000), 8000)

    class CrashyTagger(Tagger):
        decode_job = staticmethod(crash_on_name)

    with CrashyTagger(centre_bundle, workers=2, batch_size=2) as tagger:
        results = tagger.tag_files([good[0], crash, *good[1:4]])
    assert len(results) == 5
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and failed[0].path == str(crash)
    assert isinstance(failed[0].error, DecoderCrashError) and "crashed" in failed[0].error.reason
    assert all(r.ok for r in results if r.path != str(crash))


def test_tag_waveform_needs_no_file(centre_bundle):
    tagger = Tagger(centre_bundle, workers=0)
    r = tagger.tag_waveform(music_like(10.0, 8000, seed=3))
    assert r.ok and r.n_patches == 1 and r.scores.shape == (50,)


def test_device_is_cpu_without_a_gpu_and_cuda_requests_fail_plainly():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert pick_device() == "cpu"
    from engine.errors import DeviceError, TagAtlasError
    with pytest.raises(DeviceError, match="needs an NVIDIA GPU") as caught:
        pick_device("cuda")
    assert isinstance(caught.value, TagAtlasError)
    with pytest.raises(DeviceError, match="'gpu' is not a device"):
        pick_device("gpu")


@pytest.mark.cuda
def test_cuda_and_cpu_agree(library, centre_bundle):
    _, good, _, _ = library
    cpu = Tagger(centre_bundle, device="cpu", workers=0).tag_files(good[:2])
    gpu = Tagger(centre_bundle, device="cuda", workers=0).tag_files(good[:2])
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)


def test_cancel_is_checked_between_inference_batches(tmp_path, patch_bundle):
    song = write_audio(tmp_path / "long.wav", music_like(40.0, 8000, seed=2), 8000)
    calls = {"n": 0}
    tagger = Tagger(patch_bundle, workers=0, batch_size=1)
    run_model = tagger.run_model

    def counting(x, head=0):
        calls["n"] += 1
        return run_model(x, head)

    tagger.run_model = counting
    results = list(tagger.iter_tag([song], cancel=lambda: calls["n"] >= 3))
    assert results == [] and calls["n"] == 3  # stopped mid-track, not after all ~40 patches


def test_stopping_a_worker_mid_reply_does_not_hang_the_program(centre_bundle):
    """A decode worker killed while sending back a long track leaves half a message in the pool's
    result pipe; the pool's manager thread must still end (else the program hangs at exit)."""
    tagger = Tagger(centre_bundle, workers=1)
    pool = tagger._pool = tagger._new_pool()
    pool.submit(huge_result, "long.flac", None, None)
    reader = pool._result_queue._reader
    deadline = time.monotonic() + 120   # a spawned worker starts slowly on a loaded machine
    started = False
    while not started and time.monotonic() < deadline:   # the reply has started
        started = reader.poll()
        time.sleep(0 if started else 0.001)
    # (poll again could be False: the pool's own manager thread may read the reply meanwhile)
    assert started
    manager = pool._executor_manager_thread
    tagger.close()
    manager.join(5)
    assert not manager.is_alive()
