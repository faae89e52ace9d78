"""``tagatlas batch`` on a local Ray instance (2 CPUs) and ``tagatlas import`` into a library.

The Parquet rows must be the app's own analysis: identical to :class:`engine.Tagger` run
directly on the same files with the scan's default profile and quick analysis; bad files are
rows with their reason; a run killed part-way resumes with only the rest; and the imported
library behaves exactly as a scanned one (show, tag --dry-run/--write, similar), with a rescan
analysing nothing again. One Ray instance serves the whole module (it takes seconds to start).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="tagatlas batch needs Ray (pip install -e '.[test]' installs it)")
pytest.importorskip("pyarrow")

from audio_fixtures import music_like, write_audio  # noqa: E402
from engine.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GOOD = ["one.flac", "two.mp3", "three.ogg", "four.wav", "sub/five.flac", "sub/six.ogg"]
BAD = {   # file -> (stage, words its reason must contain)
    "empty.wav": ("scan", "empty"),
    "notes.mp3": ("decode", "text file"),
    "cut.flac": ("decode", "truncated"),
    "cut.mp3": ("decode", "truncated"),
}


@pytest.fixture(scope="module")
def ray_address():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalogue") / "music"
    for i, name in enumerate(GOOD):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_audio(root / name, music_like(6.0, 22050, seed=10 + i), 22050)
    (root / "empty.wav").write_bytes(b"")
    (root / "notes.mp3").write_text("these are my notes, not a song\n" * 40)
    for src, dst in (("one.flac", "cut.flac"), ("two.mp3", "cut.mp3")):
        data = (root / src).read_bytes()
        (root / dst).write_bytes(data[: len(data) * 2 // 5])
    return root


def _rows(out):
    from engine.catalogue.batch import output_rows

    return list(output_rows(out))


def _by_file(rows):
    files: dict[str, list[dict]] = {}
    for r in rows:
        files.setdefault(os.fsdecode(r["path_bytes"]), []).append(r)
    return files


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def batch_out(ray_address, music, tmp_path_factory):
    """The batch output of ``music`` (run once for the module, in this process's Ray)."""
    out = tmp_path_factory.mktemp("batch") / "analyses"
    code = main(["batch", str(music), "-o", str(out), "--block-size", "2"])
    assert code == 1                                 # some files failed, the others were analysed
    return out


_DIRECT = """
import pickle, sys
from engine import Tagger
from engine.profiles import profile_models
from engine.tagger import QUICK_ANALYSIS_PATCHES
paths = sys.argv[2:]
with Tagger(profile_models(), workers=0, max_patches=QUICK_ANALYSIS_PATCHES) as tagger:
    results = tagger.tag_files(paths)
out = {}
for r in results:
    out[r.path] = ([(x.model, x.scores, x.embedding, x.n_patches, x.duration_s, x.warnings) for x in r.by_model]
                   if r.ok else (type(r.error).__name__, r.error.reason))
with open(sys.argv[1], "wb") as fh:
    pickle.dump(out, fh)
"""


def _direct_tagger(paths, tmp_path):
    """``{path: [(model, scores, embedding, n_patches, duration_s, warnings)] or (kind, reason)}``
    of :class:`engine.Tagger` run directly (the scan's default profile, quick analysis), in a
    process with one torch thread as the Ray actors have: then the scores are bit-identical.
    (With another thread count at start-up oneDNN sums in another order: within 3e-6.)"""
    import pickle

    dest = tmp_path / "direct.pkl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", _DIRECT, str(dest), *paths], check=True, env=env, cwd=str(REPO))
    with open(dest, "rb") as fh:
        return pickle.load(fh)


