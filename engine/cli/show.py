"""``tagatlas show FILE...``: what the library knows about files (tags, predictions, errors, writes)."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ..errors import LibraryError
from ..errors import printable_path as printable
from .exit_codes import exit_code
from .scan import format_duration, open_library


def register(sub) -> None:
    p = sub.add_parser(
        "show", help="show a file's stored tags, predicted tags and errors",
        description="Show what the library holds about each FILE: its metadata, the tags each "
                    "model predicted (best per category, with confidence), errors and tag writes.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--top", type=int, default=3, metavar="N", help="predicted tags per category (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON with every score")
    p.set_defaults(func=run)


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "?"


def top_by_category(scores: np.ndarray, tags, thresholds: np.ndarray | None, n: int):
    """``{category: [(display, score, passes_threshold)]}``, best first, near-duplicates merged."""
    out: dict[str, dict[str, tuple[str, float, bool]]] = {}
    for i, t in enumerate(tags):
        s = float(scores[i])
        thr = float(thresholds[i]) if thresholds is not None else 0.5
        cat = out.setdefault(t.category, {})
        key = t.display.casefold()
        old = cat.get(key)
        if old is None or s > old[1]:
            cat[key] = (t.display, s, s >= thr or (old is not None and old[2]))
    from ..vocab import CATEGORIES

    return {c: sorted(out[c].values(), key=lambda e: -e[1])[:n] for c in CATEGORIES if c in out}


def _combined(lib, track, top: int) -> dict | None:
    """The profile's combined predictions in the canonical vocabulary, with their evidence:
    ``{"models", "top": {category: [(display, score, passes, evidence)]}}``."""
    from ..library.predictions import choose_models, library_combiner, track_predictions

    try:
        combiner = library_combiner(lib, choose_models(lib))
    except LibraryError:
        return None
    pred = track_predictions(lib, combiner, track.id)
    if pred is None:
        return None
    order = np.argsort(-pred.scores, kind="stable")
    out: dict[str, list] = {}
    for i in order:
        t = combiner.tags[i]
        entries = out.setdefault(t.category, [])
        if len(entries) < top:
            evidence = [f"{e.model}: {e.tag} {e.raw:.2f}" for e in pred.evidence[i]]
            entries.append((t.display, float(pred.scores[i]), bool(pred.scores[i] >= 0.5), evidence))
    return {"models": pred.models, "top": out}


def _describe(lib, track, top: int) -> dict:
    analyses = []
    for a in lib.analyses_of(track.id):
        try:
            tags = lib.model_tags(a.model)
        except LibraryError:    # no record of this model: its scores are shown without names
            tags = None
        entry = {"model": a.model, "analysed_at": a.analysed_at, "n_patches": a.n_patches,
                 "warnings": a.warnings}
        if tags is not None and len(tags) == len(a.scores):
            entry["scores"] = {t.name: round(float(s), 4) for t, s in zip(tags, a.scores)}
            entry["top"] = top_by_category(a.scores, tags, lib.model_thresholds(a.model), top)
        analyses.append(entry)
    return {
        "tag_atlas": _combined(lib, track, top),
        "path": printable(track.path), "id": track.id, "status": track.status, "format": track.format,
        "duration_s": track.duration_s, "size": track.size,
        "metadata": {"title": track.title, "artist": track.artist, "album": track.album,
                     "albumartist": track.albumartist, "genre": track.genre, "mood": track.mood,
                     **track.extra},
        "analyses": analyses,
        "rhythm": _rhythm(lib, track),
        "errors": [{"stage": e.stage, "kind": e.kind, "reason": e.reason, "at": e.at}
                   for e in lib.errors(track_id=track.id, include_gone=True)],
        "writes": [{"batch": j.batch_id, "at": j.at, "undone": j.undone,
                    "before": (j.fields_before or {}).get("tags", {}),
                    "after": (j.fields_after or {}).get("tags", {})}
                   for j in lib.journal_entries(track_id=track.id)],
    }


def _rhythm(lib, track) -> dict | None:
    from ..key import key_name

    r = lib.get_rhythm(track.id)
    if r is None:
        return None
    return {"bpm": r.bpm, "bpm_confidence": round(r.bpm_confidence, 3),
            "alternatives": r.alternatives, "variable_tempo": r.variable, "meter": r.meter,
            "key": None if r.key is None else key_name(*r.key),
            "key_camelot": None if r.key is None else key_name(*r.key, notation="camelot"),
            "key_confidence": round(r.key_confidence, 3), "beats": len(r.beats),
            "analysed": [r.start_s, r.end_s], "model": r.model}


def _print_text(d: dict) -> None:
    print(d["path"])
    dur = format_duration(d["duration_s"]) if d["duration_s"] else "?"
    print(f"  status: {d['status']}   format: {d['format'] or '?'}   duration: {dur}   "
          f"size: {d['size'] / 1e6:.1f} MB")
    md = d["metadata"]
    for key, label in (("title", "title"), ("artist", "artist"), ("album", "album"),
                       ("albumartist", "album artist")):
        if md.get(key):
            print(f"  {label}: {md[key]}")
    print(f"  genre: {', '.join(md['genre']) or '(none)'}")
    print(f"  mood: {', '.join(md['mood']) or '(none)'}")
    if md.get("bpm") or md.get("key"):
        print(f"  bpm: {md.get('bpm') or '(none)'}   key: {md.get('key') or '(none)'}")
    for name, values in (md.get("custom") or {}).items():
        print(f"  {name}: {', '.join(values)}")
    rh = d.get("rhythm")
    if rh:
        tempo = "no steady beat" if rh["bpm"] is None else \
            f"{rh['bpm']:.1f} BPM (confidence {rh['bpm_confidence']:.2f}" + \
            ("; drifts" if rh["variable_tempo"] else "") + ")" + \
            (f", also heard as {', '.join(f'{a:.1f}' for a in rh['alternatives'])}" if rh["alternatives"] else "")
        key = "none heard" if rh["key"] is None else \
            f"{rh['key']} / {rh['key_camelot']} (confidence {rh['key_confidence']:.2f})"
        meter = f", {rh['meter']} beats per bar" if rh["meter"] else ""
        print(f"  tempo: {tempo}{meter}")
        print(f"  key: {key}")
    if not d["analyses"]:
        print("  not analysed yet")
    combined = d.get("tag_atlas")
    if combined:
        print(f"  Tag Atlas tags ({' + '.join(combined['models'])}; 50% = worth writing):")
        for cat, entries in combined["top"].items():
            shown = "; ".join(f"{name} {score:.0%} [{', '.join(ev)}]" for name, score, _, ev in entries)
            print(f"    {cat + ':':<11} {shown}")
    for a in d["analyses"]:
        print(f"  predicted by {a['model']} ({_when(a['analysed_at'])}):")
        for cat, entries in (a.get("top") or {}).items():
            shown = ", ".join(f"{name} {score:.2f}{'' if ok else ' (below threshold)'}"
                              for name, score, ok in entries)
            print(f"    {cat + ':':<11} {shown}")
        if "top" not in a:
            print("    (the library has no tag list for this model)")
        for w in a["warnings"]:
            print(f"    note: {w}")
    for e in d["errors"]:
        print(f"  error ({e['stage']}, {_when(e['at'])}): {e['reason']}")
    for w in d["writes"]:
        changes = "; ".join(f"{k}: {', '.join(w['before'].get(k, [])) or '(none)'} -> "
                            f"{', '.join(v) if k != 'TAGATLAS_SCORES' else 'scores'}"
                            for k, v in w["after"].items())
        print(f"  tags written ({_when(w['at'])}, batch #{w['batch']}"
              f"{', undone' if w['undone'] else ''}): {changes}")


def run(args: argparse.Namespace) -> int:
    found, missing = [], []
    with open_library(args) as lib:
        for f in args.files:
            track = lib.get_track_by_path(f)
            if track is None:
                missing.append(f)
                continue
            found.append(_describe(lib, track, args.top))
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        for i, d in enumerate(found):
            if i:
                print()
            _print_text(d)
    for f in missing:
        print(f"{printable(f)}: not in the library (run 'tagatlas scan' on its folder)")
    return exit_code(len(found), len(missing))
