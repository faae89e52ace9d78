"""Where Tag Atlas keeps its data. Every folder has an environment override (tests use them)."""
from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "TagAtlas"

ENV_DATA_DIR = "TAGATLAS_DATA_DIR"      # library database, caches
ENV_MODELS_DIR = "TAGATLAS_MODELS_DIR"  # the user's own model bundles
ENV_DB = "TAGATLAS_DB"                  # the library database file itself


def _platform_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env) if env else _platform_data_dir()


def user_models_dir() -> Path:
    env = os.environ.get(ENV_MODELS_DIR)
    return Path(env) if env else data_dir() / "models"


def bundled_file(*parts: str) -> Path:
    """A file or folder shipped in the ``resources`` package (models, icons, vocabulary), found
    with :mod:`importlib.resources` so it works wherever the package is installed."""
    from importlib import resources

    return Path(str(resources.files("resources").joinpath(*parts)))


def bundled_models_dir() -> Path:
    """The models that ship with Tag Atlas (``resources/models``)."""
    return bundled_file("models")


def default_db_path() -> Path:
    env = os.environ.get(ENV_DB)
    return Path(env) if env else data_dir() / "library.sqlite3"
