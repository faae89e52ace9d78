"""prepare -> fit -> evaluate -> export -> the app's Tagger, on a tiny generated data set (CPU, seconds)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._training_util import SMALL_PATCH_SPEC, SMALL_SPEC, make_manifest
from engine.bundle import BundleInfo, list_bundles, load_bundle, save_bundle
from engine.models.registry import build_model
from training.data import Augment, EpochSampler, ShardDataset, StridedSampler, apply_gain, make_loader
from training.datasets.manifest import read_manifest
from training.prepare import prepare, stored_frames_for
from training.shards import read_failures, read_index, read_meta
from training.train import FitConfig, fit, load_weights, predict


pytestmark = pytest.mark.usefixtures("_one_torch_thread_and_own_models_folder")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("training-data")
    manifest = make_manifest(root / "src", n=24, bad_files=True)
    catalog = read_manifest(manifest)
    prepare(catalog, root / "prep", SMALL_SPEC, workers=0, shard_size=8)
    return root, catalog


def _cfg(data: Path, out: Path, **kw) -> FitConfig:
    base = dict(data=str(data), out=str(out), model="tiny", epochs=2, batch_size=4, workers=0,
                quiet=True, seed=0)
    base.update(kw)
    return FitConfig(**base)


def test_prepare_writes_float16_shards_index_and_failures(dataset):
    root, catalog = dataset
    prep = root / "prep"
    meta = read_meta(prep)
    assert meta.complete and meta.stored_frames == SMALL_SPEC.input_frames
    assert meta.tag_names == catalog.tag_names
    index = read_index(prep)
    assert len(index) == 24
    assert set(index.splits) == {"train", "valid", "test"}
    shard = np.load(prep / "shards" / "000000.npy", mmap_mode="r")
    assert isinstance(shard, np.memmap) and shard.dtype == np.float16
    assert shard.shape[1:] == (SMALL_SPEC.n_mels, SMALL_SPEC.input_frames)
    # labels in the index are the catalog's multi-hot vectors
    by_key = {it.key: it for it in catalog.items}
    for k, key in enumerate(index.keys):
        assert (index.labels[k] == catalog.multi_hot(by_key[key])).all()
    failures = {Path(f["path"]).name: f for f in read_failures(prep)}
    assert failures["empty.wav"]["kind"] == "EmptyFileError"
    assert failures["text.wav"]["kind"] == "UnsupportedFormatError"
    assert "not audio" in failures["text.wav"]["reason"]


def test_stored_log_mel_is_what_the_app_computes(dataset):
    """The shard holds LogMel of the tagger's own centre excerpt (to float16 precision)."""
    from engine.audio.excerpts import decode_for_spec
    from engine.features import LogMel

    root, _ = dataset
    ds = ShardDataset(root / "prep", "test", mode="eval")
    i = 0
    wave = decode_for_spec(read_index(root / "prep").paths[ds.rows[i]], SMALL_SPEC).segments[0].wave
    ref = LogMel(SMALL_SPEC)(wave[None])[0].numpy()
    assert np.abs(ds.stored(i).astype(np.float32) - ref).max() < 0.05


def test_prepare_resumes_in_parallel_and_refuses_a_different_plan(dataset, tmp_path):
    root, catalog = dataset
    out = tmp_path / "prep"
    first = prepare(catalog, out, SMALL_SPEC, workers=2, shard_size=8)     # spawned worker processes
    assert first.n_items == 24 and first.n_failed == 2 and first.skipped_shards == 0
    before = (out / "index.csv").read_text()
    (out / "shards" / "000001.json").unlink()                              # as if killed mid-run
    again = prepare(catalog, out, SMALL_SPEC, workers=0, shard_size=8)
    assert again.skipped_shards == first.n_shards - 1
    assert (out / "index.csv").read_text() == before
    retried = prepare(catalog, out, SMALL_SPEC, workers=0, shard_size=8, retry_failed=True)
    assert retried.skipped_shards == first.n_shards - 1 and retried.n_failed == 2   # the bad files' shard
    with pytest.raises(FileExistsError, match="different preparation"):
        prepare(catalog, out, SMALL_PATCH_SPEC, workers=0, shard_size=8)
    replaced = prepare(catalog, out, SMALL_PATCH_SPEC, workers=0, shard_size=8, overwrite=True)
    assert replaced.skipped_shards == 0
    assert read_meta(out).stored_frames == stored_frames_for(SMALL_PATCH_SPEC)


