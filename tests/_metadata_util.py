"""Fixtures and the shared round-trip suite for the tag writers (tests/engine/test_metadata_*.py).

Every format's test class in ``test_metadata_formats.py`` sets ``kind`` and inherits
:class:`RoundTripSuite`. Expectations are checked with *plain mutagen* (and soundfile / PyAV for
the audio), never with the code under test.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import stat
from pathlib import Path

import av
import mutagen
import mutagen.aiff
import mutagen.flac
import mutagen.id3
import mutagen.mp3
import mutagen.mp4
import mutagen.wave
import numpy as np
import pytest
import soundfile as sf

from engine.errors import TagWriteError
from engine.metadata import (TagPolicy, apply_change, plan_changes, read_cover, read_tags,
                             restore_fields, try_apply_change)
from engine.metadata import safewrite
from engine.vocab import msd50_tag_infos

SR = 44100
DURATION_S = 0.5
MODEL = "test-model"

#: kind -> (file extension, tag family)
KINDS = {
    "mp3": (".mp3", "id3"), "aiff": (".aiff", "id3"), "wav": (".wav", "id3"),
    "flac": (".flac", "vorbis"), "ogg": (".ogg", "vorbis"), "opus": (".opus", "vorbis"),
    "m4a": (".m4a", "mp4"), "alac": (".m4a", "mp4"),
}
_SF = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
       "opus": ("OGG", "OPUS"), "mp3": ("MP3", "MPEG_LAYER_III"), "aiff": ("AIFF", "PCM_16")}
_CACHE: dict[str, bytes] = {}

COVER = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4      # bytes only; nobody decodes the image
TAGS = msd50_tag_infos()
MP4_MEAN = "----:com.apple.iTunes:"


def tone(sr: int = SR) -> np.ndarray:
    t = np.arange(int(sr * DURATION_S)) / sr
    rng = np.random.default_rng(0)
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _generate(kind: str, path: Path) -> None:
    if kind in _SF:
        fmt, sub = _SF[kind]
        sr = 48000 if kind == "opus" else SR
        sf.write(path, tone(sr), sr, format=fmt, subtype=sub)
        return
    codec, container = ("aac", "mp4") if kind == "m4a" else ("alac", "ipod")
    y = tone()
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=SR)
        stream.layout = "mono"
        if codec == "alac":
            frame = av.AudioFrame.from_ndarray((y * 32767).astype(np.int16)[None], format="s16p",
                                               layout="mono")
        else:
            frame = av.AudioFrame.from_ndarray(y[None], format="fltp", layout="mono")
        frame.sample_rate = SR
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def make_audio(kind: str, folder: Path, name: str | bytes = "track") -> Path | bytes:
    """A 0.5 s tone file of ``kind`` in ``folder`` (generated once per test process, then copied).

    ``name`` may be bytes (for names that are not UTF-8); the path is then returned as bytes.
    """
    ext = KINDS[kind][0]
    if kind not in _CACHE:
        tmp = folder / f".gen-{kind}{ext}"
        _generate(kind, tmp)
        _CACHE[kind] = tmp.read_bytes()
        tmp.unlink()
    if isinstance(name, bytes):
        path = os.fsencode(folder) + b"/" + name + ext.encode()
        with open(path, "wb") as fh:
            fh.write(_CACHE[kind])
        return path
    path = folder / f"{name}{ext}"
    path.write_bytes(_CACHE[kind])
    return path


# --- plain-mutagen helpers -------------------------------------------------------------------
def _id3_file(path):
    ext = os.path.splitext(os.fsdecode(path))[1].lower()
    cls = {".mp3": mutagen.mp3.MP3, ".aiff": mutagen.aiff.AIFF, ".wav": mutagen.wave.WAVE}[ext]
    return cls(path)


def seed_user_tags(path, family: str, *, genre: list[str] | None = None,
                   mood: list[str] | None = None, id3_version: int = 4, cover: bool = True) -> None:
    """Give a file a user's own tags (title, artist, comment, a custom field, cover, ...)."""
    if family == "id3":
        mf = _id3_file(path)
        if mf.tags is None:
            mf.add_tags()
        t = mf.tags
        enc = 3 if id3_version == 4 else 1
        t.add(mutagen.id3.TIT2(encoding=enc, text="My Title"))
        t.add(mutagen.id3.TPE1(encoding=enc, text="My Artist"))
        t.add(mutagen.id3.COMM(encoding=enc, lang="eng", desc="", text="my comment"))
        t.add(mutagen.id3.TXXX(encoding=enc, desc="MYFIELD", text="keep me"))
        if cover:
            t.add(mutagen.id3.APIC(encoding=enc, mime="image/png", type=3, desc="", data=COVER))
        if genre:
            t.add(mutagen.id3.TCON(encoding=enc, text=genre if id3_version == 4 else ["; ".join(genre)]))
        if mood:
            if id3_version == 4:
                t.add(mutagen.id3.TMOO(encoding=enc, text=mood))
            else:
                t.add(mutagen.id3.TXXX(encoding=enc, desc="MOOD", text="; ".join(mood)))
        if id3_version == 3:
            t.update_to_v23()
        mf.save(v2_version=id3_version)
    elif family == "vorbis":
        mf = mutagen.File(path)
        t = mf.tags
        t["TITLE"] = "My Title"
        t["ARTIST"] = "My Artist"
        t["COMMENT"] = "my comment"
        t["MYFIELD"] = "keep me"
        if genre:
            t["GENRE"] = genre
        if mood:
            t["MOOD"] = mood
        if cover:
            pic = mutagen.flac.Picture()
            pic.type, pic.mime, pic.data = 3, "image/png", COVER
            if isinstance(mf, mutagen.flac.FLAC):
                mf.add_picture(pic)
            else:
                t["METADATA_BLOCK_PICTURE"] = [base64.b64encode(pic.write()).decode("ascii")]
        mf.save()
    else:
        mf = mutagen.mp4.MP4(path)
        if mf.tags is None:
            mf.add_tags()
        t = mf.tags
        t["\xa9nam"] = ["My Title"]
        t["\xa9ART"] = ["My Artist"]
        t["\xa9cmt"] = ["my comment"]
        t[MP4_MEAN + "MYFIELD"] = [mutagen.mp4.MP4FreeForm(b"keep me")]
        if cover:
            t["covr"] = [mutagen.mp4.MP4Cover(COVER, imageformat=mutagen.mp4.MP4Cover.FORMAT_PNG)]
        if genre:
            t["\xa9gen"] = genre
        if mood:
            t[MP4_MEAN + "MOOD"] = [mutagen.mp4.MP4FreeForm(m.encode()) for m in mood]
        mf.save()


