"""Approximate neighbours (engine.similarity.ann): agreement with exact search, the filters,
the build decision and cache, the fallback without FAISS, and ``tagatlas similar`` on it."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engine.similarity import ann
from engine.similarity.ann import AnnIndex, AnnParams, AnnPolicy
from engine.similarity.index import SimilarityIndex

needs_faiss = pytest.mark.skipif(not ann.faiss_available(), reason="faiss-cpu is not installed")

N, DIM = 4000, 48
FORCED = AnnPolicy(exact_below=0, eager=True, background=False)


@pytest.fixture(autouse=True)
def _fresh_cache():
    ann.clear_cache()
    yield
    ann.clear_cache()


@pytest.fixture(scope="module")
def data():
    """Clustered vectors (40 clusters) with artists and albums for the filters."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, DIM))
    label = rng.integers(0, 40, N)
    x = (centres[label] + 0.9 * rng.standard_normal((N, DIM))).astype(np.float32)
    ids = [f"t{i}" for i in range(N)]
    artists = [f"artist {i % 97}" for i in range(N)]
    albums = [f"album {i % 13}" for i in range(N)]
    return SimpleNamespace(x=x, ids=ids, artists=artists, albums=albums, rng=rng)


def _pair(data, policy=FORCED, **kw):
    # one album artist for all: an album is its title, so "same album" crosses artists
    meta = dict(artists=data.artists, albums=data.albums, album_artists=["Various Artists"] * N)
    exact = SimilarityIndex(data.ids, data.x, ann=AnnPolicy(enabled=False), **meta)
    approx = SimilarityIndex(data.ids, data.x, ann=policy, **meta, **kw)
    return exact, approx


def _no_exact(monkeypatch):
    """Make the exact full scan fail, so a passing query proves the ANN path answered."""
    def boom(self, query):
        raise AssertionError("the exact path ran")
    monkeypatch.setattr(SimilarityIndex, "similarities", boom)


@needs_faiss
def test_ann_agrees_with_exact_search(data, monkeypatch):
    exact, approx = _pair(data)
    seeds = data.ids[:150]
    want = {s: exact.query(s, 10) for s in seeds}
    _no_exact(monkeypatch)
    recalls = []
    for s in seeds:
        got = approx.query(s, 10)
        assert len(got) == 10
        assert s not in [g.id for g in got]                      # the query track is left out
        scores = [g.score for g in got]
        assert scores == sorted(scores, reverse=True)
        # similarities are the exact cosines, re-scored from the float32 rows
        for g in got:
            assert g.score == pytest.approx(float(approx.vectors[g.position] @ approx.vector(s)), abs=1e-5)
            assert approx.ids[g.position] == g.id
        recalls.append(len({g.id for g in got} & {w.id for w in want[s]}) / 10)
    assert approx.ann.ready_index() is not None
    assert np.mean(recalls) >= 0.95


@needs_faiss
def test_several_seeds_and_query_vector(data, monkeypatch):
    exact, approx = _pair(data)
    seeds = ["t1", "t2", "t3"]
    want = [n.id for n in exact.query(seeds, 10)]
    q = data.x[7] + data.x[8]
    want_v = [n.id for n in exact.query_vector(q, 10)]
    _no_exact(monkeypatch)
    got = [n.id for n in approx.query(seeds, 10)]
    assert not set(got) & set(seeds)
    assert len(set(got) & set(want)) >= 9
    assert len(set(n.id for n in approx.query_vector(q, 10)) & set(want_v)) >= 9


@needs_faiss
def test_filters_are_honoured(data, monkeypatch):
    exact, approx = _pair(data)
    only = data.rng.random(N) < 0.5
    artist_of = dict(zip(data.ids, data.artists))
    album_of = dict(zip(data.ids, data.albums))
    cases = []
    for s in data.ids[:40]:
        kw = dict(exclude_same_artist=True, exclude_same_album=True, only=only,
                  exclude=[data.ids[5], data.ids[6]])
        cases.append((s, kw, exact.query(s, 10, **kw)))
    _no_exact(monkeypatch)
    recalls = []
    for s, kw, want in cases:
        got = approx.query(s, 10, **kw)
        assert len(got) == 10
        for g in got:
            assert g.id != s and g.id not in kw["exclude"]
            assert only[g.position]
            assert artist_of[g.id] != artist_of[s] and album_of[g.id] != album_of[s]
        recalls.append(len({g.id for g in got} & {w.id for w in want}) / 10)
    assert np.mean(recalls) >= 0.95


