"""``tagatlas`` command line.

Every sub-command is a module of this package named in :data:`COMMANDS` (the order of
``tagatlas --help``). A module defines ``register(subparsers)``, which adds its parser(s) with
``set_defaults(func=run)``, where ``run(args) -> int`` returns the exit code. To add a command,
write the module and add its name to :data:`COMMANDS` (``tests/test_cli_commands.py`` fails
until you do). Errors are printed in plain words, not tracebacks, by the error policy both
command lines share (:func:`engine.cli.exit_codes.run_cli`, the table in
:data:`engine.cli.exit_codes.EXIT_CODES`).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .exit_codes import EXIT_CODES_HELP, EXIT_FAILED, run_cli

#: The sub-command modules, in the order ``tagatlas --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "scan",        # scan
    "tag",         # tag
    "undo",        # undo
    "show",        # show
    "errors_cmd",  # errors
    "export",      # export
    "similar",     # similar
    "playlist",    # playlist, path
    "map",         # map
    "rhythm",      # rhythm
    "predict",     # predict
    "batch",       # batch
    "import_analyses",  # import
    "bench",       # bench
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagatlas",
        description="Tag Atlas: tag your music library with CNN taggers and explore it as a map.",
        epilog=EXIT_CODES_HELP)
    parser.add_argument("--db", default=None, metavar="PATH",
                        help="library database file (default: the user data folder; env TAGATLAS_DB)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_FAILED
    return run_cli("tagatlas", args.func, args)


if __name__ == "__main__":
    sys.exit(main())
