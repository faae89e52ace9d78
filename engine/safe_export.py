"""How names and titles are written into exported text formats (M3U8 playlists, CSV), so
that a hostile or unlucky file name or tag cannot add, hide or run anything.

Pure functions, no I/O; every M3U8 and CSV writer of Tag Atlas goes through them.

M3U8 is line-based: a line starting with ``#`` is a directive or a comment, any other line
is one entry. So

- a *path* with a line break cannot be represented at all (players would read two lines,
  the second of which may be a forged ``#EXTINF`` or entry): :func:`m3u_path_problem` says
  why, and the writer leaves that entry out and tells the user;
- a relative path starting with ``#`` (or with white space, which players strip) is written
  as ``./#name`` so that it stays an entry;
- a *title* in an ``#EXTINF`` line has its line breaks and other control characters
  replaced by spaces (:func:`m3u_title`).

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with a single quote, the OWASP convention
(:func:`csv_cell`); the writer counts and reports them.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable

from .errors import ParameterError

# everything str.splitlines() breaks on: some readers split on more than \n and \r
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK_RE = re.compile(f"[{re.escape(LINE_BREAKS)}]")
_CONTROL_RE = re.compile(r"\r\n|[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")

LINE_BREAK_REASON = "name contains a line break"

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- M3U8 -------------------------------------------------------------------------------------
def has_line_break(text: str) -> bool:
    return _LINE_BREAK_RE.search(text) is not None


def m3u_title(text: str) -> str:
    """``text`` as the title part of an ``#EXTINF`` line: one line, no control characters
    (each line break or control character becomes a space; tabs are kept)."""
    return _CONTROL_RE.sub(" ", text).strip()


def m3u_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be an M3U8 entry (a plain sentence), or None when it can."""
    if not path:
        return "the path is empty"
    if has_line_break(path):
        return LINE_BREAK_REASON
    return None


def m3u_path(path: str) -> str:
    """``path`` (absolute or relative, without line breaks) as an M3U8 entry line: a relative
    path that would read as a comment (``#…``) or lose leading white space when players strip
    the line is written as ``./…``, which names the same file."""
    if m3u_path_problem(path) is not None:
        raise ParameterError(f"not representable in M3U8: {path!r}")
    if path[0] == "#" or path[0].isspace():
        return os.curdir + os.sep + path
    return path


def visible(text: str) -> str:
    """``text`` on one line for a message: control characters shown as escapes (``\\n``)."""
    return _CONTROL_RE.sub(lambda m: repr(m.group())[1:-1], text)


# --- CSV --------------------------------------------------------------------------------------
def needs_formula_escape(text: str) -> bool:
    return text.startswith(FORMULA_START)


def csv_cell(value: object) -> tuple[str, bool]:
    """``value`` as a CSV text cell that spreadsheets show as text, and whether it had to be
    escaped (a ``'`` put in front of a leading ``= + - @``, tab or carriage return)."""
    text = "" if value is None else str(value)
    if needs_formula_escape(text):
        return "'" + text, True
    return text, False


def csv_row(values: Iterable[object]) -> tuple[list[str], int]:
    """A row of text cells through :func:`csv_cell`, and how many of them were escaped."""
    cells, escaped = [], 0
    for v in values:
        cell, changed = csv_cell(v)
        cells.append(cell)
        escaped += changed
    return cells, escaped


def escaped_cells_note(count: int) -> str:
    """The sentence that tells the user about escaped cells (empty when none were)."""
    if not count:
        return ""
    cells = "cell starts" if count == 1 else "cells start"
    return (f"note: {count} {cells} with = + - @ or a control character; "
            f"a ' was put in front so spreadsheets show {'it' if count == 1 else 'them'} "
            f"as text, not as a formula")
