"""How many files of a folder carry a genre and a mood (read with Tag Atlas's own readers).

    python benchmarks/count_tagged.py FOLDER [FOLDER_BEFORE]

The issue-11 check: copy a folder of real recordings, ``tagatlas scan`` it and
``tagatlas tag --write`` with the defaults, then count here; with ``FOLDER_BEFORE`` (the
untouched originals, same relative paths) it also says how many files had no genre/mood
before and got one.
"""
from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import TagAtlasError
from engine.metadata import read_tags


def _fields(folder: Path) -> dict[Path, tuple[bool, bool]]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            try:
                t = read_tags(p)
            except TagAtlasError:      # not a format that carries tags (.npz, .json, .deb, ...)
                continue
            out[p.relative_to(folder)] = (bool(t.get("genre")), bool(t.get("mood")))
    return out


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    after = _fields(Path(argv[0]))
    n = len(after)
    g = sum(a for a, _ in after.values())
    m = sum(b for _, b in after.values())
    print(f"{n} files: genre {g} ({g / max(n, 1):.1%}), mood {m} ({m / max(n, 1):.1%})")
    if len(argv) == 2:
        before = _fields(Path(argv[1]))
        for k, name in ((0, "genre"), (1, "mood")):
            lacking = [p for p, v in before.items() if not v[k] and p in after]
            got = sum(after[p][k] for p in lacking)
            print(f"  {name}: {len(lacking)} files had none before, {got} got one "
                  f"({got / max(len(lacking), 1):.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