def test_rows_are_the_taggers_own_results(batch_out, music, tmp_path):
    from engine.library.reading import content_fingerprint
    from engine.rhythm.track import analyse_file
    from engine.tagger import QUICK_ANALYSIS_PATCHES

    files = _by_file(_rows(batch_out))
    assert sorted(files) == sorted(str(music / n) for n in [*GOOD, *BAD])   # each file once
    paths = [str(music / n) for n in GOOD + list(BAD)]
    direct = _direct_tagger(paths, tmp_path)
    models = ["musicnn-msd", "jamendo-musicnn"]       # the scan's default profile
    for name in GOOD:
        p = str(music / name)
        rows = {r["model"]: r for r in files[p]}
        assert sorted(rows) == sorted(models)
        assert [m for m, *_ in direct[p]] == models
        for model, scores, embedding, n_patches, duration_s, warnings in direct[p]:
            r = rows[model]
            assert r["outcome"] == "ok" and r["error_reason"] is None
            assert np.array_equal(np.asarray(r["scores"], np.float32), scores)          # identical
            assert np.array_equal(np.asarray(r["embedding"], np.float32), embedding)
            assert r["n_patches"] == n_patches and r["duration_s"] == pytest.approx(duration_s)
            assert r["warnings"] == warnings
            assert r["size"] == os.path.getsize(p) and r["fingerprint"] == content_fingerprint(p)
            assert r["max_patches"] == QUICK_ANALYSIS_PATCHES
    rh = analyse_file(str(music / GOOD[0]), quick=True)
    r0 = files[str(music / GOOD[0])][0]
    assert r0["bpm"] == pytest.approx(rh.rhythm.bpm) and r0["key_tonic"] == rh.key.tonic
    np.testing.assert_allclose(r0["beats"], rh.rhythm.beats, atol=1e-5)
    for name, (stage, words) in BAD.items():
        (row,) = files[str(music / name)]
        assert row["outcome"] == "error" and row["model"] is None
        assert row["error_stage"] == stage and words in row["error_reason"], row
        if name != "empty.wav":     # the direct tagger says the same
            assert direct[str(music / name)] == (row["error_kind"], row["error_reason"])
    # the bundles travel with the results: tags, thresholds, feature spec
    from engine.catalogue import records

    meta = records.read_models(records.part_files(batch_out)[0])
    assert [m["name"] for m in meta] == models and all(m["tags"] for m in meta)


def test_import_matches_a_moved_file_by_content(batch_out, music, tmp_path, capsys):
    """The library knows the files at other paths (moved since the batch): import matches them
    by content fingerprint, with no re-analysis."""
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(music, moved)
    db = str(tmp_path / "lib.sqlite3")
    code, out, _ = _cli(capsys, "--db", db, "scan", moved, "--no-analyse")
    assert code in (0, 1)
    code, out, _ = _cli(capsys, "--db", db, "import", batch_out)
    assert code == 0, out
    assert "by content" in out
    from engine.library import Library

    with Library(db) as lib:
        for name in GOOD:
            t = lib.get_track_by_path(moved / name)
            assert t is not None and t.status == "analysed", (name, t and t.status)
            assert {a.model for a in lib.analyses_of(t.id)} == {"musicnn-msd", "jamendo-musicnn"}
        assert lib.get_track_by_path(music / GOOD[0]) is None     # nothing added at the old paths


def _without_ids_and_times(data):
    """``show --json`` output less what differs between two libraries of the same files."""
    if isinstance(data, dict):
        return {k: _without_ids_and_times(v) for k, v in data.items()
                if k not in ("id", "track_id", "at", "analysed_at", "added_at", "updated_at")}
    if isinstance(data, list):
        return [_without_ids_and_times(v) for v in data]
    return data


def test_import_then_the_library_works_as_after_a_scan(batch_out, music, tmp_path, capsys):
    """(Runs after the other tests of ``music``: its tag write changes the files.)"""
    imported, scanned = str(tmp_path / "imported.sqlite3"), str(tmp_path / "scanned.sqlite3")
    code, out, _ = _cli(capsys, "--db", imported, "import", batch_out)
    assert code == 0, out
    assert f"{len(GOOD) + len(BAD)} imported ({len(GOOD) + len(BAD)} new tracks" in out
    # the same folder scanned the ordinary way, with one torch thread as the actors have
    scan = subprocess.run([sys.executable, "-m", "engine.cli", "--db", scanned, "scan", str(music),
                           "--workers", "0"], env={**os.environ, "OMP_NUM_THREADS": "1"},
                          cwd=str(REPO), capture_output=True, text=True)
    assert scan.returncode == 1 and f"analysed {len(GOOD)} tracks" in scan.stdout, scan.stdout + scan.stderr

    from engine.library import Library

    with Library(imported) as a, Library(scanned) as b:
        assert a.status_counts() == b.status_counts()
        assert a.analysed_models() == b.analysed_models() == {"jamendo-musicnn": len(GOOD), "musicnn-msd": len(GOOD)}
        for name in GOOD:
            ta, tb = a.get_track_by_path(music / name), b.get_track_by_path(music / name)
            for f in ("size", "mtime_ns", "fingerprint", "duration_s", "format", "status", "title", "genre"):
                assert getattr(ta, f) == getattr(tb, f), (name, f)
            for m in ("musicnn-msd", "jamendo-musicnn"):
                xa, xb = a.get_analysis(ta.id, m), b.get_analysis(tb.id, m)
                assert np.array_equal(xa.scores, xb.scores) and np.array_equal(xa.embedding, xb.embedding)
                assert xa.warnings == xb.warnings and xa.n_patches == xb.n_patches
            ra, rb = a.get_rhythm(ta.id), b.get_rhythm(tb.id)
            assert ra.bpm == pytest.approx(rb.bpm) and ra.key == rb.key and ra.model == rb.model
        err = lambda lib: sorted((os.path.basename(e.path), e.stage, e.kind, e.reason) for e in lib.errors())  # noqa: E731
        assert err(a) == err(b)
        assert {e[0] for e in err(a)} >= set(BAD)
        stamps = {r.track_id: r.analysed_at for t in a.query_tracks() for r in a.analyses_of(t.id)}

    # a rescan of the imported library finds everything unchanged and analyses nothing again
    code, out, _ = _cli(capsys, "--db", imported, "scan", music, "--workers", "0")
    n = len(GOOD) + len(BAD)
    assert f"0 new, 0 changed, {n} unchanged" in out and "analysed" not in out
    assert "tempo, beats and key" not in out
    with Library(imported) as a:
        assert {r.track_id: r.analysed_at for t in a.query_tracks() for r in a.analyses_of(t.id)} == stamps

    # show, the write plan and similar are the same as for the scanned library
    def show(db):
        code, out, _ = _cli(capsys, "--db", db, "show", "--json", music / GOOD[0])
        assert code == 0
        return _without_ids_and_times(json.loads(out))

    assert show(imported) == show(scanned)
    plans = [_cli(capsys, "--db", db, "tag", "--dry-run") for db in (imported, scanned)]
    assert plans[0][0] == plans[1][0] and plans[0][1] == plans[1][1]
    sims = [_cli(capsys, "--db", db, "similar", music / GOOD[0], "-k", "3") for db in (imported, scanned)]
    assert sims[0][0] == 0 and sims[0][1] == sims[1][1]
    assert str(music / GOOD[1]) in sims[0][1] or any(str(music / g) in sims[0][1] for g in GOOD[1:])

    # tag --write on the imported library writes into the files (journaled)
    code, out, _ = _cli(capsys, "--db", imported, "tag", "--write")
    assert code in (0, 1), out
    with Library(imported) as a:
        written = a.journal_entries()
        assert written, out
    import mutagen

    f = mutagen.File(music / GOOD[0])
    assert f is not None and any("genre" in k.lower() for k in f.keys()), f.keys()
    code, out, _ = _cli(capsys, "--db", imported, "undo", "--last")
    assert code == 0


