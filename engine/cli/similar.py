"""``tagatlas similar FILE... [-k 10]``: the tracks that sound most like one or several files."""
from __future__ import annotations

import argparse
import json

from ..errors import LibraryError, ParameterError
from ..errors import printable_path as printable


def add_similarity_args(p: argparse.ArgumentParser) -> None:
    """Options shared by similar, playlist, path and map."""
    from ..similarity.embeddings import DEFAULT_KIND, EMBEDDING_KINDS

    p.add_argument("--model", default=None,
                   help="whose analyses to compare (default: musicnn-msd, or the model that "
                        "analysed the most tracks)")
    p.add_argument("--kind", default=DEFAULT_KIND, choices=EMBEDDING_KINDS,
                   help=f"which vector to compare: the model's penultimate layer or the tag "
                        f"scores, raw or transformed (default: {DEFAULT_KIND})")


def open_library(args: argparse.Namespace):
    from ..library import Library

    return Library(getattr(args, "db", None))


def resolve_tracks(lib, files, index) -> list[int]:
    """Track ids for FILE arguments; raises LibraryError naming the first that cannot be used."""
    ids = []
    for f in files:
        track = lib.get_track_by_path(f)
        if track is None:
            raise LibraryError(f"{printable(f)}: not in the library (run 'tagatlas scan' on its folder)")
        if track.id not in index:
            raise LibraryError(f"{printable(f)}: not analysed yet with this model "
                               "(run 'tagatlas scan' on its folder)")
        ids.append(track.id)
    return ids


def register(sub) -> None:
    p = sub.add_parser(
        "similar", help="list the tracks that sound most like a file",
        description="List the K library tracks whose embeddings are closest (cosine) to FILE's; "
                    "with several files, closest to their average. The files themselves are "
                    "never listed.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-k", type=int, default=10, metavar="K", help="how many tracks (default 10)")
    p.add_argument("--exclude-artist", action="store_true",
                   help="leave out tracks by the seeds' artists")
    p.add_argument("--exclude-album", action="store_true",
                   help="leave out tracks from the seeds' albums")
    p.add_argument("--bpm-within", type=float, default=None, metavar="PCT",
                   help="only tracks whose tempo is within PCT %% of the (first) seed's, or of "
                        "its double or half (e.g. 6)")
    p.add_argument("--harmonic", action="store_true",
                   help="only tracks in a key that mixes with the seed's (same, relative, a "
                        "fifth up or down: Camelot ±1)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_similarity_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..similarity.store import compatible_with, load_index

    if args.k < 1:   # the index returns nothing for k < 1; say why instead
        raise ParameterError(f"-k (how many tracks) must be at least 1, not {args.k}")
    with open_library(args) as lib:
        index, lv, meta = load_index(lib, args.model, args.kind)
        seeds = resolve_tracks(lib, args.files, index)
        only = compatible_with(lib, list(index.ids), seeds, bpm_within=args.bpm_within,
                               harmonic=args.harmonic)
        results = index.query(seeds, args.k, exclude_same_artist=args.exclude_artist,
                              exclude_same_album=args.exclude_album, only=only)
    if args.json:
        print(json.dumps({
            "model": lv.model, "kind": lv.kind,
            "seeds": [printable(meta[s].path) for s in seeds],
            "results": [{"path": printable(meta[r.id].path), "id": r.id,
                         "similarity": round(r.score, 4), "artist": meta[r.id].artist,
                         "title": meta[r.id].title} for r in results]},
            indent=2, ensure_ascii=False))
        return 0
    names = ", ".join(meta[s].display() for s in seeds)
    print(f"More like {names}  ({lv.model}, {lv.kind}; {len(index)} tracks)")
    if not results:
        print("  no other track with a compatible tempo or key" if only is not None else
              "  no other track to compare with")
    for rank, r in enumerate(results, 1):
        m = meta[r.id]
        print(f"{rank:3d}  {r.score:5.2f}  {m.display()}")
        print(f"           {printable(m.path)}")
    return 0
