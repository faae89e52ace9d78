"""The tag policy as a pure function: thresholds, counts, display names, modes, overrides."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests._metadata_util import TAGS, scores_for
from engine.metadata import (CategoryRule, FileTags, TagChange, TagPolicy, plan_changes,
                             predicted_values)
from engine.vocab import TagInfo


def empty(**fields) -> FileTags:
    return FileTags(path="/music/a.flac", format="FLAC", tag_type="vorbis", **fields)


#: The mechanics under test: up to three genres and moods, no relative rule.
MECHANICS = {"genre": CategoryRule(max_count=3), "mood": CategoryRule(max_count=3),
             "instrument": CategoryRule(max_count=2)}


def plan(current=None, scores=None, policy=None, **kw) -> TagChange:
    return plan_changes(current or empty(), scores if scores is not None else scores_for(),
                        TAGS, "m", policy or TagPolicy(write_scores=False, rules=MECHANICS), **kw)


def test_default_caps_and_relative_rule():
    assert TagPolicy().rules["genre"].max_count == 2 and TagPolicy().rules["mood"].max_count == 2
    assert TagPolicy().rules["instrument"].max_count == 3
    close = {"genre": CategoryRule(max_count=2, relative=0.9)}
    s = scores_for(rock=0.95, punk=0.9, pop=0.8, jazz=0.7)
    change = plan(scores=s, policy=TagPolicy(write_scores=False, rules=close))
    assert change.after["genre"] == ["Rock", "Punk"]          # at most 2; Pop < 0.9 x Rock anyway
    s = scores_for(rock=0.95, punk=0.6)
    assert plan(scores=s, policy=TagPolicy(write_scores=False, rules=close)).after["genre"] == ["Rock"]
    rule = CategoryRule(max_count=3, relative=0.5)
    policy = TagPolicy(write_scores=False, rules={"genre": rule})
    assert plan(scores=s, policy=policy).after["genre"] == ["Rock", "Punk"]
    with pytest.raises(ValueError):
        CategoryRule(relative=1.5)


def test_threshold_count_and_order():
    s = scores_for(jazz=0.6, rock=0.95, pop=0.7, punk=0.8, blues=0.49)
    change = plan(scores=s)
    assert change.after["genre"] == ["Rock", "Punk", "Pop"]          # best three, best first
    change = plan(scores=s, policy=TagPolicy(write_scores=False,
                                             rules={"genre": CategoryRule(threshold=0.75, max_count=5)}))
    assert change.after["genre"] == ["Rock", "Punk"]


def test_model_thresholds_used_when_rule_has_none():
    s = scores_for(rock=0.3, pop=0.3)
    thresholds = np.full(len(TAGS), 0.5)
    thresholds[[t.name for t in TAGS].index("rock")] = 0.2
    assert plan(scores=s).after == {}
    assert plan(scores=s, thresholds=thresholds).after["genre"] == ["Rock"]


def test_near_duplicates_merge_by_display_name():
    s = scores_for(chill=0.6, chillout=0.9, female_vocalist=0.7, female_vocalists=0.8)
    change = plan(scores=s)
    assert change.after["mood"] == ["Chillout"]
    assert change.after["TAGATLAS_INSTRUMENTS"] == ["Female Vocals"]


def test_display_names_read_well():
    s = scores_for(rnb=0.8, progressive_rock=0.7, **{"Hip-Hop": 0.9, "00s": 0.9})
    change = plan(scores=s)
    assert change.after["genre"] == ["Hip-Hop", "R&B", "Progressive Rock"]
    assert change.after["TAGATLAS_ERA"] == ["2000s"]


def test_fill_only_touches_empty_fields():
    s = scores_for(rock=0.9, happy=0.9)
    change = plan(empty(genre=["Ambient"]), s)
    assert "genre" not in change.after and change.after["mood"] == ["Happy"]
    assert change.before["mood"] == []


def test_merge_keeps_users_values_first_case_insensitively():
    s = scores_for(rock=0.9, jazz=0.8)
    change = plan(empty(genre=["JAZZ; Swing"]), s, TagPolicy(mode="merge", write_scores=False))
    assert change.before["genre"] == ["JAZZ", "Swing"]
    assert change.after["genre"] == ["JAZZ", "Swing", "Rock"]
    assert not plan(empty(genre=["rock", "jazz"]), s, TagPolicy(mode="merge", write_scores=False))


def test_replace_and_replace_never_empties():
    s = scores_for(rock=0.9)
    policy = TagPolicy(mode="replace", write_scores=False)
    assert plan(empty(genre=["Ambient"]), s, policy).after["genre"] == ["Rock"]
    assert "genre" not in plan(empty(genre=["Ambient"]), scores_for(), policy).after


def test_mode_per_category_overrides_global():
    s = scores_for(rock=0.9, happy=0.9)
    policy = TagPolicy(mode="fill", write_scores=False, rules={"mood": CategoryRule(mode="merge")})
    change = plan(empty(genre=["Ambient"], mood=["Calm"]), s, policy)
    assert "genre" not in change.after and change.after["mood"] == ["Calm", "Happy"]


def test_remap_and_disable_fields():
    s = scores_for(rock=0.9, guitar=0.9, **{"80s": 0.9})
    policy = TagPolicy(write_scores=False, fields={"instrument": "genre", "era": None})
    change = plan(scores=s, policy=policy)
    assert change.after == {"genre": ["Rock", "Guitar"]}


def test_accept_and_reject_overrides():
    s = scores_for(rock=0.9, pop=0.8, punk=0.7, jazz=0.6, blues=0.2)
    change = plan(scores=s, accept={"blues"}, reject={"Pop"})
    # Pop is rejected and Jazz (4th) does not move up; Blues is accepted below threshold.
    assert change.after["genre"] == ["Rock", "Punk", "Blues"]
    change = plan(scores=scores_for(female_vocalist=0.9), reject={"female vocalists"})
    assert "TAGATLAS_INSTRUMENTS" not in change.after       # rejecting either raw name drops the value


def test_scores_field_is_compact_json_with_model_name():
    s = scores_for(rock=0.98765)
    change = plan_changes(empty(), s, TAGS, "musicnn-msd", TagPolicy())
    value = change.after["TAGATLAS_SCORES"]
    assert len(value) == 1
    data = json.loads(value[0])
    assert data["model"] == "musicnn-msd" and list(data["scores"]) == [t.name for t in TAGS]
    assert data["scores"]["rock"] == 0.988 and data["scores"]["pop"] == 0.1
    assert ", " not in value[0] and ": " not in value[0]
    current = empty(custom={"TAGATLAS_SCORES": value})
    assert "TAGATLAS_SCORES" not in plan_changes(current, s, TAGS, "musicnn-msd", TagPolicy()).after
    other = plan_changes(current, s, TAGS, "other-model", TagPolicy())
    assert other.before["TAGATLAS_SCORES"] == value          # an earlier run's scores are replaced


def test_format_diff():
    assert plan().format_diff() == ""
    change = plan(empty(mood=["Calm"]), scores_for(rock=0.9, happy=0.9),
                  TagPolicy(mode="merge"))
    diff = change.format_diff()
    assert diff.splitlines()[0] == "/music/a.flac"
    assert "genre:" in diff and "(none) -> Rock" in diff
    assert "Calm -> Calm, Happy" in diff
    assert "scores of 50 tags from m" in diff
    assert "  mood:" in diff and change.format_diff(with_path=False).startswith("genre:")


def test_non_utf8_path_in_diff():
    ft = FileTags(path="/music/caf\udce9.mp3", format="MP3", tag_type="id3")
    diff = plan(ft, scores_for(rock=0.9)).format_diff()
    assert diff.splitlines()[0] == "/music/caf\\udce9.mp3"


def test_custom_vocabulary_and_other_category():
    tags = [TagInfo("shoegaze", "genre", "Shoegaze"), TagInfo("lofi", "other", "Lo-Fi")]
    s = np.array([0.9, 0.9])
    assert plan_changes(empty(), s, tags, "m", TagPolicy(write_scores=False)).after == {
        "genre": ["Shoegaze"]}
    policy = TagPolicy(write_scores=False, fields={"other": "TAGATLAS_OTHER"})
    assert plan_changes(empty(), s, tags, "m", policy).after["TAGATLAS_OTHER"] == ["Lo-Fi"]
    assert predicted_values(s, tags, policy)["other"] == ["Lo-Fi"]


def test_plan_is_pure():
    current = empty(genre=["Ambient"])
    before = current.to_dict()
    s = scores_for(rock=0.9)
    plan(current, s, TagPolicy(mode="merge"))
    assert current.to_dict() == before


@pytest.mark.parametrize("kwargs", [
    {"mode": "overwrite"}, {"id3_version": 2}, {"fields": {"genre": "TITLE"}},
    {"fields": {"era": "bad=name"}}, {"fields": {"tempo": "X"}},
    {"rules": {"genre": CategoryRule(max_count=1)}, "scores_field": "genre"},
    {"scores_field": "TAGATLAS_ERA"},
])
def test_policy_validation(kwargs):
    with pytest.raises(ValueError):
        TagPolicy(**kwargs)


def test_rule_validation_and_shape_errors():
    with pytest.raises(ValueError):
        CategoryRule(threshold=1.5)
    with pytest.raises(ValueError):
        CategoryRule(mode="sometimes")
    with pytest.raises(ValueError, match="scores for"):
        plan(scores=np.zeros(3))


def test_policy_and_change_serialise():
    policy = TagPolicy(mode="merge", id3_version=3, write_scores=False,
                       rules={"genre": CategoryRule(threshold=0.4, max_count=2)},
                       fields={"era": None, "instrument": "vocals"})
    again = TagPolicy.from_dict(json.loads(json.dumps(policy.to_dict())))
    assert again == policy and again.fields["instrument"] == "VOCALS"
    assert TagPolicy.from_dict({"mode": "replace"}).rule("genre").max_count == 2
    with pytest.raises(ValueError, match="unknown"):
        TagPolicy.from_dict({"colour": "red"})
    change = plan(scores=scores_for(rock=0.9))
    assert TagChange.from_dict(json.loads(json.dumps(change.to_dict()))) == change
