"""A tiny tagger for smoke tests: a few thousand parameters, any input size, milliseconds on CPU."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import TaggingModel
from .registry import register


@register("tiny")
class TinyTagger(TaggingModel):
    def __init__(self, n_tags: int = 50, n_mels: int = 96, width: int = 16) -> None:
        super().__init__()
        self.n_tags, self.n_mels, self.width = n_tags, n_mels, width
        self.input_norm = nn.BatchNorm1d(n_mels)
        self.conv = nn.Sequential(
            nn.Conv1d(n_mels, width, 3, padding=1), nn.BatchNorm1d(width), nn.ELU(),
            nn.Conv1d(width, width, 3, padding=1), nn.BatchNorm1d(width), nn.ELU(),
        )
        self.classifier = nn.Linear(2 * width, n_tags)
        self.embedding_dim = 2 * width

    def config(self) -> dict[str, Any]:
        return {"n_tags": self.n_tags, "n_mels": self.n_mels, "width": self.width}

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(self.input_norm(x))
        emb = torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=1)
        return self.classifier(emb), emb
