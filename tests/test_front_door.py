"""``engine``'s public names: every one resolves, and importing the package stays cheap."""
from __future__ import annotations

import subprocess
import sys

import engine


def test_every_public_name_resolves():
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    assert issubclass(engine.ModelError, engine.TagAtlasError)
    assert engine.profile_models(engine.DEFAULT_PROFILE) == ["musicnn-msd", "jamendo-musicnn"]


def test_import_engine_does_not_load_torch():
    code = "import sys, engine; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
