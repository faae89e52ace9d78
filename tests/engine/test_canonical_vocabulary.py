"""The one Tag Atlas vocabulary: every model tag of every bundled model has a meaning, synonyms
fold, non-genres go to their own category, and the tables are checked when read."""
from __future__ import annotations

import pytest

from engine.bundle import list_bundles, read_bundle_info
from engine.canonical import (ancestors, canonical_for, canonical_tags, model_tag_map,
                              parse_canonical_tags, parse_model_tags)
from engine.vocab import CATEGORIES, TagInfo


def test_every_bundled_model_tag_is_in_the_table():
    table = model_tag_map()
    for info in list_bundles():
        if info.path is None or "resources" not in str(info.path):
            continue
        for t in info.tags:
            assert t.name.casefold() in table, f"{info.name}: {t.name!r} is not in model_tags.csv"


@pytest.mark.parametrize("raw, expect, category", [
    ("female vocalist", "female_vocals", "vocals"), ("female vocalists", "female_vocals", "vocals"),
    ("chill", "chillout", "genre"), ("chillout", "chillout", "genre"),
    ("hiphop", "hiphop", "genre"), ("Hip-Hop", "hiphop", "genre"),
    ("instrumental", "instrumental", "vocals"), ("beautiful", "beautiful", "mood"),
    ("oldies", "oldies", "era"), ("film", "soundtrack", "genre"), ("relaxing", "calm", "mood"),
    ("Mellow", "calm", "mood"), ("classic", "classical", "genre"), ("00s", "2000s", "era"),
])
def test_synonyms_fold_and_non_genres_go_elsewhere(raw, expect, category):
    c = canonical_for(TagInfo(raw, "genre", raw))
    assert c is not None and c.id == expect and c.category == category


def test_jamendo_genres_the_msd_vocabulary_lacks_are_there():
    ids = {canonical_for(t).id for t in read_bundle_info("jamendo-musicnn").tags}
    assert {"classical", "orchestral", "soundtrack", "world", "reggae", "techno", "trance"} <= ids
    assert canonical_tags()["orchestral"].parent == "classical"
    assert ancestors("techno") == ["electronic"]


def test_categories_and_displays_are_sane():
    tags = canonical_tags()
    assert {t.category for t in tags.values()} <= set(CATEGORIES)
    displays = [t.display.casefold() for t in tags.values()]
    assert len(displays) == len(set(displays)), "two canonical tags share a display name"


def test_an_unknown_tag_becomes_its_own_canonical_tag():
    c = canonical_for(TagInfo("shoegaze", "genre", "Shoegaze"))
    assert (c.id, c.category, c.display) == ("shoegaze", "genre", "Shoegaze")


def test_tables_are_checked():
    row = {"id": "rock", "category": "genre", "display": "Rock", "parent": ""}
    with pytest.raises(ValueError, match="twice"):
        parse_canonical_tags([row, row])
    with pytest.raises(ValueError, match="category"):
        parse_canonical_tags([{**row, "category": "colour"}])
    with pytest.raises(ValueError, match="parent"):
        parse_canonical_tags([{**row, "parent": "nothing"}])
    known = parse_canonical_tags([row])
    with pytest.raises(ValueError, match="unknown canonical"):
        parse_model_tags([{"raw_tag": "x", "canonical": "polka"}], known)
    assert parse_model_tags([{"raw_tag": "Noise", "canonical": ""}], known) == {"noise": None}
