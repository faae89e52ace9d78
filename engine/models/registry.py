"""Models by name: a dict registry, not an if/elif chain.

Every architecture module registers its classes with :func:`register`; bundles name the
architecture and its constructor arguments, and :func:`build_model` rebuilds it.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from ..errors import ModelError

_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register(name: str) -> Callable[[T], T]:
    """Class decorator: make an architecture available as ``name``."""

    def deco(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"architecture {name!r} registered twice")
        _REGISTRY[name] = cls
        cls.architecture = name  # type: ignore[attr-defined]
        return cls

    return deco


def _load_builtin() -> None:
    # Importing the modules runs their @register decorators.
    from . import head, musicnn, seed, tiny, won2020  # noqa: F401


def available_architectures() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def architecture_class(name: str) -> type:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(
            f"unknown model architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def build_model(name: str, **kwargs: Any):
    """Construct architecture ``name`` with constructor arguments ``kwargs``."""
    return architecture_class(name)(**kwargs)
