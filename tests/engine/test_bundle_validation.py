"""Malformed bundles are refused in plain words, before anything big is built (issue 12, item 4)."""
from __future__ import annotations

import json
import time

import pytest
from safetensors.torch import save_file

from engine.bundle import load_bundle, save_bundle
from engine.cli import main
from engine.errors import ModelError
from engine.models.registry import build_model
from tests.engine.test_bundle import make_info


@pytest.fixture
def bundle(tmp_path):
    js = save_bundle(build_model("tiny"), make_info("victim"), tmp_path)
    return js, json.loads(js.read_text())


def rewrite(js, data):
    js.write_text(json.dumps(data))
    return js


def refused(js, *words):
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as info:
        load_bundle(js)
    assert time.perf_counter() - t0 < 10  # nothing huge was allocated
    text = str(info.value)
    assert "Traceback" not in text
    for w in words:
        assert w in text, text
    return text


def test_a_valid_bundle_still_loads(bundle):
    _model, info = load_bundle(bundle[0])
    assert len(info.tags) == 50


def test_absurd_arch_args_are_refused_without_allocating(bundle):
    js, data = bundle
    data["arch_args"]["width"] = 1_500_000_000      # the 11-TB layer from the issue
    refused(rewrite(js, data), str(js), "width", "out of range")


def test_large_but_in_range_args_are_refused_by_parameter_count(bundle):
    js, data = bundle
    data["arch_args"].update(width=1 << 20, n_tags=1 << 20)
    data["tags"] = data["tags"] * 1  # tag count no longer matters: the size check comes first
    refused(rewrite(js, data), str(js), "parameters")


@pytest.mark.parametrize("bad", [float("nan"), "x" * 5000, {"a": [1] * 5000}])
def test_unusable_argument_values(bundle, bad):
    js, data = bundle
    data["arch_args"]["width"] = bad
    refused(rewrite(js, data), str(js))


def test_unknown_argument_names_the_file(bundle):
    js, data = bundle
    data["arch_args"]["layers_of_doom"] = 3
    refused(rewrite(js, data), str(js), "arch_args")


def test_empty_tag_list(bundle):
    js, data = bundle
    data["tags"], data["thresholds"] = [], None
    refused(rewrite(js, data), str(js), "no tags")


def test_tag_count_must_match_the_model_output(bundle):
    js, data = bundle
    data["tags"], data["thresholds"] = data["tags"][:10], None
    refused(rewrite(js, data), str(js), "10 tags", "50 scores")


def test_thresholds_must_be_probabilities(bundle):
    js, data = bundle
    data["thresholds"] = [2.0] * 50
    refused(rewrite(js, data), str(js), "thresholds")


def test_shapes_are_checked_against_the_safetensors_header(bundle):
    import torch

    js, _ = bundle
    weights = js.with_suffix(".safetensors")
    state = build_model("tiny").state_dict()
    state["classifier.weight"] = torch.zeros(50, 7)
    save_file({k: v.contiguous() for k, v in state.items()}, str(weights))
    refused(js, str(weights), "classifier.weight", "do not fit")


def test_missing_and_extra_tensors(bundle):
    js, _ = bundle
    weights = js.with_suffix(".safetensors")
    state = build_model("tiny").state_dict()
    state.pop("classifier.bias")
    import torch
    state["surprise"] = torch.zeros(3)
    save_file({k: v.contiguous() for k, v in state.items()}, str(weights))
    refused(js, str(weights), "missing classifier.bias", "unexpected surprise")


def test_a_damaged_weights_file(bundle):
    js, _ = bundle
    weights = js.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:200])
    refused(js, str(weights))
    weights.write_bytes(b"\xff" * 8 + b"{}")
    refused(js, str(weights), "not a safetensors file")


def test_an_absurd_weights_file_size(bundle, monkeypatch):
    import engine.bundle as b

    monkeypatch.setattr(b, "MAX_WEIGHTS_BYTES", 1000)
    refused(bundle[0], str(bundle[0].with_suffix(".safetensors")), "GiB")


def test_the_cli_exits_2_with_a_plain_reason(bundle, tmp_path, capsys):
    from tests.audio_fixtures import music_like, write_audio

    js, data = bundle
    data["tags"], data["thresholds"] = [], None
    rewrite(js, data)
    song = write_audio(tmp_path / "song.wav", music_like(4.0))
    assert main(["predict", str(song), "--model", str(js)]) == 2
    err = capsys.readouterr().err
    assert "no tags" in err and str(js) in err and "Traceback" not in err
