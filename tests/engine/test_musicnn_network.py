"""The ported musicnn / vgg networks against the original's own inputs and outputs.

Fixtures (tests/fixtures/musicnn, see README there): the exact network inputs (`batch`, the
original's log-mel patches) and the logits the original TensorFlow models produced from them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.bundle import DEFAULT_MODEL, load_bundle, read_bundle_info
from engine.models.base import count_parameters
from engine.models.musicnn import MusiCNN, MusicnnVGG, count_inference_values
from engine.models.registry import available_architectures, build_model
from engine.vocab import MSD50_TAGS, MTT50_TAGS

FIX = Path(__file__).parents[1] / "fixtures" / "musicnn"
BUNDLES = {"musicnn-msd": "MSD_musicnn", "vgg-msd": "MSD_vgg",
           "musicnn-mtt": "MTT_musicnn", "vgg-mtt": "MTT_vgg"}


@pytest.fixture(scope="module")
def logits_ref():
    with np.load(FIX / "logits.npz") as d:
        return {k: d[k] for k in d.files}


def _batches(original: str) -> dict[str, np.ndarray]:
    which = "msd" if original.startswith("MSD") else "mtt"
    with np.load(FIX / f"batches_{which}.npz") as d:
        return {k: d[k] for k in d.files}


def test_registered_and_parameter_counts():
    assert {"musicnn", "vgg"} <= set(available_architectures())
    m, v = build_model("musicnn"), build_model("vgg")
    assert isinstance(m, MusiCNN) and isinstance(v, MusicnnVGG)
    # values the original checkpoints hold for inference (batch-norm statistics included)
    assert count_inference_values(m) == 792_079
    assert count_inference_values(v) == 607_030
    assert count_parameters(m) == 787_159          # trainable only (BN statistics are buffers)
    assert m.embedding_dim == 200 and v.embedding_dim == 256
    assert build_model("musicnn", **m.config()).config() == m.config()
    assert build_model("vgg", **v.config()).config() == v.config()


def test_batch_norm_uses_tensorflow_epsilon():
    for model in (MusiCNN(), MusicnnVGG()):
        eps = {mod.eps for mod in model.modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)}
        assert eps == {1e-3}


@pytest.mark.parametrize("bundle", list(BUNDLES))
def test_network_reproduces_reference_logits(bundle, logits_ref):
    original = BUNDLES[bundle]
    model, info = load_bundle(bundle, "cpu")
    assert info.tag_names == list(MSD50_TAGS if original.startswith("MSD") else MTT50_TAGS)
    checked = 0
    with torch.inference_mode():
        for name, batch in _batches(original).items():
            x = torch.from_numpy(batch).transpose(1, 2)          # [P, 187, 96] -> ours [P, 96, 187]
            logits, emb = model.forward_with_embedding(x)
            ref = logits_ref[f"{original}__{name}"]
            assert logits.shape == ref.shape
            err = np.abs(logits.numpy() - ref).max()
            assert err <= 1e-4, f"{bundle} {name}: max logit error {err:.2e}"
            pen = logits_ref.get(f"{original}__{name}__penultimate")
            if pen is not None:                                  # the 200-d embedding
                assert np.abs(emb.numpy() - pen).max() <= 1e-4
            checked += ref.shape[0]
    assert checked == 86                                         # 8 files x 10 patches + 6


def test_eval_shortcut_equals_plain_layers():
    """The front end's max/min-before-ReLU shortcut (eval) equals conv -> ReLU -> BN -> max."""
    torch.manual_seed(0)
    model = MusiCNN()
    for mod in model.modules():                                  # random stats, some gammas < 0
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.weight.data.uniform_(-1.5, 1.5)
            mod.bias.data.normal_()
            mod.running_mean.normal_()
            mod.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, 96, 187)
    model.eval()
    h = model.input_bn(x.transpose(1, 2).unsqueeze(1))
    for block in list(model.timbral) + list(model.temporal):
        fast = block(h)
        padded = torch.nn.functional.pad(h, (0, 0, *block.time_pad))
        plain = block.bn(torch.relu(block.conv(padded))).amax(dim=3)
        assert torch.allclose(fast, plain, atol=1e-5, rtol=1e-5)


def test_musicnn_accepts_other_lengths_vgg_does_not():
    with torch.inference_mode():
        logits, emb = MusiCNN().eval().forward_with_embedding(torch.randn(2, 96, 100))
        assert logits.shape == (2, 50) and emb.shape == (2, 200)
        with pytest.raises(ValueError):
            MusicnnVGG().eval()(torch.randn(1, 96, 100))


def test_bundles_describe_themselves():
    assert DEFAULT_MODEL == "musicnn-msd"
    for bundle in BUNDLES:
        info = read_bundle_info(bundle)
        spec = info.feature_spec
        assert (spec.sample_rate, spec.n_fft, spec.hop_length, spec.n_mels) == (16000, 512, 256, 96)
        assert spec.log == "log10_10000" and spec.float16_step and spec.pad_mode == "reflect"
        assert (spec.excerpt, spec.input_frames, spec.patch_hop_frames) == ("patches", 187, 187)
        assert spec.resampler == "kaiser_best" and spec.short_audio == "repeat_pad"
        assert info.license == "ISC" and "Universitat Pompeu Fabra" in info.provenance["attribution"]
        assert 0.87 < info.metrics["roc_auc"] < 0.91 and info.metrics["dataset"]
        assert len({t.category for t in info.tags}) >= 3
    assert (Path(read_bundle_info("musicnn-msd").path).parent / "LICENSE-musicnn.txt").is_file()
