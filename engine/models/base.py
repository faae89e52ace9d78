"""What every tagging model looks like to the rest of Tag Atlas.

Input: log-mel ``[batch, n_mels, frames]`` float32 (the :class:`~engine.features.LogMel`
output). Output of ``forward``: logits ``[batch, n_tags]``. ``forward_with_embedding``
also returns the penultimate activations ``[batch, embedding_dim]`` used for similarity.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class TaggingModel(nn.Module):
    architecture: str = ""      # set by @register
    embedding_dim: int = 0

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this model (stored in the bundle JSON)."""
        raise NotImplementedError

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_embedding(x)[0]

    def aggregate(self, probs: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One track's scores and embedding from its patches' ``[patches, n]`` ones: the means,
        as the original taggers average their patches."""
        return probs.mean(0), embeddings.mean(0)


def count_parameters(module: nn.Module, *, exclude_batchnorm: bool = False) -> int:
    """Trainable parameters; with ``exclude_batchnorm`` the BN affine parameters are left out."""
    total = 0
    for sub in module.modules():
        if exclude_batchnorm and isinstance(sub, nn.modules.batchnorm._BatchNorm):
            continue
        total += sum(p.numel() for p in sub.parameters(recurse=False) if p.requires_grad)
    return total
