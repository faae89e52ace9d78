"""Dataset readers on tiny fixtures written in the real formats of each data set."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.vocab import MSD50_TAGS
from training.datasets import hash_split
from training.datasets.library import build_vocabulary, label_matrix, labelled_tracks, read_library
from training.datasets.manifest import read_manifest
from training.datasets.msd import read_msd
from training.datasets.mtt import MTT_TOP50, folder_split, read_mtt


def _tone(path: Path, sr: int = 8000, seconds: float = 0.5) -> None:
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)


# --- MagnaTagATune -----------------------------------------------------------------------------
def _write_mtt(root: Path) -> None:
    """annotations_final.csv as distributed: tab-separated, every field quoted, 188 tag columns
    (here the 50 standard ones plus a few rare ones), mp3 paths in folders 0-f."""
    tags = list(MTT_TOP50) + ["jazz", "baroque", "eerie"]
    clips = [  # clip_id, mp3_path, tags
        ("2", "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-0-29.mp3", ["classical", "violin"]),
        ("6", "0/artist_a-album-01-song-30-59.mp3", ["guitar", "rock", "jazz"]),
        ("10", "b/artist_b-album-02-song-0-29.mp3", ["techno", "fast", "beat"]),
        ("12", "c/artist_c-album-03-song-0-29.mp3", ["piano", "quiet"]),
        ("15", "d/artist_d-album-04-song-0-29.mp3", ["baroque"]),            # no top-50 tag
        ("20", "e/artist_e-album-05-song-0-29.mp3", ["female vocal", "pop"]),  # audio missing
    ]
    with open(root / "annotations_final.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_ALL)
        w.writerow(["clip_id", *tags, "mp3_path"])
        for cid, path, ts in clips:
            w.writerow([cid, *("1" if t in ts else "0" for t in tags), path])
    for _cid, path, _ in clips[:-1]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / path, np.zeros(4000, np.float32), 16000)   # a real (silent) mp3


def test_mtt_reader_standard_tags_and_folder_split(tmp_path):
    _write_mtt(tmp_path)
    cat = read_mtt(tmp_path)
    assert cat.tag_names == list(MTT_TOP50)
    by_key = {it.key: it for it in cat.items}
    assert set(by_key) == {"mtt-2", "mtt-6", "mtt-10", "mtt-12", "mtt-15"}
    assert by_key["mtt-2"].split == "test" and by_key["mtt-6"].split == "train"
    assert by_key["mtt-10"].split == "train" and by_key["mtt-12"].split == "valid"
    assert by_key["mtt-6"].tags == ("guitar", "rock")            # jazz is not a top-50 tag
    assert by_key["mtt-15"].tags == ()                           # kept by default (Choi et al.)
    assert [k for k, _ in cat.missing] == ["mtt-20"]
    y = cat.multi_hot(by_key["mtt-2"])
    assert y.sum() == 2 and y[MTT_TOP50.index("violin")] == 1
    # categories and merged display names come from the app's vocabulary
    info = {t.name: t for t in cat.tags}
    assert info["no voice"].display == info["no vocals"].display
    assert info["classical"].category == "genre" and info["violin"].category == "instrument"


def test_mtt_reader_options(tmp_path):
    _write_mtt(tmp_path)
    dropped = read_mtt(tmp_path, drop_untagged=True)
    assert "mtt-15" not in {it.key for it in dropped.items}
    top = read_mtt(tmp_path, tags="top:3")
    assert len(top.tags) == 3
    assert read_mtt(tmp_path, tags=["jazz", "baroque"]).tag_names == ["jazz", "baroque"]
    with pytest.raises(ValueError, match="not in the annotations"):
        read_mtt(tmp_path, tags=["polka"])
    assert [folder_split(p) for p in ("0/x.mp3", "b/x.mp3", "c/x.mp3", "d/x.mp3", "f/x.mp3")] == \
        ["train", "train", "valid", "test", "test"]


def test_mtt_reader_rejects_other_csv(tmp_path):
    (tmp_path / "annotations_final.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="not a MagnaTagATune annotations file"):
        read_mtt(tmp_path)


# --- Million Song Dataset ----------------------------------------------------------------------
def _write_msd(split_dir: Path, audio: Path) -> dict[str, list[str]]:
    split_dir.mkdir()
    ids = {"train": ["TRAAAAK128F9318786", "TRAAAAW128F429D538", "TRAAABD128F429CF47"],
           "valid": ["TRAAADJ128F4287B47"], "test": ["TRAAAED128E0783FAB", "TRAAAEF128F4273421"]}
    sevend = {"TRAAAAK128F9318786": "5/5/5504670", "TRAAAAW128F429D538": "3/4/3401791",
              "TRAAABD128F429CF47": "3/4/3400270", "TRAAADJ128F4287B47": "2/9/2978496",
              "TRAAAED128E0783FAB": "1/8/18213", "TRAAAEF128F4273421": "3/2/3226795"}
    rng = np.random.default_rng(0)
    for split, lst in ids.items():
        (split_dir / f"{split}_x_msd_id.txt").write_text("\n".join(lst) + "\n")
        (split_dir / f"{split}_x_filename.txt").write_text("\n".join(sevend[i] + ".npy" for i in lst) + "\n")
        y = (rng.random((len(lst), 50)) < 0.2).astype(np.int64)
        y[0, 0] = 1   # rock
        np.save(split_dir / f"{split}_y.npy", y)
    # 7digital layout for most; one preview named by its MSD ID in the MSD A/B/C layout; one missing
    for tid, rel in sevend.items():
        if tid == "TRAAAEF128F4273421":
            continue
        if tid == "TRAAAED128E0783FAB":
            p = audio / "A" / "A" / "E" / f"{tid}.clip.mp3"
        else:
            p = audio / f"{rel}.clip.mp3"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, np.zeros(4000, np.float32), 16000)
    return ids


def test_msd_reader_choi_split(tmp_path):
    ids = _write_msd(tmp_path / "split", tmp_path / "audio")
    cat = read_msd(tmp_path / "split", tmp_path / "audio")
    assert cat.tag_names == list(MSD50_TAGS)
    assert cat.split_counts() == {"train": 3, "valid": 1, "test": 1}
    assert [k for k, _ in cat.missing] == ["TRAAAEF128F4273421"]
    by_key = {it.key: it for it in cat.items}
    assert by_key["TRAAAED128E0783FAB"].path.endswith("A/A/E/TRAAAED128E0783FAB.clip.mp3")
    assert by_key["TRAAAAK128F9318786"].path.endswith("5/5/5504670.clip.mp3")
    y = np.load(tmp_path / "split" / "train_y.npy")
    first = by_key[ids["train"][0]]
    assert first.tags == tuple(t for t, v in zip(MSD50_TAGS, y[0]) if v)
    assert "rock" in first.tags


def test_msd_reader_checks_label_shapes(tmp_path):
    _write_msd(tmp_path / "split", tmp_path / "audio")
    np.save(tmp_path / "split" / "valid_y.npy", np.zeros((3, 50)))
    with pytest.raises(ValueError, match="labels of shape"):
        read_msd(tmp_path / "split", tmp_path / "audio")
    (tmp_path / "split" / "test_y.npy").unlink()
    with pytest.raises(FileNotFoundError, match="MSD_split_for_tagging"):
        read_msd(tmp_path / "split", tmp_path / "audio")


# --- CSV manifest ------------------------------------------------------------------------------
def test_manifest_reader(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("x.wav", "y.wav", "z.wav"):
        _tone(tmp_path / "a" / name)
    abs_path = tmp_path / "a" / "z.wav"
    (tmp_path / "m.csv").write_text(
        "path,tags,split\n"
        "a/x.wav,rock; guitar,train\n"
        "a/y.wav,rock,\n"
        f"{abs_path},jazz,test\n"
        "a/missing.wav,rock,valid\n", encoding="utf-8")
    cat = read_manifest(tmp_path / "m.csv")
    assert cat.tag_names[0] == "rock"                      # most frequent first
    assert {t.name: t.category for t in cat.tags}["jazz"] == "genre"
    by_key = {it.key: it for it in cat.items}
    assert by_key["a/x.wav"].tags == ("rock", "guitar")
    assert by_key["a/y.wav"].split == hash_split("a/y.wav")   # stable split when none given
    assert by_key[str(abs_path)].path == str(abs_path)
    assert [k for k, _ in cat.missing] == ["a/missing.wav"]
    assert read_manifest(tmp_path / "m.csv", min_count=2).tag_names == ["rock"]


def test_manifest_reader_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("file,labels\nx.wav,a\n")
    with pytest.raises(ValueError, match="'path' and 'tags'"):
        read_manifest(tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("path,tags,split\nx.wav,a,training\n")
    with pytest.raises(ValueError, match="line 2: split 'training'"):
        read_manifest(tmp_path / "bad2.csv")


def test_hash_split_is_stable_and_roughly_80_10_10():
    splits = [hash_split(f"track{i}") for i in range(2000)]
    assert splits == [hash_split(f"track{i}") for i in range(2000)]
    share = {s: splits.count(s) / len(splits) for s in ("train", "valid", "test")}
    assert 0.75 < share["train"] < 0.85 and 0.07 < share["valid"] < 0.13 and 0.07 < share["test"] < 0.13


# --- the user's library ------------------------------------------------------------------------
def _library(tmp_path: Path) -> Path:
    from engine.library import Library

    db = tmp_path / "lib.sqlite3"
    rows = ([(["Shoegaze"], [])] * 9 + [(["shoegaze; Dream Pop"], ["Rainy"])] * 1 +
            [(["Lo-Fi"], ["rainy"])] * 10 + [([], ["Happy"])] * 9 + [([], [])] * 4)
    with Library(db) as lib:
        for i, (genre, mood) in enumerate(rows):
            p = tmp_path / f"t{i}.wav"
            _tone(p, seconds=0.1)
            lib.add_track(p, size=p.stat().st_size, mtime_ns=p.stat().st_mtime_ns,
                          metadata={"genre": genre, "mood": mood, "artist": f"a{i % 5}"})
    return db


def test_library_labels_vocabulary_and_masks(tmp_path):
    db = _library(tmp_path)
    tracks, spellings = labelled_tracks(db)
    assert len(tracks) == 29                                # 4 tracks carry nothing
    vocab = build_vocabulary(tracks, spellings, min_positives=8, min_negatives=8)
    # by category, then frequency (ties by name); "Rainy"/"rainy" merged, the common spelling kept
    assert [(t.category, t.name) for t in vocab.tags] == [("genre", "Lo-Fi"), ("genre", "Shoegaze"),
                                                          ("mood", "rainy"), ("mood", "Happy")]
    refused = {(c, v): why for c, v, why in vocab.refused}
    assert "only 1 track(s) carry it" in refused[("genre", "Dream Pop")]
    y, mask = label_matrix(tracks, vocab)
    assert mask[:, 0].sum() == 20                           # only tracks with some genre count
    assert y[:, 0].sum() == 10 and y[:, 1].sum() == 10
    assert mask[:, 2].sum() == 20 and y[:, 2].sum() == 11
    assert (y <= mask).all()
    strict = build_vocabulary(tracks, spellings, min_positives=8, min_negatives=10)
    assert "counter-examples" in {(c, v): w for c, v, w in strict.refused}[("mood", "rainy")]


def test_library_reader_catalog(tmp_path):
    db = _library(tmp_path)
    cat = read_library(db, min_positives=8)
    assert {t.name for t in cat.tags} == {"Shoegaze", "Lo-Fi", "rainy", "Happy"}
    assert len(cat.items) == 29
    assert any("Dream Pop" in k for k, _ in cat.missing)
