"""The tag policy: which predicted tags go into which field, and how they meet the user's own.

``plan_changes`` is a pure function of the file's current tags, the model's scores and a
``TagPolicy``; it returns a ``TagChange`` (before/after of each logical field that would change)
that is shown as a dry run and later handed to ``apply_change``.

Rules, per category (genre, mood, instrument, vocals, era, other):

* A tag is a candidate when its score reaches the category's threshold (``CategoryRule.threshold``;
  ``None`` means the model's own per-tag threshold, passed as ``thresholds=``, else 0.5).
* Tags are written under their display name (``TagInfo.display``); near-duplicates that share a
  display name ("female vocalist" / "female vocalists" -> "Female Vocals") become one value with
  the higher score.
* The ``max_count`` best candidates are taken, highest score first; with ``relative`` set, a
  candidate after the first must also score at least ``relative`` times the first one's score
  (so a clear genre is not followed by a weak second one). Review overrides come after
  that: ``reject`` removes values (the next candidate does not move up, so what the user saw stays
  what they get), ``accept`` adds values whatever their score. Both take raw tag names or display
  names, case-insensitively.
* Modes (``TagPolicy.mode``, or per category): ``fill`` writes a field only when the file has no
  value in it (the default: a user's own genre is never touched); ``merge`` keeps the user's values
  first and appends the new ones that are not there yet (compared case-insensitively); ``replace``
  puts the predicted values in place of the user's. ``replace`` never empties a field: with no
  candidate the field is left as it is.
* Categories go to logical fields (``TagPolicy.fields``): genre -> "genre", mood -> "mood",
  instrument -> "TAGATLAS_INSTRUMENTS", vocals -> "TAGATLAS_VOCALS", era -> "TAGATLAS_ERA",
  other -> None (not written). Any of
  them can be remapped to "genre", "mood" or a custom name, or disabled with None. Categories that
  share a field are joined in category order and use the first one's mode.
* With ``write_scores`` (on by default) the whole score vector and the model name go, as compact
  JSON ``{"model": name, "scores": {tag: 0.123, ...}}``, into one custom field
  (``TagPolicy.scores_field``, default "TAGATLAS_SCORES"), replacing what an earlier run put there.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable

import numpy as np

from ..errors import ParameterError
from ..vocab import CATEGORIES, TagInfo
from .filetags import SCORES_FIELD, STANDARD_FIELDS, FileTags, normalise_field

MODES = ("fill", "merge", "replace")
#: Default ``CategoryRule.relative`` for categories the calibration table
#: (``resources/vocabulary/calibration.json``, chosen by ``benchmarks/devset_eval.py`` on the
#: development set) has no value for: a second value must come close to the first.
DEFAULT_RELATIVE = 0.9

#: Custom names that would collide with fields players read for something else.
_RESERVED = {"TITLE", "ARTIST", "ALBUM", "ALBUMARTIST", "ALBUM ARTIST", "TRACKNUMBER",
             "TRACKTOTAL", "DISCNUMBER", "DATE", "YEAR", "COMMENT", "DESCRIPTION", "LYRICS",
             "METADATA_BLOCK_PICTURE", "COVERART", "COVERARTMIME", "ENCODER", "VENDOR"}
_CUSTOM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .\-]{0,63}\Z")


@dataclass(frozen=True)
class CategoryRule:
    """How many tags of one category are written, from what score, and how they meet existing values."""

    threshold: float | None = None   # None: the model's per-tag thresholds (0.5 without them)
    max_count: int = 3
    mode: str | None = None          # None: TagPolicy.mode
    #: a value after the first must score at least this fraction of the category's best score
    relative: float | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ParameterError(f"threshold must be between 0 and 1, not {self.threshold}")
        if self.relative is not None and not 0.0 <= self.relative <= 1.0:
            raise ParameterError(f"relative must be between 0 and 1, not {self.relative}")
        if self.max_count < 0:
            raise ParameterError(f"max_count must be 0 or more, not {self.max_count}")
        if self.mode is not None and self.mode not in MODES:
            raise ParameterError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")


def default_relative(category: str) -> float:
    """The default relative rule of ``category``: the calibration's, else DEFAULT_RELATIVE."""
    from ..combine import calibrated_relative     # late: combine is the heavier module
    value = calibrated_relative(category)
    return DEFAULT_RELATIVE if value is None else value


