"""Models built by subclassing the *target's* ``LightningModule`` (never a class of our own).

The shape follows Lightning's ``BoringModel``: ``Linear(32, 2)``, SGD(lr=0.1) with an
epoch-interval ``StepLR``, and one-sample batches from :class:`~conformance.kit.data.RandomDataset`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader

from conformance.kit.data import RandomDataset
from conformance.target import Target

_CACHE: dict[tuple[int, str], type] = {}


def boring_model_class(target: Target) -> type:
    """A ``BoringModel`` subclass of ``target.LightningModule`` (cached per target)."""
    key = (id(target.LightningModule), "boring")
    if key in _CACHE:
        return _CACHE[key]

    class BoringModel(target.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(self, batches: int = 64) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)
            self.batches = batches

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

        @staticmethod
        def loss(preds: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.mse_loss(preds, torch.ones_like(preds))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            return {"loss": self.loss(self(batch))}

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            return {"x": self.loss(self(batch))}

        def test_step(self, batch: Any, batch_idx: int) -> Any:
            return {"y": self.loss(self(batch))}

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.layer.parameters(), lr=0.1)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
            return [optimizer], [scheduler]

        def _loader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, self.batches))

        def train_dataloader(self) -> DataLoader:
            return self._loader()

        def val_dataloader(self) -> DataLoader:
            return self._loader()

        def test_dataloader(self) -> DataLoader:
            return self._loader()

        def predict_dataloader(self) -> DataLoader:
            return self._loader()

    _CACHE[key] = BoringModel
    return BoringModel