def plain_values(path, family: str, field: str) -> list[str] | None:
    """What a field holds, read with plain mutagen (None when absent). ID3 text is as stored."""
    mf = _id3_file(path) if family == "id3" else mutagen.File(path)
    t = mf.tags
    if t is None:
        return None
    if family == "id3":
        key = {"genre": "TCON", "mood": "TMOO"}.get(field, f"TXXX:{field}")
        return [str(x) for x in t[key].text] if key in t else None
    if family == "vorbis":
        key = field.upper()
        return list(t[key]) if key in t else None
    key = "\xa9gen" if field == "genre" else MP4_MEAN + ("MOOD" if field == "mood" else field)
    if key not in t:
        return None
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in t[key]]


def tag_snapshot(path, family: str):
    """Everything the file's tag holds, in a comparable form (None when there is no tag)."""
    if family == "id3":
        mf = _id3_file(path)
        if mf.tags is None:
            return None
        return {"version": mf.tags.version[:2],
                "frames": sorted(repr(f) for f in mf.tags.values())}
    mf = mutagen.File(path)
    pics = sorted((p.type, p.mime, p.data) for p in getattr(mf, "pictures", []) or [])
    if mf.tags is None:
        return {"tags": None, "pictures": pics}
    if family == "vorbis":
        return {"vendor": mf.tags.vendor, "pictures": pics,
                "comments": sorted((k.lower(), v) for k, v in mf.tags)}
    return {k: [(bytes(v), getattr(v, "dataformat", None), getattr(v, "imageformat", None))
                if isinstance(v, bytes) else v for v in vals]
            for k, vals in mf.tags.items()}


def decoded_audio(path) -> tuple[np.ndarray, list[bytes]]:
    """The decoded samples (and, for MP4, the raw audio packets) of a file."""
    name = os.fsdecode(path)
    if name.endswith(".m4a"):
        with av.open(name) as c:
            packets = [bytes(p) for p in c.demux(audio=0) if p.size]
        with av.open(name) as c:
            frames = [f.to_ndarray() for f in c.decode(audio=0)]
        return np.concatenate(frames, axis=1), packets
    data, _ = sf.read(name, dtype="float32", always_2d=True)
    return data, []


