"""From a library database to the map and the "more like this" panel: the adapter, the map
panel's toolbar, and the similar panel built from the library."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from desktop.map.library_map import LibraryMap, load_library_map  # noqa: E402
from desktop.map.map_panel import MapPanel  # noqa: E402
from desktop.similar_panel import SimilarPanel, SimilarSource  # noqa: E402
from engine.bundle import BundleInfo  # noqa: E402
from engine.features import SEED_SPEC  # noqa: E402
from engine.library.db import Library  # noqa: E402
from engine.similarity.store import load_vectors  # noqa: E402
from engine.similarity.synthetic import clustered_embeddings, random_tag_scores  # noqa: E402
from engine.vocab import msd50_tag_infos  # noqa: E402

N = 80
MODEL = "map-test"


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "library.db")
    tags = msd50_tag_infos()
    lib.register_model(BundleInfo(name=MODEL, architecture="tiny", arch_args={},
                                  feature_spec=SEED_SPEC, tags=tags, embedding_dim=16))
    vectors, labels = clustered_embeddings(N, dim=16, n_clusters=4, seed=1)
    scores = random_tag_scores(labels, len(tags), seed=2)
    ids = []
    for i in range(N):
        tid = lib.add_track(tmp_path / "music" / f"{i:03d}.flac", size=100 + i, mtime_ns=1,
                            duration_s=200.0 + i, format="flac",
                            metadata={"title": f"Title {i}" if i % 10 else None,
                                      "artist": f"Artist {i % 7}",
                                      "genre": ["jazz"] if i % 3 == 0 else []})
        lib.store_analysis(tid, MODEL, scores[i], vectors[i])
        ids.append(tid)
    yield lib, np.array(ids), vectors, labels, scores
    lib.close()


def test_no_analyses_no_map(tmp_path):
    lib = Library(tmp_path / "empty.db")
    assert load_library_map(lib) is None
    lib.close()


def test_no_layout_and_no_computing_gives_none(library):
    lib, *_ = library
    assert load_library_map(lib, MODEL, "penultimate", compute_if_missing=False) is None


def test_uses_the_cached_layout_and_places_new_tracks(library, tmp_path):
    lib, ids, vectors, labels, scores = library
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(N - 5, 2)).astype(np.float32) * 10 + labels[:N - 5, None] * 40
    # a layout of vectors prepared another way does not count as the cached map
    centred = bool(getattr(load_vectors(lib, MODEL, "penultimate"), "centred", False))
    lib.save_layout(MODEL, "penultimate", ids[:N - 5], xy, params={"centred": not centred})
    assert load_library_map(lib, MODEL, "penultimate", compute_if_missing=False) is None
    lib.save_layout(MODEL, "penultimate", ids[:N - 5], xy,     # the last five are new
                    params={"centred": centred})
    m = load_library_map(lib, MODEL, "penultimate", compute_if_missing=False)
    assert isinstance(m, LibraryMap) and m.model == MODEL and m.kind == "penultimate"
    assert np.array_equal(m.data.ids, ids)
    assert np.allclose(m.data.xy[:N - 5], xy, atol=1e-4)         # old points did not move
    assert np.isfinite(m.data.xy[N - 5:]).all()
    # metadata: titles (file name when the tag is missing), artists, file genres, paths
    assert m.data.titles[1] == "Title 1" and m.data.titles[0] == "000"
    assert m.data.artists[3] == "Artist 3"
    assert m.genres[0] == "jazz" and m.genres[1] is None
    assert m.paths[2].endswith("002.flac") and m.durations[2] == pytest.approx(202.0)
    # what the map says comes from the combined canonical predictions (as in the table):
    # the tooltip line has the strongest canonical tags with percentages, best first
    from engine.library.predictions import combined_matrix, library_combiner

    combiner = library_combiner(lib, [MODEL])
    c_ids, combined = combined_matrix(lib, combiner)
    assert np.array_equal(c_ids, ids)
    best = int(np.argmax(combined[4]))
    assert m.data.tags[4].startswith(f"{combiner.tags[best].display} {round(100 * combined[4, best])}%")
    assert "Mellow" not in " ".join(m.data.tags)                # folded onto canonical "Calm"
    assert m.regions and all(r.size >= 3 for r in m.regions)
    # colourings
    top = m.top_genre_coloring()
    assert len(top.labels) == N
    jazz = m.tag_coloring("Jazz")
    j = [t.display for t in combiner.tags].index("Jazz")
    assert np.allclose(jazz.values, combined[:, j])
    existing = m.existing_genre_coloring()
    assert existing.labels[0] == "Jazz" and existing.labels[1] is None
    with pytest.raises(ValueError):
        m.tag_coloring("no such tag")
    # gone tracks leave the map
    lib.set_status([int(ids[0])], "gone")
    m2 = load_library_map(lib, MODEL, "penultimate")
    assert int(ids[0]) not in m2.data.ids.tolist() and len(m2.data) == N - 1


def test_map_panel_shows_a_library_map(qtbot, library):
    lib, ids, vectors, labels, scores = library
    centred = bool(getattr(load_vectors(lib, MODEL, "penultimate"), "centred", False))
    lib.save_layout(MODEL, "penultimate", ids, np.random.default_rng(1).normal(size=(N, 2)),
                    params={"centred": centred})
    m = load_library_map(lib, MODEL, "penultimate")
    panel = MapPanel(theme="light")
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.set_map(m)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.color_by() == "top_genre"
    assert panel.view.legend() and panel.view.coloring().title.startswith("Top genre")
    assert panel.set_color_by("tag:Jazz") and panel.view.coloring().title == "Jazz score"
    assert panel.set_color_by("existing_genre")
    assert [e.label for e in panel.view.legend()] == ["Jazz", "Other"]
    assert not panel.set_color_by("tag:Nope")
    # the search box highlights (after its short delay)
    # (every word must appear in the title, artist or tag names; percentages are not searched)
    with qtbot.waitSignal(panel.view.highlight_changed, timeout=2000):
        qtbot.keyClicks(panel.search_box, "title 4")
    assert set(panel.view.highlighted_ids()) == {int(ids[i]) for i in range(N)
                                                if i % 10 and ("4" in str(i) or i % 7 == 4)}
    # the selection tools switch the drag mode
    lasso = [b for b in panel._tools.buttons() if b.property("mode") == "lasso"][0]
    qtbot.mouseClick(lasso, Qt.MouseButton.LeftButton)
    assert panel.view.drag_mode() == "lasso"
    panel._labels_button.setChecked(False)
    assert panel.view.regions() == []
    panel.set_map(None)
    assert len(panel.view.data()) == 0 and not panel.search_box.isEnabled()


def test_similar_source_from_the_library(qtbot, library):
    lib, ids, vectors, labels, scores = library
    source = SimilarSource.from_library(lib, MODEL, "penultimate")
    assert source.model == MODEL and len(source.index) == N
    panel = SimilarPanel()
    qtbot.addWidget(panel)
    panel.set_source(source)
    got = panel.show_similar(int(ids[10]), k=5)
    assert len(got) == 5 and int(ids[10]) not in [n.id for n in got]
    assert np.mean(labels[np.searchsorted(ids, [n.id for n in got])] == labels[10]) >= 0.8
    assert source.track(int(ids[11])).path.endswith("011.flac")
    playlist = panel.make_playlist(6)
    pid = panel.save_playlist("From the map")
    assert lib.get_playlist(pid).track_ids == playlist


def test_map_colours_by_tempo_and_key(qtbot, library):
    from engine.library import RhythmRecord

    lib, ids, *_ = library
    for i, tid in enumerate(ids[:40]):
        lib.store_rhythm(RhythmRecord(int(tid), 80.0 + i, 0.9, [], False, 4,
                                      (i * 7) % 12, "minor" if i % 2 else "major", 0.5,
                                      model="beatnet-gtzan"))
    m = load_library_map(lib, MODEL, "penultimate")
    assert m.has_rhythm() and np.isnan(m.bpm[50]) and m.bpm[3] == pytest.approx(83.0)
    bpm = m.bpm_coloring()
    assert len(bpm.values) == N and bpm.title == "Tempo (BPM)"
    keys = m.key_coloring()
    assert len(keys.labels) == N and keys.labels[50] is None
    assert keys.labels[0] == "8: C / Am"                         # C major sits at 8B
    assert len({lab for lab in keys.labels if lab}) <= 12        # one colour per wheel position
    panel = MapPanel()
    qtbot.addWidget(panel)
    panel.set_map(m)
    assert panel.set_color_by("bpm") and panel.set_color_by("key")


def test_similar_panel_filters_by_tempo_and_key(qtbot, library):
    from engine.library import RhythmRecord

    lib, ids, *_ = library
    bpms = {int(t): 100.0 + (i % 5) * 10 for i, t in enumerate(ids)}      # 100, 110, ... 140
    for i, tid in enumerate(ids):
        lib.store_rhythm(RhythmRecord(int(tid), bpms[int(tid)], 0.9, key_tonic=(i % 3) * 7 % 12,
                                      key_mode="major", key_confidence=0.5, model="beatnet-gtzan"))
    source = SimilarSource.from_library(lib, MODEL, "penultimate")
    panel = SimilarPanel()
    qtbot.addWidget(panel)
    panel.set_source(source)
    seed = int(ids[0])                                   # 100 BPM, C major
    panel.set_mixing_filters(same_tempo=True, harmonic=False)
    got = panel.show_similar(seed, k=50)
    assert got and all(abs(bpms[n.id] - 100.0) <= 6 for n in got)
    panel.set_mixing_filters(same_tempo=True, harmonic=True)   # C, G (7) and F (5) mix; here C and G
    got = panel.show_similar(seed, k=50)
    keys = {int(t): (i % 3) * 7 % 12 for i, t in enumerate(ids)}
    assert got and all(keys[n.id] in (0, 7, 5) for n in got)
    playlist = panel.make_playlist(5)
    assert all(abs(bpms[t] - 100.0) <= 6 and keys[t] in (0, 7, 5) for t in playlist)
