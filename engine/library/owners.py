"""Which process owns a write batch or a scan claim, and whether it still runs."""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux: clock ticks since boot, from /proc); "" when
    this system does not say, None when there is no such (living) process."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        return ""
    if fields and fields[0] in (b"Z", b"X"):   # a zombie is dead, only not reaped yet
        return None
    return fields[19].decode() if len(fields) > 19 else ""


@dataclass(frozen=True)
class ProcessOwner:
    """Which process owns a write batch or a scan claim: host, pid and the process's start time
    (so a recycled pid is not taken for the owner)."""

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> "ProcessOwner":
        ticks = _start_ticks(os.getpid()) or ""
        return cls(socket.gethostname(), os.getpid(), f"{_boot_id()}:{ticks}" if ticks else "")

    def to_json(self) -> str:
        return json.dumps({"host": self.host, "pid": self.pid, "started": self.started})

    @classmethod
    def from_json(cls, text: str | None) -> "ProcessOwner | None":
        try:
            d = json.loads(text) if text else None
            return cls(str(d["host"]), int(d["pid"]), str(d.get("started", ""))) if d else None
        except (ValueError, TypeError, KeyError):
            return None

    def is_alive(self) -> bool | None:
        """True / False for a process on this host; None when it runs on another host."""
        if self.host != socket.gethostname():
            return None
        ticks = _start_ticks(self.pid)
        if ticks is None:
            return False
        if ticks and self.started:
            return self.started == f"{_boot_id()}:{ticks}"
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