def test_a_killed_run_resumes_with_only_the_rest(ray_address, tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    names = [f"t{i:02d}.wav" for i in range(8)]
    for i, n in enumerate(names):
        write_audio(music / n, music_like(8.0, 16000, seed=40 + i), 16000)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "batch", str(music), "-o", str(out), "--address", ray_address,
         "--actors", "1", "--block-size", "1"], cwd=str(REPO), env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("part-*.parquet")):
            assert proc.poll() is None, "the batch ended before writing a part file"
            assert time.monotonic() < deadline, "no part file after 120 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    first = _by_file(_rows(out))
    assert 1 <= len(first) < len(names), f"the kill came too late: {len(first)} files done"
    code, stdout, err = _cli(capsys, "batch", music, "-o", out, "--block-size", "2")
    assert code == 0, stdout + err
    rest = len(names) - len(first)
    assert f"{len(names)} files: {rest} analysed, 0 failed, {len(first)} already in" in stdout
    assert "tracks/s" in err and "ETA" in err                      # progress on stderr
    final = _by_file(_rows(out))
    assert sorted(final) == sorted(str(music / n) for n in names)
    assert all(len(rows) == 2 for rows in final.values())          # each file once (two models)
    for p, rows in first.items():                                  # what the killed run finished is kept
        assert [r["analysed_at"] for r in rows] == [r["analysed_at"] for r in final[p]]
    # a third run has nothing left to do
    code, stdout, _ = _cli(capsys, "batch", music, "-o", out)
    assert code == 0 and f"0 analysed, 0 failed, {len(names)} already in" in stdout


def test_file_list_and_manifest_inputs(tmp_path):
    from engine.catalogue.batch import list_inputs

    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    for p in (a, b):
        write_audio(p, music_like(1.0, 8000), 8000)
    (tmp_path / "list.txt").write_text("# my files\na.wav\n\n" + str(b) + "\n")
    (tmp_path / "manifest.csv").write_text("path,artist\nb.wav,x\nmissing.mp3,y\n")
    got = list_inputs(files_from=str(tmp_path / "list.txt"), manifest=str(tmp_path / "manifest.csv"))
    assert got.paths == [str(a), str(b), str(tmp_path / "missing.mp3")]


def test_without_ray_the_command_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)        # import ray -> ImportError
    code, out, err = _cli(capsys, "batch", tmp_path, "-o", tmp_path / "out")
    assert code == 2
    assert "pip install" in err and "tagatlas[batch]" in err and "Ray" in err


def test_engine_and_the_cli_do_not_import_ray():
    code = ("import sys, engine, engine.cli; engine.cli.build_parser(); "
            "bad = [m for m in ('ray', 'pyarrow') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(REPO))
