"""One error vocabulary and one error policy for both command lines (issue 13, item 4).

ParameterError is a TagAtlasError and a ValueError; the CLIs add no checks of their own where
the engine checks (the engine's words reach the user); both CLIs share one exit-code table,
which the README shows; Ctrl+C is 130; an unavailable device is said in plain words."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import engine
import engine.cli
from engine.cli.exit_codes import EXIT_CODES, error_text, run_cli
from engine.errors import DeviceError, ParameterError, TagAtlasError

ROOT = Path(__file__).resolve().parent.parent
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


# --- the vocabulary ----------------------------------------------------------------------------
def test_parameter_error_is_a_tag_atlas_error_and_a_value_error():
    err = ParameterError("length must be at least 1, not 0")
    assert isinstance(err, TagAtlasError) and isinstance(err, ValueError)
    with pytest.raises(ValueError):            # callers that catch ValueError keep working
        raise err
    assert issubclass(DeviceError, TagAtlasError) and not issubclass(DeviceError, ValueError)
    assert engine.ParameterError is ParameterError and engine.DeviceError is DeviceError
    assert {"ParameterError", "DeviceError"} <= set(engine.__all__)


def test_engine_input_checks_raise_parameter_error_naming_the_value():
    from engine.key import key_name
    from engine.metadata import CategoryRule, TagPolicy
    from engine.similarity.compat import tempo_mask

    with pytest.raises(ParameterError, match="threshold must be between 0 and 1, not 2"):
        CategoryRule(threshold=2.0)
    with pytest.raises(ParameterError, match="id3_version must be 3 or 4, not 5"):
        TagPolicy(id3_version=5)
    with pytest.raises(ParameterError, match="unknown key notation 'roman'"):
        key_name(0, "major", "roman")
    with pytest.raises(ParameterError, match=r"between 0 and 100, not 150"):
        tempo_mask(120.0, np.array([120.0]), 150.0)


def test_one_unreadable_mapping_for_the_decoder_and_the_tag_reader(tmp_path):
    from engine.audio.decode import check_readable
    from engine.errors import TagReadError, UnreadableFileError, unreadable_from_oserror
    from engine.metadata import read_tags

    gone = tmp_path / "gone.flac"
    with pytest.raises(UnreadableFileError) as audio:
        check_readable(gone)
    with pytest.raises(TagReadError) as tags:
        read_tags(gone)
    assert audio.value.reason == tags.value.reason == "the file does not exist (moved or deleted?)"
    denied = unreadable_from_oserror(gone, PermissionError(13, "Permission denied"))
    assert isinstance(denied, UnreadableFileError) and "permission denied" in denied.reason
    other = unreadable_from_oserror(gone, OSError(5, "Input/output error"), action="opened")
    assert other.reason == "the file cannot be opened (Input/output error)"
    folder = unreadable_from_oserror(tmp_path, IsADirectoryError(21, "Is a directory"), error=TagReadError)
    assert isinstance(folder, TagReadError) and folder.reason == "this is a folder, not a file"


# --- the table -----------------------------------------------------------------------------------
def test_one_exit_code_table_and_the_readme_shows_it():
    assert [code for code, _ in EXIT_CODES] == [0, 1, 2, 130]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\d+)` \| (.+?) \|$", readme, re.M)
    assert [(int(c), text) for c, text in rows] == list(EXIT_CODES)
    assert "tagatlas-train" in readme[readme.index("| `0` |") - 600:readme.index("| `0` |")]


def test_run_cli_maps_errors_to_the_table(capsys):
    def fails(exc):
        raise exc

    assert run_cli("prog", lambda: None) == 0
    assert run_cli("prog", lambda: 1) == 1
    assert run_cli("prog", fails, ParameterError("pull must be between 0 and 1, not 2")) == 2
    assert capsys.readouterr().err == "prog: pull must be between 0 and 1, not 2\n"
    assert run_cli("prog", fails, FileNotFoundError(2, "No such file or directory", "x.csv")) == 2
    assert capsys.readouterr().err == "prog: x.csv: No such file or directory\n"
    assert run_cli("prog", fails, KeyboardInterrupt(), interrupted_note="rerun to resume") == 130
    assert capsys.readouterr().err == "\nprog: interrupted; rerun to resume\n"
    with pytest.raises(RuntimeError):          # a bug keeps its traceback
        run_cli("prog", fails, RuntimeError("bug"))
    with pytest.raises(ValueError):            # so does a bare ValueError: it is not a check
        run_cli("prog", fails, ValueError("bug"))
    assert error_text(FileExistsError("a bundle named 'x' already exists")) == \
        "a bundle named 'x' already exists"


def test_interrupt_exits_130_in_both_command_lines(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("engine.cli.errors_cmd.run", interrupted)   # bound when the parser is built
    assert engine.cli.main(["errors"]) == 130
    assert "tagatlas: interrupted" in capsys.readouterr().err
    import training.cli

    monkeypatch.setattr(training.cli, "cmd_export", interrupted)
    assert training.cli.main(["export", "run", "--name", "x"]) == 130
    assert "tagatlas-train: interrupted; rerun the same command to resume" in capsys.readouterr().err


# --- the engine's words reach the user ---------------------------------------------------------
@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from engine.library import Library
    from engine.similarity.synthetic import clustered_embeddings, random_tag_scores
    from engine.vocab import msd50_tag_infos

    root = tmp_path_factory.mktemp("policy")
    x, labels = clustered_embeddings(60, dim=16, n_clusters=3, spread=0.8, seed=3)
    scores = random_tag_scores(labels, 50, seed=3)
    db = root / "lib.sqlite3"
    paths = []
    with Library(db) as lib:
        lib.register_model(SimpleNamespace(name="musicnn-msd", tags=msd50_tag_infos(), thresholds=None,
                                           embedding_dim=16, to_json=lambda: {"name": "musicnn-msd"}))
        with lib.transaction():
            for i in range(60):
                path = root / "Music" / f"Artist {i % 7}" / f"{i:02d}.flac"
                tid = lib.add_track(path, size=1000 + i, mtime_ns=i, duration_s=200.0, format="flac",
                                    metadata={"title": f"T{i}", "artist": f"Artist {i % 7}"})
                lib.store_analysis(tid, "musicnn-msd", scores[i], x[i], duration_s=200.0)
                paths.append(str(path))
    return SimpleNamespace(db=str(db), paths=paths)


@pytest.mark.parametrize("argv, words", [
    (["playlist", "{0}", "--length", "0"], "length (tracks in the playlist) must be at least 1, not 0"),
    (["playlist", "{0}", "--pull", "2"], "pull must be between 0 and 1, not 2"),
    (["playlist", "{0}", "--max-per-artist", "0"], "max_per_artist (tracks per artist) must be at least 1, not 0"),
    (["playlist", "{0}", "{0}"], "a seed is given twice"),
    (["path", "{0}", "{1}", "--length", "1"], "length must be at least 2 for a path (its start and end), not 1"),
    (["path", "{0}", "{0}"], "start and end are the same track"),
    (["similar", "{0}", "-k", "0"], "-k (how many tracks) must be at least 1, not 0"),
])
def test_a_bad_similarity_argument_exits_2_with_the_engines_words(library, capsys, argv, words):
    argv = [a.format(*library.paths) for a in argv]
    assert engine.cli.main(["--db", library.db, *argv, "--no-save"] if argv[0] != "similar"
                           else ["--db", library.db, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tagatlas: ") and words in err and "Traceback" not in err


def test_the_same_arguments_that_are_fine_still_work(library, capsys):
    assert engine.cli.main(["--db", library.db, "playlist", library.paths[0], "--length", "5",
                            "--no-save", "--pull", "1"]) == 0
    assert engine.cli.main(["--db", library.db, "path", library.paths[0], library.paths[1],
                            "--length", "2", "--no-save"]) == 0


# --- the training command line follows the table --------------------------------------------------
def test_training_cli_exits_2_on_bad_input(tmp_path, capsys):
    from training.cli import main

    bad = tmp_path / "manifest.csv"
    bad.write_text("file,labels\na.wav,rock\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"                     # its one file is not there: left out
    empty.write_text("path,tags\nmissing.wav,rock\n", encoding="utf-8")
    cases = [
        (["prepare", "manifest", str(bad), "--out", str(tmp_path / "p")], "needs the columns 'path' and 'tags'"),
        (["fit", "--model", "tiny", "--out", str(tmp_path / "r")], "--data is required"),
        (["fit", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")], "is not a prepared data set"),
        (["fit", "--data", str(tmp_path), "--arch-arg", "width"], "--arch-arg 'width': use KEY=VALUE"),
        (["export", str(tmp_path / "norun"), "--name", "x"], "holds no checkpoint"),
        (["export", str(tmp_path), "--name", "bad name"], "bundle name 'bad name'"),
        (["prepare", "manifest", str(empty), "--out", str(tmp_path / "p")], "no audio files to prepare"),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "tagatlas-train: " in err and words in err and "Traceback" not in err, (argv, err)


# --- the device ------------------------------------------------------------------------------------
@NO_GPU
def test_cuda_without_a_gpu_is_said_plainly_and_exits_2(tmp_path, capsys):
    from tests.tagger_util import tiny_bundle
    from training.cli import main as train_main

    bundle = tiny_bundle(tmp_path, "tiny-device")
    song = tmp_path / "song.wav"
    assert engine.cli.main(["predict", "--model", str(bundle), "--device", "cuda", str(song)]) == 2
    err = capsys.readouterr().err
    assert err == ("tagatlas: the device 'cuda' needs an NVIDIA GPU with CUDA, and none is "
                   "available on this machine; use --device cpu\n")
    assert engine.cli.main(["predict", "--model", str(bundle), "--device", "gpu", str(song)]) == 2
    assert "'gpu' is not a device; use cpu, cuda, or cuda:N" in capsys.readouterr().err
    assert train_main(["fit", "--data", str(tmp_path), "--out", str(tmp_path / "r"),
                       "--device", "cuda"]) == 2
    assert "tagatlas-train: the device 'cuda' needs an NVIDIA GPU" in capsys.readouterr().err
    assert train_main(["evaluate", str(tmp_path), "--data", str(tmp_path), "--device", "cuda:1"]) == 2
    assert "the device 'cuda:1' needs an NVIDIA GPU" in capsys.readouterr().err


def test_device_from_the_environment_is_named(monkeypatch):
    from engine.tagger import pick_device

    monkeypatch.setenv("TAGATLAS_DEVICE", "gpu")
    with pytest.raises(DeviceError, match=r"'gpu' \(from TAGATLAS_DEVICE\) is not a device"):
        pick_device(None)
    assert pick_device("cpu") == "cpu"          # an explicit choice wins over the environment
