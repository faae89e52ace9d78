"""Learn my tags: teach the app the user's own genre/mood vocabulary from their library.

    tagatlas-train learn-tags --name my-tags            (uses the library DB and the default model)

1. Tracks in the library database that carry genre and/or mood values are the examples; each
   distinct value is a candidate tag ("shoegaze", "lo-fi", "rainy day"). A value on fewer than
   ``min_positives`` tracks, or without ``min_negatives`` counter-examples, is refused with a
   message. A track without any genre says nothing about genres (its genre labels are masked).
2. The features are the base model's embeddings stored by the library scan (computed now for
   labelled tracks the base model has not analysed yet). Embedding sizes differ per model.
3. A small head — logistic regression, or a one-hidden-layer MLP — is trained on the frozen
   embeddings with masked binary cross-entropy (full batch, CPU, seconds).
4. Honest numbers: per-tag ROC-AUC from K-fold cross-validation with folds grouped by artist
   (else album), so a tag is not "learnt" by recognising an artist. Tags whose cross-validated
   ROC-AUC stays below ``min_auc`` are left out of the bundle and reported.
5. Export: base + head as one bundle (architecture ``embedding_head``, see
   :mod:`engine.models.head`) with thresholds that maximise F1 on the out-of-fold predictions.
   The app applies it to the untagged rest of the library like any model.

The stored embeddings are track means over patches; the exported bundle scores a track by
applying the head to its mean embedding too (:meth:`engine.models.head.EmbeddingHead.aggregate`),
so the app computes exactly what was cross-validated, for centre-crop and patch base models alike.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.bundle import DEFAULT_MODEL, BundleInfo, load_bundle, save_bundle
from engine.errors import ParameterError
from engine.paths import user_models_dir
from engine.types import ProgressFn
from engine.vocab import TagInfo

from .datasets.library import LabelledTrack, build_vocabulary, label_matrix, labelled_tracks
from .metrics import best_f1_thresholds


# --- config --------------------------------------------------------------------------------------
@dataclass
class LearnConfig:
    name: str = "my-tags"              # bundle name
    base: str = DEFAULT_MODEL          # bundle whose embeddings the head reads
    db: str | None = None              # library database (default: the app's)
    out: str | None = None             # bundle folder (default: the user's models folder)
    categories: tuple[str, ...] = ("genre", "mood")
    min_positives: int = 8             # tracks that must carry a value for it to be learnt
    min_negatives: int = 8             # labelled tracks that must lack it
    min_auc: float = 0.6               # tags whose cross-validated ROC-AUC stays below are left out
    hidden: int = 0                    # 0: logistic regression; > 0: MLP with this hidden width
    weight_decay: float = 1e-3         # L2 penalty on the head's weights
    steps: int = 400                   # full-batch Adam steps
    lr: float = 0.02
    folds: int = 5
    seed: int = 0
    analyse_missing: bool = True       # embed labelled tracks the base model has not analysed
    workers: int | None = None         # decode processes when analysing missing tracks
    overwrite: bool = False


@dataclass
class TagReport:
    tag: TagInfo
    positives: int
    negatives: int
    cv_roc_auc: float
    threshold: float
    kept: bool
    note: str = ""


@dataclass
class LearnResult:
    bundle: Path | None
    reports: list[TagReport]
    refused: list[tuple[str, str, str]]          # (category, value, reason)
    n_tracks: int
    notes: list[str] = field(default_factory=list)
    cv_scheme: str = ""

    def table(self) -> str:
        lines = [f"{'tag':<28} {'category':<9} {'pos':>5} {'neg':>5} {'CV ROC-AUC':>10} {'threshold':>9}"]
        for r in self.reports:
            lines.append(f"{r.tag.name[:28]:<28} {r.tag.category:<9} {r.positives:>5} {r.negatives:>5} "
                         f"{r.cv_roc_auc:>10.3f} {r.threshold:>9.3f}" + ("" if r.kept else "  left out: " + r.note))
        for cat, value, why in self.refused:
            lines.append(f"{value[:28]:<28} {cat:<9} refused: {why}")
        return "\n".join(lines)


# --- features ------------------------------------------------------------------------------------
def gather_embeddings(tracks: list[LabelledTrack], cfg: LearnConfig,
                      progress: ProgressFn | None = None
                      ) -> tuple[list[LabelledTrack], np.ndarray, list[str]]:
    """Embeddings of ``tracks`` by the base model: stored ones, plus computed ones for tracks
    not analysed yet (``analyse_missing``). Tracks without an embedding are dropped."""
    from engine.library import Library

    notes: list[str] = []
    with Library(cfg.db) as lib:
        ids, matrix = lib.embeddings(cfg.base)
    row = {int(i): k for k, i in enumerate(ids)}
    vectors: dict[int, np.ndarray] = {t.track_id: matrix[row[t.track_id]] for t in tracks if t.track_id in row}
    missing = [t for t in tracks if t.track_id not in vectors]
    if missing and cfg.analyse_missing:
        from engine.tagger import Tagger

        with Tagger(cfg.base, workers=cfg.workers) as tagger:
            results = tagger.tag_files([t.path for t in missing], progress=progress)
        by_path = {r.path: r for r in results}
        failed = 0
        for t in missing:
            r = by_path.get(os.fsdecode(t.path))
            if r is not None and r.ok:
                vectors[t.track_id] = r.embedding
            else:
                failed += 1
        notes.append(f"{len(missing) - failed} labelled tracks were analysed now with {cfg.base}"
                     + (f"; {failed} could not be decoded and were left out" if failed else ""))
    elif missing:
        notes.append(f"{len(missing)} labelled tracks have no {cfg.base} analysis and were left out "
                     "(scan the library first, or allow analysing them)")
    kept = [t for t in tracks if t.track_id in vectors]
    X = np.stack([vectors[t.track_id] for t in kept]).astype(np.float32) if kept else np.zeros((0, 0), np.float32)
    return kept, X, notes


# --- the head ------------------------------------------------------------------------------------
def make_head(d: int, n_tags: int, hidden: int) -> torch.nn.Sequential:
    """The same layer layout as :class:`engine.models.head.EmbeddingHead`'s ``head``."""
    if hidden > 0:
        return torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_tags))
    return torch.nn.Sequential(torch.nn.Linear(d, n_tags))


