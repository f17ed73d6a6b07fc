"""Tiny deterministic datasets and loaders for clauses (no downloads, no randomness across runs)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset


class RandomDataset(Dataset):
    """``length`` rows of ``size`` features, drawn once from a fixed seed."""

    def __init__(self, size: int = 32, length: int = 64, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.data = torch.randn(length, size, generator=generator)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.data[index]


def loader(batches: int, batch_size: int = 1, size: int = 32, seed: int = 0) -> DataLoader:
    """A sequential loader yielding exactly ``batches`` batches."""
    return DataLoader(RandomDataset(size, batches * batch_size, seed), batch_size=batch_size)