@needs_faiss
def test_a_strict_filter_is_searched_exactly(data, monkeypatch):
    """Fewer allowed rows than ``exact_below``: the few rows are searched exactly (same
    answer as the exact index), without the full scan and without the ANN."""
    policy = AnnPolicy(exact_below=1000, eager=True, background=False)
    exact, approx = _pair(data, policy=policy)
    only = np.zeros(N, dtype=bool)
    only[data.rng.choice(N, 300, replace=False)] = True
    want = exact.query("t0", 10, only=only)
    assert approx.ann.ready_index() is not None
    _no_exact(monkeypatch)
    monkeypatch.setattr(AnnIndex, "search", lambda *a, **k: pytest.fail("ANN used"))
    got = approx.query("t0", 10, only=only)
    assert [g.id for g in got] == [w.id for w in want]
    assert [g.score for g in got] == pytest.approx([w.score for w in want])


@needs_faiss
def test_falls_back_to_exact_when_the_index_finds_too_few(data):
    """One list read, rows allowed only outside it: the index cannot promise k results and
    says so (None); SimilarityIndex then answers exactly."""
    x = SimilarityIndex(data.ids, data.x).vectors
    index = AnnIndex(x, AnnParams(nlist=32, nprobe=1))
    _, lists = index._quantizer.search(x[:1], 1)
    _, assign = index._quantizer.search(x, 1)
    allowed = assign[:, 0] != lists[0, 0]
    assert index.search(x[0], 10, allowed=allowed) is None
    assert index.search(x[0], 10, allowed=np.zeros(N, dtype=bool))[0].size == 0

    policy = AnnPolicy(exact_below=0, eager=True, background=False,
                       params=AnnParams(nlist=32, nprobe=1))
    exact, approx = _pair(data, policy=policy)
    want = exact.query("t0", 10, only=allowed)
    got = approx.query("t0", 10, only=allowed)
    assert approx.ann.ready_index() is not None
    assert [g.id for g in got] == [w.id for w in want]


@needs_faiss
def test_k_larger_than_what_is_left(data):
    exact, approx = _pair(data)
    only = np.zeros(N, dtype=bool)
    only[[0, 10, 20, 30]] = True
    assert {g.id for g in approx.query("t0", 10, only=only)} == {"t10", "t20", "t30"}
    assert len(approx.query("t0", N + 5)) == N - 1
    assert approx.query("t0", 5, only=np.zeros(N, dtype=bool)) == []


def test_without_faiss_search_stays_exact(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)       # `import faiss` raises ImportError
    assert ann.load_faiss() is None and not ann.faiss_available()
    exact, approx = _pair(data)
    got = approx.query("t0", 10, exclude_same_artist=True)
    assert [g.id for g in got] == [w.id for w in exact.query("t0", 10, exclude_same_artist=True)]
    assert approx.ann.ready_index() is None
    assert "FAISS" in approx.ann.failed
    with pytest.raises(RuntimeError):
        AnnIndex(approx.vectors)


@needs_faiss
def test_small_libraries_stay_exact_by_default(data, monkeypatch):
    idx = SimilarityIndex(data.ids, data.x)
    assert not idx.ann.wanted                             # 4,000 < EXACT_BELOW
    monkeypatch.setattr(AnnIndex, "__init__", lambda *a, **k: pytest.fail("built"))
    idx.query("t0", 10)
    assert idx.ann.ready_index() is None


@needs_faiss
def test_built_once_worth_it_then_cached(data, monkeypatch):
    """Default policy above the threshold: exact until the exact queries have cost about the
    estimated build time, then one build, reused by a new index over the same vectors and
    label, and not by one over changed vectors."""
    built = []
    real_init = AnnIndex.__init__

    def counting(self, *a, **k):
        built.append(1)
        real_init(self, *a, **k)

    monkeypatch.setattr(AnnIndex, "__init__", counting)
    estimate = ann.estimated_build_seconds(N, DIM)
    policy = AnnPolicy(exact_below=1000, background=False)
    idx = SimilarityIndex(data.ids, data.x, ann=policy, ann_label=("m", "penultimate"))
    idx.query("t0", 10)
    assert not built and idx.ann.ready_index() is None    # one quick query: no build
    idx.ann.note_exact(estimate)                          # as if many exact queries ran
    idx.query("t0", 10)
    assert built == [1] and idx.ann.ready_index() is not None
    again = SimilarityIndex(data.ids, data.x, ann=policy, ann_label=("m", "penultimate"))
    assert again.ann.ready_index() is idx.ann.ready_index() and built == [1]
    changed = data.x.copy()
    changed[5] += 1.0
    other = SimilarityIndex(data.ids, changed, ann=policy, ann_label=("m", "penultimate"))
    assert other.ann.ready_index() is not None and built == [1, 1]   # same shape: budget spent
    assert other.ann.ready_index() is not idx.ann.ready_index()


@needs_faiss
def test_background_build_answers_exactly_meanwhile(data):
    exact, approx = _pair(data, policy=AnnPolicy(exact_below=0, eager=True, background=True))
    got = approx.query("t0", 10)                          # starts the build, answers now
    assert [g.id for g in got] == [w.id for w in exact.query("t0", 10)]
    assert approx.ann.wait(60) is not None
    assert not approx.ann.building
    assert len(approx.query("t0", 10)) == 10


