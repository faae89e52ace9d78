"""Playlists from the similarity index: smooth sequences from seeds, paths from A to B, M3U8.

Both builders work on a candidate pool (the tracks nearest the seeds' centroid, or nearest
the waypoints of a path), so their cost does not grow with the library beyond the one
matrix-vector product per pool query.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np

from engine.errors import ParameterError
from engine.safe_export import m3u_path, m3u_path_problem, m3u_title, visible
from engine.similarity.embeddings import l2_normalize
from engine.similarity.index import SimilarityIndex


def _as_list(seeds) -> list:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple, np.ndarray)):
        return [seeds]
    return list(seeds)


class _ArtistBudget:
    """Counts tracks per artist; unknown artists (negative codes) are each their own artist."""

    def __init__(self, codes: np.ndarray | None, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ParameterError(f"max_per_artist (tracks per artist) must be at least 1, not {limit}")
        if limit is not None and codes is None:
            raise ParameterError("max_per_artist needs the artists given to the index")
        self.codes, self.limit = codes, limit
        self.count: dict[int, int] = {}

    def take(self, pos: int) -> None:
        if self.codes is not None:
            c = int(self.codes[pos])
            self.count[c] = self.count.get(c, 0) + 1

    def full_mask(self, positions: np.ndarray) -> np.ndarray:
        """True where the candidate's artist has reached the limit."""
        if self.limit is None:
            return np.zeros(positions.shape[0], dtype=bool)
        full = [c for c, k in self.count.items() if k >= self.limit]
        return np.isin(self.codes[positions], full)


def smooth_playlist(index: SimilarityIndex, seeds: Hashable | Sequence[Hashable],
                    length: int = 25, *, pull: float = 0.35, max_per_artist: int | None = None,
                    include_seeds: bool = True, pool_size: int | None = None,
                    exclude: Sequence[Hashable] = ()) -> list[Hashable]:
    """A playlist of ``length`` track ids that starts at the seeds and moves smoothly.

    Each next track is the unvisited candidate that maximises
    ``(1 - pull) * cos(previous, t) + pull * cos(centroid of seeds, t)``: close to the track
    before it, and held near the seeds so the list does not drift into another genre.
    No track appears twice. The candidates are the ``pool_size`` tracks nearest the seeds'
    centroid; the playlist is shorter than ``length`` when they run out.

    Parameters
    ----------
    index : SimilarityIndex
        The tracks and their vectors.
    seeds : hashable or sequence of hashable
        One track id or several (each in ``index``).
    length : int, default 25
        Tracks in the playlist (at least 1).
    pull : float, default 0.35
        How strongly each step is held near the seeds, from 0 (only the previous track counts)
        to 1 (only the seeds count).
    max_per_artist : int, optional
        At most this many tracks per artist, seeds included (needs the artists given to the
        index); None: no limit.
    include_seeds : bool, default True
        The seeds open the playlist (and count towards ``length``).
    pool_size : int, optional
        Candidates to choose from; None: ``max(20 * length, 500)``.
    exclude : sequence of hashable, default ()
        Track ids never to add.

    Returns
    -------
    list of hashable
        The playlist's track ids, in order.

    Raises
    ------
    ParameterError
        When ``length`` < 1, ``pull`` is outside [0, 1], a seed is given twice, or
        ``max_per_artist`` is < 1 or given without artists in the index.
    KeyError
        When a seed is not in the index.
    """
    if length < 1:
        raise ParameterError(f"length (tracks in the playlist) must be at least 1, not {length}")
    if not 0.0 <= pull <= 1.0:
        raise ParameterError(f"pull must be between 0 and 1, not {pull:g}")
    seeds = _as_list(seeds)
    seed_pos = index.positions(seeds)
    if len(set(seed_pos.tolist())) != len(seed_pos):
        raise ParameterError("a seed is given twice")
    budget = _ArtistBudget(index.artist_codes(), max_per_artist)
    out: list[int] = []
    if include_seeds:
        for p in seed_pos[:length]:
            out.append(int(p))
            budget.take(int(p))
    need = length - len(out)
    if need <= 0:
        return [index.ids[p] for p in out]
    centroid = index.centroid(seed_pos)
    allowed = index.allowed_mask(seed_pos, exclude=exclude)
    pool_size = pool_size or max(20 * length, 500)
    pool = index.top_k(index.similarities(centroid), pool_size, allowed)
    if pool.size == 0:
        return [index.ids[p] for p in out]
    pool_vecs = index.vectors[pool]                        # [p, d]
    to_centroid = pool_vecs @ centroid                     # [p]
    used = np.zeros(pool.size, dtype=bool)
    previous = index.vectors[out[-1]] if out else centroid
    for _ in range(need):
        score = (1.0 - pull) * (pool_vecs @ previous) + pull * to_centroid
        score[used | budget.full_mask(pool)] = -np.inf
        j = int(np.argmax(score))
        if not np.isfinite(score[j]):
            break                                          # pool exhausted by the limits
        used[j] = True
        out.append(int(pool[j]))
        budget.take(int(pool[j]))
        previous = pool_vecs[j]
    return [index.ids[p] for p in out]


