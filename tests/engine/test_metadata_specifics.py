"""Format-specific writer behaviour and bad input: ID3 versions and ID3v1, damaged tags, files
whose content does not match their extension, MP4 freeform atoms, and the safety helpers."""
from __future__ import annotations

import json
import os
import time

import mutagen
import mutagen.flac
import mutagen.id3
import mutagen.mp4
import numpy as np
import pytest

from tests._metadata_util import (SCORES, TAGS, mechanics_policy, decoded_audio, make_audio, plain_values,
                            seed_user_tags, temp_leftovers)
from engine.errors import MetadataError, TagReadError, TagWriteError
from engine.metadata import (FileTags, TagChange, WriteRecord, apply_change,
                             format_for, plan_changes, read_cover, read_tags,
                             remove_stale_temp_files, restore_fields, supported_extensions,
                             try_read_tags)
from engine.metadata import safewrite


def write(path, policy=None, **kw):
    policy = policy or mechanics_policy()
    return apply_change(path, plan_changes(read_tags(path), SCORES, TAGS, "m", policy, **kw), policy)


# --- ID3 versions ------------------------------------------------------------------------------
def test_id3v24_uses_tmoo_and_nul_separated_values(tmp_path):
    path = make_audio("mp3", tmp_path)
    write(path)
    tags = mutagen.id3.ID3(path, translate=False)
    assert tags.version == (2, 4, 0)
    assert tags["TMOO"].text == ["Happy", "Chillout"] and not tags.getall("TXXX:MOOD")
    assert tags["TCON"].text == ["Rock", "Jazz"]
    assert tags["TCON"].encoding == mutagen.id3.Encoding.UTF8


def test_id3v23_uses_txxx_mood_and_joins_values(tmp_path):
    path = make_audio("mp3", tmp_path)
    record = write(path, mechanics_policy(id3_version=3))
    tags = mutagen.id3.ID3(path, translate=False)
    assert tags.version == (2, 3, 0)
    assert "TMOO" not in tags
    assert tags["TXXX:MOOD"].text == ["Happy; Chillout"]
    assert tags["TCON"].text == ["Rock; Jazz"]
    assert tags["TXXX:TAGATLAS_INSTRUMENTS"].text == ["Female Vocals"]
    assert tags["TCON"].encoding == mutagen.id3.Encoding.UTF16      # v2.3 has no UTF-8
    assert record.before["state"] == {"had_tags": False, "id3_version": 3}
    ft = read_tags(path)
    assert ft.id3_version == "2.3" and ft.get("genre") == ["Rock", "Jazz"]
    assert ft.get("mood") == ["Happy", "Chillout"]
    assert not plan_changes(ft, SCORES, TAGS, "m", mechanics_policy(id3_version=3)), "idempotent in v2.3"


def test_existing_v23_tag_keeps_its_version_and_frames(tmp_path):
    path = make_audio("mp3", tmp_path)
    tags = mutagen.id3.ID3()
    tags.add(mutagen.id3.TIT2(encoding=1, text="Old"))
    tags.add(mutagen.id3.TYER(encoding=0, text="1999"))
    tags.add(mutagen.id3.TDAT(encoding=0, text="3112"))
    tags.add(mutagen.id3.TCON(encoding=1, text="Rock; Pop"))
    tags.save(path, v2_version=3)
    before = mutagen.id3.ID3(path, translate=False)
    write(path, mechanics_policy(mode="merge", id3_version=4))
    after = mutagen.id3.ID3(path, translate=False)
    assert after.version == (2, 3, 0)
    for key in ("TIT2", "TYER", "TDAT"):
        assert repr(after[key]) == repr(before[key])
    assert after["TCON"].text == ["Rock; Pop; Jazz"]      # merged, kept in the file's v2.3 style
    assert after["TXXX:MOOD"].text == ["Happy; Chillout"] and "TMOO" not in after