def _default_rules() -> dict[str, CategoryRule]:
    return {"genre": CategoryRule(max_count=2, relative=default_relative("genre")),
            "mood": CategoryRule(max_count=2, relative=default_relative("mood")),
            "instrument": CategoryRule(max_count=3, relative=default_relative("instrument")),
            "vocals": CategoryRule(max_count=1), "era": CategoryRule(max_count=1),
            "other": CategoryRule(max_count=3)}


def _default_fields() -> dict[str, str | None]:
    return {"genre": "genre", "mood": "mood", "instrument": "TAGATLAS_INSTRUMENTS",
            "vocals": "TAGATLAS_VOCALS", "era": "TAGATLAS_ERA", "other": None}


def check_field_name(name: str) -> str:
    """Normalise a logical field name; raise ValueError for names a writer must not use."""
    key = normalise_field(name)
    if key in STANDARD_FIELDS:
        return key
    if not _CUSTOM_NAME.match(key) or key in _RESERVED:
        raise ParameterError(
            f"{name!r} cannot be used as a custom field name (use letters, digits, '_', '-', '.', "
            f"spaces; not a standard field such as TITLE or COMMENT)")
    return key


@dataclass
class TagPolicy:
    """What ``plan_changes`` writes and how (see the module docstring). ``id3_version`` (3 or 4) is
    the ID3 version for files that have no ID3v2 tag yet; files with one keep their version."""

    mode: str = "fill"
    rules: dict[str, CategoryRule] = field(default_factory=_default_rules)
    fields: dict[str, str | None] = field(default_factory=_default_fields)
    id3_version: int = 4
    write_scores: bool = True
    scores_field: str = SCORES_FIELD
    score_decimals: int = 3
    #: tempo and key (``plan_changes(rhythm=...)``): written to the "bpm" / "key" fields under the
    #: same mode as the genres ("merge" acts as "fill": a file holds one BPM and one key), only
    #: when the analysis is at least this confident
    write_bpm: bool = True
    write_key: bool = True
    key_notation: str = "standard"
    min_bpm_confidence: float = 0.3
    min_key_confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.id3_version not in (3, 4):
            raise ParameterError(f"id3_version must be 3 or 4, not {self.id3_version!r}")
        rules = _default_rules()
        for cat, rule in self.rules.items():
            if cat not in CATEGORIES:
                raise ParameterError(f"unknown category {cat!r} (known: {', '.join(CATEGORIES)})")
            rules[cat] = rule if isinstance(rule, CategoryRule) else CategoryRule(**rule)
        self.rules = rules
        fields = _default_fields()
        for cat, name in self.fields.items():
            if cat not in CATEGORIES:
                raise ParameterError(f"unknown category {cat!r} (known: {', '.join(CATEGORIES)})")
            fields[cat] = None if name is None else check_field_name(name)
        if any(name in ("bpm", "key") for name in fields.values()):
            raise ParameterError("the bpm and key fields hold the tempo and key analysis; "
                             "a tag category cannot be written there")
        self.fields = fields
        if self.key_notation not in ("standard", "camelot", "openkey"):
            raise ParameterError(f"key_notation must be standard, camelot or openkey, not {self.key_notation!r}")
        for name in ("min_bpm_confidence", "min_key_confidence"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ParameterError(f"{name} must be between 0 and 1")
        self.scores_field = check_field_name(self.scores_field)
        if self.scores_field in STANDARD_FIELDS or self.scores_field in self.fields.values():
            raise ParameterError(f"the scores field {self.scores_field!r} must be a field of its own")

    def rule(self, category: str) -> CategoryRule:
        return self.rules[category]

    def mode_for(self, category: str) -> str:
        return self.rules[category].mode or self.mode

    def field_for(self, category: str) -> str | None:
        return self.fields[category]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rules"] = {cat: asdict(rule) for cat, rule in self.rules.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TagPolicy":
        """Build a policy from (possibly partial) settings; unknown keys raise ValueError."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ParameterError(f"unknown tag policy settings: {', '.join(sorted(unknown))}")
        return cls(**data)

    def with_mode(self, mode: str) -> "TagPolicy":
        """A copy with another global mode (per-category modes stay)."""
        return replace(self, mode=mode)


# --- the planned change ------------------------------------------------------------------
def _show_path(path: str) -> str:
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class TagChange:
    """What a write would do to one file: logical field -> values before and after.

    Only fields that change are listed. A ``TagChange`` is false (``bool(change)``) when nothing
    would change. ``before`` is what ``plan_changes`` saw; ``apply_change`` refuses to write when the
    file no longer holds it (the file was edited after the preview).
    """

    path: str
    before: dict[str, list[str]] = field(default_factory=dict)
    after: dict[str, list[str]] = field(default_factory=dict)
    model: str = ""
    scores_field: str | None = SCORES_FIELD

    def __bool__(self) -> bool:
        return bool(self.after)

    @property
    def fields(self) -> list[str]:
        return list(self.after)

    def _show(self, name: str, values: list[str]) -> str:
        if not values:
            return "(none)"
        if name == self.scores_field:
            try:
                data = json.loads(values[0])
                return f"scores of {len(data['scores'])} tags from {data['model']}"
            except (ValueError, KeyError, TypeError):
                return values[0] if len(values[0]) < 60 else values[0][:57] + "..."
        return ", ".join(values)

    def format_diff(self, *, with_path: bool = True) -> str:
        """A human-readable diff, one line per field; "" when nothing changes."""
        if not self:
            return ""
        width = max(len(name) for name in self.after) + 1
        lines = [_show_path(self.path)] if with_path else []
        indent = "  " if with_path else ""
        for name, values in self.after.items():
            old = self.before.get(name, [])
            lines.append(f"{indent}{name + ':':<{width}} {self._show(name, old)} -> "
                         f"{self._show(name, values)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TagChange":
        return cls(**data)


# --- planning ------------------------------------------------------------------------------
def _keyset(names: Iterable[str] | None) -> set[str]:
    return {n.strip().casefold() for n in names} if names else set()


def scores_json(scores: np.ndarray, tags: list[TagInfo], model_name: str, decimals: int = 3) -> str:
    """The compact JSON stored in the scores field."""
    values = {t.name: round(float(s), decimals) for t, s in zip(tags, scores)}
    return json.dumps({"model": model_name, "scores": values}, ensure_ascii=False,
                      separators=(",", ":"))


def predicted_values(scores: np.ndarray, tags: list[TagInfo], policy: TagPolicy, *,
                     accept: Iterable[str] | None = None, reject: Iterable[str] | None = None,
                     thresholds: np.ndarray | None = None) -> dict[str, list[str]]:
    """Category -> display names that the policy would write, best first (fields not applied).

    Per category, tags sharing a display name are merged (the highest score counts, and the
    entry passes when any of its tags reaches its threshold). The passing entries are kept,
    best first, up to the category rule's ``max_count``; with a ``relative`` rule, only those
    scoring at least that fraction of the best one's score stay. Accepted tags are added
    whatever their score and rejected ones removed whatever their score.

    Parameters
    ----------
    scores : np.ndarray
        [shape=(n_tags,)] tag probabilities in ``tags`` order (flattened here).
    tags : list of TagInfo
        The model's tags (``BundleInfo.tags``), with categories and display names.
    policy : TagPolicy
        Its per-category rules (threshold, ``relative``, ``max_count``) decide what passes.
    accept : iterable of str, optional
        Review overrides: raw tag names or display names (case-insensitive) to keep even when
        they do not pass the rule. None: none.
    reject : iterable of str, optional
        Raw tag names or display names (case-insensitive) never to write, even when they pass.
        A tag both accepted and rejected is left out.
    thresholds : np.ndarray, optional
        [shape=(n_tags,)] the model's per-tag thresholds (``BundleInfo.threshold_array()``), used
        by categories whose rule has no threshold of its own. None: 0.5 for those categories.

    Returns
    -------
    dict of str to list of str
        For every category in ``CATEGORIES``, the display names to write, highest score first
        (an empty list when none pass).

    Raises
    ------
    ParameterError
        When ``scores`` or ``thresholds`` do not have one value per tag.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.shape[0] != len(tags):
        raise ParameterError(f"{scores.shape[0]} scores for {len(tags)} tags")
    if thresholds is not None:
        thresholds = np.asarray(thresholds, dtype=np.float64).ravel()
        if thresholds.shape[0] != len(tags):
            raise ParameterError(f"{thresholds.shape[0]} thresholds for {len(tags)} tags")
    accepted, rejected = _keyset(accept), _keyset(reject)
    out: dict[str, list[str]] = {}
    for cat in CATEGORIES:
        rule = policy.rule(cat)
        merged: dict[str, dict[str, Any]] = {}     # display (casefold) -> entry
        for i, tag in enumerate(tags):
            if tag.category != cat:
                continue
            threshold = (rule.threshold if rule.threshold is not None
                         else float(thresholds[i]) if thresholds is not None else 0.5)
            entry = merged.setdefault(tag.display.casefold(), {
                "display": tag.display, "score": -np.inf, "passes": False, "names": set()})
            entry["score"] = max(entry["score"], float(scores[i]))
            entry["passes"] = entry["passes"] or float(scores[i]) >= threshold
            entry["names"].update({tag.name.casefold(), tag.display.casefold()})
        ranked = sorted(merged.values(), key=lambda e: -e["score"])
        passing = [e for e in ranked if e["passes"]]
        if rule.relative is not None and passing:
            floor = rule.relative * passing[0]["score"]
            passing = passing[:1] + [e for e in passing[1:] if e["score"] >= floor]
        picked = {id(e) for e in passing[:rule.max_count]}
        picked |= {id(e) for e in ranked if e["names"] & accepted}
        out[cat] = [e["display"] for e in ranked
                    if id(e) in picked and not e["names"] & rejected]
    return out


def _dedupe(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for v in values:
        if v.casefold() not in seen:
            seen.add(v.casefold())
            out.append(v)
    return out


def plan_changes(current: FileTags, scores: np.ndarray, tags: list[TagInfo], model_name: str,
                 policy: TagPolicy, *, accept: Iterable[str] | None = None,
                 reject: Iterable[str] | None = None,
                 thresholds: np.ndarray | None = None,
                 rhythm: dict[str, str] | None = None) -> TagChange:
    """The change ``policy`` makes to a file whose tags are ``current`` (pure; touches no file).

    Parameters
    ----------
    current : the file's tags (``read_tags``, or as stored by the library).
    scores : np.ndarray [shape=(n_tags,)] tag probabilities in ``tags`` order.
    tags : the model's tags (``BundleInfo.tags``), with categories and display names.
    model_name : stored with the scores.
    accept, reject : review overrides, raw tag names or display names.
    thresholds : np.ndarray [shape=(n_tags,)] the model's per-tag thresholds
        (``BundleInfo.threshold_array()``), used by categories whose rule has no threshold.
    rhythm : ``{"bpm": "128", "key": "F#m"}`` (either may be missing): the tempo and key to
        write, already past the policy's confidence floors (see :func:`rhythm_values`).
    """
    per_cat = predicted_values(scores, tags, policy, accept=accept, reject=reject,
                               thresholds=thresholds)
    planned: dict[str, list[str]] = {}
    modes: dict[str, str] = {}
    for cat in CATEGORIES:
        name = policy.field_for(cat)
        if name is None:
            continue
        planned.setdefault(name, [])
        planned[name] = _dedupe(planned[name] + per_cat[cat])
        modes.setdefault(name, policy.mode_for(cat))

    change = TagChange(path=current.path, model=model_name,
                       scores_field=policy.scores_field if policy.write_scores else None)
    for name, predicted in planned.items():
        have = current.get(name)
        mode = modes[name]
        if mode == "fill":
            new = predicted if not have else have
        elif mode == "merge":
            known = {v.casefold() for v in have}
            new = have + [v for v in predicted if v.casefold() not in known]
        else:  # replace
            new = predicted or have
        if new != have:
            change.before[name] = have
            change.after[name] = new
    for name, value in (rhythm or {}).items():
        if name not in ("bpm", "key") or not value or not getattr(policy, f"write_{name}"):
            continue
        have = current.get(name)
        new = [value] if (policy.mode == "replace" or not have) else have
        if new != have:
            change.before[name] = have
            change.after[name] = new
    if policy.write_scores:
        value = [scores_json(np.asarray(scores).ravel(), tags, model_name, policy.score_decimals)]
        have = current.get(policy.scores_field)
        if value != have:
            change.before[policy.scores_field] = have
            change.after[policy.scores_field] = value
    return change


def rhythm_values(policy: TagPolicy, *, bpm: float | None = None, bpm_confidence: float = 0.0,
                  key: tuple[int, str] | None = None, key_confidence: float = 0.0) -> dict[str, str]:
    """The ``rhythm=`` argument of :func:`plan_changes` from an analysis: the BPM as a whole
    number (what ID3 ``TBPM`` and MP4 ``tmpo`` hold and players show) and the key in the
    policy's notation, each only when enabled and at least as confident as the policy's floor."""
    from ..key import key_name

    out: dict[str, str] = {}
    if policy.write_bpm and bpm and bpm_confidence >= policy.min_bpm_confidence:
        out["bpm"] = str(int(round(bpm)))
    if policy.write_key and key is not None and key_confidence >= policy.min_key_confidence:
        out["key"] = key_name(key[0], key[1], policy.key_notation)
    return out


__all__ = ["rhythm_values", "MODES", "DEFAULT_RELATIVE", "default_relative", "CategoryRule", "TagPolicy",
           "TagChange", "plan_changes", "predicted_values", "scores_json", "check_field_name"]
