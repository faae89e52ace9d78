"""The library's search language: ``artist:beatles "love me" bpm:118-124 key:Am``, parsed
into filters and turned into the SQL condition of :meth:`engine.library.Library.query_tracks`."""
from __future__ import annotations

import os
import re
import shlex
from typing import Any, Iterable

from ..errors import LibraryError, ParameterError
from .conditions import Conditions
from .paths import under_range

QUERY_FIELDS = {
    "title": "title", "artist": "artist", "album": "album", "albumartist": "albumartist",
    "path": "path_text", "format": "format",
}


def parse_query(query: str | None) -> dict[str, list[str]]:
    """Split a search string into filters.

    ``artist:beatles "love me" status:analysed genre:rock`` gives
    ``{"artist": ["beatles"], "text": ["love me"], "status": ["analysed"], "genre": ["rock"]}``.
    Known fields: title, artist, album, albumartist, path, format, genre, mood, tag (genre or
    mood), status, id, bpm (``bpm:120`` or a range ``bpm:118-124``, the analysed tempo) and key
    (``key:Am``, ``key:8A``, the analysed key). Other words (and unknown ``x:y``) are free text matched against title,
    artist, album, album artist and path.
    """
    out: dict[str, list[str]] = {}
    if not query:
        return out
    try:
        tokens = shlex.split(query)
    except ValueError:  # an unbalanced quote: take the words as they are
        tokens = query.split()
    known = set(QUERY_FIELDS) | {"genre", "mood", "tag", "status", "id", "bpm", "key"}
    for tok in tokens:
        key, sep, value = tok.partition(":")
        if sep and key.lower() in known and value:
            out.setdefault(key.lower(), []).append(value)
        else:
            out.setdefault("text", []).append(tok)
    return out


def parse_bpm_filter(value: str) -> tuple[float, float]:
    """``"120"`` → ``(119.5, 120.5)`` (the tempo rounds to 120); ``"118-124"`` → ``(118, 124.5)``.
    Raises :class:`LibraryError` with the expected form."""
    text = value.strip().replace("–", "-")
    try:
        if "-" in text.strip("-"):
            lo, hi = (float(x) for x in text.split("-", 1))
            if lo > hi:
                lo, hi = hi, lo
            return lo, hi + 0.5
        v = float(text)
        return v - 0.5, v + 0.5
    except ValueError:
        raise LibraryError(f"bpm: needs a tempo such as 120 or a range such as 118-124, "
                           f"got {value!r}") from None


def parse_key_filter(value: str) -> tuple[int, str]:
    """A key in any notation Tag Atlas reads (``Am``, ``F# minor``, ``8A``, ``1m``), or
    :class:`LibraryError`."""
    from ..key import parse_key

    key = parse_key(value)
    if key is None:
        raise LibraryError(f"key: {value!r} is not a key (write it as Am, F#, Bbm, 8A or 1m)")
    return key


