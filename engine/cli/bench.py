"""``tagatlas bench``: decode / features / model / end-to-end throughput (see engine.bench)."""
from __future__ import annotations


def register(sub) -> None:
    from .. import bench

    p = sub.add_parser("bench", help="measure tagging throughput on generated 4-minute MP3s",
                       description=bench.__doc__)
    bench.add_arguments(p)
    p.set_defaults(func=bench.run)