def _slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points along the great circle from unit vector a to unit vector b, at fractions t."""
    cos = float(np.clip(a @ b, -1.0, 1.0))
    omega = np.arccos(cos)
    if omega < 1e-4:  # (nearly) the same direction
        return l2_normalize(np.outer(1 - t, a) + np.outer(t, b))
    s = np.sin(omega)
    return l2_normalize((np.sin((1 - t) * omega)[:, None] * a + np.sin(t * omega)[:, None] * b) / s)


def path_playlist(index: SimilarityIndex, start: Hashable, end: Hashable, length: int = 12, *,
                  smoothness: float = 0.5, max_per_artist: int | None = None,
                  pool_per_waypoint: int = 50, exclude: Sequence[Hashable] = ()
                  ) -> list[Hashable]:
    """``length`` tracks from ``start`` to ``end`` (both included) that change gradually.

    Waypoints are spaced evenly along the great circle between the two embeddings. The
    sequence is filled from both ends towards the middle: the track for a waypoint is the
    unused one maximising ``cos(waypoint, t) + smoothness * cos(neighbour, t)``, where the
    neighbour is the track already placed next to it on that side. Building from both ends
    keeps each step short and puts an unavoidable jump (two styles with nothing between them
    in the library) in the middle, not at one end. The path is shorter than ``length`` when the
    candidates run out.

    Parameters
    ----------
    index : SimilarityIndex
        The tracks and their vectors.
    start : hashable
        The first track's id.
    end : hashable
        The last track's id (another track than ``start``).
    length : int, default 12
        Tracks in the path, ``start`` and ``end`` included (at least 2).
    smoothness : float, default 0.5
        The weight of the similarity to the neighbouring track against the similarity to the
        waypoint (0: follow the waypoints only).
    max_per_artist : int, optional
        At most this many tracks per artist, ``start`` and ``end`` included (needs the artists
        given to the index); None: no limit.
    pool_per_waypoint : int, default 50
        Candidates taken near each waypoint.
    exclude : sequence of hashable, default ()
        Track ids never to add.

    Returns
    -------
    list of hashable
        The path's track ids, from ``start`` to ``end``.

    Raises
    ------
    ParameterError
        When ``length`` < 2, ``start`` and ``end`` are the same track, or ``max_per_artist`` is
        < 1 or given without artists in the index.
    KeyError
        When ``start`` or ``end`` is not in the index.
    """
    if length < 2:
        raise ParameterError(f"length must be at least 2 for a path (its start and end), not {length}")
    a, b = index.position(start), index.position(end)
    if a == b:
        raise ParameterError("start and end are the same track: a path needs two different tracks")
    budget = _ArtistBudget(index.artist_codes(), max_per_artist)
    budget.take(a)
    budget.take(b)
    waypoints = _slerp(index.vectors[a], index.vectors[b], np.linspace(0, 1, length)[1:-1])
    slots: list[int | None] = [a] + [None] * waypoints.shape[0] + [b]
    if waypoints.shape[0] == 0:
        return [start, end]
    allowed = index.allowed_mask([a, b], exclude=exclude)
    # pool: the nearest tracks of every waypoint, one matrix product for all of them
    sims = waypoints @ index.vectors.T                   # [w, n]
    sims[:, ~allowed] = -np.inf
    kk = min(pool_per_waypoint, int(allowed.sum()))
    if kk == 0:
        return [start, end]
    near = np.argpartition(-sims, kk - 1, axis=1)[:, :kk] if kk < sims.shape[1] else \
        np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
    pool = np.unique(near)
    pool_vecs = index.vectors[pool]
    way_sims = sims[:, pool]                               # [w, p]
    used = np.zeros(pool.size, dtype=bool)
    left, right = 1, length - 2                            # next slots to fill
    from_left = True
    while left <= right:
        slot = left if from_left else right
        neighbour = slots[slot - 1] if from_left else slots[slot + 1]
        score = way_sims[slot - 1] + smoothness * (pool_vecs @ index.vectors[neighbour])
        score[used | budget.full_mask(pool)] = -np.inf
        j = int(np.argmax(score))
        if not np.isfinite(score[j]):
            break                                          # pool exhausted by the limits
        used[j] = True
        slots[slot] = int(pool[j])
        budget.take(int(pool[j]))
        if from_left:
            left += 1
        else:
            right -= 1
        from_left = not from_left
    return [index.ids[p] for p in slots if p is not None]


def step_distances(vectors: np.ndarray) -> np.ndarray:
    """Cosine distances between consecutive rows of a sequence: [len - 1]."""
    v = l2_normalize(np.asarray(vectors, dtype=np.float32))
    return 1.0 - np.sum(v[1:] * v[:-1], axis=1)


# --- M3U8 -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlaylistEntry:
    path: str | os.PathLike
    duration_s: float | None = None
    artist: str | None = None
    title: str | None = None

    def display(self) -> str:
        title = (self.title or "").strip() or Path(os.fsdecode(self.path)).stem
        artist = (self.artist or "").strip()
        return f"{artist} - {title}" if artist else title


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def playlist_paths_relative(playlist_file: str | os.PathLike,
                            tracks: Sequence[str | os.PathLike]) -> bool:
    """Whether a playlist saved at ``playlist_file`` should name ``tracks`` relatively.

    Yes when the playlist's folder and the tracks share a root: the tracks' common folder is
    a real folder (not ``/`` or a drive) and the playlist's folder is inside it or contains
    it, e.g. ``Music/Playlists/x.m3u8`` next to ``Music/Artist/Album/…``. Otherwise (the
    tracks are spread over drives, or the playlist is saved elsewhere) paths are absolute,
    so the playlist keeps working wherever it is copied on this machine.
    """
    folder = Path(os.path.abspath(os.fsdecode(playlist_file))).parent
    absolute = [os.path.abspath(os.fsdecode(t)) for t in tracks]
    if not absolute:
        return True
    try:
        common = Path(os.path.commonpath([os.path.dirname(t) for t in absolute]))
    except ValueError:  # different drives on Windows
        return False
    if common == Path(common.anchor):
        return False
    return _is_within(folder, common) or _is_within(common, folder)


@dataclass(frozen=True)
class M3U8Text:
    """An M3U8 playlist's text and the entries that could not be written in it:
    ``left_out`` holds (path, reason) pairs, e.g. ``"name contains a line break"``."""
    text: str
    written: int
    left_out: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class M3U8Written:
    """What :func:`write_m3u8` did: the file, how many entries it holds and which were left out."""
    path: Path
    written: int
    left_out: tuple[tuple[str, str], ...] = ()


def render_m3u8(entries: Sequence[PlaylistEntry], playlist_file: str | os.PathLike, *,
                paths: str = "auto") -> M3U8Text:
    """The text of an extended M3U playlist (UTF-8 when written) for ``entries``.

    ``paths``: "auto" (relative when :func:`playlist_paths_relative` says so), "relative"
    or "absolute". Entries whose path cannot be written as one M3U line (a line break in the
    name) are left out and listed in ``left_out``; titles lose their line breaks and a
    relative path starting with ``#`` is written ``./#…`` (see :mod:`engine.safe_export`).
    """
    if paths not in ("auto", "relative", "absolute"):
        raise ParameterError(f"paths must be 'auto', 'relative' or 'absolute', not {paths!r}")
    folder = os.path.dirname(os.path.abspath(os.fsdecode(playlist_file)))
    kept: list[tuple[PlaylistEntry, str]] = []
    left_out: list[tuple[str, str]] = []
    for e in entries:
        path = os.path.abspath(os.fsdecode(e.path))
        problem = m3u_path_problem(path)
        if problem is None:
            kept.append((e, path))
        else:
            left_out.append((path, problem))
    relative = paths == "relative" or (
        paths == "auto" and playlist_paths_relative(playlist_file, [p for _, p in kept]))
    lines = ["#EXTM3U"]
    for entry, path in kept:
        seconds = -1 if entry.duration_s is None else int(round(entry.duration_s))
        lines.append(f"#EXTINF:{seconds},{m3u_title(entry.display())}")
        if relative:
            try:
                path = os.path.relpath(path, folder)
            except ValueError:  # another drive
                pass
        lines.append(m3u_path(path))
    return M3U8Text("\n".join(lines) + "\n", len(kept), tuple(left_out))


def format_m3u8(entries: Sequence[PlaylistEntry], playlist_file: str | os.PathLike, *,
                paths: str = "auto") -> str:
    """Only the text of :func:`render_m3u8` (entries it cannot write are left out)."""
    return render_m3u8(entries, playlist_file, paths=paths).text


def write_m3u8(playlist_file: str | os.PathLike, entries: Sequence[PlaylistEntry], *,
               paths: str = "auto") -> M3U8Written:
    """Write ``entries`` to ``playlist_file`` as UTF-8 extended M3U. Entries that M3U cannot
    hold (see :func:`render_m3u8`) are left out and listed in the result: tell the user."""
    rendered = render_m3u8(entries, playlist_file, paths=paths)
    out = Path(os.fsdecode(playlist_file))
    out.parent.mkdir(parents=True, exist_ok=True)
    # surrogate-escaped (non-UTF-8) file names are written back as their original bytes
    out.write_bytes(rendered.text.encode("utf-8", "surrogateescape"))
    return M3U8Written(out, rendered.written, rendered.left_out)


def left_out_lines(left_out: Sequence[tuple[str, str]], limit: int = 10) -> list[str]:
    """One printable line per entry left out of a playlist ("left out: NAME: why"), at most
    ``limit`` and then a count of the rest."""
    from engine.errors import printable_path

    lines = [f"left out: {visible(printable_path(p))} ({why})" for p, why in left_out[:limit]]
    if len(left_out) > limit:
        lines.append(f"… and {len(left_out) - limit} more left out")
    return lines