def like_pattern(value: str) -> str:
    """A ``LIKE ? ESCAPE '\\'`` pattern matching ``value`` anywhere, literally."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", value) + "%"


#: ``order_by`` of :meth:`Library.query_tracks` -> its SQL ``ORDER BY``
TRACK_ORDERS = {"path": "path", "title": "title COLLATE NOCASE, path",
                "artist": "artist COLLATE NOCASE, album COLLATE NOCASE, path",
                "album": "album COLLATE NOCASE, path", "added": "added_at, id", "id": "id"}


def track_conditions(query: str | None = None, *, text: str | None = None,
                     status: str | Iterable[str] | None = None, has_tag: str | None = None,
                     analysed_with: str | None = None, not_analysed_with: str | None = None,
                     under: str | os.PathLike | None = None, include_gone: bool = False,
                     ) -> tuple[list[str], list[Any]]:
    """The ``WHERE`` conditions and arguments selecting the tracks that match every filter given.

    The conditions are meant to be joined by AND (see :meth:`engine.library.Library.query_tracks`).

    Parameters
    ----------
    query : str, optional
        A search string (see :func:`parse_query`), e.g. ``artist:beatles "love me" bpm:118-124``.
    text : str, optional
        Words that must each appear in title, artist, album, album artist or path.
    status : str or iterable of str, optional
        One or several track statuses ("new", "analysed", "written", "error", "gone"); added to
        any ``status:`` in ``query``.
    has_tag : str, optional
        A genre or mood the file already carries (case-insensitive, the whole value).
    analysed_with : str, optional
        A model name: only tracks that have an analysis by it.
    not_analysed_with : str, optional
        A model name: only tracks that have no analysis by it.
    under : str or os.PathLike, optional
        A folder: only tracks inside it (at any depth).
    include_gone : bool, default False
        Keep tracks whose file is gone. When a status is asked for (here or in ``query``), the
        statuses decide instead and this is ignored.

    Returns
    -------
    tuple of (list of str, list)
        The SQL conditions (each parenthesised where needed) and their arguments, in order.

    Raises
    ------
    LibraryError
        For a ``bpm:``, ``key:`` or ``id:`` filter in ``query`` that cannot be read.
    """
    c = Conditions()
    q = parse_query(query)
    words = list(q.get("text", []))
    if text:
        words += text.split()
    for w in words:
        c.add("(title LIKE ? ESCAPE '\\' OR artist LIKE ? ESCAPE '\\' OR album LIKE ?"
              " ESCAPE '\\' OR albumartist LIKE ? ESCAPE '\\'"
              " OR path_text LIKE ? ESCAPE '\\')", *[like_pattern(w)] * 5)
    for key, column in QUERY_FIELDS.items():
        for v in q.get(key, []):
            c.add(f"{column} LIKE ? ESCAPE '\\'", like_pattern(v))
    for key in ("genre", "mood"):
        for v in q.get(key, []):
            c.add(f"EXISTS (SELECT 1 FROM json_each(tracks.{key}) j WHERE lower(j.value) = lower(?))", v)
    tags = list(q.get("tag", [])) + ([has_tag] if has_tag else [])
    for v in tags:
        c.add("(EXISTS (SELECT 1 FROM json_each(tracks.genre) j WHERE lower(j.value) = lower(?))"
              " OR EXISTS (SELECT 1 FROM json_each(tracks.mood) j WHERE lower(j.value) = lower(?)))", v, v)
    statuses = list(q.get("status", []))
    if status is not None:
        statuses += [status] if isinstance(status, str) else list(status)
    if statuses:
        c.add_in("status", statuses)
    elif not include_gone:
        c.add("status != 'gone'")
    for v in q.get("bpm", []):
        c.add("EXISTS (SELECT 1 FROM rhythm r WHERE r.track_id = tracks.id"
              " AND r.bpm >= ? AND r.bpm < ?)", *parse_bpm_filter(v))
    for v in q.get("key", []):
        c.add("EXISTS (SELECT 1 FROM rhythm r WHERE r.track_id = tracks.id"
              " AND r.key_tonic = ? AND r.key_mode = ?)", *parse_key_filter(v))
    ids = q.get("id", [])
    if ids:
        try:
            c.add_in("id", [int(i) for i in ids])
        except ValueError:
            raise LibraryError(f"id: needs a number, got {ids!r}") from None
    if analysed_with:
        c.add("EXISTS (SELECT 1 FROM analyses a WHERE a.track_id = tracks.id AND a.model = ?)", analysed_with)
    if not_analysed_with:
        c.add("NOT EXISTS (SELECT 1 FROM analyses a WHERE a.track_id = tracks.id AND a.model = ?)",
              not_analysed_with)
    if under is not None:
        c.add("path > ? AND path < ?", *under_range(under))
    return c.clauses, c.args


def order_clause(order_by: str) -> str:
    """The SQL ``ORDER BY`` for ``order_by``, or :class:`ParameterError` naming the choices."""
    if order_by not in TRACK_ORDERS:
        raise ParameterError(f"cannot order by {order_by!r}; use one of {sorted(TRACK_ORDERS)}")
    return TRACK_ORDERS[order_by]
