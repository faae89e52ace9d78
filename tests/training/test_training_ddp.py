"""DistributedDataParallel through torchrun: 2 CPU processes with the gloo backend."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._training_util import SMALL_SPEC, make_manifest
from training.data import ShardDataset, StridedSampler, make_loader
from training.datasets.manifest import read_manifest
from training.metrics import macro_auc
from training.prepare import prepare
from training.train import load_model, predict

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow   # 15-25 s on a shared 2-core machine: three Python processes start torch
def test_torchrun_two_processes_gloo(tmp_path):
    prep, run = tmp_path / "prep", tmp_path / "run"
    prepare(read_manifest(make_manifest(tmp_path / "src", n=24)), prep, SMALL_SPEC, workers=0, shard_size=8)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "training.cli", "fit", "--model", "tiny", "--data", str(prep), "--out", str(run),
           "--epochs", "2", "--batch-size", "3", "--workers", "0", "--device", "cpu", "--quiet"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("best validation ROC-AUC") == 1          # rank 0 reports, once
    with open(run / "log.csv", newline="") as f:
        log = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in log] == [1, 2]
    # The logged validation metric covers the whole valid split exactly once (gathered from
    # both ranks): it equals a single-process evaluation of the saved weights.
    model, state = load_model(run / "checkpoints" / "last")
    assert state["config"]["batch_size"] == 3
    ds = ShardDataset(prep, "valid", mode="eval")
    p = predict(model, make_loader(ds, batch_size=4, sampler=StridedSampler(len(ds)), workers=0),
                torch.device("cpu"), None, len(ds))
    roc, _ = macro_auc(ds.labels, p)
    assert np.isclose(roc, float(log[-1]["val_roc_auc"]), atol=1e-6)