def scores_for(**named: float) -> np.ndarray:
    """A score vector: 0.1 everywhere except the named tags (underscores stand for spaces)."""
    s = np.full(len(TAGS), 0.1, dtype=np.float32)
    index = {t.name.lower(): i for i, t in enumerate(TAGS)}
    for name, value in named.items():
        s[index[name.replace("_", " ").lower()]] = value
    return s


#: Rock/Jazz (genre), Happy/Chillout (mood; "chill" and "chillout" merge), Female Vocals
#: ("female vocalist(s)" merge), 1980s (era).
SCORES = scores_for(rock=0.9, jazz=0.8, happy=0.85, chill=0.7, chillout=0.6,
                    female_vocalist=0.75, female_vocalists=0.65, **{"80s": 0.6})


def temp_leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if os.fsdecode(n).startswith(safewrite.TEMP_PREFIX)]


def mechanics_policy(**kw) -> TagPolicy:
    """The policy the format tests write with: up to 3 genres and moods, 2 instruments (vocals
    stay with the instruments, as in the model's own categories), no relative rule."""
    from engine.metadata import CategoryRule

    rules = {"genre": CategoryRule(max_count=3), "mood": CategoryRule(max_count=3),
             "instrument": CategoryRule(max_count=2)}
    return TagPolicy(rules=rules, **kw)


