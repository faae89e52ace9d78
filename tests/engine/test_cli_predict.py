"""``tagatlas predict``: human table, JSON, exit codes, plain-words errors."""
from __future__ import annotations

import json

import pytest

from engine.cli import main
from tests.audio_fixtures import music_like, write_audio
from tests.tagger_util import tiny_bundle


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict")
    bundle = tiny_bundle(d, "tiny-cli")
    song = write_audio(d / "song.flac", music_like(5.0, 22050), 22050)
    bad = d / "bad.mp3"
    bad.write_text("hello")
    return bundle, song, bad


def test_table_shows_top_tags_and_errors(setup, capsys):
    bundle, song, bad = setup
    code = main(["predict", "--model", str(bundle), "--top", "3", "--workers", "0", str(song), str(bad)])
    out = capsys.readouterr()
    assert code == 1                                   # one of the two files failed
    lines = out.out.splitlines()
    assert lines[0].endswith("song.flac") and len([line for line in lines[1:4] if "(" in line]) == 3
    assert "error: this is a text file, not audio" in out.out
    assert "1 of 2 files could not be analysed" in out.err


def test_json_has_every_score(setup, capsys):
    bundle, song, bad = setup
    code = main(["predict", "--model", str(bundle), "--json", "--workers", "0", str(song), str(bad)])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and len(data) == 2
    assert len(data[0]["scores"]) == 50 and "rock" in data[0]["scores"]
    assert data[1]["kind"] == "UnsupportedFormatError"


def test_exit_codes_follow_the_table(setup, capsys):
    """1 when some files failed, 2 when every file failed (engine.cli._common.EXIT_CODES)."""
    bundle, song, bad = setup
    assert main(["predict", "--model", str(bundle), "--workers", "0", str(bad)]) == 2
    assert main(["predict", "--model", str(bundle), "--workers", "0", str(song), str(bad)]) == 1


def test_unknown_model_is_a_plain_error(setup, capsys):
    _, song, _ = setup
    assert main(["predict", "--model", "no-such-model", str(song)]) == 2
    assert "no model bundle named 'no-such-model'" in capsys.readouterr().err
