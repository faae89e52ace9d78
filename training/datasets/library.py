"""The user's own library: tracks that already carry genre and/or mood values.

Read from the library database (:class:`engine.library.Library`, filled by ``tagatlas scan``).
Each distinct genre value and each distinct mood value becomes a tag of category ``genre`` or
``mood`` (values are compared case-insensitively; the most common spelling is kept). Negatives
are honest: a track is a negative for genre tag *g* only if it has genre values and *g* is not
among them; tracks with no genre at all say nothing about genres (see
:func:`label_matrix`, which returns a mask for exactly that).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import numpy as np

from engine.vocab import TagInfo

from . import Catalog, Item, hash_split, split_multi

#: Separators inside one genre/mood value ("Rock; Pop", "Rock/Pop", "Rock, Pop").
VALUE_SEPARATORS = ";/,\x00"
LIBRARY_CATEGORIES = ("genre", "mood")


@dataclass(frozen=True)
class LabelledTrack:
    track_id: int
    path: str
    values: dict[str, tuple[str, ...]]      # category -> normalised (lower-case) values
    artist: str = ""
    album: str = ""

    @property
    def group(self) -> str:
        """Cross-validation group: tracks of one artist (else album) are never split across
        folds, so that a model cannot score by recognising the artist."""
        if self.artist.strip():
            return "artist:" + self.artist.strip().lower()
        if self.album.strip():
            return "album:" + self.album.strip().lower()
        return f"track:{self.track_id}"


def normalise_values(values: list[str] | tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for v in values:
        for part in split_multi(str(v), VALUE_SEPARATORS):
            key = " ".join(part.lower().split())
            if key and key not in out:
                out.append(key)
    return out


def labelled_tracks(db_path: str | os.PathLike | None = None) -> tuple[list[LabelledTrack], dict[str, str]]:
    """Tracks of the library DB that carry genre or mood, and ``{lower-case value: spelling}``."""
    from engine.library import Library

    tracks, spellings = [], Counter()
    with Library(db_path) as lib:
        for row in lib.query_tracks(order_by="id"):
            values = {}
            for cat, raw in (("genre", row.genre), ("mood", row.mood)):
                vals = normalise_values(raw or [])
                for r in raw or []:
                    for part in split_multi(str(r), VALUE_SEPARATORS):
                        spellings[(" ".join(part.lower().split()), " ".join(part.split()))] += 1
                if vals:
                    values[cat] = tuple(vals)
            if values:
                tracks.append(LabelledTrack(row.id, row.path, values, row.artist or "", row.album or ""))
    best: dict[str, tuple[int, str]] = {}
    for (key, spelled), n in spellings.items():
        if key not in best or n > best[key][0]:
            best[key] = (n, spelled)
    return tracks, {k: v for k, (_, v) in best.items()}


@dataclass
class Vocabulary:
    """Tags learnt from a library: ``(category, value)`` pairs in output order, and why others were refused."""

    tags: list[TagInfo]
    keys: list[tuple[str, str]]            # (category, lower-case value) per tag
    refused: list[tuple[str, str, str]]    # (category, value, reason)


def build_vocabulary(tracks: list[LabelledTrack], spellings: dict[str, str], *,
                     min_positives: int = 8, min_negatives: int = 8,
                     categories: tuple[str, ...] = LIBRARY_CATEGORIES) -> Vocabulary:
    """Every value with at least ``min_positives`` tracks carrying it and ``min_negatives``
    tracks labelled in the same category without it; ordered by category, then frequency."""
    tags, keys, refused = [], [], []
    for cat in categories:
        labelled = [t for t in tracks if cat in t.values]
        counts = Counter(v for t in labelled for v in t.values[cat])
        for value, pos in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            neg = len(labelled) - pos
            shown = spellings.get(value, value)
            if pos < min_positives:
                refused.append((cat, shown, f"only {pos} track(s) carry it; at least "
                                            f"{min_positives} are needed to learn it"))
            elif neg < min_negatives:
                refused.append((cat, shown, f"only {neg} track(s) with a {cat} lack it; at least "
                                            f"{min_negatives} counter-examples are needed"))
            else:
                keys.append((cat, value))
                tags.append(TagInfo(shown, cat, shown))   # the user's own spelling, as they wrote it
    return Vocabulary(tags, keys, refused)


def label_matrix(tracks: list[LabelledTrack], vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """``(y, mask)`` float32 ``[n_tracks, n_tags]``: labels, and 1 where the label is known."""
    y = np.zeros((len(tracks), len(vocab.keys)), np.float32)
    mask = np.zeros_like(y)
    for i, t in enumerate(tracks):
        for j, (cat, value) in enumerate(vocab.keys):
            if cat in t.values:
                mask[i, j] = 1.0
                y[i, j] = float(value in t.values[cat])
    return y, mask


def read_library(db_path: str | os.PathLike | None = None, *, min_positives: int = 8,
                 valid: float = 0.1, test: float = 0.1) -> Catalog:
    """A catalog of the library's labelled tracks (for a full CNN training with ``prepare``).

    The split is a stable hash of the path. Note: a CNN trained from scratch on a few hundred
    tracks overfits; ``training.learn_my_tags`` (a head on frozen embeddings) is the better tool
    for small libraries.
    """
    tracks, spellings = labelled_tracks(db_path)
    vocab = build_vocabulary(tracks, spellings, min_positives=min_positives, min_negatives=0)
    names: dict[tuple[str, str], str] = {}
    infos = []
    for k, t in zip(vocab.keys, vocab.tags):   # a value used as both genre and mood is one tag here
        if t.name not in names.values():
            infos.append(t)
        names[k] = t.name
    items = []
    for t in tracks:
        tags = tuple(names[(c, v)] for c, vs in t.values.items() for v in vs if (c, v) in names)
        items.append(Item(f"track-{t.track_id}", t.path, tags, hash_split(t.path, valid, test)))
    missing = [(f"{c}:{v}", why) for c, v, why in vocab.refused]
    notes = (f"the user's library ({len(tracks)} tracks with genre/mood); tags with at least "
             f"{min_positives} tracks; stable hash split {1 - valid - test:.0%}/{valid:.0%}/{test:.0%}")
    return Catalog("library", infos, items, missing, notes)
