"""``tagatlas-train``: prepare data, train, evaluate, export, learn my tags.

    tagatlas-train prepare mtt --root ~/data/mtt --out ~/data/mtt-seed
    tagatlas-train fit --model k2c2 --data ~/data/mtt-seed --out runs/k2c2-mtt
    tagatlas-train evaluate runs/k2c2-mtt --data ~/data/mtt-seed
    tagatlas-train export runs/k2c2-mtt --name k2c2-mtt
    tagatlas-train learn-tags --name my-tags

Multi-GPU: ``torchrun --standalone --nproc_per_node=N -m training.cli fit …``.
Errors and exit codes follow the same policy as ``tagatlas`` (:func:`engine.cli.exit_codes.run_cli`):
0 done, 1 some files failed (listed), 2 nothing could be done (a wrong option or input, said in
plain words), 130 interrupted.
The ``fit`` and ``learn-tags`` options are generated from :class:`training.train.FitConfig` and
:class:`training.learn_my_tags.LearnConfig`, so every config field is a flag.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing
from pathlib import Path
from typing import Any

from engine.cli.exit_codes import EXIT_CODES_HELP, EXIT_FAILED, exit_code, run_cli
from engine.errors import ParameterError


# --- dataclass <-> argparse ----------------------------------------------------------------------
def _field_comments(cls) -> dict[str, str]:
    """The ``# comment`` after each field in the dataclass source: the flags' help texts."""
    import inspect
    import re

    out = {}
    for line in inspect.getsource(cls).splitlines():
        m = re.match(r"\s+(\w+):[^#]*#\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).replace("%", "%%")
    return out


def _add_dataclass_args(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    helps = _field_comments(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        t = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        h = helps.get(f.name)
        if t is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=h)
        elif f.name == "betas":
            parser.add_argument(flag, type=float, nargs=2, default=default, metavar=("B1", "B2"), help=h)
        elif f.name == "arch_args":
            parser.add_argument("--arch-arg", dest="arch_args", action="append", default=[],
                                metavar="KEY=VALUE", help="extra model constructor argument "
                                "(value parsed as JSON when it can be), repeatable")
        elif typing.get_origin(t) is tuple:
            parser.add_argument(flag, nargs="+", default=list(default), help=h)
        else:
            base = [a for a in typing.get_args(t) if a is not type(None)] or [t]
            parser.add_argument(flag, type=base[0] if base[0] in (int, float, str) else str,
                                default=default, help=h)


def _config_from_args(cls, args: argparse.Namespace, **extra):
    values = {}
    for f in dataclasses.fields(cls):
        if hasattr(args, f.name):
            values[f.name] = getattr(args, f.name)
    values.update(extra)
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    if "categories" in values:
        values["categories"] = tuple(values["categories"])
    return cls(**values)


def _parse_arch_args(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ParameterError(f"--arch-arg {item!r}: use KEY=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def load_spec(value: str):
    """``seed`` | a bundle name or path (its FeatureSpec) | a JSON file holding a FeatureSpec."""
    from engine.bundle import read_bundle_info
    from engine.features import SEED_SPEC, FeatureSpec

    if value == "seed":
        return SEED_SPEC
    p = Path(value)
    if p.suffix == ".json" and not p.is_file():
        raise FileNotFoundError(f"--spec {value}: no such file")
    if p.suffix == ".json":
        data = json.loads(p.read_text(encoding="utf-8"))
        if "feature_spec" in data:
            data = data["feature_spec"]
        return FeatureSpec.from_dict(data)
    return read_bundle_info(value).feature_spec


# --- sub-commands --------------------------------------------------------------------------------
def _progress_printer(label: str):
    tty = sys.stderr.isatty()

    def show(done: int, total: int, failed: int) -> None:
        text = f"{label}: {done}/{total} files" + (f", {failed} failed" if failed else "")
        if tty:
            print("\r" + text, end="\n" if done >= total else "", file=sys.stderr, flush=True)
        elif done >= total or done % 1000 < 1:
            print(text, file=sys.stderr, flush=True)
    return show


def cmd_prepare(args: argparse.Namespace) -> int:
    from .prepare import prepare

    if args.source == "mtt":
        from .datasets.mtt import read_mtt

        tags = args.tags if args.tags in ("top50",) or args.tags.startswith("top:") else args.tags.split(";")
        catalog = read_mtt(args.root, audio_dir=args.audio, tags=tags, drop_untagged=args.drop_untagged)
    elif args.source == "msd":
        from .datasets.msd import read_msd

        catalog = read_msd(args.split_dir, args.audio)
    elif args.source == "manifest":
        from .datasets.manifest import read_manifest

        cats = None
        if args.categories:
            with open(args.categories, newline="", encoding="utf-8") as f:
                import csv

                cats = {r["tag"]: r["category"] for r in csv.DictReader(f)}
        catalog = read_manifest(args.manifest, min_count=args.min_count, categories=cats)
    else:
        from .datasets.library import read_library

        catalog = read_library(args.db, min_positives=args.min_positives)
    print(catalog.summary(), file=sys.stderr)
    if catalog.missing:
        print(f"{len(catalog.missing)} items left out (listed in left_out.csv), e.g. "
              f"{catalog.missing[0][0]}: {catalog.missing[0][1]}", file=sys.stderr)
    if not catalog.items:
        print("tagatlas-train: no audio files to prepare", file=sys.stderr)
        return EXIT_FAILED
    spec = load_spec(args.spec)
    res = prepare(catalog, args.out, spec, workers=args.workers, shard_size=args.shard_size,
                  excerpt_seconds=args.excerpt_seconds, device=args.device, overwrite=args.overwrite,
                  retry_failed=args.retry_failed,
                  progress=_progress_printer("prepared"))
    print(f"{res.out_dir}: {res.n_items} clips in {res.n_shards} shards "
          f"({res.skipped_shards} already done), {res.n_failed} could not be decoded "
          f"(failures.csv), {res.n_left_out} left out (left_out.csv); {res.seconds:.1f} s")
    return exit_code(res.n_items, res.n_failed)


def cmd_fit(args: argparse.Namespace) -> int:
    from .train import FitConfig, fit

    if args.config:
        base = FitConfig.from_json(json.loads(Path(args.config).read_text()))
        given = {a[2:].split("=")[0].replace("-", "_") for a in args.argv if a.startswith("--")}
        given = {"arch_args" if g == "arch_arg" else g[3:] if g.startswith("no_") else g for g in given}
        cfg = _config_from_args(FitConfig, args, arch_args=_parse_arch_args(args.arch_args))
        cfg = dataclasses.replace(base, **{k: getattr(cfg, k) for k in given
                                           if k in {f.name for f in dataclasses.fields(FitConfig)}})
    else:
        cfg = _config_from_args(FitConfig, args, arch_args=_parse_arch_args(args.arch_args))
    if not cfg.data:
        raise ParameterError("--data is required (a folder written by 'tagatlas-train prepare')")
    res = fit(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{res.run_dir}: {res.epochs_run} epochs, best validation ROC-AUC {res.best_val_roc_auc:.4f} "
              f"at epoch {res.best_epoch}" + (" (stopped early)" if res.stopped_early else ""))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    data = args.data
    if data is None:
        from .train import resolve_checkpoint

        ck = resolve_checkpoint(Path(args.models[0]))
        if ck is None:
            raise ParameterError("--data is required to evaluate a bundle")
        data = json.loads((ck / "state.json").read_text())["data"]
    res = evaluate(args.models, data, args.out, split=args.split, device=args.device,
                   batch_size=args.batch_size, workers=args.workers, plots=not args.no_plots)
    s = res["summary"]
    ci = f" ± {s['roc_auc_ci']:.4f}" if s.get("roc_auc_ci") is not None else ""
    pci = f" ± {s['pr_auc_ci']:.4f}" if s.get("pr_auc_ci") is not None else ""
    print(f"{res['dataset']} {res['split']}: ROC-AUC {s['roc_auc']:.4f}{ci}, PR-AUC {s['pr_auc']:.4f}{pci} "
          f"over {s['n_runs']} run(s); report: {Path(res['out_dir']) / 'report.md'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export

    path = export(args.run, args.name, out_dir=args.out, metrics_path=args.metrics,
                  description=args.description, license=args.license, overwrite=args.overwrite)
    print(f"wrote {path} and {path.with_suffix('.safetensors').name}")
    return 0


def cmd_learn_tags(args: argparse.Namespace) -> int:
    from .learn_my_tags import LearnConfig, learn_my_tags

    cfg = _config_from_args(LearnConfig, args)
    res = learn_my_tags(cfg, progress=lambda d, t, p: _progress_printer("analysed")(d, t, 0))
    for note in res.notes:
        print(note, file=sys.stderr)
    print(f"{res.n_tracks} labelled tracks; {res.cv_scheme}")
    print(res.table())
    if res.bundle is None:
        print("no bundle written: no tag could be learnt reliably")
        return EXIT_FAILED
    print(f"wrote {res.bundle} ({sum(r.kept for r in res.reports)} tags)")
    return 0


# --- parser --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from .learn_my_tags import LearnConfig
    from .train import FitConfig

    ap = argparse.ArgumentParser(prog="tagatlas-train", description=__doc__.split("\n\n")[0],
                                 epilog=EXIT_CODES_HELP)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="decode a data set once into float16 log-mel shards")
    src = p.add_subparsers(dest="source", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, help="folder for the shards and index")
    common.add_argument("--spec", default="seed",
                        help="'seed' (Choi et al.: 12 kHz, 96 x 1366 centre crop), a bundle name whose "
                             "FeatureSpec to use, or a JSON file with a FeatureSpec")
    common.add_argument("--workers", type=int, default=None, help="worker processes (default: cores - 1)")
    common.add_argument("--shard-size", type=int, default=256, help="clips per shard")
    common.add_argument("--excerpt-seconds", type=float, default=None,
                        help="stored excerpt for patch specs (default 30 s)")
    common.add_argument("--device", default=None, help="where log-mel is computed (default: cuda if present)")
    common.add_argument("--overwrite", action="store_true", help="replace a different earlier preparation")
    common.add_argument("--retry-failed", action="store_true",
                        help="on a rerun, also redo the shards whose files failed")
    q = src.add_parser("mtt", parents=[common], help="MagnaTagATune")
    q.add_argument("--root", required=True, help="folder with annotations_final.csv (and the mp3 folders 0-f)")
    q.add_argument("--audio", default=None, help="folder with the mp3 folders 0-f, if elsewhere")
    q.add_argument("--tags", default="top50", help="top50 (default), top:N, or 'a;b;c'")
    q.add_argument("--drop-untagged", action="store_true", help="leave out clips with none of the tags")
    q = src.add_parser("msd", parents=[common], help="Million Song Dataset (Choi et al.'s split)")
    q.add_argument("--split-dir", required=True, help="the files of keunwoochoi/MSD_split_for_tagging")
    q.add_argument("--audio", required=True, help="folder of the 7digital previews")
    q = src.add_parser("manifest", parents=[common], help="a CSV of path,tags[,split]")
    q.add_argument("manifest")
    q.add_argument("--min-count", type=int, default=1, help="drop tags on fewer files")
    q.add_argument("--categories", default=None, help="CSV tag,category (genre/mood/instrument/era/other)")
    q = src.add_parser("library", parents=[common], help="the library's tracks that carry genre/mood")
    q.add_argument("--db", default=None, help="library database (default: the app's)")
    q.add_argument("--min-positives", type=int, default=8)
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("fit", help="train a model on prepared shards")
    p.add_argument("--config", default=None, help="a config.json of an earlier run; flags given override it")
    _add_dataclass_args(p, FitConfig)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("evaluate", help="metrics, thresholds, plots and a report")
    p.add_argument("models", nargs="+", help="run folders, checkpoint folders or bundles (N runs of one setup)")
    p.add_argument("--data", default=None, help="prepared data set (default: the one the first run trained on)")
    p.add_argument("--out", default=None, help="report folder (default: RUN/eval for a single run)")
    p.add_argument("--split", default="test")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="write a model bundle the app can load")
    p.add_argument("run", help="run folder (its best checkpoint) or checkpoint folder")
    p.add_argument("--name", required=True, help="bundle name, e.g. k2c2-msd-mine")
    p.add_argument("--out", default=None, help="folder (default: the user's models folder)")
    p.add_argument("--metrics", default=None, help="metrics.json from evaluate (default: RUN/eval/metrics.json)")
    p.add_argument("--description", default="")
    p.add_argument("--license", default="")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("learn-tags", help="learn your own genre/mood tags from your library")
    _add_dataclass_args(p, LearnConfig)
    p.set_defaults(func=cmd_learn_tags)

    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return run_cli("tagatlas-train", args.func, args,
                   interrupted_note="rerun the same command to resume")


if __name__ == "__main__":
    sys.exit(main())
