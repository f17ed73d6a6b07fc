"""Models and data modules that record the batch-transfer hooks (XFER clauses).

Each is a subclass of the *target's* ``LightningModule`` / ``LightningDataModule``. The chain
model overrides all three hooks and checks, as each hook runs, that it received exactly the object
the previous stage returned (``is``), so a trainer that skips a hook, calls them out of order or
drops a hook's return value is caught where it happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from conformance.kit.dtype_probe import FEATURES, DictDataset
from conformance.target import Target


@dataclass
class TransferEvent:
    """One batch-transfer hook call or step call, as the model saw it."""

    owner: str  # "module" or "datamodule"
    hook: str  # "before", "transfer", "after" or a step: "train", "val", "test", "predict"
    dataloader_idx: Any = None
    device: Any = None  # the `device` argument of transfer_batch_to_device
    module_device: Any = None  # `self.device` of the LightningModule at that moment
    chained: bool = True  # received exactly what the previous stage returned
    batch: Any = None


class _Chain:
    """Who returned what last: the object the next hook (or step) must receive."""

    def __init__(self) -> None:
        self.events: list[TransferEvent] = []
        self.expect: Any = None

    def hand_on(self, event: TransferEvent, received: Any, out: Any) -> Any:
        event.chained = self.expect is None or received is self.expect
        self.events.append(event)
        self.expect = out
        return out

    def arrive(self, event: TransferEvent, received: Any) -> None:
        event.chained = received is self.expect
        event.batch = received
        self.events.append(event)
        self.expect = None


def _retag(batch: Any, stage: str) -> dict[str, Any]:
    # A new dict each stage, so `is` tells which stage's output a hook received.
    return {**batch, "stage": stage}


_CLASSES: dict[tuple[int, str], type] = {}


def _cached(target: Target, name: str, build: Callable[[], type]) -> type:
    key = (id(target.LightningModule), name)
    if key not in _CLASSES:
        _CLASSES[key] = build()
    return _CLASSES[key]


def chain_model_class(target: Target) -> type:
    """A model overriding all three transfer hooks; ``val_loaders`` validation dataloaders."""

    def build() -> type:
        class TransferChainModel(target.LightningModule):  # type: ignore[name-defined,misc]
            def __init__(self, val_loaders: int = 1) -> None:
                super().__init__()
                self.layer = torch.nn.Linear(FEATURES, 2)
                self.chain = _Chain()
                self.val_loaders = val_loaders

            def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
                event = TransferEvent("module", "before", dataloader_idx)
                self.chain.expect = None  # a new batch starts a new chain
                return self.chain.hand_on(event, batch, _retag(batch, "before"))

            def transfer_batch_to_device(
                self, batch: Any, device: torch.device, dataloader_idx: int
            ) -> Any:
                event = TransferEvent(
                    "module", "transfer", dataloader_idx, device, module_device=self.device
                )
                moved = super().transfer_batch_to_device(batch, device, dataloader_idx)
                return self.chain.hand_on(event, batch, _retag(moved, "transfer"))

            def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
                event = TransferEvent("module", "after", dataloader_idx)
                return self.chain.hand_on(event, batch, _retag(batch, "after"))

            def _step(self, phase: str, batch: Any, dataloader_idx: int) -> torch.Tensor:
                self.chain.arrive(
                    TransferEvent("module", phase, dataloader_idx, module_device=self.device),
                    batch,
                )
                return self.layer(batch["x"]).pow(2).mean()

            def training_step(self, batch: Any, batch_idx: int) -> Any:
                return self._step("train", batch, 0)

            def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
                return self._step("val", batch, dataloader_idx)

            def test_step(self, batch: Any, batch_idx: int) -> Any:
                return self._step("test", batch, 0)

            def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
                self._step("predict", batch, dataloader_idx)
                return None

            def configure_optimizers(self) -> Any:
                return torch.optim.SGD(self.parameters(), lr=0.01)

            def _loader(self, seed: int = 0) -> DataLoader:
                return DataLoader(DictDataset(seed=seed), batch_size=2)

            def train_dataloader(self) -> DataLoader:
                return self._loader()

            def val_dataloader(self) -> Any:
                loaders = [self._loader(seed) for seed in range(self.val_loaders)]
                return loaders[0] if self.val_loaders == 1 else loaders

            def test_dataloader(self) -> DataLoader:
                return self._loader()

            def predict_dataloader(self) -> DataLoader:
                return self._loader()

        return TransferChainModel

    return _cached(target, "chain", build)


def datamodule_pair(target: Target) -> tuple[type, type]:
    """(model, datamodule) classes: the model overrides all three transfer hooks, the datamodule
    only ``on_before_batch_transfer`` and ``transfer_batch_to_device``. Both log into the
    model's chain (the datamodule is handed the model's chain)."""
    model_class = chain_model_class(target)

    def build() -> type:
        class TransferDataModule(target.LightningDataModule):  # type: ignore[name-defined,misc]
            def __init__(self, chain: _Chain) -> None:
                super().__init__()
                self.chain = chain

            def train_dataloader(self) -> DataLoader:
                return DataLoader(DictDataset(), batch_size=2)

            def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
                self.chain.expect = None
                event = TransferEvent("datamodule", "before", dataloader_idx)
                return self.chain.hand_on(event, batch, _retag(batch, "dm-before"))

            def transfer_batch_to_device(
                self, batch: Any, device: torch.device, dataloader_idx: int
            ) -> Any:
                event = TransferEvent("datamodule", "transfer", dataloader_idx, device)
                moved = {
                    k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
                }
                return self.chain.hand_on(event, batch, _retag(moved, "dm-transfer"))

        return TransferDataModule

    return model_class, _cached(target, "datamodule", build)


def objects_model_class(target: Target) -> type:
    """A model with the default transfer hooks whose training batches are whatever
    ``make_batch(x)`` builds from a float tensor ``x``; it keeps what each step received."""

    def build() -> type:
        class TransferObjectsModel(target.LightningModule):  # type: ignore[name-defined,misc]
            def __init__(self, make_batch: Callable[[torch.Tensor], Any]) -> None:
                super().__init__()
                self.layer = torch.nn.Linear(FEATURES, 2)
                self.make_batch = make_batch
                self.made: list[Any] = []  # what the DataLoader yielded
                self.received: list[tuple[Any, torch.device]] = []  # (batch, self.device)

            def _collate(self, rows: list[dict[str, torch.Tensor]]) -> Any:
                batch = self.make_batch(torch.stack([row["x"] for row in rows]))
                self.made.append(batch)
                return batch

            def train_dataloader(self) -> DataLoader:
                return DataLoader(DictDataset(), batch_size=2, collate_fn=self._collate)

            def training_step(self, batch: Any, batch_idx: int) -> Any:
                self.received.append((batch, self.device))
                return self.layer.weight.sum() * 0.0 + self.layer.bias.pow(2).sum()

            def configure_optimizers(self) -> Any:
                return torch.optim.SGD(self.parameters(), lr=0.01)

        return TransferObjectsModel

    return _cached(target, "objects", build)
