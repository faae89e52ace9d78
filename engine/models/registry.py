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


#: Constructor arguments beyond these are not a model anyone trained (an 11-TB layer, say).
MAX_INT_ARG = 1 << 20
MAX_STR_ARG = 1000
MAX_ARG_DEPTH = 8


def check_arch_args(name: str, kwargs: dict[str, Any], where: str = "") -> None:
    """Refuse constructor arguments that ``name`` does not take or that are absurd (huge or
    non-finite numbers, long strings, deep nesting), for any registered architecture: the
    values are checked by type, not by what one architecture means by them."""
    import inspect
    import math

    cls = architecture_class(name)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise ModelError(f"model bundle{where}: arch_args do not fit architecture {name!r}: {exc}") from None

    def walk(value: Any, key: str, depth: int) -> None:
        if depth > MAX_ARG_DEPTH:
            raise ModelError(f"model bundle{where}: arch_args {key!r} is nested too deeply")
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int):
            if abs(value) > MAX_INT_ARG:
                raise ModelError(f"model bundle{where}: arch_args {key!r} = {value} is out of range "
                                 f"(at most {MAX_INT_ARG})")
        elif isinstance(value, float):
            if not math.isfinite(value) or abs(value) > MAX_INT_ARG:
                raise ModelError(f"model bundle{where}: arch_args {key!r} = {value} is out of range")
        elif isinstance(value, str):
            if len(value) > MAX_STR_ARG:
                raise ModelError(f"model bundle{where}: arch_args {key!r} is a string of {len(value)} characters")
        elif isinstance(value, (list, tuple)):
            if len(value) > MAX_STR_ARG:
                raise ModelError(f"model bundle{where}: arch_args {key!r} is a list of {len(value)} items")
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]", depth + 1)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}", depth + 1)
        else:
            raise ModelError(f"model bundle{where}: arch_args {key!r} has an unusable type "
                             f"{type(value).__name__}")

    for key, value in kwargs.items():
        walk(value, key, 0)


def build_model(name: str, **kwargs: Any):
    """Construct architecture ``name`` with constructor arguments ``kwargs``."""
    return architecture_class(name)(**kwargs)
