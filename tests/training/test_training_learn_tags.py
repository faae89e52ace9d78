"""Learn my tags: a head on frozen embeddings from a generated library, exported as a bundle the app runs."""
from __future__ import annotations


import numpy as np
import pytest
import soundfile as sf
import torch

from tests._training_util import SMALL_SPEC, make_clip
from engine.bundle import BundleInfo, list_bundles, load_bundle, save_bundle
from engine.models.registry import build_model
from engine.paths import user_models_dir
from engine.vocab import TagInfo
from training.learn_my_tags import LearnConfig, learn_my_tags

BASE = "tiny-base-learn"


pytestmark = pytest.mark.usefixtures("_one_torch_thread_and_own_models_folder")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """48 tracks: low tones are "Lo-Fi", high noise "Shoegaze", clicks "Techno" (genre); a mood
    "Rainy" on random tracks (not in the sound); "Polka" on 3 tracks only. Two thirds of the
    tracks already have an analysis by the base model stored, as a scan would leave them."""
    from engine.library import Library
    from engine.tagger import Tagger

    root = tmp_path_factory.mktemp("learn-tags")
    torch.manual_seed(0)
    base = build_model("tiny", n_tags=3, n_mels=SMALL_SPEC.n_mels, width=16)
    save_bundle(base, BundleInfo(BASE, "tiny", {}, SMALL_SPEC, [TagInfo(t, "other", t) for t in "abc"]),
                user_models_dir())
    rng = np.random.default_rng(1)
    db = root / "lib.sqlite3"
    genre = {"low": "Lo-Fi", "high": "Shoegaze", "clicks": "Techno"}
    with Library(db) as lib, Tagger(BASE, device="cpu", workers=0) as tagger:
        for i in range(48):
            kind = ("low", "high", "clicks")[i % 3]
            p = root / f"track{i:02d}.wav"
            sf.write(p, make_clip(kind, 8000, 1.5, rng), 8000)
            genres = ["Polka"] if i in (5, 17, 29) else [genre[kind]]
            moods = ["Rainy"] if rng.random() < 0.5 else ["Sunny"]
            tid = lib.add_track(p, size=p.stat().st_size, mtime_ns=p.stat().st_mtime_ns,
                                metadata={"genre": genres, "mood": moods, "artist": f"artist {i % 12}"})
            if i < 32:
                r = tagger.tag_files([p])[0]
                lib.store_analysis(tid, BASE, r.scores, r.embedding)
    return root, db, rng


def test_learns_separable_tags_and_the_app_applies_them(library):
    from engine.tagger import Tagger

    root, db, rng = library
    res = learn_my_tags(LearnConfig(name="my-tags", base=BASE, db=str(db), workers=0))
    assert any("16 labelled tracks were analysed now" in n for n in res.notes)
    assert "grouped by artist" in res.cv_scheme
    by_name = {r.tag.name: r for r in res.reports}
    for tag in ("Lo-Fi", "Shoegaze", "Techno"):
        assert by_name[tag].cv_roc_auc > 0.9 and by_name[tag].kept, res.table()
        assert by_name[tag].tag.category == "genre"
    assert by_name["Rainy"].tag.category == "mood"
    for r in res.reports:                               # weak tags are reported, and left out honestly
        assert r.kept == (r.cv_roc_auc >= 0.6)
    assert ("genre", "Polka") in {(c, v) for c, v, _ in res.refused}
    assert "Polka" in res.table() and "refused" in res.table()

    assert res.bundle is not None and "my-tags" in [b.name for b in list_bundles()]
    model, info = load_bundle("my-tags")
    assert info.architecture == "embedding_head" and info.arch_args["base_architecture"] == "tiny"
    assert info.metrics["per_tag_roc_auc"]["Techno"] > 0.9 and len(info.thresholds) == len(info.tags)
    assert info.feature_spec == SMALL_SPEC and info.embedding_dim == 32

    kinds = {"low": "Lo-Fi", "high": "Shoegaze", "clicks": "Techno"}
    new = []
    for kind in kinds:
        p = root / f"untagged_{kind}.wav"
        sf.write(p, make_clip(kind, 8000, 1.5, rng), 8000)
        new.append(p)
    with Tagger("my-tags", device="cpu", workers=0) as tagger, Tagger(BASE, device="cpu", workers=0) as base:
        results = tagger.tag_files(new)
        base_results = base.tag_files(new)
    names = [t.name for t in info.tags]
    for (kind, tag), r, b in zip(kinds.items(), results, base_results):
        genre_scores = {n: r.scores[k] for k, n in enumerate(names) if n in kinds.values()}
        assert max(genre_scores, key=genre_scores.get) == tag, (kind, genre_scores)
        np.testing.assert_allclose(r.embedding, b.embedding, atol=1e-5)   # similarity unchanged


def test_refuses_tags_with_too_few_examples(library):
    root, db, _ = library
    res = learn_my_tags(LearnConfig(name="never", base=BASE, db=str(db), workers=0, min_positives=40,
                                    analyse_missing=False))
    assert res.bundle is None and res.reports == []
    assert any("16 labelled tracks have no" in n for n in res.notes)      # not analysed, not used
    reasons = [why for _, _, why in res.refused]
    assert reasons and all("at least 40 are needed" in w for w in reasons)
    assert "never" not in [b.name for b in list_bundles()]


def test_cli_learn_tags(library, capsys):
    from training.cli import main

    _, db, _ = library
    rc = main(["learn-tags", "--name", "my-tags-cli", "--base", BASE, "--db", str(db), "--workers", "0",
               "--hidden", "8", "--categories", "genre"])
    out = capsys.readouterr().out
    assert rc == 0 and "CV ROC-AUC" in out and "Techno" in out and "Rainy" not in out
    assert load_bundle("my-tags-cli")[1].arch_args["hidden"] == 8
