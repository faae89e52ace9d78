"""Shared call signatures: progress reports, cancel checks, and what the scan needs of a tagger."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol

if TYPE_CHECKING:
    from .bundle import BundleInfo

#: ``progress(done, total, path)``: ``done`` of ``total`` items finished, the last one ``path``.
ProgressFn = Callable[[int, int, str], None]

#: ``progress(phase, done, total, path)``: the same, for work in named phases (the library scan:
#: "walk", "read", "analyse", "rhythm"; ``total`` is 0 while it is not known yet).
PhaseProgressFn = Callable[[str, int, int, str], None]

#: ``cancel()`` is True once the user asked to stop; long work checks it often.
CancelFn = Callable[[], bool]


class TaggerLike(Protocol):
    """What the library scan uses of a tagger (:class:`engine.tagger.Tagger` is one)."""

    @property
    def infos(self) -> "list[BundleInfo]": ...

    def iter_tag(self, paths: Iterable[str], progress: ProgressFn | None = None,
                 cancel: CancelFn | None = None) -> Iterator[Any]: ...

    def close(self) -> None: ...
