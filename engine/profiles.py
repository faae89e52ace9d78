"""Analysis profiles: which taggers a library scan runs together on one decode.

The default profile runs two musicnn taggers whose vocabularies complement each other:

* ``musicnn-msd`` (Pons & Serra, Million Song Dataset last.fm tags): rock/pop/electronic genres,
  vocals (female/male/instrumental), eras, moods such as mellow, sad, happy, party;
* ``jamendo-musicnn`` (Won et al. 2020, MTG-Jamendo): the genres the MSD vocabulary lacks --
  classical, orchestral, soundtrack, world, reggae, techno, trance, trip hop, lounge, new age --
  14 instruments, and moods/themes (energetic, relaxing, emotional, happy, film).

Both take 16-kHz audio with the same 512/256 STFT, so they share the decode and the power
spectrogram; quick analysis of a 4-minute track stays within half a second on 2 cores
(``python benchmarks/bench_profile.py``). A profile name, a single bundle name, or a list of
bundle names are all accepted wherever a scan takes a model.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ParameterError


@dataclass(frozen=True)
class Profile:
    name: str
    models: tuple[str, ...]
    description: str


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("standard", ("musicnn-msd", "jamendo-musicnn"),
            "musicnn (Million Song Dataset: genres, vocals, eras, moods) + musicnn (MTG-Jamendo: "
            "classical, orchestral, soundtrack, world and 27 more genres, instruments, moods)"),
    Profile("msd", ("musicnn-msd",), "musicnn (Million Song Dataset) alone, as before profiles"),
    Profile("jamendo", ("jamendo-musicnn",), "musicnn (MTG-Jamendo) alone"),
)}
DEFAULT_PROFILE = "standard"


def profile_models(spec: str | Sequence[str] | None = None) -> list[str]:
    """The bundle names a profile name, a bundle name or a list of bundle names stands for."""
    if spec is None:
        spec = DEFAULT_PROFILE
    if isinstance(spec, str):
        if spec in PROFILES:
            return list(PROFILES[spec].models)
        if "+" in spec:
            return [s for s in spec.split("+") if s]
        return [spec]
    models = [str(m) for m in spec]
    if not models:
        raise ParameterError("an analysis profile needs at least one model")
    return models


def describe(spec: str | Sequence[str] | None = None) -> str:
    """One line for the first-run page and Settings: what a profile runs."""
    name = DEFAULT_PROFILE if spec is None else spec
    if isinstance(name, str) and name in PROFILES:
        p = PROFILES[name]
        return f"{p.name}: {' + '.join(p.models)} - {p.description}"
    return " + ".join(profile_models(spec))


__all__ = ["Profile", "PROFILES", "DEFAULT_PROFILE", "profile_models", "describe"]
