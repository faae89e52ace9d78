"""A scan with an analysis profile: several models on one decode, each stored separately; a
library analysed before a model joined the profile runs only that model, once; writing decides on
the combined canonical scores."""
from __future__ import annotations

import numpy as np

from engine.library.db import Library
from engine.library.predictions import choose_models, combined_matrix, library_combiner, track_predictions
from engine.library.scanner import scan
from engine.library.writing import plan_writes
from engine.metadata import TagPolicy
from engine.profiles import PROFILES, profile_models
from tests.audio_fixtures import music_like, write_audio
from tests.tagger_util import TINY_PATCHES, tiny_bundle


def _setup(tmp_path, n=3):
    a = tiny_bundle(tmp_path / "models", "tiny-a", TINY_PATCHES, seed=1)
    b = tiny_bundle(tmp_path / "models", "tiny-b", TINY_PATCHES, seed=2)
    music = tmp_path / "music"
    music.mkdir()
    for i in range(n):
        write_audio(music / f"song{i}.wav", music_like(6.0, 8000, seed=i), 8000)
    return str(a), str(b), music


def test_profiles_name_their_models():
    assert profile_models() == ["musicnn-msd", "jamendo-musicnn"] == list(PROFILES["standard"].models)
    assert profile_models("msd") == ["musicnn-msd"]
    assert profile_models("x+y") == ["x", "y"] and profile_models(["x"]) == ["x"]


def test_scan_runs_every_profile_model_and_stores_each(tmp_path):
    a, b, music = _setup(tmp_path)
    with Library(tmp_path / "lib.sqlite3") as lib:
        s = scan(lib, [music], model=[a, b], workers=0)
        assert s.analysed == 3 and s.model == "tiny-a+tiny-b"
        assert lib.analysed_models() == {"tiny-a": 3, "tiny-b": 3}
        ids = [t.id for t in lib.query_tracks()]
        ea = lib.get_analysis(ids[0], "tiny-a").scores
        eb = lib.get_analysis(ids[0], "tiny-b").scores
        assert not np.allclose(ea, eb)                       # two different models
        again = scan(lib, [music], model=[a, b], workers=0)
        assert again.analysed == 0                           # nothing left to do


def test_old_library_runs_only_the_new_model(tmp_path):
    a, b, music = _setup(tmp_path)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scan(lib, [music], model=a, workers=0)
        tid = lib.query_tracks()[0].id
        before = lib.get_analysis(tid, "tiny-a")
        s = scan(lib, [music], model=[a, b], workers=0)
        assert s.analysed == 3
        after = lib.get_analysis(tid, "tiny-a")
        assert after.analysed_at == before.analysed_at        # tiny-a was not run again
        assert lib.get_analysis(tid, "tiny-b") is not None


def test_writing_uses_the_combined_canonical_scores(tmp_path):
    a, b, music = _setup(tmp_path, n=2)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scan(lib, [music], model=[a, b], workers=0)
        models = choose_models(lib, "tiny-a+tiny-b")
        combiner = library_combiner(lib, models)
        ids, matrix = combined_matrix(lib, combiner)
        for tid, row in zip(ids, matrix):
            one = track_predictions(lib, combiner, int(tid))
            np.testing.assert_allclose(row, one.scores, rtol=1e-6)
            assert one.models == ["tiny-a", "tiny-b"]
        names = [t.name for t in combiner.tags]
        assert "female_vocals" in names and "calm" in names      # MSD tags folded onto canonical ids
        policy = TagPolicy(rules={"genre": {"threshold": 0.0, "max_count": 1}})
        plan = plan_writes(lib, ids.tolist(), policy, model=models)
        assert plan.model == "tiny-a+tiny-b" and len(plan.changes) == 2
        displays = {t.display for t in combiner.tags if t.category == "genre"}
        for pw in plan.changes:
            assert pw.change.after["GENRE" if "GENRE" in pw.change.after else "genre"][0] in displays


def test_map_labels_use_the_combined_predictions(tmp_path):
    """The map's colours and region names come from the same combined canonical scores the
    table shows and writing uses; its positions stay those of one model's vectors."""
    from engine.similarity.store import load_vectors, map_regions, with_predicted_tags

    a = tiny_bundle(tmp_path / "models", "musicnn-msd", TINY_PATCHES, seed=1)
    b = tiny_bundle(tmp_path / "models", "jamendo-musicnn", TINY_PATCHES, seed=2)
    music = tmp_path / "music"
    music.mkdir()
    for i in range(6):
        write_audio(music / f"song{i}.wav", music_like(6.0, 8000, seed=i), 8000)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scan(lib, [music], model=[str(a), str(b)], workers=0)
        lv = load_vectors(lib, "musicnn-msd", "scores")
        labelled = with_predicted_tags(lib, lv)
        combiner = library_combiner(lib, ["musicnn-msd", "jamendo-musicnn"])
        ids, matrix = combined_matrix(lib, combiner)
        assert [t.name for t in labelled.tags] == [t.name for t in combiner.tags]
        np.testing.assert_array_equal(labelled.track_ids, ids)
        np.testing.assert_allclose(labelled.scores, matrix, rtol=1e-6)
        assert labelled.vectors is lv.vectors                      # positions unchanged
        regions = map_regions(labelled, np.random.default_rng(0).normal(size=(len(lv), 2)), n_regions=2)
        displays = {t.display for t in combiner.tags}
        assert regions and all(set(r.label.split(" · ")) <= displays for r in regions)


def test_map_labels_fall_back_to_the_model_alone(tmp_path):
    a, b, music = _setup(tmp_path)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scan(lib, [music], model=[a, b], workers=0)       # two models outside any profile
        lv = load_vectors_for(lib, "tiny-a")
        from engine.similarity.store import with_predicted_tags

        labelled = with_predicted_tags(lib, lv)
        ids, matrix = combined_matrix(lib, library_combiner(lib, ["tiny-a"]))
        np.testing.assert_allclose(labelled.scores, matrix, rtol=1e-6)
        assert all(t.name in {c.name for c in library_combiner(lib, ["tiny-a"]).tags}
                   for t in labelled.tags)


def load_vectors_for(lib, model):
    from engine.similarity.store import load_vectors

    return load_vectors(lib, model, "scores")
