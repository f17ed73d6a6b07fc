"""Small models and datasets for the reference's tests (built on ``reference``'s base classes)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

import reference as L


class RandomDataset(Dataset):
    def __init__(self, length: int = 8, size: int = 32, seed: int = 0) -> None:
        self.data = torch.randn(length, size, generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.data[index]


def loader(batches: int = 4, batch_size: int = 1, size: int = 32, seed: int = 0) -> DataLoader:
    return DataLoader(RandomDataset(batches * batch_size, size, seed), batch_size=batch_size)


class BoringModel(L.LightningModule):
    """``Linear(32, 2)`` trained towards ones with SGD; every loader yields ``batches`` batches."""

    def __init__(self, batches: int = 4, batch_size: int = 1, lr: float = 0.1) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(32, 2)
        self.batches = batches
        self.batch_size = batch_size
        self.lr = lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        out = self(batch)
        return torch.nn.functional.mse_loss(out, torch.ones_like(out))

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        return {"loss": self.loss(batch)}

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return {"x": self.loss(batch)}

    def test_step(self, batch: Any, batch_idx: int) -> Any:
        return {"y": self.loss(batch)}

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def train_dataloader(self) -> DataLoader:
        return loader(self.batches, self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return loader(self.batches, self.batch_size, seed=1)

    def test_dataloader(self) -> DataLoader:
        return loader(self.batches, self.batch_size, seed=2)

    def predict_dataloader(self) -> DataLoader:
        return loader(self.batches, self.batch_size, seed=3)


class Recorder(L.Callback):
    """Remembers (hook, current_epoch, global_step, batch_idx) for a few hooks."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.events.append(
            ("train_batch_end", trainer.current_epoch, trainer.global_step, batch_idx)
        )

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self.events.append(
                (
                    "validation",
                    trainer.current_epoch,
                    trainer.global_step,
                    trainer.fit_loop.epoch_loop.batch_idx,
                )
            )

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.events.append(("train_epoch_end", trainer.current_epoch, trainer.global_step, None))

    def of(self, kind: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == kind]