def test_fit_evaluate_export_and_the_app_tags_with_it(dataset, tmp_path):
    from engine.tagger import Tagger
    from training.evaluate import evaluate
    from training.export import export

    root, _ = dataset
    run = tmp_path / "run"
    res = fit(_cfg(root / "prep", run))
    losses = [h["train_loss"] for h in res.history]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert (run / "log.csv").is_file() and (run / "checkpoints" / "best" / "model.safetensors").is_file()
    assert res.best_epoch in (1, 2) and 0.0 <= res.best_val_roc_auc <= 1.0

    ev = evaluate([str(run)], str(root / "prep"), workers=0)
    out = Path(ev["out_dir"])
    for name in ("metrics.json", "per_tag.csv", "report.md", "loss_curves.png", "per_tag_roc_auc.png",
                 "pr_curves.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    r = metrics["runs"][0]
    assert 0.0 <= r["roc_auc"] <= 1.0 and len(r["thresholds"]) == 4
    assert "ROC-AUC" in (out / "report.md").read_text()

    js = export(run, "tiny-pipeline")
    assert "tiny-pipeline" in [b.name for b in list_bundles()]
    model, info = load_bundle("tiny-pipeline")
    assert info.thresholds == pytest.approx(r["thresholds"])
    assert info.metrics["roc_auc"] == pytest.approx(r["roc_auc"])
    assert info.provenance["dataset"] == "manifest" and info.feature_spec == SMALL_SPEC
    assert js.with_suffix(".safetensors").is_file()

    clips = sorted((root / "src" / "audio").glob("clip00*.wav"))[:3]
    with Tagger("tiny-pipeline", device="cpu", workers=0) as tagger:
        results = tagger.tag_files(clips)
    assert [Path(t.path).name for t in results] == [c.name for c in clips]
    assert all(t.ok and t.scores.shape == (4,) and np.isfinite(t.scores).all() for t in results)


@pytest.mark.parametrize("spec", [SMALL_SPEC, SMALL_PATCH_SPEC], ids=["centre", "patches"])
def test_evaluation_scores_equal_the_apps(dataset, tmp_path, spec):
    """Track scores from the shards (predict) match Tagger's on the same files: what is evaluated
    is what the app runs, for centre crops and for patch averaging alike."""
    from engine.tagger import Tagger
    from engine.vocab import TagInfo

    root, catalog = dataset
    prep = tmp_path / "prep"
    prepare(catalog, prep, spec, workers=0, shard_size=8, excerpt_seconds=1.5 if spec.excerpt == "patches" else None)
    torch.manual_seed(1)
    model = build_model("tiny", n_tags=4, n_mels=spec.n_mels).eval()
    info = BundleInfo("cmp", "tiny", {}, spec, [TagInfo(t, "other", t) for t in catalog.tag_names])
    save_bundle(model, info, tmp_path / "models")
    ds = ShardDataset(prep, "test", mode="eval")
    loader = make_loader(ds, batch_size=4, sampler=StridedSampler(len(ds)), workers=0)
    ours = predict(model, loader, torch.device("cpu"), None, len(ds))
    paths = [read_index(prep).paths[i] for i in ds.rows]
    with Tagger(tmp_path / "models" / "cmp.json", device="cpu", workers=0) as tagger:
        app = np.stack([t.scores for t in tagger.tag_files(paths)])
        n_patches = [t.n_patches for t in tagger.tag_files(paths[:1])]
    assert n_patches[0] == len(ds.patch_starts(0))
    assert np.abs(ours - app).max() < 2e-3


MUSICNN_LIKE = SMALL_PATCH_SPEC.with_(pad_mode="reflect", log="log10_10000", float16_step=True,
                                     short_audio="repeat_pad")


@pytest.mark.parametrize("spec", [SMALL_PATCH_SPEC, MUSICNN_LIKE], ids=["zero-pad-db", "musicnn-like"])
def test_patch_tracks_of_any_length_match_the_app(tmp_path, spec):
    """Tracks shorter than one patch, between patches, and exactly filling the stored excerpt:
    the stored log-mel gives the app's patches and scores (reflect padding and repeat-padding
    included, because the log-mel is padded, never the audio)."""
    import soundfile as sf

    from tests._training_util import make_clip
    from engine.tagger import Tagger
    from engine.vocab import TagInfo
    from training.datasets import Catalog, Item

    rng = np.random.default_rng(5)
    items = []
    for k, seconds in enumerate((0.3, 0.9, 1.37, 1.5)):
        p = tmp_path / f"len{k}.wav"
        sf.write(p, make_clip(("low", "high", "clicks", "low")[k], 8000, seconds, rng), 8000)
        items.append(Item(f"len{k}", str(p), ("a",) if k % 2 else (), "test"))
    cat = Catalog("lengths", [TagInfo("a", "other", "A")], items)
    prepare(cat, tmp_path / "prep", spec, workers=0, excerpt_seconds=1.5)
    torch.manual_seed(2)
    model = build_model("tiny", n_tags=1, n_mels=spec.n_mels).eval()
    save_bundle(model, BundleInfo("len", "tiny", {}, spec, cat.tags), tmp_path / "models")
    ds = ShardDataset(tmp_path / "prep", "test", mode="eval")
    ours = predict(model, make_loader(ds, batch_size=2, sampler=StridedSampler(len(ds)), workers=0),
                   torch.device("cpu"), None, len(ds))
    with Tagger(tmp_path / "models" / "len.json", device="cpu", workers=0) as tagger:
        app = tagger.tag_files([it.path for it in items])
    assert [len(ds.patch_starts(i)) for i in range(len(ds))] == [t.n_patches for t in app]
    np.testing.assert_allclose(ours[:, 0], [t.scores[0] for t in app], atol=2e-3)
    from engine.audio.excerpts import decode_for_spec
    from engine.features import LogMel

    for i, it in enumerate(items):             # frame by frame, to float16 precision
        ref = LogMel(spec)(decode_for_spec(it.path, spec).segments[0].wave[None])[0].numpy()
        u = ds.usable_frames(i)
        assert ref.shape[-1] == u
        np.testing.assert_allclose(np.asarray(ds.stored(i)[:, :u], np.float32), ref, atol=0.01, rtol=2e-3)


def test_resume_continues_exactly_like_an_uninterrupted_run(dataset, tmp_path):
    root, _ = dataset
    aug = dict(gain_db=3.0, noise_std=0.1, mixup_alpha=0.4, epochs=3)
    full = fit(_cfg(root / "prep", tmp_path / "full", **aug))
    part = fit(_cfg(root / "prep", tmp_path / "part", **aug), on_epoch_end=lambda row: row["epoch"] < 2)
    assert part.epochs_run == 2
    with pytest.raises(FileExistsError, match="--resume"):
        fit(_cfg(root / "prep", tmp_path / "part", **aug))
    resumed = fit(_cfg(root / "prep", tmp_path / "part", resume=True, **aug))
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    assert [h["val_roc_auc"] for h in resumed.history] == [h["val_roc_auc"] for h in full.history]
    wa, _ = load_weights(tmp_path / "full" / "checkpoints" / "last")
    wb, _ = load_weights(tmp_path / "part" / "checkpoints" / "last")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_train_items_depend_only_on_seed_epoch_and_index(dataset, tmp_path):
    root, catalog = dataset
    prep = tmp_path / "prep"
    prepare(catalog, prep, SMALL_PATCH_SPEC, workers=0, shard_size=8, excerpt_seconds=1.5)
    ds = ShardDataset(prep, "train", mode="train", augment=Augment(gain_db=2.0, noise_std=0.05), seed=3)
    x0, y0 = ds[(0, 5)]
    assert x0.shape == (SMALL_PATCH_SPEC.n_mels, SMALL_PATCH_SPEC.input_frames)
    assert torch.equal(ds[(0, 5)][0], x0)                 # same (epoch, index): same crop and noise
    assert not torch.equal(ds[(1, 5)][0], x0)             # next epoch: another crop
    assert torch.equal(y0, torch.from_numpy(ds.labels[5]))
    sampler = EpochSampler(ds, seed=3)
    sampler.set_epoch(4)
    pairs = list(sampler)
    assert {e for e, _ in pairs} == {4} and sorted(i for _, i in pairs) == list(range(len(ds)))
    ev = ShardDataset(prep, "test", mode="eval")
    patches, _, _ = ev[0]
    starts = ev.patch_starts(0)
    assert patches.shape[0] == len(starts) > 1
    assert patches.dtype == x0.dtype == torch.float16         # float16 up to the device
    assert torch.equal(patches[1], torch.from_numpy(
        np.array(ev.stored(0)[:, starts[1]:starts[1] + SMALL_PATCH_SPEC.input_frames])))


def test_gain_augmentation_is_exact_in_both_log_domains():
    from engine.features import LogMel

    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(8000)).astype(np.float32)
    for log in ("db", "log10_10000"):
        spec = SMALL_SPEC.with_(log=log, db_top_db=None)
        lm = LogMel(spec)
        x = lm(wave[None])[0].numpy()
        louder = lm((wave * 10 ** (6 / 20))[None])[0].numpy()        # +6 dB
        np.testing.assert_allclose(apply_gain(x, 6.0, spec), louder, atol=2e-3)