@contextmanager
def _one_thread():
    """Small full-batch problems run fastest on one thread (and do not fight other work)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def fit_head(X: np.ndarray, Y: np.ndarray, M: np.ndarray, cfg: LearnConfig
             ) -> tuple[np.ndarray, np.ndarray, torch.nn.Sequential]:
    """Standardise ``X`` and fit the head with masked BCE + L2; returns (mean, scale, head)."""
    with _one_thread():
        return _fit_head(X, Y, M, cfg)


def _fit_head(X: np.ndarray, Y: np.ndarray, M: np.ndarray, cfg: LearnConfig
              ) -> tuple[np.ndarray, np.ndarray, torch.nn.Sequential]:
    torch.manual_seed(cfg.seed)
    mean = X.mean(0)
    scale = 1.0 / (X.std(0) + 1e-6)
    xs = torch.from_numpy((X - mean) * scale)
    y, m = torch.from_numpy(Y), torch.from_numpy(M)
    head = make_head(X.shape[1], Y.shape[1], cfg.hidden)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    weights = [p for n, p in head.named_parameters() if n.endswith("weight")]
    denom = m.sum().clamp_min(1.0)
    for _ in range(cfg.steps):
        opt.zero_grad(set_to_none=True)
        loss = (F.binary_cross_entropy_with_logits(head(xs), y, reduction="none") * m).sum() / denom
        loss = loss + cfg.weight_decay * sum((w * w).sum() for w in weights)
        loss.backward()
        opt.step()
    return mean.astype(np.float32), scale.astype(np.float32), head.eval()


def predict_head(mean: np.ndarray, scale: np.ndarray, head: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(head(torch.from_numpy((X - mean) * scale))).numpy()


def cross_validate(X: np.ndarray, Y: np.ndarray, M: np.ndarray, groups: list[str], cfg: LearnConfig
                   ) -> tuple[np.ndarray, str]:
    """Out-of-fold probabilities ``[n, n_tags]`` and a description of the folds."""
    from sklearn.model_selection import GroupKFold, KFold

    n_groups = len(set(groups))
    if n_groups >= cfg.folds:
        splitter = GroupKFold(n_splits=cfg.folds)
        splits = splitter.split(X, groups=groups)
        scheme = f"{cfg.folds}-fold cross-validation grouped by artist/album ({n_groups} groups)"
    else:
        splitter = KFold(n_splits=cfg.folds, shuffle=True, random_state=cfg.seed)
        splits = splitter.split(X)
        scheme = (f"{cfg.folds}-fold cross-validation by track (only {n_groups} artists/albums: "
                  "scores may be optimistic if one artist dominates a tag)")
    oof = np.zeros_like(Y)
    for train, test in splits:
        mean, scale, head = fit_head(X[train], Y[train], M[train], cfg)
        oof[test] = predict_head(mean, scale, head, X[test])
    return oof, scheme


# --- the whole job -------------------------------------------------------------------------------
def learn_my_tags(cfg: LearnConfig, progress: ProgressFn | None = None) -> LearnResult:
    """Learn the library's own tags and export a bundle (see module doc)."""
    from sklearn.metrics import roc_auc_score

    out = Path(cfg.out) if cfg.out else user_models_dir()
    if (out / f"{cfg.name}.json").exists() and not cfg.overwrite:
        raise FileExistsError(f"a bundle named {cfg.name!r} already exists in {out}; "
                              "pass --overwrite or choose another --name")
    tracks, spellings = labelled_tracks(cfg.db)
    if not tracks:
        raise ParameterError("no track in the library carries a genre or mood yet; tag some tracks "
                         "(or scan a folder whose files have them) first")
    tracks, X, notes = gather_embeddings(tracks, cfg, progress)
    vocab = build_vocabulary(tracks, spellings, min_positives=cfg.min_positives,
                             min_negatives=cfg.min_negatives, categories=cfg.categories)
    if not vocab.tags:
        return LearnResult(None, [], vocab.refused, len(tracks), notes + ["no tag has enough examples to learn"])
    Y, M = label_matrix(tracks, vocab)
    oof, scheme = cross_validate(X, Y, M, [t.group for t in tracks], cfg)

    reports, keep = [], []
    for j, tag in enumerate(vocab.tags):
        rows = M[:, j] > 0
        y, p = Y[rows, j], oof[rows, j]
        auc = float(roc_auc_score(y, p))
        th, _ = best_f1_thresholds(y[:, None], p[:, None])
        kept = auc >= cfg.min_auc
        note = "" if kept else (f"cross-validated ROC-AUC {auc:.2f} is below {cfg.min_auc:.2f}: the sound "
                                "of these tracks does not separate this tag reliably")
        reports.append(TagReport(tag, int(y.sum()), int((1 - y).sum()), auc, float(th[0]), kept, note))
        if kept:
            keep.append(j)
    if not keep:
        return LearnResult(None, reports, vocab.refused, len(tracks),
                           notes + ["no tag reached the minimum ROC-AUC"], scheme)

    # the final head on all labelled tracks, for the kept tags
    Yk, Mk = Y[:, keep], M[:, keep]
    mean, scale, head = fit_head(X, Yk, Mk, cfg)
    base_model, base_info = load_bundle(cfg.base, "cpu")
    from engine.models.head import EmbeddingHead

    model = EmbeddingHead(base_info.architecture, base_info.arch_args, len(keep), cfg.hidden)
    if model.embedding_dim != X.shape[1]:
        raise ParameterError(f"{cfg.base}: embeddings of size {X.shape[1]} in the library, but the model "
                         f"produces {model.embedding_dim}; rescan the library with this model")
    model.base.load_state_dict(base_model.state_dict())
    model.head.load_state_dict(head.state_dict())
    model.emb_mean.copy_(torch.from_numpy(mean))
    model.emb_scale.copy_(torch.from_numpy(scale))
    model.eval()

    kept_reports = [reports[j] for j in keep]
    info = BundleInfo(
        name=cfg.name, architecture="embedding_head", arch_args=model.config(),
        feature_spec=base_info.feature_spec, tags=[r.tag for r in kept_reports],
        thresholds=[r.threshold for r in kept_reports],
        metrics={"dataset": f"the user's library ({len(tracks)} labelled tracks)",
                 "evaluation": scheme + "; out-of-fold predictions",
                 "roc_auc": float(np.mean([r.cv_roc_auc for r in kept_reports])),
                 "per_tag_roc_auc": {r.tag.name: r.cv_roc_auc for r in kept_reports},
                 "per_tag_examples": {r.tag.name: {"positives": r.positives, "negatives": r.negatives}
                                      for r in kept_reports}},
        provenance={"trained_by": "tagatlas-train learn-tags", "base_model": base_info.name,
                    "head": "logistic regression" if cfg.hidden == 0 else f"MLP, {cfg.hidden} hidden units",
                    "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": _jsonable(cfg)},
        license=base_info.license,
        description=f"Your own tags, learnt from your library on top of {base_info.name}",
    )
    path = save_bundle(model, info, out)
    return LearnResult(path, reports, vocab.refused, len(tracks), notes, scheme)


def _jsonable(cfg: LearnConfig) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(cfg)
    d["categories"] = list(cfg.categories)
    return d
