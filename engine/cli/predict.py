"""``tagatlas predict FILE...``: print each file's top tags (a table, or JSON with all scores)."""
from __future__ import annotations

import argparse
import json
import sys

from ._common import ProgressLine, printable
from .exit_codes import exit_code


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict tags for audio files (nothing is written)",
                       description="Predict tags for audio files and print them. Files are not changed.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", default=None, help="model bundle name or path (default: musicnn-msd)")
    p.add_argument("--top", type=int, default=5, metavar="N", help="tags to show per file (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON with every tag's score")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: up to 4)")
    p.add_argument("--max-patches", type=int, default=None, metavar="N",
                   help="fast mode for patch models: at most N patches spread over each track")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bundle import DEFAULT_MODEL
    from ..tagger import Tagger

    tagger = Tagger(args.model or DEFAULT_MODEL, device=args.device, workers=args.workers,
                    max_patches=args.max_patches)
    progress = ProgressLine(f"{tagger.name}:")
    try:
        results = tagger.tag_files(args.files, progress=progress)
    finally:
        progress.finish()
        tagger.close()
    failed = sum(not r.ok for r in results)
    if args.json:
        out = []
        for r in results:
            if r.ok:
                out.append({"path": printable(r.path), "model": r.model, "duration_s": round(r.duration_s, 3),
                            "n_patches": r.n_patches, "warnings": r.warnings,
                            "scores": {t.name: round(float(s), 6) for t, s in zip(tagger.tags, r.scores)}})
            else:
                out.append({"path": printable(r.path), "error": r.error.reason, "kind": r.error.kind})
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for r in results:
            print(printable(r.path))
            if not r.ok:
                print(f"  error: {r.error.reason}")
                continue
            for w in r.warnings:
                print(f"  note: {w}")
            for info, score in r.top(tagger.tags, args.top):
                print(f"  {score:6.3f}  {info.display:<22} ({info.category})")
    if failed:
        print(f"{failed} of {len(results)} files could not be analysed", file=sys.stderr)
    return exit_code(len(results) - failed, failed)