def test_cli_runs_the_whole_pipeline(dataset, tmp_path, capsys):
    from training.cli import main

    root, _ = dataset
    manifest = root / "src" / "manifest.csv"
    prep, run = tmp_path / "prep", tmp_path / "run"
    assert main(["prepare", "manifest", str(manifest), "--out", str(prep), "--workers", "0",
                 "--shard-size", "8", "--spec", _spec_file(tmp_path)]) == 1   # 2 damaged files, listed
    assert main(["fit", "--model", "tiny", "--data", str(prep), "--out", str(run), "--epochs", "1",
                 "--batch-size", "4", "--workers", "0", "--quiet", "--arch-arg", "width=8"]) == 0
    assert main(["evaluate", str(run), "--workers", "0", "--no-plots"]) == 0
    assert main(["export", str(run), "--name", "tiny-cli"]) == 0
    assert main(["export", str(run), "--name", "tiny-cli"]) == 2              # exists: plain error
    out = capsys.readouterr()
    assert "ROC-AUC" in out.out and "already exists" in out.err
    assert load_bundle("tiny-cli")[1].arch_args["width"] == 8
    assert main(["fit", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r2")]) == 2
    assert "prepare" in capsys.readouterr().err


def _spec_file(tmp_path: Path) -> str:
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(SMALL_SPEC.to_dict()))
    return str(p)


def test_fine_tuning_starts_from_a_bundle(dataset, tmp_path):
    from engine.vocab import TagInfo
    from training.train import initial_weights

    root, _ = dataset
    torch.manual_seed(3)
    donor = build_model("tiny", n_tags=6, n_mels=SMALL_SPEC.n_mels)
    save_bundle(donor, BundleInfo("donor", "tiny", {}, SMALL_SPEC, [TagInfo(f"t{k}", "other", "T") for k in range(6)]),
                tmp_path / "models")
    model = build_model("tiny", n_tags=4, n_mels=SMALL_SPEC.n_mels)
    fresh = initial_weights(model, str(tmp_path / "models" / "donor.json"))
    assert fresh == ["classifier.bias", "classifier.weight"]          # other tags: a new output layer
    assert torch.equal(model.conv[0].weight, donor.conv[0].weight)
    res = fit(_cfg(root / "prep", tmp_path / "run", epochs=1, init=str(tmp_path / "models" / "donor.json")))
    assert res.epochs_run == 1
