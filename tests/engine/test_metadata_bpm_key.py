"""BPM and key go where players read them (ID3 TBPM/TKEY, Vorbis BPM/INITIALKEY, MP4 tmpo and
freeform initialkey), under the same fill/replace policy and undo as the genres."""
from __future__ import annotations

import mutagen
import mutagen.id3
import pytest

from engine.metadata import TagPolicy, apply_change, plan_changes, read_tags, restore_fields
from engine.metadata.policy import rhythm_values
from tests._metadata_util import KINDS, MODEL, make_audio, scores_for, tag_snapshot
from engine.vocab import msd50_tag_infos

TAGS = msd50_tag_infos()


def _plan(path, policy, rhythm):
    return plan_changes(read_tags(path), scores_for(rock=0.9), TAGS, MODEL, policy, rhythm=rhythm)


def _raw(path, family):
    if family == "id3":
        mf = mutagen.id3.ID3(path) if str(path).endswith(".mp3") else mutagen.File(path).tags
        return str(mf["TBPM"].text[0]), str(mf["TKEY"].text[0])
    mf = mutagen.File(path)
    if family == "vorbis":
        return mf.tags["BPM"][0], mf.tags["INITIALKEY"][0]
    return mf.tags["tmpo"][0], bytes(mf.tags["----:com.apple.iTunes:initialkey"][0]).decode()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bpm_and_key_are_written_read_and_undone(kind, tmp_path):
    path = make_audio(kind, tmp_path)
    family = KINDS[kind][1]
    before = tag_snapshot(path, family)
    policy = TagPolicy()
    change = _plan(path, policy, {"bpm": "128", "key": "F#m"})
    assert change.after["bpm"] == ["128"] and change.after["key"] == ["F#m"]
    record = apply_change(path, change, policy)
    assert _raw(path, family) == ((128 if family == "mp4" else "128"), "F#m")
    tags = read_tags(path)
    assert tags.get("bpm") == ["128"] and tags.get("key") == ["F#m"]
    assert "BPM" not in tags.custom and "INITIALKEY" not in tags.custom
    restore_fields(path, record.before, after=record.after)
    assert tag_snapshot(path, family) == before


@pytest.mark.parametrize("kind", ["mp3", "flac", "m4a"])
def test_fill_never_overwrites_a_users_bpm_or_key(kind, tmp_path):
    path = make_audio(kind, tmp_path)
    policy = TagPolicy()
    apply_change(path, _plan(path, policy, {"bpm": "90", "key": "Am"}), policy)  # "the user's"
    again = _plan(path, policy, {"bpm": "180", "key": "C"})
    assert "bpm" not in again.after and "key" not in again.after
    replace = TagPolicy(mode="replace")
    forced = _plan(path, replace, {"bpm": "180", "key": "C"})
    assert forced.after["bpm"] == ["180"] and forced.before["bpm"] == ["90"]
    assert forced.after["key"] == ["C"]


def test_rhythm_values_follow_the_policy():
    p = TagPolicy()
    assert rhythm_values(p, bpm=127.6, bpm_confidence=0.9, key=(6, "minor"), key_confidence=0.5) == \
        {"bpm": "128", "key": "F#m"}
    assert rhythm_values(p, bpm=127.6, bpm_confidence=0.1) == {}         # below the floor
    cam = TagPolicy(key_notation="camelot", write_bpm=False)
    assert rhythm_values(cam, bpm=120, bpm_confidence=1, key=(9, "minor"), key_confidence=1) == {"key": "8A"}
    with pytest.raises(ValueError, match="bpm and key"):
        TagPolicy(fields={"genre": "bpm"})
    with pytest.raises(ValueError, match="key_notation"):
        TagPolicy(key_notation="sharp")
    assert TagPolicy.from_dict(TagPolicy(key_notation="openkey").to_dict()).key_notation == "openkey"