def test_mood_goes_where_the_file_already_keeps_it(tmp_path):
    path = make_audio("mp3", tmp_path)
    tags = mutagen.id3.ID3()
    tags.add(mutagen.id3.TXXX(encoding=3, desc="MOOD", text=["Calm"]))   # Mp3tag style, in v2.4
    tags.save(path)
    record = write(path, mechanics_policy(mode="merge"))
    tags = mutagen.id3.ID3(path)
    assert "TMOO" not in tags and tags["TXXX:MOOD"].text == ["Calm", "Happy", "Chillout"]
    restore_fields(path, record.before, after=record.after)
    assert mutagen.id3.ID3(path)["TXXX:MOOD"].text == ["Calm"]


def test_id3v1_tag_is_left_byte_for_byte(tmp_path):
    path = make_audio("mp3", tmp_path)
    v1 = (b"TAG" + b"V1 Title".ljust(30, b"\0") + b"V1 Artist".ljust(30, b"\0")
          + b"V1 Album".ljust(30, b"\0") + b"1987" + b"v1 comment".ljust(30, b"\0") + bytes([255]))
    with open(path, "ab") as fh:
        fh.write(v1)
    assert read_tags(path).title == "V1 Title"           # players show the v1 title
    samples, _ = decoded_audio(path)
    record = write(path)
    assert path.read_bytes()[-128:] == v1
    v2 = mutagen.id3.ID3(path, load_v1=False)
    assert "TIT2" not in v2, "v1 values must not be copied into the new v2 tag"
    assert v2["TCON"].text == ["Rock", "Jazz"]
    restore_fields(path, record.before, after=record.after)
    assert path.read_bytes()[-128:] == v1
    with pytest.raises(mutagen.id3.ID3NoHeaderError):
        mutagen.id3.ID3(path, load_v1=False)              # the v2 tag we created is gone again
    np.testing.assert_array_equal(decoded_audio(path)[0], samples)


# --- damaged and odd files ------------------------------------------------------------------
@pytest.mark.parametrize("header", [
    b"ID3\x04\x00\x00\xff\xff\xff\xff",                  # size not synchsafe
    b"ID3\x04\x00\x00\x00\x7f\x7f\x7f" + b"\0" * 20,     # size past the end of the file
    b"ID3\x09\x00\x00\x00\x00\x00\x10" + b"\0" * 16,     # ID3v2.9
], ids=["not-synchsafe", "size-past-end", "bad-version"])
def test_damaged_id3_header_is_refused_without_touching_the_file(tmp_path, header):
    clean = make_audio("mp3", tmp_path, "clean")
    path = tmp_path / "damaged.mp3"
    path.write_bytes(header + clean.read_bytes())
    data = path.read_bytes()
    with pytest.raises(TagReadError, match="ID3 tag is damaged"):
        read_tags(path)
    change = TagChange(str(path), {}, {"genre": ["Rock"]})
    with pytest.raises(TagWriteError, match="ID3 tag is damaged.*nothing was written") as err:
        apply_change(path, change, mechanics_policy())
    assert ".tagatlas-" not in str(err.value)
    assert path.read_bytes() == data and not temp_leftovers(tmp_path)


def test_junk_inside_a_valid_id3_header_is_written_over_safely(tmp_path):
    clean = make_audio("mp3", tmp_path, "clean")
    junk = bytes(np.random.default_rng(1).integers(0, 256, 128, dtype=np.uint8))
    path = tmp_path / "junk.mp3"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x01\x00" + junk + clean.read_bytes())
    samples, _ = decoded_audio(clean)
    write(path)
    assert plain_values(path, "id3", "genre") == ["Rock", "Jazz"]
    np.testing.assert_array_equal(decoded_audio(path)[0], samples)


