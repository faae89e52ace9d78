"""``tagatlas import ANALYSES``: bring the Parquet results of ``tagatlas batch`` into the library."""
from __future__ import annotations

import argparse

from ..errors import printable_path as printable
from .scan import EXIT_FAILED, EXIT_OK, EXIT_SOME_FAILED, PhaseProgress, open_library


def register(sub) -> None:
    p = sub.add_parser(
        "import", help="bring the results of 'tagatlas batch' (Parquet) into the library",
        description="Import the analyses of 'tagatlas batch' into the library without analysing "
                    "again. Each file is matched by path, or by content (size and fingerprint) "
                    "when it moved since the batch; a file that is on this machine but not yet in "
                    "the library is added as a scan adds it, so a later 'tagatlas scan' finds it "
                    "unchanged. Needs pyarrow: pip install \"tagatlas[batch]\".")
    p.add_argument("sources", nargs="+", metavar="ANALYSES",
                   help="batch output folders (of part-*.parquet files) or Parquet files")
    p.add_argument("--map-prefix", action="append", default=[], metavar="OLD=NEW",
                   help="the music was at OLD where the batch ran and is at NEW here, e.g. "
                        "/mnt/nas/music=/home/me/Music (repeatable)")
    p.add_argument("--replace", action="store_true",
                   help="replace analyses the library already has by the same model (default: keep them)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..catalogue.importer import import_analyses

    progress = PhaseProgress()
    with open_library(args) as lib:
        try:
            s = import_analyses(lib, args.sources, path_map=args.map_prefix, replace=args.replace,
                                progress=lambda d, t, p: progress("import", d, t, p))
        finally:
            progress.finish()
    print(f"{s.files} files in the results ({', '.join(s.models) or 'no models'}): {s.imported} imported "
          f"({s.new_tracks} new tracks, {s.matched_path} matched by path, {s.matched_content} by "
          f"content), {s.analyses} analyses and {s.rhythm} tempo/key analyses stored, "
          f"{s.errors} files with errors recorded")
    if s.kept:
        print(f"note: {s.kept} analyses the library already had were kept (--replace replaces them)")
    for path, why in s.stale[:20]:
        print(f"not imported: {printable(path)}: {why}")
    if len(s.stale) > 20:
        print(f"... and {len(s.stale) - 20} more changed since the batch")
    for path in s.not_found[:20]:
        print(f"not found: {printable(path)}: not in the library and not on this machine "
              f"(scan its folder first, or use --map-prefix OLD=NEW)")
    if len(s.not_found) > 20:
        print(f"... and {len(s.not_found) - 20} more not found")
    if s.cancelled:
        return EXIT_SOME_FAILED
    if s.files and not s.imported:
        return EXIT_FAILED
    return EXIT_SOME_FAILED if (s.stale or s.not_found) else EXIT_OK
