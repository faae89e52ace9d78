"""Calibrating and combining several models' scores onto the canonical vocabulary."""
from __future__ import annotations

import numpy as np
import pytest

from engine.combine import Combiner, ModelVocabulary, calibrate, model_thresholds
from engine.metadata import TagPolicy, predicted_values
from engine.vocab import TagInfo

MSD = ModelVocabulary("a", [TagInfo("rock", "genre", "Rock"), TagInfo("chill", "mood", "Chillout"),
                            TagInfo("female vocalists", "instrument", "Female Vocals"),
                            TagInfo("mellow", "mood", "Mellow")])
JAM = ModelVocabulary("b", [TagInfo("rock", "genre", "Rock"), TagInfo("orchestral", "genre", "Orchestral"),
                            TagInfo("relaxing", "mood", "Relaxing")])


def test_calibration_maps_the_threshold_to_one_half_and_keeps_order():
    s = np.linspace(0, 1, 101)
    c = calibrate(s, np.full_like(s, 0.2))
    assert c[0] == 0 and c[-1] == 1 and np.all(np.diff(c) > 0)
    assert calibrate(np.array([0.2]), np.array([0.2]))[0] == pytest.approx(0.5)
    assert calibrate(np.array([0.1]), np.array([0.2]))[0] == pytest.approx(0.25)


def test_folding_max_and_evidence():
    cal = {"models": {"a": {"genre": 0.2, "mood": 0.4, "vocals": 0.5}, "b": {"genre": 0.4, "mood": 0.2}}}
    comb = Combiner([MSD, JAM], cal)
    ids = [t.name for t in comb.tags]
    assert ids.count("rock") == 1 and "chillout" in ids and "calm" in ids and "female_vocals" in ids
    assert {t.name: t.category for t in comb.tags}["chillout"] == "genre"     # MSD's mood is a genre here
    out = comb.combine([np.array([0.3, 0.1, 0.9, 0.4]), np.array([0.6, 0.7, 0.1])])
    score = dict(zip(ids, out.scores.tolist()))
    assert score["rock"] == pytest.approx(max(0.5 + 0.5 * 0.1 / 0.8, 0.5 + 0.5 * 0.2 / 0.6))
    assert score["calm"] == pytest.approx(max(0.5, 0.25))                  # mellow 0.4 @ 0.4, relaxing 0.1 @ 0.2
    ev = out.evidence[ids.index("rock")]
    assert [e.model for e in ev] == ["b", "a"] and ev[0].raw == pytest.approx(0.6)
    assert out.models == ["a", "b"]
    only_b = comb.combine([None, np.array([0.6, 0.7, 0.1])])
    assert only_b.models == ["b"] and dict(zip(ids, only_b.scores))["chillout"] == 0


def test_matrix_combination_equals_row_by_row():
    rng = np.random.default_rng(0)
    comb = Combiner([MSD, JAM], {"models": {"a": {"*": 0.3}, "b": {"*": 0.1}}})
    a, b = rng.random((5, 4)).astype(np.float32), rng.random((5, 3)).astype(np.float32)
    m = comb.combine_matrix([a, b])
    for i in range(5):
        np.testing.assert_allclose(m[i], comb.combine([a[i], b[i]]).scores, rtol=1e-6)
    np.testing.assert_allclose(comb.combine_matrix([a, None])[0], comb.combine([a[0], None]).scores, rtol=1e-6)


def test_bundle_thresholds_win_over_the_table():
    own = ModelVocabulary("a", MSD.tags, np.array([0.1, 0.2, 0.3, 0.4]))
    assert model_thresholds(own, {"models": {"a": {"*": 0.9}}}).tolist() == [0.1, 0.2, 0.3, 0.4]
    assert model_thresholds(MSD, {"models": {"a": {"genre": 0.2}}}).tolist() == [0.2, 0.2, 0.5, 0.5]


def test_policy_on_combined_scores_writes_canonical_display_names():
    comb = Combiner([MSD, JAM], {"models": {"a": {"*": 0.2}, "b": {"*": 0.2}}})
    out = comb.combine([np.array([0.05, 0.3, 0.9, 0.1]), np.array([0.02, 0.6, 0.5])])
    policy = TagPolicy(rules={"genre": {"max_count": 2, "relative": 0.9}, "mood": {"max_count": 2, "relative": 0.9}})
    values = predicted_values(out.scores, comb.tags, policy)
    assert values["genre"] == ["Orchestral"]           # Chillout (0.3) is under 0.9 x Orchestral
    assert values["mood"] == ["Calm"] and values["vocals"] == ["Female Vocals"]


def test_the_shipped_calibration_covers_the_standard_profile_and_sets_the_policy_defaults():
    from engine.combine import calibrated_relative
    from engine.metadata.policy import DEFAULT_RELATIVE, default_relative
    from engine.profiles import profile_models
    import json
    from importlib import resources

    table = json.loads(resources.files("resources").joinpath("vocabulary", "calibration.json").read_text())
    for name in profile_models("standard"):
        per_cat = table["models"][name]
        assert set(per_cat) >= {"genre", "mood"}
        assert all(0.0 < t < 1.0 for t in per_cat.values())
    for cat in ("genre", "mood"):
        assert 0.0 <= table["relative"][cat] <= 1.0
        assert calibrated_relative(cat) == default_relative(cat) == table["relative"][cat]
        assert TagPolicy().rules[cat].relative == table["relative"][cat]
    assert default_relative("instrument") == (calibrated_relative("instrument") or DEFAULT_RELATIVE)
