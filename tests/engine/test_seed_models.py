"""The three seed CNNs have the dissertation's layer shapes and parameter counts."""
from __future__ import annotations

import pytest
import torch

from engine.models.base import count_parameters
from engine.models.registry import available_architectures, build_model
from engine.errors import ModelError


def unit_outputs(model, x):
    """Output shape after each ConvUnit, as (channels, height, width)."""
    h = model._prepare(x)
    shapes = []
    for unit in model.features:
        h = unit(h)
        shapes.append(tuple(h.shape[1:]))
    return shapes


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 96, 1366)


def test_k2c1_layer_shapes(x):
    m = build_model("k2c1").eval()
    assert unit_outputs(m, x) == [(152, 1, 1363), (152, 1, 340), (152, 1, 84), (304, 1, 20), (304, 1, 4)]
    assert m.flat_dim == 1216


def test_k1c2_layer_shapes(x):
    m = build_model("k1c2").eval()
    assert unit_outputs(m, x) == [(47, 96, 341), (47, 96, 68), (95, 96, 8), (95, 96, 1)]
    assert m.flat_dim == 9120


def test_k2c2_layer_shapes(x):
    m = build_model("k2c2").eval()
    assert unit_outputs(m, x) == [(67, 48, 341), (135, 24, 85), (135, 12, 21), (203, 4, 4), (271, 1, 1)]


@pytest.mark.parametrize("name,expected", [("k2c1", 1_276_698), ("k1c2", 943_683), ("k2c2", 1_002_156)])
def test_conv_and_dense_parameters_equal_the_dissertation(name, expected):
    m = build_model(name)
    assert count_parameters(m, exclude_batchnorm=True) == expected
    assert count_parameters(m) > expected  # batch norms are counted separately


@pytest.mark.parametrize("name,dim", [("k2c1", 304), ("k1c2", 95), ("k2c2", 271)])
def test_outputs_logits_and_a_penultimate_embedding(name, dim, x):
    m = build_model(name).eval()
    with torch.no_grad():
        logits, emb = m.forward_with_embedding(x)
    assert logits.shape == (2, 50) and emb.shape == (2, dim) and m.embedding_dim == dim
    assert torch.isfinite(logits).all()


def test_registry_knows_every_model_and_rejects_unknown_names():
    assert {"k2c1", "k1c2", "k2c2", "tiny"} <= set(available_architectures())
    with pytest.raises(ModelError, match="unknown model architecture"):
        build_model("k9c9")


def test_config_rebuilds_the_same_architecture():
    m = build_model("k2c2", n_tags=10)
    again = build_model("k2c2", **m.config())
    assert again.load_state_dict(m.state_dict())  # identical shapes


def test_tiny_model_takes_any_length():
    m = build_model("tiny", n_tags=5, n_mels=32).eval()
    for frames in (16, 100):
        logits, emb = m.forward_with_embedding(torch.randn(3, 32, frames))
        assert logits.shape == (3, 5) and emb.shape == (3, 32)
