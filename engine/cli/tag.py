"""``tagatlas tag``: write predicted tags into files (a dry run unless ``--write``)."""
from __future__ import annotations

import argparse

from ..errors import ParameterError
from .exit_codes import EXIT_OK, exit_code
from .scan import PhaseProgress, open_library


def _pairs(values: list[str] | None, cast, what: str) -> dict[str, object]:
    from ..vocab import CATEGORIES

    out = {}
    for item in values or []:
        cat, sep, val = item.partition("=")
        cat = cat.strip().lower()
        if not sep or cat not in CATEGORIES:
            raise ParameterError(
                f"{what} needs CATEGORY=VALUE with CATEGORY one of {', '.join(CATEGORIES)}, not {item!r}")
        try:
            out[cat] = cast(val)
        except ValueError:
            raise ParameterError(f"{what} {item!r}: {val!r} is not a number") from None
    return out


def build_policy(args: argparse.Namespace):
    """The :class:`engine.metadata.TagPolicy` the options describe."""
    from ..metadata import CategoryRule, TagPolicy

    thresholds = _pairs(args.threshold, float, "--threshold")
    maxima = _pairs(args.max, int, "--max")
    base = TagPolicy()
    rules = {}
    for cat in set(thresholds) | set(maxima):
        rule = base.rule(cat)
        rules[cat] = CategoryRule(threshold=thresholds.get(cat, rule.threshold),
                                  max_count=maxima.get(cat, rule.max_count), mode=rule.mode,
                                  relative=rule.relative)
    return TagPolicy(mode=args.policy, rules=rules, id3_version=args.id3,
                     write_scores=not args.no_scores, write_bpm=not args.no_bpm,
                     write_key=not args.no_key, key_notation=args.key_notation)


def register(sub) -> None:
    p = sub.add_parser(
        "tag", help="write predicted tags into the files (dry run unless --write)",
        description="Write the predicted genre, mood, instrument and era tags, the tempo (BPM) "
                    "and the key of analysed tracks into their files. Without --write, only shows what "
                    "would change. Every write is journaled: 'tagatlas undo --last' restores the previous tags.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="show what would change (the default)")
    mode.add_argument("--write", action="store_true", help="write the tags")
    p.add_argument("--policy", choices=("fill", "merge", "replace"), default="fill",
                   help="fill: only empty fields (default); merge: add to the file's values; "
                        "replace: put the predictions in place of the file's values")
    p.add_argument("--id3", type=int, choices=(3, 4), default=4,
                   help="ID3v2 version for MP3/WAV/AIFF files that have no ID3 tag yet (default 4)")
    p.add_argument("--no-scores", action="store_true",
                   help="do not write the full score vector (the TAGATLAS_SCORES field)")
    p.add_argument("--no-bpm", action="store_true", help="do not write the tempo (BPM)")
    p.add_argument("--no-key", action="store_true", help="do not write the musical key")
    p.add_argument("--key-notation", choices=("standard", "camelot", "openkey"), default="standard",
                   help="how keys are written: standard (F#m, Bb; the default), camelot (11A) "
                        "or openkey (4m)")
    p.add_argument("--threshold", action="append", metavar="CAT=X",
                   help="minimum combined score for a category, e.g. genre=0.4 (repeatable; "
                        "default 0.5: each model tag's calibrated threshold)")
    p.add_argument("--max", action="append", metavar="CAT=N",
                   help="at most N tags of a category, e.g. mood=2 (repeatable)")
    p.add_argument("--preserve-mtime", action="store_true",
                   help="keep the files' modification times")
    p.add_argument("--model", default=None,
                   help="whose predictions to write: an analysis profile or a model (default: the "
                        "default profile's models the library was analysed with)")
    p.add_argument("query", nargs="*", metavar="QUERY",
                   help="which tracks: words to search, or field:value (artist:, album:, genre:, "
                        "status:, path:); default: every analysed track")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..library.predictions import choose_models
    from ..library.writing import plan_writes, write_planned

    policy = build_policy(args)    # ParameterError, in the policy's words, for a bad value
    query = " ".join(args.query) or None
    with open_library(args) as lib:
        models = choose_models(lib, args.model)
        model = " + ".join(models)
        seen: dict[int, object] = {}
        for m in models:
            for r in lib.query_tracks(query, analysed_with=m):
                seen.setdefault(r.id, r)
        rows = sorted(seen.values(), key=lambda r: r.path)
        if not rows:
            print(f"no track analysed with {model} matches" + (f" {query!r}" if query else ""))
            return EXIT_OK
        progress = PhaseProgress()
        try:
            plan = plan_writes(lib, [r.id for r in rows], policy, model=models,
                               progress=lambda d, t, p: progress("plan", d, t, p))
        finally:
            progress.finish()
        for pw in plan.changes:
            print(pw.format_diff())
        if not args.write:
            print(f"dry run ({model}, policy {policy.mode}): {len(plan.changes)} files would change, "
                  f"{len(plan.unchanged)} already have these tags, {len(plan.failures)} could not be read")
            for f in plan.failures:
                print(f"failed: {f}")
            if plan.changes:
                print("nothing was written; run again with --write to write these tags")
            return exit_code(len(plan.changes) + len(plan.unchanged), len(plan.failures))
        progress = PhaseProgress()
        try:
            out = write_planned(lib, plan, preserve_mtime=args.preserve_mtime,
                                progress=lambda d, t, p: progress("write", d, t, p))
        finally:
            progress.finish()
    failed = len(out.failures)
    print(f"wrote tags to {len(out.written)} files ({model}, policy {policy.mode}); "
          f"{len(plan.unchanged)} already had them; {failed} failed")
    for f in out.failures:
        print(f"failed: {f}")
    if out.written:
        print("to restore the previous tags: tagatlas undo --last")
    return exit_code(len(out.written) + len(plan.unchanged), failed)
