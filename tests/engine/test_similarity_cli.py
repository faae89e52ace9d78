"""similar / playlist / path / map on a library database filled with generated analyses."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engine.cli import main
from engine.library import Library
from engine.similarity.store import load_index, load_vectors, update_map
from engine.similarity.synthetic import clustered_embeddings, random_tag_scores
from engine.vocab import msd50_tag_infos

MODEL = "musicnn-msd"
N, N_LATE = 240, 30


def _model_info():
    return SimpleNamespace(name=MODEL, tags=msd50_tag_infos(), thresholds=None, embedding_dim=32,
                           to_json=lambda: {"name": MODEL})


def _add(lib, music: Path, rows, x, scores, labels):
    ids = []
    with lib.transaction():
        for i in rows:
            path = music / f"Artist {i % 12}" / f"Album {labels[i]}" / f"{i:03d} Track.flac"
            tid = lib.add_track(path, size=1000 + i, mtime_ns=i, duration_s=180.0 + i,
                                format="flac",
                                metadata={"title": f"Track {i}", "artist": f"Artist {i % 12}",
                                          "album": f"Album {labels[i]}"})
            lib.store_analysis(tid, MODEL, scores[i], x[i], duration_s=180.0 + i)
            ids.append(tid)
    return ids


@pytest.fixture()
def library(tmp_path):
    x, labels = clustered_embeddings(N + N_LATE, dim=32, n_clusters=5, spread=0.8, seed=7)
    scores = random_tag_scores(labels, 50, seed=7)
    db = tmp_path / "lib.sqlite3"
    music = tmp_path / "Music"
    with Library(db) as lib:
        lib.register_model(_model_info())
        ids = _add(lib, music, range(N), x, scores, labels)
    return SimpleNamespace(db=db, music=music, x=x, labels=labels, scores=scores, ids=ids)


def _path(lib_fixture, i):
    labels = lib_fixture.labels
    return str(lib_fixture.music / f"Artist {i % 12}" / f"Album {labels[i]}" / f"{i:03d} Track.flac")


def _cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_similar_lists_neighbours_from_the_same_cluster(library, capsys):
    code, out, _ = _cli(capsys, "--db", str(library.db), "similar", _path(library, 0),
                        "-k", "8", "--json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["results"]) == 8
    assert _path(library, 0) not in [r["path"] for r in doc["results"]]
    rows = [int(Path(r["path"]).name[:3]) for r in doc["results"]]
    assert all(library.labels[r] == library.labels[0] for r in rows)
    sims = [r["similarity"] for r in doc["results"]]
    assert sims == sorted(sims, reverse=True)
    code, out, _ = _cli(capsys, "--db", str(library.db), "similar", _path(library, 0),
                        "--exclude-artist", "-k", "20")
    header, *listing = out.splitlines()
    assert code == 0 and header.startswith("More like Artist 0 - Track 0")
    assert len([ln for ln in listing if " - Track " in ln]) == 20
    assert not any("Artist 0 -" in ln for ln in listing)


def test_similar_explains_unknown_files(library, capsys, tmp_path):
    code, _, err = _cli(capsys, "--db", str(library.db), "similar", str(tmp_path / "nope.mp3"))
    assert code == 2 and "not in the library" in err and "Traceback" not in err


def test_playlist_saved_in_library_and_as_m3u8(library, capsys):
    out_file = library.music / "Playlists" / "mix.m3u8"
    code, out, _ = _cli(capsys, "--db", str(library.db), "playlist", _path(library, 0),
                        _path(library, 1), "--length", "10", "--max-per-artist", "2",
                        "-o", str(out_file), "--name", "Mix")
    assert code == 0 and "kept in the library" in out
    lines = out_file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 21
    assert lines[1].startswith("#EXTINF:180,Artist 0 - Track 0")
    assert lines[2].startswith("..")                        # relative inside the music folder
    assert (out_file.parent / lines[2]).resolve() == Path(_path(library, 0)).resolve()
    with Library(library.db) as lib:
        (pl,) = lib.playlists()
        assert pl.name == "Mix" and len(pl.track_ids) == 10 and len(set(pl.track_ids)) == 10
        artists = [t.artist for t in lib.get_tracks(pl.track_ids)]
        assert max(artists.count(a) for a in artists) <= 2
        assert pl.params["type"] == "smooth"


def test_path_from_a_to_b(library, capsys):
    a = 0
    b = int(np.flatnonzero(library.labels[:N] != library.labels[0])[0])
    code, out, _ = _cli(capsys, "--db", str(library.db), "path", _path(library, a),
                        _path(library, b), "--length", "8", "--json", "--no-save")
    assert code == 0
    doc = json.loads(out)
    paths = [t["path"] for t in doc["tracks"]]
    assert paths[0] == _path(library, a) and paths[-1] == _path(library, b)
    assert len(paths) == 8 == len(set(paths)) and doc["playlist_id"] is None


def test_map_computes_caches_places_new_tracks_and_draws(library, capsys, tmp_path):
    png = tmp_path / "map.png"
    code, out, _ = _cli(capsys, "--db", str(library.db), "map", "--png", str(png))
    assert code == 0 and "computed" in out and png.stat().st_size > 20_000
    with Library(library.db) as lib:
        first = lib.current_layout(MODEL, "penultimate")
        assert first.track_ids.size == N
        # new tracks arrive: they are placed into the cached map, nothing else moves
        _add(lib, library.music, range(N, N + N_LATE), library.x, library.scores, library.labels)
    code, out, _ = _cli(capsys, "--db", str(library.db), "map", "--color-by", "rock",
                        "--png", str(tmp_path / "rock.png"))
    assert code == 0 and f"{N_LATE} new placed" in out
    with Library(library.db) as lib:
        second = lib.current_layout(MODEL, "penultimate")
        assert second.id == first.id and second.track_ids.size == N + N_LATE
        old = np.isin(second.track_ids, first.track_ids)
        np.testing.assert_allclose(second.xy[old], first.xy, atol=1e-5)
        # each new track lands among tracks of its own cluster
        row = {int(t): i for i, t in enumerate(second.track_ids)}
        label_of = {tid: library.labels[i] for i, tid in
                    enumerate(sorted(second.track_ids))}
        new_xy = second.xy[~old]
        old_xy, old_ids = second.xy[old], second.track_ids[old]
        hits = []
        for p, tid in zip(new_xy, second.track_ids[~old]):
            nearest = old_ids[np.argsort(np.hypot(*(old_xy - p).T))[:5]]
            hits += [label_of[int(t)] == label_of[int(tid)] for t in nearest]
        assert np.mean(hits) > 0.9
        assert row  # (rows are keyed by id)
    code, out, _ = _cli(capsys, "--db", str(library.db), "map", "--recompute",
                        "--color-by", "album", "--png", str(tmp_path / "album.png"),
                        "--json", str(tmp_path / "map.json"))
    assert code == 0 and "computed" in out
    doc = json.loads((tmp_path / "map.json").read_text(encoding="utf-8"))
    assert len(doc["points"]) == N + N_LATE and doc["regions"]
    assert doc["layout_id"] != first.id
    code, _, err = _cli(capsys, "--db", str(library.db), "map", "--color-by", "bagpipes",
                        "--png", str(tmp_path / "x.png"))
    assert code == 2 and "'bagpipes' is not a tag" in err and "Rock" in err


def test_store_reports_incremental_share(library):
    with Library(library.db) as lib:
        lv = load_vectors(lib, MODEL, "scores")
        assert lv.vectors.shape == (N, 50)
        np.testing.assert_allclose(np.linalg.norm(lv.vectors, axis=1), 1.0, rtol=1e-5)
        r = update_map(lib, lv)
        assert r.recomputed and r.placed_fraction == 0.0
        _add(lib, library.music, range(N, N + N_LATE), library.x, library.scores, library.labels)
        r = update_map(lib, load_vectors(lib, MODEL, "scores"))
        assert not r.recomputed and r.n_placed_now == N_LATE
        assert r.placed_fraction == pytest.approx(N_LATE / (N + N_LATE))
        index, lv, meta = load_index(lib, MODEL, "penultimate")
        assert len(index) == N + N_LATE and meta[lv.track_ids[0]].artist == "Artist 0"


def test_centring_and_a_map_made_without_it(library):
    with Library(library.db) as lib:
        raw = load_vectors(lib, MODEL, "scores", center=False)
        centred = load_vectors(lib, MODEL, "scores", center=True)
        assert not raw.centred and centred.centred
        # centring removes the shared direction: mean cosine drops from high to about zero
        assert float((raw.vectors @ raw.vectors.T).mean()) > 0.4
        assert abs(float((centred.vectors @ centred.vectors.T).mean())) < 0.05
        first = update_map(lib, raw)
        assert first.recomputed
        again = update_map(lib, raw)
        assert not again.recomputed and again.layout_id == first.layout_id
        # a cached map of other vectors is not extended with these: it is laid out afresh
        other = update_map(lib, centred)
        assert other.recomputed and other.layout_id != first.layout_id


def test_no_analyses_is_a_plain_error(tmp_path, capsys):
    code, _, err = _cli(capsys, "--db", str(tmp_path / "empty.sqlite3"), "map")
    assert code == 2 and "analysed" in err
