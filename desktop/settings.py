"""Settings: music folders, model, device, tag policy and thresholds, kept in an INI file
through ``QSettings``.

The file lives in the platform's config folder (``~/.config/TagAtlas/settings.ini`` on Linux),
or in ``$TAGATLAS_CONFIG_DIR`` when that is set (tests point it at a temporary folder, beside the
engine's ``TAGATLAS_DATA_DIR`` / ``TAGATLAS_MODELS_DIR``). :class:`Settings` is a typed view of
it; :meth:`Settings.policy` builds the :class:`engine.metadata.TagPolicy` the writers use.
:class:`desktop.settings_dialog.SettingsDialog` edits everything.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QStandardPaths

from engine.tagger import QUICK_ANALYSIS_PATCHES
from engine.vocab import CATEGORIES

ENV_CONFIG_DIR = "TAGATLAS_CONFIG_DIR"

CATEGORY_LABELS = {"genre": "Genre", "mood": "Mood", "instrument": "Instruments",
                   "vocals": "Vocals", "era": "Era", "other": "Other"}


def config_dir() -> Path:
    env = os.environ.get(ENV_CONFIG_DIR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("TagAtlas", appauthor=False))


def config_path() -> Path:
    return config_dir() / "settings.ini"


def default_music_folder() -> str:
    """The system's music folder (``~/Music`` on most desktops)."""
    loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MusicLocation)
    return loc or str(Path.home() / "Music")


def _default_policy():
    from engine.metadata import TagPolicy

    return TagPolicy()


