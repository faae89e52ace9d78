"""``tagatlas errors``: the files that failed (to scan, decode, analyse or write) and why."""
from __future__ import annotations

import argparse
import json
import time

from ..errors import printable_path as printable
from .exit_codes import EXIT_OK
from .scan import open_library

_STAGES = {"scan": "could not be read", "decode": "could not be decoded",
           "analyse": "could not be analysed", "write": "tags could not be written"}


def register(sub) -> None:
    p = sub.add_parser("errors", help="list the files that failed and why",
                       description="List the files that failed during scanning, analysis or tag "
                                   "writing, with the reason in plain words.")
    p.add_argument("--stage", choices=tuple(_STAGES), default=None, help="only this stage")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        errors = lib.errors(stage=args.stage)
    if args.json:
        print(json.dumps([{"path": printable(e.path), "track_id": e.track_id, "stage": e.stage,
                           "kind": e.kind, "reason": e.reason, "at": e.at} for e in errors],
                         indent=2, ensure_ascii=False))
        return EXIT_OK
    if not errors:
        print("no errors recorded")
        return EXIT_OK
    for stage, label in _STAGES.items():
        these = [e for e in errors if e.stage == stage]
        if not these:
            continue
        print(f"{len(these)} {'file' if len(these) == 1 else 'files'} {label}:")
        for e in these:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.at))
            print(f"  {e.display_path}: {e.reason} [{e.kind}, {when}]")
    return EXIT_OK
