"""A base tagger with a small head trained on its embeddings: the user's own tags.

``tagatlas-train learn-tags`` fits the head (logistic regression, or a one-hidden-layer MLP)
on frozen embeddings of a base model and exports base + head as one bundle with architecture
``"embedding_head"``. The app runs it like any model: a track's tag scores are the head applied
to its mean embedding (as in training), and the embedding it returns is the base model's, so
similarity and the map are unchanged.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError
from .base import TaggingModel
from .registry import build_model, register


@register("embedding_head")
class EmbeddingHead(TaggingModel):
    """``base`` (any registered architecture) -> standardise embedding -> head -> logits.

    ``base_architecture``/``base_args`` rebuild the base model; ``hidden`` = 0 gives a linear
    (logistic-regression) head, > 0 a Linear-ReLU-Linear head of that width. The standardisation
    (``emb_mean``, ``emb_scale``) is stored as buffers with the weights.
    """

    def __init__(self, base_architecture: str, base_args: dict[str, Any], n_tags: int,
                 hidden: int = 0) -> None:
        super().__init__()
        self.base_architecture, self.base_args = base_architecture, dict(base_args)
        self.n_tags, self.hidden = n_tags, hidden
        self.base = build_model(base_architecture, **self.base_args)
        d = int(self.base.embedding_dim)
        if d <= 0:
            raise ParameterError(f"base architecture {base_architecture!r} reports no embedding dimension")
        self.embedding_dim = d
        self.register_buffer("emb_mean", torch.zeros(d))
        self.register_buffer("emb_scale", torch.ones(d))
        if hidden > 0:
            self.head = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, n_tags))
        else:
            self.head = nn.Sequential(nn.Linear(d, n_tags))

    def config(self) -> dict[str, Any]:
        return {"base_architecture": self.base_architecture, "base_args": self.base_args,
                "n_tags": self.n_tags, "hidden": self.hidden}

    def head_logits(self, embedding: torch.Tensor) -> torch.Tensor:
        """Logits from base embeddings ``[batch, embedding_dim]`` (what learn-tags trains)."""
        return self.head((embedding - self.emb_mean) * self.emb_scale)

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, emb = self.base.forward_with_embedding(x)
        return self.head_logits(emb.float()), emb

    def aggregate(self, probs: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The head was trained on track-mean embeddings (what the library stores), so a track's
        scores are the head applied to its mean embedding, not the mean of per-patch scores."""
        emb = embeddings.mean(0)
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))[None].to(self.emb_mean.device)
            scores = torch.sigmoid(self.head_logits(x))[0].float().cpu().numpy()
        return scores, emb
