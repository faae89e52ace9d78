"""``tagatlas playlist SEED...`` and ``tagatlas path A B``: playlists from the similarity map,
kept in the library and optionally saved as M3U8."""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import printable_path as printable
from .similar import add_similarity_args, open_library, resolve_tracks


def _add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE.m3u8", help="also write an M3U8 playlist")
    p.add_argument("--paths", choices=("auto", "relative", "absolute"), default="auto",
                   help="paths in the M3U8: relative when the playlist is saved inside the "
                        "music folder (auto, the default), or always relative/absolute")
    p.add_argument("--name", help="name of the playlist kept in the library")
    p.add_argument("--no-save", action="store_true", help="do not keep it in the library")
    p.add_argument("--max-per-artist", type=int, default=None, metavar="N",
                   help="at most N tracks by one artist")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_similarity_args(p)


def register(sub) -> None:
    p = sub.add_parser(
        "playlist", help="a playlist that starts from seed tracks and moves smoothly",
        description="Build a playlist that opens with the SEED files and continues with "
                    "similar tracks, each close to the one before and all near the seeds. "
                    "No track repeats. It is kept in the library; -o also writes M3U8.")
    p.add_argument("seeds", nargs="+", metavar="SEED", help="seed audio files (in the library)")
    p.add_argument("--length", type=int, default=25, metavar="N",
                   help="number of tracks including the seeds (default 25)")
    p.add_argument("--pull", type=float, default=0.35,
                   help="0..1: how strongly tracks are held near the seeds (default 0.35)")
    _add_output_args(p)
    p.set_defaults(func=run_playlist)

    p = sub.add_parser(
        "path", help="a playlist that travels from track A to track B",
        description="Build a playlist that starts at A, ends at B and changes gradually in "
                    "between, following the straight line between their embeddings.")
    p.add_argument("start", metavar="A")
    p.add_argument("end", metavar="B")
    p.add_argument("--length", type=int, default=12, metavar="N",
                   help="number of tracks including A and B (default 12)")
    _add_output_args(p)
    p.set_defaults(func=run_path)


def _finish(args, lib, lv, meta, track_ids, name: str, params: dict) -> int:
    from ..similarity.playlist import left_out_lines, write_m3u8

    playlist_id = None
    if not args.no_save:
        playlist_id = lib.create_playlist(args.name or name, track_ids, model=lv.model,
                                          params={**params, "kind": lv.kind})
    written = None
    if args.output:
        written = write_m3u8(args.output, [meta[t].entry() for t in track_ids], paths=args.paths)
        for line in left_out_lines(written.left_out):
            print(f"tagatlas {args.command}: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps({"name": args.name or name, "playlist_id": playlist_id,
                          "m3u8": printable(written.path) if written else None,
                          "m3u8_left_out": [{"path": printable(p), "reason": why}
                                            for p, why in written.left_out] if written else [],
                          "tracks": [{"id": t, "path": printable(meta[t].path),
                                      "artist": meta[t].artist, "title": meta[t].title}
                                     for t in track_ids]}, indent=2, ensure_ascii=False))
        return 0
    print(f"{args.name or name}  ({len(track_ids)} tracks)")
    for i, t in enumerate(track_ids, 1):
        print(f"{i:3d}  {meta[t].display()}")
    if playlist_id is not None:
        print(f"kept in the library as playlist #{playlist_id}")
    if written:
        left = f" ({len(written.left_out)} left out, see above)" if written.left_out else ""
        print(f"written to {printable(written.path)}: {written.written} tracks{left}")
    return 0


def run_playlist(args: argparse.Namespace) -> int:
    from ..similarity.playlist import smooth_playlist
    from ..similarity.store import load_index

    with open_library(args) as lib:
        index, lv, meta = load_index(lib, args.model, args.kind)
        seeds = resolve_tracks(lib, args.seeds, index)
        tracks = smooth_playlist(index, seeds, args.length, pull=args.pull,
                                 max_per_artist=args.max_per_artist)
        name = "Like " + " + ".join(meta[s].display() for s in seeds)
        if len(tracks) < args.length:
            print(f"note: only {len(tracks)} tracks could be chosen", file=sys.stderr)
        return _finish(args, lib, lv, meta, tracks, name,
                       {"type": "smooth", "seeds": seeds, "length": args.length,
                        "pull": args.pull, "max_per_artist": args.max_per_artist})


def run_path(args: argparse.Namespace) -> int:
    from ..similarity.playlist import path_playlist
    from ..similarity.store import load_index

    with open_library(args) as lib:
        index, lv, meta = load_index(lib, args.model, args.kind)
        a, b = resolve_tracks(lib, [args.start, args.end], index)
        tracks = path_playlist(index, a, b, args.length, max_per_artist=args.max_per_artist)
        name = f"From {meta[a].display()} to {meta[b].display()}"
        return _finish(args, lib, lv, meta, tracks, name,
                       {"type": "path", "start": a, "end": b, "length": args.length,
                        "max_per_artist": args.max_per_artist})
