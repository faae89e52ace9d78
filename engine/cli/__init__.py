"""``tagatlas`` command line. Sub-commands are modules of this package that define
``register(subparsers)``; each adds its parser with ``set_defaults(func=run)`` where
``run(args) -> int`` returns the exit code. Errors are printed in plain words, not tracebacks.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from ..errors import TagAtlasError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagatlas",
        description="Tag Atlas: tag your music library with CNN taggers and explore it as a map.")
    parser.add_argument("--db", default=None, metavar="PATH",
                        help="library database file (default: the user data folder; env TAGATLAS_DB)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except TagAtlasError as exc:
        print(f"tagatlas: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