class Settings:
    """Typed access to the settings file. Cheap to create; every read goes to ``QSettings``."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else config_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    # -- raw helpers -------------------------------------------------------------------------
    def _get_json(self, key: str, default: Any) -> Any:
        raw = self.qs.value(key, None)
        if raw is None or raw == "":
            return default
        try:
            return json.loads(str(raw))
        except ValueError:
            return default

    def _set_json(self, key: str, value: Any) -> None:
        self.qs.setValue(key, json.dumps(value))

    def sync(self) -> None:
        self.qs.sync()

    # -- library -------------------------------------------------------------------------------
    @property
    def folders(self) -> list[str]:
        return [str(f) for f in self._get_json("library/folders", [])]

    @folders.setter
    def folders(self, value: list[str]) -> None:
        seen: list[str] = []
        for f in value:
            f = os.path.abspath(os.fsdecode(f))
            if f not in seen:
                seen.append(f)
        self._set_json("library/folders", seen)

    def add_folder(self, folder: str) -> None:
        self.folders = self.folders + [folder]

    @property
    def db_path(self) -> Path:
        """The library database (the engine's default: ``TAGATLAS_DB`` or the data folder)."""
        from engine.paths import default_db_path

        custom = self.qs.value("library/db", "")
        return Path(str(custom)) if custom else default_db_path()

    # -- analysis ------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The analysis profile (engine.profiles) or model bundle the scan runs. Before profiles
        the setting held a bundle name; the old default ("musicnn-msd") becomes the default
        profile, a user's own model stays chosen."""
        from engine.bundle import DEFAULT_MODEL
        from engine.profiles import DEFAULT_PROFILE

        value = self.qs.value("analysis/profile", None)
        if value:
            return str(value)
        old = str(self.qs.value("analysis/model", "") or "")
        return old if old and old != DEFAULT_MODEL else DEFAULT_PROFILE

    @model.setter
    def model(self, name: str) -> None:
        self.qs.setValue("analysis/profile", name)

    @property
    def device(self) -> str:
        """"auto", "cpu", "cuda" or "cuda:N"."""
        return str(self.qs.value("analysis/device", "auto")) or "auto"

    @device.setter
    def device(self, value: str) -> None:
        self.qs.setValue("analysis/device", value)

    @property
    def engine_device(self) -> str | None:
        """What the engine's ``device=`` argument takes (None = automatic)."""
        return None if self.device == "auto" else self.device

    @property
    def quick_analysis(self) -> bool:
        """Listen to a few excerpts per track (the scanner's default) instead of all of it."""
        return _bool(self.qs.value("analysis/quick", True))

    @quick_analysis.setter
    def quick_analysis(self, value: bool) -> None:
        self.qs.setValue("analysis/quick", bool(value))

    @property
    def max_patches(self) -> int | None:
        """What the scanner's ``max_patches`` takes: :data:`QUICK_ANALYSIS_PATCHES` (the quick
        analysis, its default depth) or None (every excerpt)."""
        return QUICK_ANALYSIS_PATCHES if self.quick_analysis else None

    @property
    def workers(self) -> int | None:
        """Decoding processes (None: the engine's default; 0: decode in the scan thread)."""
        value = int(self.qs.value("analysis/workers", -1))
        return None if value < 0 else value

    @workers.setter
    def workers(self, value: int | None) -> None:
        self.qs.setValue("analysis/workers", -1 if value is None else int(value))

    # -- tag policy --------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return str(self.qs.value("tags/mode", "fill"))

    @mode.setter
    def mode(self, value: str) -> None:
        self.qs.setValue("tags/mode", value)

    @property
    def id3_version(self) -> int:
        return int(self.qs.value("tags/id3_version", 4))

    @id3_version.setter
    def id3_version(self, value: int) -> None:
        self.qs.setValue("tags/id3_version", int(value))

    @property
    def write_scores(self) -> bool:
        return _bool(self.qs.value("tags/write_scores", True))

    @write_scores.setter
    def write_scores(self, value: bool) -> None:
        self.qs.setValue("tags/write_scores", bool(value))

    @property
    def write_rhythm(self) -> bool:
        """Write the analysed tempo (BPM) and key with the tags."""
        return _bool(self.qs.value("tags/write_rhythm", True))

    @write_rhythm.setter
    def write_rhythm(self, value: bool) -> None:
        self.qs.setValue("tags/write_rhythm", bool(value))

    @property
    def key_notation(self) -> str:
        """How keys are shown and written: "standard" (F#m), "camelot" (11A), "openkey" (4m)."""
        value = str(self.qs.value("tags/key_notation", "standard") or "standard")
        return value if value in ("standard", "camelot", "openkey") else "standard"

    @key_notation.setter
    def key_notation(self, value: str) -> None:
        self.qs.setValue("tags/key_notation", value)

    @property
    def preserve_mtime(self) -> bool:
        return _bool(self.qs.value("tags/preserve_mtime", False))

    @preserve_mtime.setter
    def preserve_mtime(self, value: bool) -> None:
        self.qs.setValue("tags/preserve_mtime", bool(value))

    def field_for(self, category: str) -> str | None:
        """The logical field a category is written to (None: not written)."""
        default = _default_policy().fields[category]
        value = self._get_json(f"tags/field_{category}", default)
        return value or None

    def set_field(self, category: str, name: str | None) -> None:
        self._set_json(f"tags/field_{category}", name or None)

    def threshold_for(self, category: str) -> float | None:
        """The category's threshold (None: the model's own per-tag thresholds)."""
        value = self._get_json(f"tags/threshold_{category}", None)
        return None if value is None else float(value)

    def set_threshold(self, category: str, value: float | None) -> None:
        self._set_json(f"tags/threshold_{category}", None if value is None else round(float(value), 3))

    def max_for(self, category: str) -> int:
        default = _default_policy().rules[category].max_count
        return int(self._get_json(f"tags/max_{category}", default))

    def set_max(self, category: str, value: int) -> None:
        self._set_json(f"tags/max_{category}", int(value))

    def relative_for(self, category: str) -> float | None:
        """How close to the category's best a further value must score (None: no such rule)."""
        default = _default_policy().rules[category].relative
        value = self._get_json(f"tags/relative_{category}", default)
        return None if value is None or float(value) <= 0 else float(value)

    def set_relative(self, category: str, value: float | None) -> None:
        self._set_json(f"tags/relative_{category}", 0.0 if value is None else round(float(value), 3))

    def policy(self, *, thresholds: dict[str, float | None] | None = None):
        """The tag policy these settings describe; ``thresholds`` overrides some categories
        (the review panel's sliders)."""
        from engine.metadata import CategoryRule, TagPolicy

        rules = {}
        for cat in CATEGORIES:
            thr = self.threshold_for(cat)
            if thresholds is not None and cat in thresholds:
                thr = thresholds[cat]
            rules[cat] = CategoryRule(threshold=thr, max_count=self.max_for(cat),
                                      relative=self.relative_for(cat))
        fields = {cat: self.field_for(cat) for cat in CATEGORIES}
        return TagPolicy(mode=self.mode, rules=rules, fields=fields, id3_version=self.id3_version,
                         write_scores=self.write_scores, write_bpm=self.write_rhythm,
                         write_key=self.write_rhythm, key_notation=self.key_notation)

    # -- window state ----------------------------------------------------------------------------
    def window_value(self, key: str) -> Any:
        return self.qs.value(f"window/{key}")

    def set_window_value(self, key: str, value: Any) -> None:
        self.qs.setValue(f"window/{key}", value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
