"""Metrics used by validation and evaluation, and the training benchmark's smoke run."""
from __future__ import annotations

import json

import numpy as np
import pytest

from training.metrics import accuracy_at, best_f1_thresholds, f1_at, macro_auc, mean_ci, per_tag_auc


def test_auc_per_tag_skips_single_class_tags():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    p = np.array([[0.9, 0.1, 0.5], [0.2, 0.2, 0.4], [0.8, 0.3, 0.6], [0.1, 0.9, 0.2]])
    roc, pr = per_tag_auc(y, p)
    assert roc[0] == 1.0 and pr[0] == 1.0
    assert np.isnan(roc[1]) and np.isnan(roc[2])          # no positive / no negative
    assert macro_auc(y, p) == (1.0, 1.0)


def test_best_f1_threshold_separates_when_possible():
    y = np.array([[0], [0], [1], [1], [0], [1]])
    p = np.array([[0.1], [0.3], [0.6], [0.8], [0.2], [0.7]])
    th, f1 = best_f1_thresholds(y, p)
    assert 0.3 < th[0] < 0.6 and f1[0] == 1.0
    assert f1_at(y, p, th)[0] == 1.0
    # no positives: the default threshold stays
    th0, f10 = best_f1_thresholds(np.zeros((3, 1)), np.array([[0.2], [0.5], [0.9]]))
    assert th0[0] == 0.5 and np.isnan(f10[0])


def test_accuracy_and_student_t_interval():
    y = np.array([[1, 0], [0, 0]])
    p = np.array([[0.7, 0.6], [0.2, 0.1]])
    assert list(accuracy_at(y, p)) == [1.0, 0.5]
    runs = np.array([0.80, 0.82, 0.78])
    mean, half = mean_ci(runs)
    # t(0.975, 2) = 4.3027; sd = 0.02; half-width = 4.3027 * 0.02 / sqrt(3)
    assert mean == pytest.approx(0.80) and half == pytest.approx(4.302653 * 0.02 / np.sqrt(3), rel=1e-5)
    _, none = mean_ci(np.array([0.8]))
    assert np.isnan(none)


def test_bench_smoke(tmp_path, capsys):
    from benchmarks.bench_training import main

    out = tmp_path / "bench.json"
    assert main(["--models", "tiny", "--steps", "1", "--warmup", "1", "--batch-size", "2",
                 "--workers", "0", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["model"], r["source"]) for r in rows] == [("-", "loader"), ("tiny", "resident"), ("tiny", "shards")]
    assert all(r["clips_per_s"] > 0 and r["msd_epoch_s"] == pytest.approx(201_680 / r["clips_per_s"])
               for r in rows)
    assert "MSD epoch" in capsys.readouterr().out
