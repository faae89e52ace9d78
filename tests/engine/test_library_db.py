"""The library database: schema and migrations, paths that are not UTF-8, queries, analyses and
embeddings, errors, the write journal, playlists and layouts."""
from __future__ import annotations

import os
import sqlite3
import time

import numpy as np
import pytest

from engine.errors import CorruptAudioError, LibraryError
from engine.library import Library, parse_query, schema as dbmod, path_from_db, path_to_db


# --- opening, schema, migrations -------------------------------------------------------------------
def test_new_library_is_wal_with_foreign_keys_and_current_schema(tmp_path):
    path = tmp_path / "sub" / "lib.sqlite3"
    with Library(path) as lib:
        c = lib.connection
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert lib.schema_version == dbmod.SCHEMA_VERSION
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"tracks", "analyses", "errors", "write_journal", "write_batches", "playlists",
                "playlist_items", "layouts", "layout_points", "models"} <= tables
        assert lib.integrity_check() == ["ok"]
    assert not list(tmp_path.joinpath("sub").glob("*.bak"))  # nothing to back up when new


def test_default_path_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TAGATLAS_DB", str(tmp_path / "env.sqlite3"))
    with Library() as lib:
        assert lib.path == tmp_path / "env.sqlite3"
    assert (tmp_path / "env.sqlite3").is_file()


