"""What a scan reports (:class:`ScanSummary`) and what its phases share while it runs
(:class:`ScanContext`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import FileError
from ..types import CancelFn, PhaseProgressFn
from .db import Library
from .records import ShownPath


@dataclass
class ScanFailure(ShownPath):
    path: str
    stage: str        # scan | decode | analyse
    kind: str
    reason: str


@dataclass
class ScanSummary:
    roots: list[str]
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    gone: int = 0
    failed: int = 0          # files with a recorded error in this scan
    analysed: int = 0        # tracks analysed in this scan
    skipped: int = 0         # hidden/system entries left out
    loops: int = 0           # folders reached twice (symlink loops)
    temp_files_removed: int = 0  # leftovers of killed tag writes, deleted
    in_progress_elsewhere: int = 0  # tracks another running scan is analysing, left to it
    rhythm_analysed: int = 0  # tracks whose tempo, beats and key were analysed in this scan
    notes: list[tuple[str, str]] = field(default_factory=list)   # (path, what to know), analysed anyway
    unlisted: list[tuple[str, str]] = field(default_factory=list)
    not_files: list[tuple[str, str]] = field(default_factory=list)   # (path, why), left out
    failures: list[ScanFailure] = field(default_factory=list)
    model: str | None = None
    cancelled: bool = False
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        return self.new + self.changed + self.unchanged + self.moved


@dataclass
class ScanContext:
    """The library, the summary being filled, and the settings every phase of one scan uses."""

    library: Library
    summary: ScanSummary
    report: PhaseProgressFn
    cancel: CancelFn
    commit_every: int = 50
    commit_seconds: float = 2.0
    workers: int | None = None
    device: str | None = None
    failed_paths: set[str] = field(default_factory=set)

    def fail(self, path: str, stage: str, error: BaseException, track_id: int | None) -> None:
        """Record that ``path`` failed at ``stage`` (in the library and the summary)."""
        self.library.add_file_error(stage, error, track_id=track_id,
                                    path=None if track_id else path)
        if isinstance(error, FileError):
            kind, reason = error.kind, error.reason
        else:
            kind, reason = type(error).__name__, str(error)
        self.summary.failures.append(ScanFailure(path, stage, kind, reason))
        self.failed_paths.add(path)
