"""``tagatlas export --csv PATH | --json PATH``: every analysed track's tag scores."""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile

from ..errors import printable_path as printable
from ..safe_export import csv_row, escaped_cells_note
from .exit_codes import EXIT_FAILED, EXIT_OK
from .scan import open_library


def register(sub) -> None:
    p = sub.add_parser(
        "export", help="export the predicted tag scores as CSV or JSON",
        description="Write one row per analysed track: its path and the score of every tag of the "
                    "model. PATH '-' writes to standard output.")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--csv", metavar="PATH", help="write CSV (path, track data, one column per tag)")
    out.add_argument("--json", metavar="PATH", help="write JSON (model, tags, tracks with scores)")
    p.add_argument("--model", default=None,
                   help="whose predictions (default: the model the library was analysed with)")
    p.add_argument("query", nargs="*", metavar="QUERY", help="which tracks (default: all analysed)")
    p.set_defaults(func=run)


def _write_atomically(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        return
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".tagatlas-export-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def run(args: argparse.Namespace) -> int:
    from ..library.writing import choose_model

    query = " ".join(args.query) or None
    with open_library(args) as lib:
        model = choose_model(lib, args.model)
        tags = lib.model_tags(model)
        rows = lib.query_tracks(query, analysed_with=model)
        ids, scores = lib.embeddings(model, "scores", track_ids=[r.id for r in rows])
    by_id = {r.id: r for r in rows}
    names = [t.name for t in tags]
    if args.csv is not None:
        buf = io.StringIO()
        w = csv.writer(buf)
        # text cells go through csv_row (formula injection); the numbers are ours
        header, escaped = csv_row(["path", "title", "artist", "album", "duration_s", "model", *names])
        w.writerow(header)
        for tid, vec in zip(ids.tolist(), scores):
            r = by_id[tid]
            cells, n = csv_row([printable(r.path), r.title, r.artist, r.album])
            model_cell, m = csv_row([model])
            escaped += n + m
            w.writerow([*cells, "" if r.duration_s is None else f"{r.duration_s:.3f}", *model_cell,
                        *(f"{float(s):.4f}" for s in vec)])
        text, target = buf.getvalue(), args.csv
    else:
        doc = {"model": model,
               "tags": [{"name": t.name, "category": t.category, "display": t.display} for t in tags],
               "tracks": [{"path": printable(by_id[tid].path), "id": tid, "title": by_id[tid].title,
                           "artist": by_id[tid].artist, "album": by_id[tid].album,
                           "duration_s": by_id[tid].duration_s,
                           "scores": {n: round(float(s), 4) for n, s in zip(names, vec)}}
                          for tid, vec in zip(ids.tolist(), scores)]}
        text, target = json.dumps(doc, indent=1, ensure_ascii=False) + "\n", args.json
        escaped = 0
    try:
        _write_atomically(target, text)
    except OSError as exc:
        print(f"tagatlas export: cannot write {printable(target)}: {exc.strerror or exc}")
        return EXIT_FAILED
    if target != "-":
        print(f"exported the scores of {len(ids)} tracks ({model}, {len(names)} tags) to {printable(target)}")
    if escaped:
        print(escaped_cells_note(escaped), file=sys.stderr if target == "-" else sys.stdout)
    return EXIT_OK
