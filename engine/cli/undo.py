"""``tagatlas undo [--last | FILE...]``: restore the tags a write replaced."""
from __future__ import annotations

import argparse

from ..errors import printable_path as printable
from .exit_codes import EXIT_FAILED, exit_code
from .scan import open_library


def register(sub) -> None:
    p = sub.add_parser(
        "undo", help="restore the tags Tag Atlas replaced (last write, or chosen files)",
        description="Put back exactly the tags that a 'tagatlas tag --write' replaced: of the last "
                    "write batch (--last), or of the most recent write to each FILE. A field you "
                    "changed yourself since the write is not overwritten unless --force.")
    p.add_argument("--last", action="store_true", help="undo the most recent write batch")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--force", action="store_true",
                   help="restore even fields that were changed after Tag Atlas wrote them")
    p.add_argument("--preserve-mtime", action="store_true", help="keep the files' modification times")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..library.writing import undo_files, undo_last_batch

    if args.last == bool(args.files):
        print("tagatlas undo: give either --last or one or more FILEs")
        return EXIT_FAILED
    with open_library(args) as lib:
        if args.last:
            out = undo_last_batch(lib, force=args.force, preserve_mtime=args.preserve_mtime)
        else:
            out = undo_files(lib, args.files, force=args.force, preserve_mtime=args.preserve_mtime)
    for p in out.restored:
        print(f"restored: {printable(p)}")
    for p in out.already:
        print(f"already as before: {printable(p)}")
    for f in out.failures:
        print(f"failed: {f}")
    what = f"write batch #{out.batch_id}" if out.batch_id is not None else "the chosen files"
    print(f"undo of {what}: {len(out.restored)} restored, {len(out.already)} already as before, "
          f"{len(out.failures)} failed")
    return exit_code(len(out.restored) + len(out.already), len(out.failures))