# --- the shared suite --------------------------------------------------------------------------
class RoundTripSuite:
    """Round-trip tests every format inherits; a subclass sets only ``kind``."""

    kind: str = ""

    @property
    def family(self) -> str:
        return KINDS[self.kind][1]

    def fresh(self, tmp_path: Path, name: str = "track") -> Path:
        return make_audio(self.kind, tmp_path, name)

    def plan(self, path, policy: TagPolicy | None = None, scores=SCORES, **kw):
        return plan_changes(read_tags(path), scores, TAGS, MODEL, policy or mechanics_policy(), **kw)

    def write(self, path, policy: TagPolicy | None = None, **kw):
        policy = policy or mechanics_policy()
        return apply_change(path, self.plan(path, policy, **kw), policy)

    # -- write and read back ----------------------------------------------------------------
    def test_write_reads_back_with_plain_mutagen(self, tmp_path):
        path = self.fresh(tmp_path)
        record = self.write(path)
        assert record.written
        assert plain_values(path, self.family, "genre") == ["Rock", "Jazz"]
        assert plain_values(path, self.family, "mood") == ["Happy", "Chillout"]
        assert plain_values(path, self.family, "TAGATLAS_INSTRUMENTS") == ["Female Vocals"]
        assert plain_values(path, self.family, "TAGATLAS_ERA") == ["1980s"]
        data = json.loads(plain_values(path, self.family, "TAGATLAS_SCORES")[0])
        assert data["model"] == MODEL
        assert len(data["scores"]) == len(TAGS) and data["scores"]["rock"] == 0.9

    def test_read_tags_sees_what_was_written(self, tmp_path):
        path = self.fresh(tmp_path)
        self.write(path)
        ft = read_tags(path)
        assert ft.tag_type == self.family
        assert ft.genre == ["Rock", "Jazz"] and ft.mood == ["Happy", "Chillout"]
        assert ft.get("TAGATLAS_ERA") == ["1980s"]
        assert ft.scores()["model"] == MODEL
        assert ft.duration_s == pytest.approx(DURATION_S, abs=0.1)
        assert not self.plan(path), "a second identical run must plan nothing"

    def test_write_scores_off(self, tmp_path):
        path = self.fresh(tmp_path)
        self.write(path, mechanics_policy(write_scores=False))
        assert plain_values(path, self.family, "TAGATLAS_SCORES") is None
        assert plain_values(path, self.family, "genre") == ["Rock", "Jazz"]

    def test_disabled_and_remapped_fields(self, tmp_path):
        path = self.fresh(tmp_path)
        self.write(path, mechanics_policy(fields={"era": None, "instrument": "VOCALS"}))
        assert plain_values(path, self.family, "TAGATLAS_ERA") is None
        assert plain_values(path, self.family, "TAGATLAS_INSTRUMENTS") is None
        assert plain_values(path, self.family, "VOCALS") == ["Female Vocals"]

    def test_review_overrides(self, tmp_path):
        path = self.fresh(tmp_path)
        self.write(path, accept={"Blues"}, reject={"jazz", "Chillout"})
        assert plain_values(path, self.family, "genre") == ["Rock", "Blues"]
        assert plain_values(path, self.family, "mood") == ["Happy"]

    # -- merge rules ------------------------------------------------------------------------
    def test_fill_keeps_the_users_genre(self, tmp_path):
        path = self.fresh(tmp_path)
        seed_user_tags(path, self.family, genre=["My Genre"])
        change = self.plan(path)
        assert "genre" not in change.after and change.after["mood"] == ["Happy", "Chillout"]
        apply_change(path, change, mechanics_policy())
        assert plain_values(path, self.family, "genre") == ["My Genre"]
        assert plain_values(path, self.family, "mood") == ["Happy", "Chillout"]

    def test_merge_keeps_user_values_first_without_duplicates(self, tmp_path):
        path = self.fresh(tmp_path)
        seed_user_tags(path, self.family, genre=["jazz", "Swing"], mood=["happy"])
        self.write(path, mechanics_policy(mode="merge"))
        assert plain_values(path, self.family, "genre") == ["jazz", "Swing", "Rock"]
        assert plain_values(path, self.family, "mood") == ["happy", "Chillout"]

    def test_replace(self, tmp_path):
        path = self.fresh(tmp_path)
        seed_user_tags(path, self.family, genre=["My Genre"])
        self.write(path, mechanics_policy(mode="replace"))
        assert plain_values(path, self.family, "genre") == ["Rock", "Jazz"]

    def test_users_own_tags_and_cover_survive(self, tmp_path):
        path = self.fresh(tmp_path)
        seed_user_tags(path, self.family, genre=["My Genre"])
        before = read_tags(path)
        self.write(path, mechanics_policy(mode="merge"))
        after = read_tags(path)
        assert (after.title, after.artist) == ("My Title", "My Artist")
        assert after.get("MYFIELD") == ["keep me"] == before.get("MYFIELD")
        assert after.has_cover and read_cover(path) == COVER
        comment = {"id3": "COMM::eng", "vorbis": "COMMENT", "mp4": "\xa9cmt"}[self.family]
        plain = _id3_file(path) if self.family == "id3" else mutagen.File(path)
        assert str(plain.tags[comment][0]) == "my comment"

    # -- undo -------------------------------------------------------------------------------
    def test_undo_restores_exactly(self, tmp_path):
        path = self.fresh(tmp_path)
        seed_user_tags(path, self.family, genre=["My Genre"], mood=["Calm"])
        snapshot = tag_snapshot(path, self.family)
        record = self.write(path, mechanics_policy(mode="merge"))
        assert tag_snapshot(path, self.family) != snapshot
        undo = restore_fields(path, record.before, after=record.after)
        assert undo.written
        assert tag_snapshot(path, self.family) == snapshot
        again = restore_fields(path, record.before, after=None)
        assert not again.written, "undoing twice changes nothing"

    def test_undo_on_untagged_file_removes_what_was_added(self, tmp_path):
        path = self.fresh(tmp_path)
        snapshot = tag_snapshot(path, self.family)
        record = self.write(path)
        restore_fields(path, record.before, after=record.after)
        assert tag_snapshot(path, self.family) == snapshot

    def test_undo_refuses_when_the_user_edited_since(self, tmp_path):
        path = self.fresh(tmp_path)
        record = self.write(path)
        record = type(record).from_dict(json.loads(json.dumps(record.to_dict())))  # as journaled
        seed_user_tags(path, self.family, genre=["Edited Later"], cover=False)
        with pytest.raises(TagWriteError, match="changed since"):
            restore_fields(path, record.before, after=record.after)
        assert plain_values(path, self.family, "genre") == ["Edited Later"]
        restore_fields(path, record.before, after=record.after, force=True)
        assert plain_values(path, self.family, "genre") is None

    def test_audio_untouched_by_write_and_undo(self, tmp_path):
        path = self.fresh(tmp_path)
        seed_user_tags(path, self.family, genre=["My Genre"])
        samples, packets = decoded_audio(path)
        record = self.write(path, mechanics_policy(mode="replace"))
        s2, p2 = decoded_audio(path)
        np.testing.assert_array_equal(s2, samples)
        assert p2 == packets
        restore_fields(path, record.before)
        s3, p3 = decoded_audio(path)
        np.testing.assert_array_equal(s3, samples)
        assert p3 == packets

    # -- safety -----------------------------------------------------------------------------
    def test_dry_run_touches_nothing(self, tmp_path):
        path = self.fresh(tmp_path)
        data, mtime = path.read_bytes(), path.stat().st_mtime_ns
        change = self.plan(path, mechanics_policy(mode="replace"))
        assert "genre:" in change.format_diff() and "(none) -> Rock, Jazz" in change.format_diff()
        assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime

    def test_read_only_file_is_reported_and_unchanged(self, tmp_path):
        path = self.fresh(tmp_path)
        change = self.plan(path)
        data = path.read_bytes()
        path.chmod(0o444)
        try:
            with pytest.raises(TagWriteError, match="read-only") as err:
                apply_change(path, change, mechanics_policy())
            assert err.value.path == path
            result = try_apply_change(path, change, mechanics_policy())
            assert isinstance(result, TagWriteError)
        finally:
            path.chmod(0o644)
        assert path.read_bytes() == data and not temp_leftovers(tmp_path)

    def test_read_only_folder_is_reported(self, tmp_path):
        folder = tmp_path / "ro"
        folder.mkdir()
        path = self.fresh(folder)
        change = self.plan(path)
        data = path.read_bytes()
        folder.chmod(0o555)
        try:
            with pytest.raises(TagWriteError, match="folder is read-only"):
                apply_change(path, change, mechanics_policy())
        finally:
            folder.chmod(0o755)
        assert path.read_bytes() == data

    def test_deleted_file_is_reported(self, tmp_path):
        path = self.fresh(tmp_path)
        change = self.plan(path)
        path.unlink()
        with pytest.raises(TagWriteError, match="no longer exists"):
            apply_change(path, change, mechanics_policy())
        assert not path.exists() and not temp_leftovers(tmp_path)

    def test_locked_file_is_reported(self, tmp_path):
        path = self.fresh(tmp_path)
        change = self.plan(path)
        data = path.read_bytes()
        with open(path, "rb") as holder:
            fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
            with pytest.raises(TagWriteError, match="locked"):
                apply_change(path, change, mechanics_policy())
        assert path.read_bytes() == data and not temp_leftovers(tmp_path)

    def test_interrupted_write_leaves_original_and_no_temp_file(self, tmp_path, monkeypatch):
        path = self.fresh(tmp_path)
        seed_user_tags(path, self.family)
        change = self.plan(path)
        data = path.read_bytes()
        seen = []

        def crash(src, dst):
            seen.append(Path(src).read_bytes())      # the complete new file was there
            raise KeyboardInterrupt

        monkeypatch.setattr(safewrite.os, "replace", crash)
        with pytest.raises(KeyboardInterrupt):
            apply_change(path, change, mechanics_policy())
        monkeypatch.undo()
        assert seen and seen[0] != data
        assert path.read_bytes() == data
        assert not temp_leftovers(tmp_path)

    def test_stale_preview_is_refused(self, tmp_path):
        path = self.fresh(tmp_path)
        change = self.plan(path)
        seed_user_tags(path, self.family, genre=["Set Meanwhile"], cover=False)
        data = path.read_bytes()
        with pytest.raises(TagWriteError, match="changed since the preview"):
            apply_change(path, change, mechanics_policy())
        assert path.read_bytes() == data

    def test_modification_time_preserved_on_request(self, tmp_path):
        path = self.fresh(tmp_path)
        os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_123_456_789))
        apply_change(path, self.plan(path), mechanics_policy(), preserve_mtime=True)
        assert path.stat().st_mtime_ns == 1_000_000_000_123_456_789
        other = self.fresh(tmp_path, "other")
        os.utime(other, ns=(1_000_000_000_000_000_000, 1_000_000_000_123_456_789))
        apply_change(other, self.plan(other), mechanics_policy())
        assert other.stat().st_mtime_ns != 1_000_000_000_123_456_789

    def test_permissions_kept(self, tmp_path):
        path = self.fresh(tmp_path)
        path.chmod(0o640)
        self.write(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640

    def test_symlink_target_is_written_and_link_kept(self, tmp_path):
        path = self.fresh(tmp_path)
        link = tmp_path / ("link" + path.suffix)
        link.symlink_to(path)
        self.write(link)
        assert link.is_symlink()
        assert plain_values(path, self.family, "genre") == ["Rock", "Jazz"]

    def test_non_utf8_and_very_long_names(self, tmp_path):
        ext = KINDS[self.kind][0].encode()
        for name in (b"caf\xe9-\xff-track", b"x" * (255 - len(ext))):
            path = make_audio(self.kind, tmp_path, name)
            record = self.write(path)
            assert plain_values(path, self.family, "genre") == ["Rock", "Jazz"]
            restore_fields(path, record.before, after=record.after)
            assert plain_values(path, self.family, "genre") is None
        assert not temp_leftovers(os.fsencode(tmp_path))
