"""Choose and measure the tag decision rule on the labelled development set of real recordings.

    python benchmarks/devset_eval.py [--devset /work/devset] [--labels benchmarks/devset/labels.csv]
                                     [--profile standard] [--write-calibration]

1. Analyses every labelled file the way a library scan does (quick analysis:
   ``Tagger(profile models, max_patches=QUICK_ANALYSIS_PATCHES)``); raw scores are cached next to
   the audio (``DEVSET/.scores-<models>.npz``) so later runs only decide.
2. For genre and mood, searches the per-model thresholds (the calibration of
   :mod:`engine.combine`) and the relative rule of the policy (``CategoryRule.relative``) with the
   default caps (genre 2, mood 2). A written value is right when the label lists it as
   acceptable, or when it is the parent genre of an acceptable one ("Electronic" for techno).
   Among settings whose coverage (tracks that get at least one value) reaches the target
   (genre 95%, mood 80%), the one with the best precision (right values / written values) wins.
3. Honest figures: leave-one-package-out -- the setting is chosen on the other packages and
   measured on the held-out one, so no package is scored by a rule fitted to it. Printed per
   category, with the old rule (musicnn-msd alone, 0.5 on the raw score, up to 3 values) and
   the setting fitted on everything.
4. ``--write-calibration`` stores the setting fitted on everything in
   ``resources/vocabulary/calibration.json`` (the app's default calibration).
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.bundle import read_bundle_info  # noqa: E402
from engine.canonical import ancestors  # noqa: E402
from engine.combine import Combiner, ModelVocabulary, calibrate  # noqa: E402
from engine.profiles import profile_models  # noqa: E402

TARGETS = {"genre": 0.95, "mood": 0.80}
CAPS = {"genre": 2, "mood": 2}
GRID = [0.03, 0.05, 0.07, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.65, 0.8, 0.95]
RELATIVE = [0.6, 0.75, 0.85, 0.9, 0.95, 1.0]
CALIBRATION = Path(__file__).resolve().parent.parent / "resources" / "vocabulary" / "calibration.json"


def read_labels(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            row["genres"] = {g for g in row["acceptable_genres"].split(";") if g}
            row["moods"] = {m for m in row["acceptable_moods"].split(";") if m}
            rows.append(row)
    return rows


def analyse(devset: Path, rows: list[dict], models: list[str]) -> dict[str, list[np.ndarray]]:
    """path -> raw scores per model (cached)."""
    from engine.tagger import QUICK_ANALYSIS_PATCHES, Tagger

    cache = devset / f".scores-{'+'.join(models)}.npz"
    have: dict[str, list[np.ndarray]] = {}
    if cache.is_file():
        data = np.load(cache, allow_pickle=False)
        for key in data.files:
            path, k = key.rsplit("|", 1)
            have.setdefault(path, [None] * len(models))[int(k)] = data[key]
    todo = [r["path"] for r in rows if r["path"] not in have]
    if todo:
        with Tagger(models, max_patches=QUICK_ANALYSIS_PATCHES, device="cpu") as tagger:
            for res in tagger.iter_tag([str(devset / p) for p in todo],
                                       progress=lambda d, t, p: print(f"\ranalysed {d}/{t}", end="", file=sys.stderr)):
                rel = str(Path(res.path).relative_to(devset))
                if not res.ok:
                    print(f"\n{rel}: {res.error}", file=sys.stderr)
                    continue
                have[rel] = [r.scores for r in res.by_model]
        print(file=sys.stderr)
        np.savez(cache, **{f"{p}|{k}": s for p, v in have.items() for k, s in enumerate(v)})
    return have


def is_right(value: str, acceptable: set[str]) -> bool:
    return value in acceptable or any(value in ancestors(a) for a in acceptable)


class CategoryData:
    """Everything the search needs for one category, as arrays over the tracks."""

    def __init__(self, combiner: Combiner, rows: list[dict], raw: dict, category: str) -> None:
        self.category = category
        self.cols = [j for j, t in enumerate(combiner.tags) if t.category == category]
        self.ids = [combiner.tags[j].name for j in self.cols]
        col_of = {j: c for c, j in enumerate(self.cols)}
        self.raw = [np.stack([raw[r["path"]][k] for r in rows]).astype(np.float64)
                    for k in range(len(combiner.models))]
        # per model: (output index, category column) pairs
        self.pairs = [[(j, col_of[t]) for j, t in enumerate(tg) if t is not None and t in col_of]
                      for tg in combiner.targets]
        labels = [r[f"{category}s"] for r in rows]
        self.right = np.array([[is_right(i, lab) for i in self.ids] for lab in labels])
        self.names = [m.name for m in combiner.models]

    def combined(self, thresholds: dict[str, float]) -> np.ndarray:
        out = np.zeros((self.right.shape[0], len(self.cols)))
        for name, raw, pairs in zip(self.names, self.raw, self.pairs):
            cal = calibrate(raw, np.full(raw.shape[1], thresholds.get(name, 0.5)))
            for j, c in pairs:
                np.maximum(out[:, c], cal[:, j], out=out[:, c])
        return out

    @staticmethod
    def decide(scores: np.ndarray, cap: int, relative: float | None) -> tuple[np.ndarray, np.ndarray]:
        """(order [n, cap] column indices best first, keep [n, cap] bool), as the policy decides."""
        order = np.argsort(-scores, axis=1, kind="stable")[:, :cap]
        top = np.take_along_axis(scores, order, axis=1)
        keep = top >= 0.5
        if relative is not None:
            keep[:, 1:] &= top[:, 1:] >= relative * top[:, :1]
        return order, keep

    def measure(self, order: np.ndarray, keep: np.ndarray, idx: np.ndarray) -> dict[str, float]:
        order, keep = order[idx], keep[idx]
        right = np.take_along_axis(self.right[idx], order, axis=1) & keep
        covered = keep[:, 0].sum()
        written = keep.sum()
        return {"tracks": int(len(idx)), "coverage": float(covered / max(1, len(idx))),
                "precision": float(right.sum() / written) if written else float("nan"),
                "first_right": float(right[:, 0].sum() / covered) if covered else float("nan"),
                "values_per_track": float(written / max(1, covered))}


GENRE_HITS = {"orchestral": {"classical", "orchestral", "soundtrack"}, "metal": {"metal", "rock", "hard_rock"},
              "electronic": {"electronic"}}


def breakdown(data: CategoryData, rows: list[dict], order: np.ndarray, keep: np.ndarray) -> dict[str, dict]:
    """The figures the labels can support, beside the plain ones (see benchmarks/devset/README.md).

    - high+medium confidence rows only (the low rows are mostly "game music, style unknown");
    - genre: precision counting only values other than ``soundtrack``, which the labels accept on
      almost every row, and the share of rows whose values hit their primary style;
    - mood: precision on the rows that have an acceptable mood at all (on the others every written
      mood counts as wrong, which says more about the labels than about the tagger).
    """
    conf = np.array([r["confidence"] for r in rows])
    out = {"high+medium rows": data.measure(order, keep, np.flatnonzero(conf != "low"))}
    if data.category == "genre":
        ids = np.array(data.ids)
        written = np.take_along_axis(np.broadcast_to(ids, (len(rows), len(ids))), order, axis=1)
        right = np.take_along_axis(data.right, order, axis=1) & keep
        other = keep & (written != "soundtrack")
        out["values other than soundtrack"] = {
            "written": int(other.sum()),
            "precision": float((right & other).sum() / other.sum()) if other.sum() else float("nan"),
            "share of values that are soundtrack": float((keep & ~other).sum() / max(1, keep.sum()))}
        for style, hits in GENRE_HITS.items():
            idx = [i for i, r in enumerate(rows) if r["primary_genre"] == style]
            got = [any(keep[i, k] and (written[i, k] in hits or any(a in hits for a in ancestors(written[i, k])))
                       for k in range(order.shape[1])) for i in idx]
            out[f"{style} rows given {'/'.join(sorted(hits))}"] = {
                "tracks": len(idx), "share": float(np.mean(got)) if idx else float("nan")}
    else:
        labelled = np.flatnonzero([bool(r[f"{data.category}s"]) for r in rows])
        out["rows with an acceptable mood"] = data.measure(order, keep, labelled)
    return out


def choose(data: CategoryData, idx: np.ndarray, table: list) -> tuple[dict, float, dict]:
    """The setting with the best precision among those reaching the coverage target on ``idx``."""
    best = None
    for thr, rel, order, keep in table:
        m = data.measure(order, keep, idx)
        ok = m["coverage"] >= TARGETS[data.category]
        prec = m["precision"] if m["precision"] == m["precision"] else 0.0
        key = (ok, prec if ok else m["coverage"], m["coverage"], -abs(rel - 0.9))
        if best is None or key > best[0]:
            best = (key, thr, rel, m)
    return best[1], best[2], best[3]


def search_table(data: CategoryData, cap: int) -> list:
    table = []
    for combo in itertools.product(GRID, repeat=len(data.names)):
        thr = dict(zip(data.names, combo))
        scores = data.combined(thr)
        for rel in RELATIVE:
            order, keep = data.decide(scores, cap, rel)
            table.append((thr, rel, order, keep))
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devset", type=Path, default=Path("/work/devset"))
    ap.add_argument("--labels", type=Path, default=Path(__file__).resolve().parent / "devset" / "labels.csv")
    ap.add_argument("--profile", default="standard")
    ap.add_argument("--categories", nargs="*", default=["genre", "mood"])
    ap.add_argument("--write-calibration", action="store_true")
    args = ap.parse_args(argv)

    models = profile_models(args.profile)
    rows = [r for r in read_labels(args.labels) if (args.devset / r["path"]).is_file()]
    raw = analyse(args.devset, rows, models)
    rows = [r for r in rows if r["path"] in raw]
    infos = [read_bundle_info(m) for m in models]
    combiner = Combiner([ModelVocabulary(i.name, i.tags, None) for i in infos])
    packages = sorted({r["package"] for r in rows})
    print(f"{len(rows)} labelled tracks from {len(packages)} packages; profile {' + '.join(models)}")

    report: dict = {"tracks": len(rows), "packages": len(packages), "profile": models, "categories": {}}
    fitted_cal: dict = {"models": defaultdict(dict)}
    pkg_of = np.array([r["package"] for r in rows])
    everything = np.arange(len(rows))
    for cat in args.categories:
        data = CategoryData(combiner, rows, raw, cat)
        old = None
        if "musicnn-msd" in models:   # the old rule: musicnn-msd alone, 0.5 on its raw scores, up to 3
            only = {m: (0.5 if m == "musicnn-msd" else 1.0) for m in models}
            order, keep = data.decide(data.combined(only), 3, None)
            old = data.measure(order, keep, everything)
        table = search_table(data, CAPS[cat])
        held_order = np.zeros((len(rows), CAPS[cat]), dtype=int)
        held_keep = np.zeros((len(rows), CAPS[cat]), dtype=bool)
        for pkg in packages:
            train, test = np.flatnonzero(pkg_of != pkg), np.flatnonzero(pkg_of == pkg)
            thr, rel, _ = choose(data, train, table)
            order, keep = data.decide(data.combined(thr), CAPS[cat], rel)
            held_order[test], held_keep[test] = order[test], keep[test]
        lopo = data.measure(held_order, held_keep, everything)
        lopo_detail = breakdown(data, rows, held_order, held_keep)
        per_pkg = {pkg: data.measure(held_order, held_keep, np.flatnonzero(pkg_of == pkg)) for pkg in packages}
        thr, rel, fit = choose(data, everything, table)
        for m, t in thr.items():
            fitted_cal["models"][m][cat] = t
        report["categories"][cat] = {"old_rule": old, "leave_one_package_out": lopo, "fitted_on_all": fit,
                                     "thresholds": thr, "relative": rel, "per_package_held_out": per_pkg,
                                     "leave_one_package_out_detail": lopo_detail}
        print(f"\n{cat}: target coverage {TARGETS[cat]:.0%}")
        if old:
            print(f"  old rule (musicnn-msd, 0.5, up to 3): coverage {old['coverage']:.1%}, "
                  f"precision {old['precision']:.1%}")
        print(f"  leave-one-package-out:              coverage {lopo['coverage']:.1%}, "
              f"precision {lopo['precision']:.1%}, first value right {lopo['first_right']:.1%}, "
              f"{lopo['values_per_track']:.2f} values per covered track")
        print(f"  fitted on all: thresholds {thr}, relative {rel}: coverage {fit['coverage']:.1%}, "
              f"precision {fit['precision']:.1%}")
        for name, m in lopo_detail.items():
            print(f"    held out, {name:<38} " + ", ".join(
                f"{k} {v:.2f}" if k == "values_per_track" else f"{k} {v:.1%}" if isinstance(v, float) else f"{k} {v}"
                for k, v in m.items()))
        for pkg, m in per_pkg.items():
            print(f"    {pkg:<32} {m['tracks']:>3} tracks  coverage {m['coverage']:.0%}  "
                  f"precision {m['precision']:.0%}")
    print("\n" + json.dumps({k: v for k, v in report.items() if k != "categories"}))
    out = args.devset / "devset_report.json"
    out.write_text(json.dumps(report, indent=1, default=float))
    print(f"report: {out}")
    if args.write_calibration:
        data = {"note": "per-model, per-category thresholds for the calibration of engine.combine; "
                        "chosen by python benchmarks/devset_eval.py --write-calibration on the "
                        f"development set ({len(rows)} tracks, {len(packages)} packages)",
                "relative": {cat: report["categories"][cat]["relative"] for cat in report["categories"]},
                "models": {m: dict(v) for m, v in fitted_cal["models"].items()}}
        CALIBRATION.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {CALIBRATION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
