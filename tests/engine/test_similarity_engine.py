"""Similarity engine on generated embeddings: kNN, the labelled check, playlists, M3U8."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from benchmarks.similarity_eval import choose_kind, separation
from engine.similarity import (PlaylistEntry, SimilarityIndex, embed, format_m3u8, knn,
                               l2_normalize, library_center, path_playlist,
                               playlist_paths_relative, smooth_playlist, step_distances,
                               write_m3u8)
from engine.similarity.synthetic import clustered_embeddings


@pytest.fixture(scope="module")
def clusters():
    x, labels = clustered_embeddings(800, dim=64, n_clusters=6, spread=0.8, seed=1)
    return x, labels


def _index(x, labels, **kw):
    ids = [f"t{i}" for i in range(len(x))]
    return SimilarityIndex(ids, x, **kw), ids


# --- embeddings --------------------------------------------------------------------------------
def test_l2_normalize_rows_and_zero_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    y = l2_normalize(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[0], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(y[1], [0.0, 0.0])


def test_embed_kinds_and_centre():
    p = np.array([[0.9, 0.1, 1e-9], [0.5, 0.5, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(np.linalg.norm(embed("scores", scores=p), axis=1), 1, rtol=1e-5)
    lg = embed("logit", scores=p)
    assert np.all(np.isfinite(lg))
    sq = embed("sqrt", scores=p)
    np.testing.assert_allclose(sq[0], l2_normalize(np.sqrt(np.clip(p[0], 0, None))), rtol=1e-5)
    c = library_center("scores", scores=p)
    np.testing.assert_allclose(c, p.mean(axis=0), rtol=1e-6)
    centred = embed("scores", scores=p, center=c)
    # two points centred on their mean point in opposite directions
    assert centred[0] @ centred[1] == pytest.approx(-1.0, abs=1e-5)
    with pytest.raises(ValueError):
        embed("penultimate", scores=p)
    with pytest.raises(ValueError):
        embed("nope", scores=p)


def test_separation_informative_vs_random_labels(clusters):
    x, labels = clusters
    good = separation(x, labels, k=10)
    assert good.knn_precision > 0.95 and good.knn_accuracy > 0.95 and good.silhouette > 0.2
    shuffled = np.random.default_rng(0).permutation(labels)
    bad = separation(x, shuffled, k=10)
    assert bad.knn_precision < good.chance_precision + 0.1
    assert bad.knn_accuracy < 0.5
    assert abs(bad.silhouette) < 0.1


def test_choose_kind_picks_the_vectors_that_carry_the_labels(clusters):
    x, labels = clusters
    noise = l2_normalize(np.random.default_rng(3).normal(size=x.shape))
    best, reports = choose_kind({"noise": noise, "real": x}, labels)
    assert best == "real"
    assert reports["real"].knn_precision > reports["noise"].knn_precision + 0.5


def test_separation_groups_stop_albums_passing_for_genres():
    # 40 albums of 5 near-identical tracks; genres assigned to albums at random: without the
    # album filter neighbours look "same genre" because they are the same album.
    rng = np.random.default_rng(0)
    album_centres = l2_normalize(rng.normal(size=(40, 32)))
    albums = np.repeat(np.arange(40), 5)
    x = album_centres[albums] + 0.01 * rng.normal(size=(200, 32))
    genres = rng.integers(0, 4, size=40)[albums]
    naive = separation(x, genres, k=4)
    filtered = separation(x, genres, k=4, groups=albums)
    assert naive.knn_precision > 0.95
    assert filtered.knn_precision < 0.5


# --- kNN ---------------------------------------------------------------------------------------
def test_knn_matches_brute_force(clusters):
    x, _ = clusters
    idx, sims = knn(x, 7)
    full = x @ x.T
    np.fill_diagonal(full, -np.inf)
    expect = np.sort(full, axis=1)[:, ::-1][:, :7]
    np.testing.assert_allclose(sims, expect, atol=1e-5)
    assert not np.any(idx == np.arange(len(x))[:, None])
    q_idx, q_sims = knn(x, 3, queries=x[:5])
    assert list(q_idx[:, 0]) == [0, 1, 2, 3, 4]  # a row is its own best match when queried
    np.testing.assert_allclose(q_sims[:, 0], 1.0, atol=1e-5)


def test_neighbours_share_the_cluster(clusters):
    x, labels = clusters
    index, ids = _index(x, labels)
    hits = []
    for i in range(0, len(x), 13):
        res = index.query(ids[i], k=10)
        assert len(res) == 10 and ids[i] not in [r.id for r in res]
        scores = [r.score for r in res]
        assert scores == sorted(scores, reverse=True)
        hits += [labels[r.position] == labels[i] for r in res]
    assert np.mean(hits) > 0.95


def test_several_seeds_use_the_centroid_and_are_excluded(clusters):
    x, labels = clusters
    index, ids = _index(x, labels)
    seeds = [ids[i] for i in np.flatnonzero(labels == labels[0])[:3]]
    res = index.query(seeds, k=20)
    assert not set(seeds) & {r.id for r in res}
    centroid = l2_normalize(x[[ids.index(s) for s in seeds]].mean(axis=0))
    expect = [r.id for r in index.query_vector(centroid, k=23)
              if r.id not in seeds][:20]
    assert [r.id for r in res] == expect
    assert all(labels[r.position] == labels[0] for r in res)


def test_exclude_same_artist_and_album():
    rng = np.random.default_rng(0)
    x = l2_normalize(rng.normal(size=(60, 16)))
    artists = [f"artist{i % 6}" for i in range(60)]
    albums = [f"album{i % 3}" for i in range(60)]   # the same album names across artists
    artists[5] = None                               # unknown artist: never "the same"
    index = SimilarityIndex(list(range(60)), x, artists=artists, albums=albums)
    res = index.query(0, k=59, exclude_same_artist=True)
    assert all(artists[r.id] != "artist0" for r in res)
    assert 5 in [r.id for r in res]
    res = index.query(0, k=59, exclude_same_album=True)
    same_album = [r.id for r in res if artists[r.id] == "artist0" and albums[r.id] == "album0"]
    assert same_album == []
    # "album0" by other artists is a different record and stays
    assert any(albums[r.id] == "album0" and artists[r.id] != "artist0" for r in res)
    res = index.query(0, k=5, exclude=[r.id for r in index.query(0, k=3)])
    assert len(res) == 5
    with pytest.raises(ValueError):
        SimilarityIndex(list(range(60)), x).query(0, exclude_same_artist=True)


def test_a_compilation_is_one_album_by_its_album_artist():
    rng = np.random.default_rng(1)
    x = l2_normalize(rng.normal(size=(8, 16)))
    artists = ["A", "B", "C", "D", "A", "E", "F", "G"]
    albums = ["Now 42"] * 4 + ["Greatest Hits", "Greatest Hits", "Now 42", "Other"]
    album_artists = ["Various Artists"] * 4 + [None, None, "  various artists ", None]
    index = SimilarityIndex(list(range(8)), x, artists=artists, albums=albums, album_artists=album_artists)
    kept = {r.id for r in index.query(0, k=7, exclude_same_album=True)}
    assert kept == {4, 5, 7}                  # 1-3 and 6 are on the same compilation
    kept = {r.id for r in index.query(4, k=7, exclude_same_album=True)}
    assert 5 in kept                          # "Greatest Hits" by A and by E are two records
    without = SimilarityIndex(list(range(8)), x, artists=artists, albums=albums)
    assert {r.id for r in without.query(0, k=7, exclude_same_album=True)} == set(range(1, 8))


def test_index_errors_and_edge_cases():
    x = np.eye(3, dtype=np.float32)
    index = SimilarityIndex(["a", "b", "c"], x)
    with pytest.raises(KeyError):
        index.query("zzz")
    with pytest.raises(ValueError):
        SimilarityIndex(["a", "a", "b"], x)
    with pytest.raises(ValueError):
        SimilarityIndex(["a", "b"], x)
    assert len(index.query("a", k=50)) == 2   # k larger than the library
    assert index.query(["a", "b", "c"], k=5) == []


# --- playlists ---------------------------------------------------------------------------------
def test_smooth_playlist_no_repeats_stays_near_seeds_and_is_smooth(clusters):
    x, labels = clusters
    index, ids = _index(x, labels)
    seed = ids[0]
    pl = smooth_playlist(index, seed, length=25)
    assert len(pl) == 25 and len(set(pl)) == 25 and pl[0] == seed
    pos = index.positions(pl)
    assert np.mean(labels[pos] == labels[0]) > 0.9
    steps = step_distances(x[pos])
    random_steps = step_distances(x[np.random.default_rng(0).permutation(pos)])
    assert steps.mean() < random_steps.mean()
    # against the whole library in random order the difference is stark
    assert steps.mean() < 0.5 * step_distances(x[np.random.default_rng(1).permutation(len(x))[:25]]).mean()


def test_smooth_playlist_artist_limit_and_seed_handling(clusters):
    x, labels = clusters
    artists = [f"a{i % 4}" for i in range(len(x))]
    index = SimilarityIndex(list(range(len(x))), x, artists=artists)
    pl = smooth_playlist(index, [0, 1], length=8, max_per_artist=2)
    assert pl[:2] == [0, 1] and len(pl) == 8 and len(set(pl)) == 8
    counts = {}
    for t in pl:
        counts[artists[t]] = counts.get(artists[t], 0) + 1
    assert max(counts.values()) <= 2
    # 4 artists x 2 = at most 8 tracks can be found
    assert len(smooth_playlist(index, 0, length=20, max_per_artist=2)) == 8
    pl2 = smooth_playlist(index, [0, 1], length=5, include_seeds=False)
    assert len(pl2) == 5 and not {0, 1} & set(pl2)
    with pytest.raises(ValueError):
        smooth_playlist(index, [0, 0], length=5)
    with pytest.raises(ValueError):
        smooth_playlist(index, 0, length=5, max_per_artist=0)


def test_path_between_clusters_jumps_once_in_the_middle(clusters):
    x, labels = clusters
    index, ids = _index(x, labels)
    a = int(np.flatnonzero(labels == 0)[0])
    b = int(np.flatnonzero(labels == 3)[0])
    path = path_playlist(index, ids[a], ids[b], length=12)
    assert path[0] == ids[a] and path[-1] == ids[b]
    assert len(path) == 12 and len(set(path)) == 12
    pos = index.positions(path)
    seq = labels[pos]
    assert set(seq) == {0, 3}
    switches = np.flatnonzero(seq[1:] != seq[:-1])
    assert len(switches) == 1 and 4 <= switches[0] <= 6     # one jump, near the middle
    steps = step_distances(x[pos])
    assert steps.max() < 1.0 - float(x[a] @ x[b]) + 1e-6
    rng = np.random.default_rng(0)
    shuffled = np.concatenate([[pos[0]], rng.permutation(pos[1:-1]), [pos[-1]]])
    assert steps.mean() < step_distances(x[shuffled]).mean()
    with pytest.raises(ValueError):
        path_playlist(index, ids[a], ids[a])


def test_path_along_a_continuum_is_monotone():
    # tracks along a smooth curve from one style to another (t in [0, 1])
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 1, 400))
    basis = np.linalg.qr(rng.normal(size=(64, 3)))[0].T        # 3 orthonormal directions
    x = (np.cos(np.pi * t / 2)[:, None] * basis[0] + np.sin(np.pi * t / 2)[:, None] * basis[1]
         + 0.3 * np.sin(3 * np.pi * t)[:, None] * basis[2]) + 0.01 * rng.normal(size=(400, 64))
    index = SimilarityIndex(list(range(400)), x)
    path = path_playlist(index, 0, 399, length=15)
    assert len(path) == 15 and len(set(path)) == 15
    ts = t[path]
    ranks = np.argsort(np.argsort(ts))
    assert np.corrcoef(np.arange(15), ranks)[0, 1] > 0.95     # Spearman
    steps = step_distances(l2_normalize(x)[path])
    random_order = step_distances(l2_normalize(x)[rng.permutation(path)])
    assert steps.mean() < 0.5 * random_order.mean()
    artists = [f"a{i % 3}" for i in range(400)]
    index = SimilarityIndex(list(range(400)), x, artists=artists)
    limited = path_playlist(index, 0, 399, length=15, max_per_artist=4)
    assert max(sum(artists[i] == a for i in limited) for a in set(artists)) <= 4


# --- M3U8 --------------------------------------------------------------------------------------
def test_m3u8_relative_inside_the_library(tmp_path):
    music = tmp_path / "Music"
    tracks = [music / "Artist" / "Album" / "01 Ünïcode.flac", music / "Other" / "b.mp3"]
    out = music / "Playlists" / "mix.m3u8"
    assert playlist_paths_relative(out, tracks)
    entries = [PlaylistEntry(tracks[0], 215.4, "Björk", "Jóga\nlive"),
               PlaylistEntry(tracks[1], None, None, None)]
    write_m3u8(out, entries)
    text = out.read_bytes().decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[1] == "#EXTINF:215,Björk - Jóga live"
    assert lines[2] == os.path.join("..", "Artist", "Album", "01 Ünïcode.flac")
    assert lines[3] == "#EXTINF:-1,b"
    assert lines[4] == os.path.join("..", "Other", "b.mp3")
    # the relative path resolves to the track
    assert (out.parent / lines[2]).resolve() == tracks[0].resolve()


def test_m3u8_absolute_when_saved_elsewhere(tmp_path):
    tracks = [tmp_path / "Music" / "A" / "x.ogg", tmp_path / "Music" / "B" / "y.ogg"]
    out = tmp_path / "Desktop" / "mix.m3u8"
    assert not playlist_paths_relative(out, tracks)
    text = format_m3u8([PlaylistEntry(t, 60.0, "A", "T") for t in tracks], out)
    assert str(tracks[0]) in text.splitlines()
    # forcing either way
    assert os.path.join("..", "Music", "A", "x.ogg") in format_m3u8(
        [PlaylistEntry(tracks[0])], out, paths="relative")
    assert str(tracks[0]) in format_m3u8([PlaylistEntry(tracks[0])], tracks[0].parent / "p.m3u8",
                                         paths="absolute")
    # tracks whose only common folder is the filesystem root: absolute
    assert not playlist_paths_relative(Path("/a/p.m3u8"), [Path("/a/x.mp3"), Path("/b/y.mp3")])
    # a playlist saved above the tracks' folder names them relatively
    assert playlist_paths_relative(tmp_path / "p.m3u8", tracks)