def test_params_grow_with_the_library():
    small, mid, large = (AnnParams.for_size(n) for n in (1000, 1_000_000, 10_000_000))
    assert small.nlist <= mid.nlist <= large.nlist
    assert all(1 <= p.nprobe <= p.nlist for p in (small, mid, large))
    assert mid.nlist == 1024 and mid.nprobe == 64


# --- tagatlas similar on the approximate index ------------------------------------------------
def _library(tmp_path):
    from engine.library import Library
    from engine.similarity.synthetic import clustered_embeddings, random_tag_scores
    from engine.vocab import msd50_tag_infos

    n = 300
    x, labels = clustered_embeddings(n, dim=32, n_clusters=5, spread=0.8, seed=7)
    scores = random_tag_scores(labels, 50, seed=7)
    db = tmp_path / "lib.sqlite3"
    music = tmp_path / "Music"
    info = SimpleNamespace(name="musicnn-msd", tags=msd50_tag_infos(), thresholds=None,
                           embedding_dim=32, to_json=lambda: {"name": "musicnn-msd"})
    paths = []
    with Library(db) as lib:
        lib.register_model(info)
        with lib.transaction():
            for i in range(n):
                path = music / f"Artist {i % 12}" / f"{i:03d} Track.flac"
                tid = lib.add_track(path, size=1000 + i, mtime_ns=i, duration_s=180.0, format="flac",
                                    metadata={"title": f"Track {i}", "artist": f"Artist {i % 12}",
                                              "album": f"Album {i % 7}"})
                lib.store_analysis(tid, "musicnn-msd", scores[i], x[i], duration_s=180.0)
                paths.append(str(path))
    return db, paths


def _similar(capsys, db, *argv) -> list[str]:
    from engine.cli import main

    assert main(["--db", str(db), "similar", *argv, "--json"]) == 0
    return [r["path"] for r in json.loads(capsys.readouterr().out)["results"]]


@needs_faiss
def test_cli_similar_gives_the_same_results_on_the_approximate_index(tmp_path, capsys, monkeypatch):
    db, paths = _library(tmp_path)
    runs = [(paths[0], "-k", "10"), (paths[3], paths[4], "-k", "8", "--exclude-artist"),
            (paths[9], "-k", "12", "--exclude-album")]
    exact = [_similar(capsys, db, *r) for r in runs]
    searched = []
    real_search = AnnIndex.search

    def spy(self, *a, **k):
        searched.append(1)
        return real_search(self, *a, **k)

    monkeypatch.setattr(AnnIndex, "search", spy)
    monkeypatch.setattr(ann, "default_policy",
                        lambda: AnnPolicy(exact_below=0, eager=True, background=False,
                                          params=AnnParams(nlist=8, nprobe=8)))
    approx = [_similar(capsys, db, *r) for r in runs]
    assert len(searched) == len(runs)                     # every query went through FAISS
    assert approx == exact                                # all lists read: the exact answer
    for run, got in zip(runs, approx):
        assert len(got) == int(run[run.index("-k") + 1])
        assert not set(got) & set(run)                    # the seeds are never listed
    assert not {Path(p).parent.name for p in approx[1]} & {"Artist 3", "Artist 4"}


def test_no_import_cycle_in_the_similarity_package():
    """Every module of engine/similarity, with the imports inside functions too: no cycle
    (the labelled check that closed one, embeddings -> index -> embeddings, is in benchmarks/)."""
    import ast

    folder = Path(ann.__file__).parent
    names = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    graph = {}
    for name in names:
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                mod = node.module if node.level == 0 else "engine.similarity." + node.module
                if mod.startswith("engine.similarity."):
                    deps.add(mod.rsplit(".", 1)[1])
        graph[name] = deps & names
    state: dict[str, int] = {}

    def visit(node, trail):
        if state.get(node) == 1:
            raise AssertionError("import cycle: " + " -> ".join(trail + [node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for dep in sorted(graph[node]):
            visit(dep, trail + [node])
        state[node] = 2

    for name in sorted(graph):
        visit(name, [])
    assert "index" in graph["playlist"] and "ann" in graph["index"]   # the walk saw imports


def test_the_ann_state_pickles_without_its_lock_or_thread():
    """The app receives a SimilarityIndex from a worker process: it must pickle (a lock does
    not), and the copy decides and builds on its own."""
    import pickle

    from engine.similarity.ann import AnnPolicy, AnnState

    vectors = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    state = AnnState(vectors, AnnPolicy(), label=("m", "penultimate"))
    copy = pickle.loads(pickle.dumps(state))
    assert np.array_equal(copy._vectors, vectors) and copy.policy == state.policy
    assert copy.building is False and copy.failed is None
