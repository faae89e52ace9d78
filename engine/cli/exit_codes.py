"""The exit codes and the error policy shared by both command lines, ``tagatlas``
(:mod:`engine.cli`) and ``tagatlas-train`` (:mod:`training.cli`); the README's table is
:data:`EXIT_CODES`."""
from __future__ import annotations

import sys
from typing import Callable

from ..errors import TagAtlasError, printable_path

# --- exit codes: one table for both command lines (the README shows the same) -----------------
EXIT_OK = 0             #: everything asked for was done
EXIT_SOME_FAILED = 1    #: done, but some files failed; each is listed with its reason
EXIT_FAILED = 2         #: nothing could be done: a wrong option or input, or every file failed
EXIT_INTERRUPTED = 130  #: stopped with Ctrl+C (128 + SIGINT, as shells report it)

EXIT_CODES = (
    (EXIT_OK, "all went well"),
    (EXIT_SOME_FAILED, "some files failed (each is listed with its reason)"),
    (EXIT_FAILED, "nothing could be done: a wrong option or input (said in plain words), or "
                  "every file failed"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl+C)"),
)
#: The table as the ``--help`` epilog of both command lines.
EXIT_CODES_HELP = "exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES)

#: What :func:`run_cli` reports in words and turns into :data:`EXIT_FAILED`: every error Tag
#: Atlas raises on purpose (:class:`~engine.errors.TagAtlasError`, which includes
#: ``ParameterError`` and ``DeviceError``), a named input that is not there, an output that
#: exists already. Anything else is a bug and keeps its traceback.
USAGE_ERRORS = (TagAtlasError, FileNotFoundError, FileExistsError)


def exit_code(n_ok: int, n_failed: int) -> int:
    """0 when nothing failed, 2 when everything attempted failed, else 1."""
    if n_failed == 0:
        return EXIT_OK
    return EXIT_FAILED if n_ok == 0 else EXIT_SOME_FAILED


def error_text(exc: BaseException) -> str:
    """An error in plain words: ``str(exc)``, or ``FILE: reason`` for an ``OSError`` raised by
    the system (not ``[Errno 2] No such file or directory: 'FILE'``)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{printable_path(exc.filename)}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def run_cli(prog: str, command: Callable[..., int | None], *args, interrupted_note: str = "") -> int:
    """Run ``command(*args)`` under the error policy of both command lines and return the exit
    code: the command's own (see :data:`EXIT_CODES`), :data:`EXIT_FAILED` with ``prog: reason``
    on stderr for :data:`USAGE_ERRORS`, :data:`EXIT_INTERRUPTED` for Ctrl+C (with
    ``interrupted_note``, e.g. how to resume)."""
    try:
        return int(command(*args) or EXIT_OK)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted" + (f"; {interrupted_note}" if interrupted_note else ""),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except USAGE_ERRORS as exc:
        print(f"{prog}: {error_text(exc)}", file=sys.stderr)
        return EXIT_FAILED
