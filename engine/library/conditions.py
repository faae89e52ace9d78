"""AND-ed SQL conditions and their parameters, built one optional filter at a time."""
from __future__ import annotations

from typing import Any, Iterable


class Conditions:
    """The ``WHERE`` part of a query whose filters are each optional.

    >>> c = Conditions("state = 'done'").add("track_id = ?", 7)
    >>> c.where(), c.args
    (" WHERE state = 'done' AND track_id = ?", [7])
    """

    def __init__(self, *clauses: str) -> None:
        self.clauses: list[str] = list(clauses)
        self.args: list[Any] = []

    def add(self, clause: str, *args: Any) -> Conditions:
        """Add ``clause`` with its ``?`` parameters ``args``, in order."""
        self.clauses.append(clause)
        self.args.extend(args)
        return self

    def add_in(self, column: str, values: Iterable[Any]) -> Conditions:
        """Add ``column IN (…)`` over ``values`` (an empty list matches nothing)."""
        values = list(values)
        if not values:
            return self.add("0")
        return self.add(f"{column} IN ({','.join('?' * len(values))})", *values)

    def __bool__(self) -> bool:
        return bool(self.clauses)

    def where(self) -> str:
        """``" WHERE a AND b"``, or ``""`` when there is no condition."""
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""
