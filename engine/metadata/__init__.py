"""Reading and writing tags: the tag policy, one writer per format, safe writes and undo.

Typical use (the library and the CLI do this)::

    current = read_tags(path)                                  # FileTags
    change = plan_changes(current, scores, info.tags, info.name, policy,
                          thresholds=info.threshold_array())  # pure: the dry run
    print(change.format_diff())
    record = apply_change(path, change, policy)                # WriteRecord, journal it
    restore_fields(path, record.before, after=record.after)    # undo

Errors are ``TagReadError`` / ``TagWriteError`` (``engine.errors.MetadataError``) with the path
and a plain reason; the ``try_`` variants return them instead of raising.
"""
from __future__ import annotations

from ..errors import MetadataError, TagReadError, TagWriteError
from .filetags import SCORES_FIELD, STANDARD_FIELDS, FileTags, split_values
from .policy import (MODES, CategoryRule, TagChange, TagPolicy, check_field_name, plan_changes,
                     predicted_values, scores_json)
from .registry import TagFormat, format_for, register, supported_extensions
from .safewrite import remove_stale_temp_files
from .tagio import (WriteRecord, apply_change, plan_file, read_cover, read_tags, restore_fields,
                    try_apply_change, try_read_tags, try_restore_fields)

__all__ = [
    "MetadataError", "TagReadError", "TagWriteError",
    "FileTags", "SCORES_FIELD", "STANDARD_FIELDS", "split_values",
    "MODES", "CategoryRule", "TagPolicy", "TagChange", "plan_changes", "predicted_values",
    "scores_json", "check_field_name",
    "TagFormat", "register", "format_for", "supported_extensions",
    "WriteRecord", "plan_file", "read_tags", "try_read_tags", "read_cover", "apply_change", "try_apply_change",
    "restore_fields", "try_restore_fields", "remove_stale_temp_files",
]