@pytest.mark.parametrize("name,data,reason", [
    ("empty.flac", b"", "the file is empty"),
    ("random.mp3", bytes(range(256)) * 8, "no MP3 audio was found"),
    ("random.flac", bytes(range(256)) * 8, "not a readable FLAC file"),
    ("random.m4a", b"\0\0\0\x20ftypM4A " + bytes(range(200)), "not a readable MP4 file"),
    ("truncated.ogg", b"OggS\0\x02" + b"\0" * 30, "not a readable Ogg file"),
    ("notes.txt", b"hello", "does not read or write tags in .txt files"),
])
def test_bad_files_are_clear_per_file_errors(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(TagReadError, match=reason):
        read_tags(path)
    result = try_read_tags(path)
    assert isinstance(result, TagReadError) and isinstance(result, MetadataError)
    assert result.path == path and reason in result.reason
    with pytest.raises(TagWriteError):
        apply_change(path, TagChange(str(path), {}, {"genre": ["Rock"]}), mechanics_policy())
    assert path.read_bytes() == data


def test_folder_and_missing_file_read_errors(tmp_path):
    (tmp_path / "dir.mp3").mkdir()
    with pytest.raises(TagReadError, match="folder"):
        read_tags(tmp_path / "dir.mp3")
    with pytest.raises(TagReadError, match="does not exist"):
        read_tags(tmp_path / "gone.mp3")


def test_content_wins_over_a_wrong_extension(tmp_path):
    flac = make_audio("flac", tmp_path)
    path = tmp_path / "really_flac.mp3"
    flac.rename(path)
    assert format_for(path).name == "FLAC"
    samples, _ = decoded_audio(path)
    write(path)
    assert path.read_bytes()[:4] == b"fLaC", "no ID3 header may be written in front of a FLAC file"
    assert mutagen.flac.FLAC(path)["GENRE"] == ["Rock", "Jazz"]
    np.testing.assert_array_equal(decoded_audio(path)[0], samples)


def test_opus_inside_dot_ogg(tmp_path):
    opus = make_audio("opus", tmp_path)
    path = tmp_path / "opus_inside.ogg"
    opus.rename(path)
    assert read_tags(path).format == "OggOpus"
    write(path)
    assert mutagen.File(path)["GENRE"] == ["Rock", "Jazz"]


def test_mp4_freeform_atoms_are_itunes_utf8(tmp_path):
    path = make_audio("m4a", tmp_path)
    write(path)
    tags = mutagen.mp4.MP4(path).tags
    mood = tags["----:com.apple.iTunes:MOOD"]
    assert [bytes(v) for v in mood] == [b"Happy", b"Chillout"]
    assert all(v.dataformat == mutagen.mp4.AtomDataType.UTF8 for v in mood)
    assert tags["\xa9gen"] == ["Rock", "Jazz"]
    data = json.loads(bytes(tags["----:com.apple.iTunes:TAGATLAS_SCORES"][0]))
    assert set(data) == {"model", "scores"}


def test_cover_and_untagged_reads(tmp_path):
    path = make_audio("flac", tmp_path)
    assert read_cover(path) is None and not read_tags(path).has_cover
    ogg = make_audio("ogg", tmp_path)
    seed_user_tags(ogg, "vorbis")
    assert read_tags(ogg).has_cover and read_cover(ogg).startswith(b"\x89PNG")


# --- records and safety helpers ----------------------------------------------------------------
def test_write_record_is_plain_json(tmp_path):
    path = make_audio("mp3", tmp_path)
    record = write(path)
    data = json.loads(json.dumps(record.to_dict()))
    again = WriteRecord.from_dict(data)
    assert again.fields_after["genre"] == ["Rock", "Jazz"] and again.fields_before["genre"] == []
    assert again.before["keys"]["TCON"] is None and again.after["keys"]["TCON"]["text"] == ["Rock", "Jazz"]
    assert again.format == "MP3" and again.model == "m" and again.written
    restore_fields(path, again.before, after=again.after)
    assert mutagen.File(path).tags is None


def test_empty_change_writes_nothing(tmp_path):
    path = make_audio("wav", tmp_path)
    data, mtime = path.read_bytes(), path.stat().st_mtime_ns
    record = apply_change(path, TagChange(str(path)), mechanics_policy())
    assert not record.written
    assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime


def test_hard_links_are_reported(tmp_path):
    path = make_audio("flac", tmp_path)
    os.link(path, tmp_path / "twin.flac")
    record = write(path)
    assert any("hard links" in w for w in record.warnings)
    assert mutagen.File(tmp_path / "twin.flac").tags.get("GENRE") is None


def test_restore_refuses_another_format(tmp_path):
    mp3 = make_audio("mp3", tmp_path)
    flac = make_audio("flac", tmp_path)
    record = write(mp3)
    with pytest.raises(TagWriteError, match="journal entry is for MP3"):
        restore_fields(flac, record.before)


def test_stale_temp_files_are_cleaned(tmp_path):
    import fcntl

    stale = tmp_path / ".tagatlas-abcd1234.tmp"
    held = tmp_path / ".tagatlas-efgh5678.tmp"               # a live write holds its lock
    others = [tmp_path / ".tagatlas-notes.tmp", tmp_path / "song.mp3", tmp_path / ".tagatlas-ab.tmp"]
    for p in (stale, held, *others):
        p.write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == []          # created within the grace second
    time.sleep(safewrite.UNLOCKED_GRACE_S + 0.05)
    with open(held, "rb") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        assert remove_stale_temp_files(tmp_path) == [stale]  # unlocked: at once, no minute's wait
    assert held.exists() and all(p.exists() for p in others) and not stale.exists()


def test_clean_up_never_takes_the_file_of_a_write_in_progress(tmp_path):
    """The temporary copy's modification time is the original's (often years old), so age alone
    cannot tell; the write's lock does."""
    path = make_audio("flac", tmp_path)
    os.utime(path, (time.time() - 10 * 365 * 86400,) * 2)
    seen = {}

    def edit(tmp):
        seen["removed"] = remove_stale_temp_files(tmp_path, older_than_s=0)
        seen["tmp_exists"] = os.path.exists(tmp)
        mutagen.flac.FLAC(tmp).save()

    safewrite.atomic_rewrite(path, edit)
    assert seen == {"removed": [], "tmp_exists": True}
    assert not temp_leftovers(tmp_path)


def test_registry_covers_the_decoded_formats():
    exts = supported_extensions()
    for ext in (".mp3", ".flac", ".ogg", ".oga", ".opus", ".wav", ".aif", ".aiff", ".m4a",
                ".mp4", ".m4b"):
        assert ext in exts


def test_filetags_round_trip_and_split():
    ft = FileTags("/x.mp3", "MP3", "id3", genre=["Rock; Pop", "Jazz"],
                  custom={"TAGATLAS_SCORES": ['{"model":"m","scores":{"a;b":0.5}}']})
    assert ft.get("genre") == ["Rock", "Pop", "Jazz"] and ft.genre == ["Rock; Pop", "Jazz"]
    assert ft.get("tagatlas_scores") == ft.custom["TAGATLAS_SCORES"]     # never split
    assert ft.scores()["scores"] == {"a;b": 0.5}
    assert FileTags.from_dict(json.loads(json.dumps(ft.to_dict()))) == ft


def test_plan_file_reads_then_plans(tmp_path):
    from engine.metadata import plan_file
    path = make_audio("wav", tmp_path)
    change = plan_file(path, SCORES, TAGS, "m", mechanics_policy())
    assert change.after["genre"] == ["Rock", "Jazz"] and change.path == str(path)


def test_killed_writer_leaves_the_original_intact(tmp_path):
    """A writer process killed (SIGKILL) just before the swap: original intact, temp file cleanable."""
    import subprocess
    import sys
    path = make_audio("flac", tmp_path)
    data = path.read_bytes()
    code = (
        "import os, signal, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from engine.metadata import safewrite, plan_file, apply_change\n"
        "from engine.vocab import msd50_tag_infos\n"
        "import numpy as np\n"
        "safewrite.os.replace = lambda a, b: os.kill(os.getpid(), signal.SIGKILL)\n"
        "tags = msd50_tag_infos()\n"
        "apply_change(sys.argv[1], plan_file(sys.argv[1], np.full(len(tags), 0.9), tags, 'm'))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", code, str(path), root], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    assert path.read_bytes() == data
    left = temp_leftovers(tmp_path)
    assert len(left) == 1                      # the killed write's temp file, hidden
    time.sleep(safewrite.UNLOCKED_GRACE_S)     # no lock holds it: removed at once, not after 60 s
    assert remove_stale_temp_files(tmp_path) == [tmp_path / left[0]]
    assert not temp_leftovers(tmp_path)
