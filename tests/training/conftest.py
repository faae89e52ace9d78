"""Fixtures of the training tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def _one_torch_thread_and_own_models_folder(tmp_path_factory):
    """These tiny models train fastest on one thread (CI machines are shared), and the bundles
    written here go to a models folder of this module's own, not the session's. A module that
    trains takes it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TAGATLAS_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
        yield
    torch.set_num_threads(n)
