"""Fixtures of the engine tests: the tiny model's tagger and an empty library."""
from __future__ import annotations

import pytest

from engine.library import Library
from tests._library_util import TINY_MODEL, ensure_tiny_bundle


@pytest.fixture(scope="module")
def tagger():
    """The tiny test model on the CPU, decoding in the calling thread; one per module."""
    from engine.tagger import Tagger

    ensure_tiny_bundle()
    with Tagger(TINY_MODEL, device="cpu", workers=0) as t:
        yield t


@pytest.fixture
def lib(tmp_path):
    """An empty library in the test's temporary folder."""
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library
