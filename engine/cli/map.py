"""``tagatlas map``: compute (or update) the 2-D map of the library and draw it as a PNG."""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from ..errors import printable_path as printable
from .similar import add_similarity_args, open_library


def register(sub) -> None:
    p = sub.add_parser(
        "map", help="compute the library map (t-SNE) and draw it",
        description="Lay the analysed tracks out in 2-D so that similar-sounding tracks sit "
                    "together (t-SNE of their embeddings). The map is cached in the library; "
                    "tracks analysed since are placed into it without moving the others. "
                    "--recompute lays everything out afresh.")
    p.add_argument("--png", metavar="FILE.png", help="draw the map to this PNG file")
    p.add_argument("--color-by", default="genre", metavar="WHAT",
                   help="'genre' (top predicted genre, the default), 'album' or 'artist' (from "
                        "the files' tags), or a tag name such as 'rock' or 'female vocals' "
                        "(its predicted score)")
    p.add_argument("--recompute", action="store_true", help="run t-SNE again on every track")
    p.add_argument("--regions", type=int, default=None, metavar="N",
                   help="number of labelled regions (default: from the library size)")
    p.add_argument("--title", default=None, help="title of the PNG")
    p.add_argument("--json", metavar="FILE.json",
                   help="also write the coordinates and region labels as JSON")
    add_similarity_args(p)
    p.set_defaults(func=run)


class _Progress:
    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            sys.stderr.write(f"\rlaying out the map: iteration {done}/{total} "
                             f"({time.perf_counter() - self.start:.0f} s) ")
            sys.stderr.flush()
            if done >= total:
                sys.stderr.write("\n")


def _tag_columns(tags, what: str) -> list[int]:
    key = what.strip().casefold()
    cols = [j for j, t in enumerate(tags) if key in (t.name.casefold(), t.display.casefold())]
    if not cols:  # "female vocals" matches both raw spellings through the display name
        cols = [j for j, t in enumerate(tags) if t.display.casefold().startswith(key)]
    return cols


def _colouring(args, lv, meta, track_ids):
    """(categories, values, legend title) for render_map."""
    from ..similarity.render import top_labels

    what = args.color_by.strip().casefold()
    if what == "genre":
        names = [t.display for t in lv.tags]
        use = [t.category == "genre" for t in lv.tags]
        if not any(use):
            use = None
        return top_labels(lv.scores, names, use=use), None, "top genre"
    if what in ("album", "artist"):
        from ..similarity.render import OTHER

        raw = np.array([getattr(meta[int(t)], what) or OTHER for t in track_ids], dtype=object)
        counts = {v: int((raw == v).sum()) for v in set(raw.tolist())}
        keep = sorted((v for v in counts if v != OTHER), key=lambda v: -counts[v])[:12]
        raw[~np.isin(raw, keep)] = OTHER
        return raw, None, what
    cols = _tag_columns(lv.tags, args.color_by)
    label = lv.tags[cols[0]].display
    return None, lv.scores[:, cols].max(axis=1), f"{label} score"


def run(args: argparse.Namespace) -> int:
    from ..similarity.render import render_map
    from ..similarity.store import (load_vectors, map_regions, track_meta, update_map,
                                    with_predicted_tags)

    with open_library(args) as lib:
        lv = load_vectors(lib, args.model, args.kind)
        # positions from lv's vectors; colours and region names from the combined predictions
        # (the tags the library table shows and tag --write writes), or lv's own tags
        labelled = with_predicted_tags(lib, lv)
        what = args.color_by.strip().casefold()
        if args.png and what not in ("genre", "album", "artist"):
            if not _tag_columns(labelled.tags, args.color_by):
                labelled = lv if _tag_columns(lv.tags, args.color_by) else labelled
            if not _tag_columns(labelled.tags, args.color_by):
                known = ", ".join(sorted({t.display for t in labelled.tags}))
                print(f"tagatlas map: {args.color_by!r} is not a tag of {lv.model} "
                      f"(its tags: {known})", file=sys.stderr)
                return 2
        result = update_map(lib, lv, recompute=args.recompute, progress=_Progress())
        meta = track_meta(lib, lv.track_ids)
    if result.recomputed:
        print(f"map of {len(lv)} tracks computed in {result.seconds:.1f} s "
              f"({lv.model}, {lv.kind})")
    else:
        print(f"map of {len(lv)} tracks ({lv.model}, {lv.kind}): "
              f"{result.n_placed_now} new placed in {result.seconds:.1f} s")
        if result.suggest_recompute:
            print(f"note: {result.placed_fraction:.0%} of the map was placed incrementally; "
                  "'tagatlas map --recompute' lays it out afresh")
    regions = map_regions(labelled, result.coords, n_regions=args.regions) \
        if (args.png or args.json) else []
    if args.png:
        cats, values, legend = _colouring(args, labelled, meta, result.track_ids)
        title = args.title or f"Tag Atlas — {len(lv)} tracks, coloured by {legend}"
        out = render_map(args.png, result.coords, categories=cats, values=values,
                         value_label=legend, regions=regions, title=title)
        print(f"drawn to {printable(out)}")
    if args.json:
        from pathlib import Path

        doc = {"model": lv.model, "kind": lv.kind, "layout_id": result.layout_id,
               "points": [{"id": int(t), "path": printable(meta[int(t)].path),
                           "x": round(float(x), 3), "y": round(float(y), 3)}
                          for t, (x, y) in zip(result.track_ids, result.coords)
                          if int(t) in meta],
               "regions": [{k: v for k, v in r.to_dict().items() if k != "members"}
                           for r in regions]}
        Path(args.json).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"coordinates written to {printable(args.json)}")
    return 0