def test_refuses_newer_schema_and_foreign_files(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    with Library(newer) as lib:
        lib.connection.execute(f"PRAGMA user_version = {dbmod.SCHEMA_VERSION + 5}")
    with pytest.raises(LibraryError, match="newer Tag Atlas"):
        Library(newer)

    other = tmp_path / "other.sqlite3"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE notes (x)")
    c.commit()
    c.close()
    with pytest.raises(LibraryError, match="not a Tag Atlas library"):
        Library(other)

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(LibraryError, match="not a usable Tag Atlas library"):
        Library(garbage)


def test_migration_runs_once_after_a_backup(tmp_path, monkeypatch):
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        tid = lib.add_track("/m/a.mp3", size=1, mtime_ns=2)
    calls = []

    def add_rating(conn):
        calls.append(1)
        conn.execute("ALTER TABLE tracks ADD COLUMN rating INTEGER")
        conn.execute("UPDATE tracks SET rating = 3")

    v = dbmod.SCHEMA_VERSION + 1
    monkeypatch.setattr(dbmod, "MIGRATIONS", dbmod.MIGRATIONS + [(v, "ratings", add_rating)])
    with Library(path) as lib:
        assert lib.schema_version == v
        assert lib.connection.execute("SELECT rating FROM tracks WHERE id = ?", (tid,)).fetchone()[0] == 3
    with Library(path) as lib:  # already migrated: not again
        assert lib.schema_version == v
    assert calls == [1]
    backups = list(tmp_path.glob(f"lib.sqlite3.v{dbmod.SCHEMA_VERSION}-*.bak"))
    assert len(backups) == 1
    b = sqlite3.connect(backups[0])
    assert b.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
    assert b.execute("SELECT count(*) FROM tracks").fetchone()[0] == 1
    b.close()


def test_failed_migration_rolls_back_and_says_so(tmp_path, monkeypatch):
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        lib.add_track("/m/a.mp3", size=1, mtime_ns=2)

    def broken(conn):
        conn.execute("ALTER TABLE tracks ADD COLUMN half_done INTEGER")
        conn.execute("UPDATE no_such_table SET x = 1")

    v = dbmod.SCHEMA_VERSION + 1
    monkeypatch.setattr(dbmod, "MIGRATIONS", dbmod.MIGRATIONS + [(v, "broken", broken)])
    with pytest.raises(LibraryError, match=f"schema {v}.*left at schema {dbmod.SCHEMA_VERSION}"):
        Library(path)
    monkeypatch.undo()
    with Library(path) as lib:
        cols = [r[1] for r in lib.connection.execute("PRAGMA table_info(tracks)")]
        assert "half_done" not in cols
        assert lib.count_tracks() == 1


# --- tracks and paths ------------------------------------------------------------------------------
def test_non_utf8_and_long_paths_round_trip(lib, tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9-" + b"x" * 240 + b".mp3"  # latin-1 byte, 250+ bytes
    name = os.fsdecode(raw)
    tid = lib.add_track(name, size=10, mtime_ns=20, metadata={"title": "Café", "genre": ["Jazz"]})
    t = lib.get_track(tid)
    assert os.fsencode(t.path) == raw
    assert lib.get_track_by_path(raw).id == tid
    assert lib.get_track_by_path(name).id == tid
    assert "\\xe9" in t.display_path and t.display_path.encode("utf-8")
    assert path_from_db(path_to_db(name)) == name
    (row,) = lib.query_tracks("caf")
    assert row.id == tid and os.fsencode(row.path) == raw


def test_rows_carry_the_album_artist(lib):
    lib.add_track("/m/comp/01.mp3", size=1, mtime_ns=1,
                  metadata={"artist": "A", "album": "Now 42", "albumartist": "Various Artists"})
    lib.add_track("/m/solo/01.mp3", size=1, mtime_ns=1, metadata={"artist": "B", "album": "Solo"})
    rows = {r.path: r for r in lib.query_tracks()}
    assert rows["/m/comp/01.mp3"].albumartist == "Various Artists"
    assert rows["/m/solo/01.mp3"].albumartist is None


def test_add_track_updates_in_place(lib):
    a = lib.add_track("/m/a.mp3", size=1, mtime_ns=1, metadata={"artist": "A", "genre": "Rock"})
    b = lib.add_track("/m/a.mp3", size=2, mtime_ns=3, metadata={"artist": "B", "date": "1999"})
    assert a == b
    t = lib.get_track(a)
    assert (t.size, t.mtime_ns, t.artist, t.genre, t.extra) == (2, 3, "B", [], {"date": "1999"})
    lib.update_track(a, path="/m/b.mp3", status="analysed", genre=["Pop", "Rock"])
    t = lib.get_track(a)
    assert (t.path, t.status, t.genre) == ("/m/b.mp3", "analysed", ["Pop", "Rock"])
    with pytest.raises(ValueError):
        lib.update_track(a, status="weird")


def test_query_filters(lib):
    rows = [("/m/beatles/help.mp3", "Help!", "The Beatles", ["Rock"], []),
            ("/m/beatles/yesterday.flac", "Yesterday", "The Beatles", ["Pop"], ["Sad"]),
            ("/m/other/so_what.ogg", "So What", "Miles Davis", ["Jazz"], ["Mellow"]),
            ("/m/other/100%.wav", None, None, [], [])]
    ids = [lib.add_track(p, size=1, mtime_ns=1,
                         metadata={"title": t, "artist": a, "genre": g, "mood": m})
           for p, t, a, g, m in rows]
    lib.set_status([ids[3]], "gone")
    lib.store_analysis(ids[0], "m1", np.zeros(3))

    def q(*args, **kw):
        return [r.id for r in lib.query_tracks(*args, **kw)]

    assert q() == ids[:3]
    assert q(include_gone=True) == [ids[0], ids[1], ids[3], ids[2]]  # by path
    assert q("beatles") == ids[:2]
    assert q("artist:beatles yesterday") == [ids[1]]
    assert q('"so what"') == [ids[2]]
    assert q("genre:rock") == [ids[0]] and q(has_tag="sad") == [ids[1]]
    assert q("tag:mellow") == [ids[2]]
    assert q("status:gone") == [ids[3]] and q(status=["new", "analysed"]) == ids[:3]
    assert q("100%", include_gone=True) == [ids[3]]
    assert q("100%") == []
    assert q("%") == []  # LIKE wildcards are literal
    assert q(analysed_with="m1") == [ids[0]]
    assert q(not_analysed_with="m1") == ids[1:3]
    assert q(under="/m/other") == [ids[2]]
    assert q(order_by="title") == [ids[0], ids[2], ids[1]]
    assert q(limit=1, offset=1) == [ids[1]]
    assert q(f"id:{ids[2]}") == [ids[2]]
    assert parse_query('artist:x "two words" y:z') == {"artist": ["x"], "text": ["two words", "y:z"]}


def test_query_of_50000_tracks_is_fast(lib):
    now = time.time()
    with lib.transaction():
        lib.connection.executemany(
            "INSERT INTO tracks (path, path_text, size, mtime_ns, title, artist, genre, status,"
            " added_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(f"/music/{i // 10}/{i}.mp3".encode(), f"/music/{i // 10}/{i}.mp3", i, i,
              f"Song {i}", f"Artist {i % 300}", '["Rock"]' if i % 2 else "[]", "analysed", now, now)
             for i in range(50_000)])
    t0 = time.perf_counter()
    rows = lib.query_tracks()
    elapsed = time.perf_counter() - t0
    assert len(rows) == 50_000 and rows[0].genre in ((), ("Rock",))
    assert elapsed < 1.0, f"query of 50,000 tracks took {elapsed:.2f} s"


# --- analyses and embeddings ------------------------------------------------------------------------
class _Info:
    def __init__(self, name, tags):
        from engine.vocab import TagInfo

        self.name = name
        self.tags = [TagInfo(t, "genre", t.title()) for t in tags]
        self.thresholds = [0.3] * len(tags)
        self.embedding_dim = 4

    def to_json(self):
        return {"name": self.name}


def test_analyses_and_embeddings(lib):
    ids = [lib.add_track(f"/m/{i}.mp3", size=i, mtime_ns=i) for i in range(5)]
    rng = np.random.default_rng(0)
    scores = rng.random((5, 3)).astype(np.float32)
    embs = rng.standard_normal((5, 4)).astype(np.float32)
    lib.register_model(_Info("m1", ["rock", "pop", "jazz"]))
    for i in (0, 1, 3, 4):
        lib.store_analysis(ids[i], "m1", scores[i], embs[i], n_patches=2, duration_s=30.0,
                           warnings=["short"])
    lib.store_analysis(ids[2], "m2", scores[2], None)
    lib.set_status([ids[4]], "gone")

    a = lib.get_analysis(ids[1], "m1")
    assert np.array_equal(a.scores, scores[1]) and np.array_equal(a.embedding, embs[1])
    assert (a.n_patches, a.warnings, lib.get_track(ids[1]).status) == (2, ["short"], "analysed")
    assert lib.get_analysis(ids[2]).model == "m2"
    assert lib.get_analysis(ids[2], "m1") is None

    tids, mat = lib.embeddings("m1")
    assert tids.tolist() == [ids[0], ids[1], ids[3]] and mat.dtype == np.float32
    assert np.array_equal(mat, embs[[0, 1, 3]])
    tids, mat = lib.embeddings("m1", "scores", include_gone=True)
    assert np.array_equal(mat, scores[[0, 1, 3, 4]])
    tids, mat = lib.embeddings("m2")  # no penultimate vectors stored
    assert tids.shape == (0,) and mat.shape == (0, 0)
    with pytest.raises(ValueError):
        lib.embeddings("m1", "bogus")
    assert [t.name for t in lib.model_tags("m1")] == ["rock", "pop", "jazz"]
    assert np.allclose(lib.model_thresholds("m1"), 0.3)
    assert lib.analysed_models() == {"m1": 3, "m2": 1}
    with pytest.raises(LibraryError):
        lib.model_tags("nope")


# --- errors, journal -------------------------------------------------------------------------------------
def test_errors(lib):
    tid = lib.add_track("/m/a.mp3", size=1, mtime_ns=1)
    lib.add_file_error("decode", CorruptAudioError("/m/a.mp3", "the data is damaged"), track_id=tid)
    lib.add_error("scan", "UnreadableFolder", "cannot list", path="/m/locked")
    errs = lib.errors()
    assert [(e.stage, e.kind, e.reason, e.path) for e in errs] == [
        ("decode", "CorruptAudioError", "the data is damaged", "/m/a.mp3"),
        ("scan", "UnreadableFolder", "cannot list", "/m/locked")]
    assert [e.kind for e in lib.errors(track_id=tid)] == ["CorruptAudioError"]
    lib.set_status([tid], "gone")
    assert len(lib.errors()) == 1 and len(lib.errors(include_gone=True)) == 2
    assert lib.clear_errors(under="/m", trackless_only=True) == 1
    assert lib.clear_errors(track_id=tid, stages=["decode"]) == 1
    assert lib.errors(include_gone=True) == []


def test_write_journal_batches_and_undo_marks(lib):
    t1 = lib.add_track("/m/a.mp3", size=1, mtime_ns=1)
    t2 = lib.add_track("/m/b.mp3", size=1, mtime_ns=1)
    b1 = lib.begin_write_batch(model="m1", params={"policy": "fill"})
    e1 = lib.add_journal_entry(b1, "/m/a.mp3", {"TCON": None}, {"TCON": ["Rock"]}, track_id=t1)
    b2 = lib.begin_write_batch(model="m1")
    e2 = lib.add_journal_entry(b2, "/m/a.mp3", {"TCON": ["Rock"]}, {"TCON": ["Pop"]}, track_id=t1)
    e3 = lib.add_journal_entry(b2, "/m/b.mp3", {"GENRE": []}, {"GENRE": ["Jazz"]}, track_id=t2)
    assert lib.last_write_batch().id == b2
    assert [b.id for b in lib.write_batches()] == [b2, b1]
    assert [e.id for e in lib.journal_entries(batch_id=b2)] == [e2, e3]
    assert lib.journal_entries(track_id=t1)[0].fields_after == {"TCON": ["Rock"]}
    lib.mark_undone([e2])
    assert lib.last_write_batch().id == b2  # e3 still applied
    lib.mark_undone([e3])
    assert lib.last_write_batch().id == b1
    b = lib.write_batches()[0]
    assert (b.n_entries, b.n_undone) == (2, 2) and b.undone_at is not None
    assert [e.id for e in lib.journal_entries(include_undone=False)] == [e1]
    lib.connection.execute("DELETE FROM tracks WHERE id = ?", (t1,))  # journal keeps the path
    assert lib.journal_entries(batch_id=b1)[0].track_id is None
    assert lib.journal_entries(path="/m/a.mp3")[0].id == e1


# --- playlists, layouts ----------------------------------------------------------------------------------
def test_playlists(lib):
    ids = [lib.add_track(f"/m/{i}.mp3", size=1, mtime_ns=1) for i in range(4)]
    pid = lib.create_playlist("Like this", [ids[2], ids[0], ids[3]], model="m1", params={"k": 3})
    p = lib.get_playlist(pid)
    assert (p.name, p.track_ids, p.model, p.params) == ("Like this", [ids[2], ids[0], ids[3]], "m1", {"k": 3})
    lib.rename_playlist(pid, "Renamed")
    lib.set_playlist_tracks(pid, [ids[1]])
    assert [(x.name, x.track_ids) for x in lib.playlists()] == [("Renamed", [ids[1]])]
    lib.connection.execute("DELETE FROM tracks WHERE id = ?", (ids[1],))
    assert lib.get_playlist(pid).track_ids == []
    lib.delete_playlist(pid)
    assert lib.get_playlist(pid) is None and lib.playlists() == []


def test_layouts(lib):
    ids = np.array([lib.add_track(f"/m/{i}.mp3", size=1, mtime_ns=1) for i in range(1000)])
    xy = np.random.default_rng(0).standard_normal((1000, 2))
    l1 = lib.save_layout("m1", "penultimate", ids, xy, params={"perplexity": 30})
    cur = lib.current_layout("m1", "penultimate")
    assert cur.id == l1 and cur.params == {"perplexity": 30} and cur.is_current
    assert np.array_equal(cur.track_ids, ids) and np.allclose(cur.xy, xy, atol=1e-6)
    l2 = lib.save_layout("m1", "penultimate", ids[:10], xy[:10])
    l3 = lib.save_layout("m1", "scores", ids[:5], xy[:5])
    assert lib.current_layout("m1", "penultimate").id == l2
    assert lib.current_layout("m1", "scores").id == l3
    assert lib.current_layout().id == l3
    lib.add_layout_points(l2, ids[10:12], [[1, 2], [3, 4]])
    assert len(lib.get_layout(l2).track_ids) == 12
    lib.set_status([int(ids[0])], "gone")
    assert len(lib.get_layout(l2).track_ids) == 11
    lib.set_current_layout(l1)
    assert [x.is_current for x in lib.layouts()] == [True, False, True]
    lib.delete_layout(l1)
    assert lib.current_layout("m1", "penultimate") is None
    with pytest.raises(ValueError):
        lib.save_layout("m1", "scores", ids[:3], xy[:2])


def test_layout_bulk_insert_is_fast(lib):
    now = time.time()
    with lib.transaction():
        lib.connection.executemany(
            "INSERT INTO tracks (path, path_text, size, mtime_ns, added_at, updated_at)"
            " VALUES (?,?,?,?,?,?)",
            [(f"/m/{i}".encode(), f"/m/{i}", 1, 1, now, now) for i in range(50_000)])
    ids = np.arange(1, 50_001)
    t0 = time.perf_counter()
    lib.save_layout("m", "penultimate", ids, np.zeros((50_000, 2)))
    lay = lib.current_layout("m")
    assert len(lay.track_ids) == 50_000
    assert time.perf_counter() - t0 < 2.0


# --- transactions and sharing --------------------------------------------------------------------------
def test_transactions_roll_back_and_nest(lib):
    lib.add_track("/m/keep.mp3", size=1, mtime_ns=1)
    with pytest.raises(RuntimeError):
        with lib.transaction():
            lib.add_track("/m/lost.mp3", size=1, mtime_ns=1)
            raise RuntimeError("boom")
    with lib.transaction():
        lib.add_track("/m/outer.mp3", size=1, mtime_ns=1)
        with pytest.raises(RuntimeError):
            with lib.transaction():
                lib.add_track("/m/inner.mp3", size=1, mtime_ns=1)
                raise RuntimeError("boom")
    assert sorted(r.path for r in lib.query_tracks()) == ["/m/keep.mp3", "/m/outer.mp3"]


def test_two_connections_share_the_file(tmp_path):
    path = tmp_path / "lib.sqlite3"
    with Library(path) as a, Library(path) as b:
        with a.transaction():
            a.add_track("/m/x.mp3", size=1, mtime_ns=1)
            assert b.count_tracks() == 0  # WAL: readers see the last commit, never block
        assert b.count_tracks() == 1
