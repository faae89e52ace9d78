"""The "more like this" panel on generated clustered embeddings: true nearest neighbours,
playlists, M3U8 export, saving in the library, and its signals."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from desktop.similar_panel import SimilarPanel, SimilarSource  # noqa: E402
from engine.similarity.synthetic import clustered_embeddings  # noqa: E402

N = 600


@pytest.fixture(scope="module")
def clusters():
    vectors, labels = clustered_embeddings(N, dim=48, n_clusters=6, seed=3)
    return vectors, labels


def make_source(clusters, tmp_path, library=None):
    vectors, labels = clusters
    ids = [500 + 3 * i for i in range(N)]
    music = tmp_path / "Music"
    return SimilarSource.from_arrays(
        ids, vectors, titles=[f"Song {i}" for i in ids],
        artists=[f"Artist {i % 40}" for i in range(N)], albums=[f"Album {i % 80}" for i in range(N)],
        paths=[str(music / f"Artist {i % 40}" / f"{i:04d}.flac") for i in range(N)],
        durations=[180.0 + i for i in range(N)], library=library, model="test-model",
        kind="penultimate"), ids


@pytest.fixture
def panel(qtbot, clusters, tmp_path):
    source, ids = make_source(clusters, tmp_path)
    p = SimilarPanel()
    qtbot.addWidget(p)
    p.resize(700, 500)
    p.set_source(source)
    return p, source, ids


def brute_force(vectors, seed_row, k):
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = v @ v[seed_row]
    sims[seed_row] = -np.inf
    return np.argsort(-sims, kind="stable")[:k], sims


def test_lists_the_true_nearest_neighbours(panel, clusters):
    p, source, ids = panel
    vectors, labels = clusters
    seed_row = 17
    got = p.show_similar(ids[seed_row], k=12)
    want, sims = brute_force(vectors, seed_row, 12)
    assert [n.id for n in got] == [ids[r] for r in want]
    assert [n.score for n in got] == pytest.approx(sims[want], abs=1e-5)
    # the list shows them in that order, with titles and percentages
    tree = p._list
    assert tree.topLevelItemCount() == 12
    first = tree.topLevelItem(0)
    assert first.text(1) == f"Song {ids[want[0]]}" and first.text(3).endswith("%")
    # generated clusters: the neighbours share the seed's cluster
    assert np.mean(labels[want] == labels[seed_row]) >= 0.9
    assert p.seeds() == [ids[seed_row]] and p.mode() == "similar"


def test_other_artists_only(panel, clusters):
    p, source, ids = panel
    p._exclude_artist.setChecked(True)
    got = p.show_similar(ids[5], k=20)
    assert got and all(source.track(n.id).artist != "Artist 5" for n in got)


def test_unknown_track_shows_a_message(panel):
    p, *_ = panel
    assert p.show_similar(123456) == []
    assert "not been analysed" in p._header.text()


def test_play_and_show_on_map_signals(qtbot, panel):
    p, source, ids = panel
    got = p.show_similar(ids[40], k=5)
    item = p._list.topLevelItem(2)
    with qtbot.waitSignal(p.play_requested, timeout=1000) as blocker:
        p._list.itemDoubleClicked.emit(item, 1)
    assert blocker.args == [got[2].id]
    with qtbot.waitSignal(p.select_on_map, timeout=1000) as blocker:
        qtbot.mouseClick(p._map_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == [ids[40]] + [n.id for n in got]
    p._list.topLevelItem(1).setSelected(True)
    with qtbot.waitSignal(p.play_requested, timeout=1000) as blocker:
        qtbot.mouseClick(p._play_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [got[1].id]


def test_make_playlist_and_export_m3u8(qtbot, panel, tmp_path):
    p, source, ids = panel
    p.show_similar(ids[100])
    playlist = p.make_playlist(10)
    assert len(playlist) == 10 == len(set(playlist)) and playlist[0] == ids[100]
    assert p.mode() == "playlist" and p._list.topLevelItemCount() == 10
    assert p._list.topLevelItem(0).text(3) == "seed"
    out_file = tmp_path / "Music" / "Playlists" / "like.m3u8"
    with qtbot.waitSignal(p.playlist_exported, timeout=1000) as blocker:
        out = p.export_m3u8(out_file)
    assert blocker.args == [str(out)]
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 1 + 2 * 10
    first = source.track(playlist[0])
    assert lines[1] == f"#EXTINF:{round(first.duration_s)},{first.artist} - {first.title}"
    assert lines[2] == f"../Artist {ids.index(playlist[0]) % 40}/{ids.index(playlist[0]):04d}.flac"
    # back to the neighbours
    qtbot.mouseClick(p._back_button, Qt.MouseButton.LeftButton)
    assert p.mode() == "similar" and p.playlist() == []


def test_export_error_is_reported(qtbot, panel, tmp_path):
    p, source, ids = panel
    p.show_similar(ids[0], k=3)
    blocker_file = tmp_path / "file"
    blocker_file.write_text("x")
    with qtbot.waitSignal(p.error_occurred, timeout=1000) as blocker:
        assert p.export_m3u8(blocker_file / "sub" / "x.m3u8") is None
    assert blocker.args[0].startswith("Cannot write")


def test_save_playlist_in_the_library(qtbot, clusters, tmp_path):
    from engine.library.db import Library

    lib = Library(tmp_path / "lib.db")
    # the library's own track ids: add the tracks so the playlist can refer to them
    ids = []
    for i in range(N):
        ids.append(lib.add_track(f"/music/{i}.flac", size=1, mtime_ns=1,
                                 metadata={"title": f"Song {i}"}))
    vectors, _ = clusters
    source = SimilarSource.from_arrays(ids, vectors, titles=[f"Song {i}" for i in range(N)],
                                       library=lib, model="m")
    p = SimilarPanel()
    qtbot.addWidget(p)
    p.set_source(source)
    p.show_similar(ids[7])
    playlist = p.make_playlist(8)
    assert p._save_button.isEnabled()
    with qtbot.waitSignal(p.playlist_saved, timeout=1000) as blocker:
        pid = p.save_playlist("Evening")
    assert blocker.args == [pid]
    stored = lib.get_playlist(pid)
    assert stored.name == "Evening" and stored.track_ids == playlist and stored.model == "m"
    assert stored.params["seeds"] == [ids[7]]
    lib.close()


def test_no_library_no_saving(qtbot, panel):
    p, source, ids = panel
    p.show_similar(ids[1])
    p.make_playlist(5)
    assert not p._save_button.isEnabled()
    with qtbot.waitSignal(p.error_occurred, timeout=1000):
        assert p.save_playlist("x") is None


def test_playlist_from_a_selection(panel, clusters):
    p, source, ids = panel
    vectors, labels = clusters
    # a few tracks seed a playlist of the chosen length
    few = p.playlist_from_selection([ids[3], ids[4]])
    assert few[:2] == [ids[3], ids[4]] and len(few) == p._length.value()
    # a big selection (one cluster) is put in order: every selected track once, nothing else
    chosen = [ids[i] for i in np.flatnonzero(labels == labels[0])[:60]]
    ordered = p.playlist_from_selection(chosen)
    assert sorted(ordered) == sorted(chosen) and p.mode() == "playlist"
    # smoother than the selection's own order: mean similarity of consecutive tracks
    pos = {t: i for i, t in enumerate(ids)}

    def smoothness(seq):
        v = vectors[[pos[t] for t in seq]]
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        return float(np.mean(np.sum(v[1:] * v[:-1], axis=1)))

    assert smoothness(ordered) > smoothness(chosen)
    assert p.playlist_from_selection([987654321]) == []
