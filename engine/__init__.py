"""Tag Atlas's engine: decode, tag, combine, write and navigate a music library.

The front door (names load on first use, so ``import engine`` stays cheap)::

    import engine

    engine.list_bundles()                                   # the models that are installed
    with engine.Tagger(["musicnn-msd", "jamendo-musicnn"]) as tagger:
        result = tagger.tag_files(["song.flac"])[0]         # TrackTags (or TrackFailure)

    with engine.Library("library.sqlite3") as lib:
        engine.scan(lib, ["~/Music"])                       # the default analysis profile
        plan = engine.plan_writes(lib, [t.id for t in lib.query_tracks()], engine.TagPolicy())
        engine.write_planned(lib, plan)                     # journaled; engine.undo_last_batch(lib)

Every failure the engine reports on purpose is an :class:`engine.TagAtlasError` with a plain
reason (``AudioError``, ``ModelError``, ``MetadataError``, ``LibraryError``).
"""
from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it
_EXPORTS = {
    # tagging
    "Tagger": "engine.tagger", "TrackTags": "engine.tagger", "TrackFailure": "engine.tagger",
    "QUICK_ANALYSIS_PATCHES": "engine.tagger", "pick_device": "engine.tagger",
    # bundles and profiles
    "BundleInfo": "engine.bundle", "load_bundle": "engine.bundle", "read_bundle_info": "engine.bundle",
    "list_bundles": "engine.bundle", "save_bundle": "engine.bundle", "DEFAULT_MODEL": "engine.bundle",
    "PROFILES": "engine.profiles", "DEFAULT_PROFILE": "engine.profiles", "profile_models": "engine.profiles",
    "FeatureSpec": "engine.features", "LogMel": "engine.features",
    # the vocabulary and the combination of several models
    "TagInfo": "engine.vocab", "CATEGORIES": "engine.vocab",
    "CanonicalTag": "engine.canonical", "canonical_for": "engine.canonical",
    "Combiner": "engine.combine", "ModelVocabulary": "engine.combine", "CombinedScores": "engine.combine",
    # the library and the scan
    "Library": "engine.library.db", "scan": "engine.library.scanner",
    "plan_writes": "engine.library.writing", "write_planned": "engine.library.writing",
    "undo_last_batch": "engine.library.writing", "undo_files": "engine.library.writing",
    "track_predictions": "engine.library.predictions", "library_combiner": "engine.library.predictions",
    # tags in files
    "read_tags": "engine.metadata", "plan_changes": "engine.metadata", "apply_change": "engine.metadata",
    "restore_fields": "engine.metadata", "TagPolicy": "engine.metadata", "CategoryRule": "engine.metadata",
    "TagChange": "engine.metadata",
    # errors
    "TagAtlasError": "engine.errors", "AudioError": "engine.errors", "ModelError": "engine.errors",
    "MetadataError": "engine.errors", "LibraryError": "engine.errors",
    "ParameterError": "engine.errors", "DeviceError": "engine.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
