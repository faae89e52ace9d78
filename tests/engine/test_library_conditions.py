"""The optional-filter builder that the library's error log and journal share."""
import sqlite3

from engine.library.conditions import Conditions


def _rows(c: Conditions) -> list[int]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER, stage TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(1, "read"), (2, "analyse"), (3, "write")])
    return [r[0] for r in db.execute(f"SELECT id FROM t{c.where()} ORDER BY id", c.args)]


def test_no_condition_is_no_where_clause():
    assert Conditions().where() == ""
    assert not Conditions()
    assert _rows(Conditions()) == [1, 2, 3]


def test_conditions_are_anded_with_their_arguments_in_order():
    c = Conditions("id > 0").add("stage != ?", "write").add("id < ?", 3)
    assert c.where() == " WHERE id > 0 AND stage != ? AND id < ?"
    assert c.args == ["write", 3]
    assert _rows(c) == [1, 2]


def test_in_matches_the_listed_values_and_an_empty_list_matches_nothing():
    assert _rows(Conditions().add_in("stage", iter(["read", "write"]))) == [1, 3]
    assert _rows(Conditions().add_in("stage", [])) == []
