"""The scan-claims part of the library: which running scan is analysing which track, so a
second scan at the same time skips that work and a dead scan's claims are taken over."""
from __future__ import annotations

import sqlite3
import time
from typing import Iterable

from .owners import ProcessOwner


class ScanClaims:
    """Claims on tracks by running scans. A part of :class:`engine.library.Library`."""

    _conn: sqlite3.Connection

    #: A claim by a process on another host (whose liveness cannot be checked) counts for this
    #: long after it was taken; claims of dead local processes end at once.
    FOREIGN_CLAIM_TTL_S = 6 * 3600.0

    def claim_tracks(self, track_ids: Iterable[int]) -> set[int]:
        """Claim tracks for analysis by this process; return the ids now claimed by it.

        A track claimed by another scan that is still running is not claimed (a second scan
        skips work in progress); claims of scans that died are taken over. Claims end with
        :meth:`release_claims`.
        """
        me = ProcessOwner.current()
        mine = me.to_json()
        ids = [int(t) for t in track_ids]
        got: set[int] = set()
        alive: dict[str, bool] = {}
        now = time.time()
        with self.transaction():
            held = {}
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                held.update({r[0]: (r[1], r[2]) for r in self._conn.execute(
                    f"SELECT track_id, owner, at FROM scan_claims WHERE track_id IN "
                    f"({','.join('?' * len(part))})", part)})
            for tid in ids:
                if tid in held and held[tid][0] != mine:
                    text, at = held[tid]
                    if text not in alive:
                        owner = ProcessOwner.from_json(text)
                        live = owner.is_alive() if owner is not None else False
                        alive[text] = (now - at < self.FOREIGN_CLAIM_TTL_S) if live is None else live
                    if alive[text]:
                        continue
                got.add(tid)
            self._conn.executemany(
                "INSERT INTO scan_claims (track_id, owner, at) VALUES (?,?,?) ON CONFLICT(track_id)"
                " DO UPDATE SET owner = excluded.owner, at = excluded.at",
                [(t, mine, now) for t in got])
        return got

    def release_claims(self, track_ids: Iterable[int] | None = None) -> None:
        """End this process's claims (all of them, or those on ``track_ids``)."""
        mine = ProcessOwner.current().to_json()
        if track_ids is None:
            self._conn.execute("DELETE FROM scan_claims WHERE owner = ?", (mine,))
        else:
            self._conn.executemany("DELETE FROM scan_claims WHERE track_id = ? AND owner = ?",
                                   [(int(t), mine) for t in track_ids])
