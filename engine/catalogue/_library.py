"""The library scanner's own helpers the catalogue reuses (the content fingerprint, the folder
walk, the tag reader), wherever the library package keeps them: they are being moved out of
``engine.library.scanner`` into ``reading`` and ``walk``; the functions stay the same."""
from __future__ import annotations


def content_fingerprint(path):
    """The library scanner's content fingerprint (so an import matches files by content)."""
    try:
        from ..library.reading import content_fingerprint as fn
    except ImportError:
        from ..library.scanner import content_fingerprint as fn
    return fn(path)


def walk_audio_files(roots, **kwargs):
    try:
        from ..library.walk import walk_audio_files as fn
    except ImportError:
        from ..library.scanner import walk_audio_files as fn
    return fn(roots, **kwargs)


def why_not_a_file(mode: int) -> str:
    try:
        from ..library.walk import why_not_a_file as fn
    except ImportError:
        from ..library.scanner import why_not_a_file as fn
    return fn(mode)


def read_file_metadata(path):
    """The file's tags as the scanner stores them (``.fields``, ``.duration_s``, ``.format``)."""
    try:
        from ..library.reading import read_file_metadata as fn
    except ImportError:
        from ..library.scanner import read_file_metadata as fn
    return fn(path)


def cut_short_fraction() -> float:
    try:
        from ..library.analysing import CUT_SHORT_FRACTION
    except ImportError:
        from ..library.scanner import CUT_SHORT_FRACTION
    return float(CUT_SHORT_FRACTION)
