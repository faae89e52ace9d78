"""Test isolation (STYLE point 10): no test touches the user's folders, display or GPU."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tagatlas-user")
    old = {k: os.environ.get(k) for k in ("TAGATLAS_DATA_DIR", "TAGATLAS_MODELS_DIR", "TAGATLAS_DB")}
    os.environ["TAGATLAS_DATA_DIR"] = str(root / "data")
    os.environ["TAGATLAS_MODELS_DIR"] = str(root / "models")
    os.environ.pop("TAGATLAS_DB", None)
    yield root
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True, scope="session")
def _qt_refcount_guard():
    """PySide6 6.12 on Python 3.11 drops references to None/True on every void call (see
    desktop/qt_refcount.py): the tests apply the guard before any test runs, as the app does
    at start-up."""
    try:
        from desktop.qt_refcount import guard_none_refcount
    except ImportError:   # no PySide6 here: no Qt tests either
        return
    guard_none_refcount()


def pytest_collection_modifyitems(config, items):
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (CUDA)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
