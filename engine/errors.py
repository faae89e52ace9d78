"""Named errors. Every failure the user can meet is one of these, with the path and a plain reason.

The GUI and CLI catch one base class per kind of failure (``AudioError``, ``ModelError``,
``MetadataError``, ``LibraryError``, ``ParameterError``, ``DeviceError``) and show ``str(error)``:
the file and why, in words. The command lines turn every :class:`TagAtlasError` into exit code 2
(:mod:`engine.cli.exit_codes`).
"""
from __future__ import annotations

import os
from pathlib import Path


def printable_path(path: str | os.PathLike) -> str:
    """A path as text any terminal or widget can show; undecodable bytes appear as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def without_paths(text: str, *paths: str | os.PathLike) -> str:
    """``text`` (a library's error message) with every mention of ``paths`` removed, plain or
    quoted as Python quotes them: the file is shown beside the message already."""
    for p in paths:
        p = os.fsdecode(p)
        text = text.replace(repr(p), "").replace(p, "")
    return text


class TagAtlasError(Exception):
    """Base of every error Tag Atlas raises on purpose."""


class ParameterError(TagAtlasError, ValueError):
    """A caller passed a value the engine cannot use (a length below 1, an unknown notation, a
    malformed setting). The message names the parameter and the value, in plain words. It is a
    ``ValueError`` too, so ``except ValueError`` keeps working."""


class DeviceError(TagAtlasError):
    """The requested compute device is not available: ``cuda`` on a machine without a usable
    NVIDIA GPU, a GPU number that does not exist, or a name that is no device."""


class FileError(TagAtlasError):
    """A problem with one file. ``path`` is the file, ``reason`` a plain sentence."""

    def __init__(self, path: str | os.PathLike | None, reason: str) -> None:
        self.path = Path(os.fsdecode(path)) if path is not None else None
        self.reason = reason
        super().__init__(f"{printable_path(self.path)}: {reason}" if path is not None else reason)

    @property
    def display_path(self) -> str:
        """The path as a printable string, even for names that are not valid UTF-8."""
        if self.path is None:
            return ""
        return printable_path(self.path)

    @property
    def kind(self) -> str:
        """A short machine-readable name for the kind of failure (stored in the library DB)."""
        return type(self).__name__

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.path, self.reason))


# --- audio -------------------------------------------------------------------------------
class AudioError(FileError):
    """The audio of a file could not be decoded."""


class EmptyFileError(AudioError):
    """The file has zero bytes."""


class UnreadableFileError(AudioError):
    """The file exists but cannot be opened (permissions, vanished, a folder)."""


class UnsupportedFormatError(AudioError):
    """The file is not audio in a format Tag Atlas decodes."""


class CorruptAudioError(AudioError):
    """The file looks like audio but its data is damaged or truncated."""


class TooShortAudioError(AudioError):
    """The file holds too little audio to analyse."""


class DecoderCrashError(AudioError):
    """The decoder process died while reading this file."""


def unreadable_from_oserror(path: str | os.PathLike, exc: OSError, *,
                            error: type[FileError] = UnreadableFileError,
                            action: str = "read") -> FileError:
    """The typed error for an ``OSError`` met while opening or reading ``path``, in the same
    words everywhere: the file is gone, is a folder, may not be read, or cannot be ``action``
    (``"read"``, ``"opened"``) for the system's reason. ``error`` is the class to build
    (:class:`UnreadableFileError`, or e.g. ``TagReadError`` for the tag reader). The caller
    raises it, usually ``from None``."""
    if isinstance(exc, FileNotFoundError):
        reason = "the file does not exist (moved or deleted?)"
    elif isinstance(exc, IsADirectoryError):
        reason = "this is a folder, not a file"
    elif isinstance(exc, PermissionError):
        reason = "permission denied: Tag Atlas may not read this file"
    else:
        reason = f"the file cannot be {action} ({exc.strerror or exc})"
    return error(path, reason)


# --- models ------------------------------------------------------------------------------
class ModelError(TagAtlasError):
    """A model bundle is missing, malformed or incompatible."""


class BundleNotFoundError(ModelError):
    pass


# --- metadata / library --------------------------------------------------------------------
class MetadataError(FileError):
    """Tags could not be read or written."""


class TagReadError(MetadataError):
    pass


class TagWriteError(MetadataError):
    pass


class LibraryError(TagAtlasError):
    """The library database cannot be opened or is inconsistent."""
