"""A module, a datamodule and callbacks for the checkpoint, resume and hyperparameter clauses.

Every class subclasses the *target's* base class (built once per target and cached). They are
small on purpose: ``Linear(width, 2)`` trained with Adam and an epoch-interval ``StepLR``, so a
checkpoint holds real optimizer moments and scheduler state, and one-sample batches from a fixed
dataset whose first feature is the sample's index, so a clause can see exactly which samples
were trained on (and compare with an uninterrupted run).

Classes built inside a factory get a plain ``__qualname__``: trainers key callback and datamodule
state by the class's qualified name, and ``factory.<locals>.X`` would leak the factory into files.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from conformance.target import Target

_CACHE: dict[tuple[int, str], type] = {}


class NumberedDataset(Dataset):
    """``length`` random rows (fixed seed) whose first feature is replaced by the row's index."""

    def __init__(self, width: int = 4, length: int = 4, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.data = torch.randn(length, width, generator=generator)
        self.data[:, 0] = torch.arange(length, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.data[index]


def sample_ids(batch: torch.Tensor) -> list[int]:
    """The dataset indices of the rows in a batch of :class:`NumberedDataset`."""
    return [int(v) for v in batch[:, 0].tolist()]


def _cached(target: Target, name: str, build: Any) -> type:
    key = (id(target.namespace), name)
    if key not in _CACHE:
        cls = build()
        cls.__qualname__ = name
        _CACHE[key] = cls
    return _CACHE[key]


def tiny_module_class(target: Target) -> type:
    """``TinyModule(width=4, lr=0.05, batches=4, shuffle=False, dropout=0.0, encoder=None)``.

    It calls ``save_hyperparameters(ignore=["encoder"])`` (so ``encoder`` must be re-supplied at
    load), keeps the optimizer and scheduler it created, and records what the trainer showed it:
    ``at_train_start`` (counters, optimizer and scheduler state in ``on_train_start``) and
    ``trained`` (``(epoch, batch_idx, sample ids)`` for every training step) and ``weights_at``
    (the weights at ``on_validation_start``/``on_test_start``/``on_predict_start``, keyed
    ``"validate"``/``"test"``/``"predict"``).
    """

    def build() -> type:
        class TinyModule(target.LightningModule):  # type: ignore[name-defined,misc]
            def __init__(
                self,
                width: int = 4,
                lr: float = 0.05,
                batches: int = 4,
                shuffle: bool = False,
                dropout: float = 0.0,
                encoder: torch.nn.Module | None = None,
            ) -> None:
                super().__init__()
                self.save_hyperparameters(ignore=["encoder"])
                self.encoder = encoder if encoder is not None else torch.nn.Identity()
                self.dropout = torch.nn.Dropout(dropout)
                self.layer = torch.nn.Linear(width, 2)
                self.made_optimizer: torch.optim.Optimizer | None = None
                self.made_scheduler: Any = None
                self.at_train_start: dict[str, Any] | None = None
                self.trained: list[tuple[int, int, list[int]]] = []
                self.saved_hook_keys: list[str] | None = None
                self.loaded_hook_keys: list[str] | None = None
                self.extra_to_save: dict[str, Any] = {}
                self.weights_at: dict[str, dict[str, torch.Tensor]] = {}

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.layer(self.dropout(self.encoder(x)))

            def _loss(self, batch: torch.Tensor) -> torch.Tensor:
                preds = self(batch)
                return torch.nn.functional.mse_loss(preds, torch.ones_like(preds))

            def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
                self.trained.append((int(self.current_epoch), int(batch_idx), sample_ids(batch)))
                return self._loss(batch)

            def validation_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
                loss = self._loss(batch)
                self.log("val_loss", loss)
                return loss

            def test_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
                return self._loss(batch)

            def predict_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
                return self(batch)

            def configure_optimizers(self) -> Any:
                self.made_optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
                self.made_scheduler = torch.optim.lr_scheduler.StepLR(
                    self.made_optimizer, step_size=1, gamma=0.5
                )
                return [self.made_optimizer], [self.made_scheduler]

            def train_dataloader(self) -> DataLoader:
                data = NumberedDataset(self.hparams.width, self.hparams.batches, seed=0)
                return DataLoader(data, shuffle=self.hparams.shuffle)

            def val_dataloader(self) -> DataLoader:
                return DataLoader(NumberedDataset(self.hparams.width, 2, seed=1))

            def test_dataloader(self) -> DataLoader:
                return self.val_dataloader()

            def predict_dataloader(self) -> DataLoader:
                return self.val_dataloader()

            def on_train_start(self) -> None:
                assert self.made_optimizer is not None
                self.at_train_start = {
                    "global_step": int(self.trainer.global_step),
                    "current_epoch": int(self.trainer.current_epoch),
                    "optimizer": copy.deepcopy(self.made_optimizer.state_dict()),
                    "scheduler": copy.deepcopy(self.made_scheduler.state_dict()),
                    "weights": {k: v.detach().clone() for k, v in self.state_dict().items()},
                }

            def _snapshot(self, stage: str) -> None:
                self.weights_at[stage] = {
                    k: v.detach().clone() for k, v in self.state_dict().items()
                }

            def on_validation_start(self) -> None:
                self._snapshot("validate")

            def on_test_start(self) -> None:
                self._snapshot("test")

            def on_predict_start(self) -> None:
                self._snapshot("predict")

            def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
                self.saved_hook_keys = sorted(checkpoint)
                checkpoint.update(self.extra_to_save)

            def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
                self.loaded_hook_keys = sorted(checkpoint)

        return TinyModule

    return _cached(target, "TinyModule", build)


SCORES = (0.5, 0.2, 0.9, 0.1, 0.3)


def scored_module_class(target: Target) -> type:
    """:func:`tiny_module_class` that logs ``score = SCORES[current_epoch]`` at each epoch end.

    Monitoring ``score`` therefore has a known best epoch: 3 for ``"min"``, 2 for ``"max"``.
    """

    def build() -> type:
        class ScoredModule(tiny_module_class(target)):  # type: ignore[misc]
            def on_train_epoch_end(self) -> None:
                self.log("score", SCORES[self.current_epoch])

        return ScoredModule

    return _cached(target, "ScoredModule", build)


def seed_all(target: Target, seed: int) -> None:
    """Seed every RNG the way a user script would (the target's ``seed_everything`` if any)."""
    if target.seed_everything is not None:
        target.seed_everything(seed)
    else:
        torch.manual_seed(seed)


def tiny_datamodule_class(target: Target) -> type:
    """``TinyDataModule(width=4, batches=4, batch_size=1)`` with hparams and a state dict.

    Its state is ``{"token": self.token}``; ``load_state_dict`` stores what it received in
    ``restored_state``. It serves the same numbered data as :func:`tiny_module_class`.
    """
    if target.LightningDataModule is None:
        pytest.skip(f"target {target.describe()} has no LightningDataModule")

    def build() -> type:
        class TinyDataModule(target.LightningDataModule):  # type: ignore[name-defined,misc]
            def __init__(self, width: int = 4, batches: int = 4, batch_size: int = 1) -> None:
                super().__init__()
                self.save_hyperparameters()
                self.token = 7
                self.restored_state: dict[str, Any] | None = None

            def train_dataloader(self) -> DataLoader:
                data = NumberedDataset(self.hparams.width, self.hparams.batches, seed=0)
                return DataLoader(data, batch_size=self.hparams.batch_size)

            def state_dict(self) -> dict[str, Any]:
                return {"token": self.token}

            def load_state_dict(self, state_dict: dict[str, Any]) -> None:
                self.restored_state = dict(state_dict)

        return TinyDataModule

    return _cached(target, "TinyDataModule", build)


def counting_callback_class(target: Target) -> type:
    """A stateful callback: counts training batches, saves/restores that count.

    ``state_dict()`` is ``{"batches": n}``; ``load_state_dict`` stores the state in ``restored``;
    ``on_save_checkpoint`` adds ``checkpoint["counting_callback"] = {"batches": n}`` and
    ``on_load_checkpoint`` records the keys of the checkpoint it was shown.
    """

    def build() -> type:
        class CountingCallback(target.Callback):  # type: ignore[name-defined,misc]
            def __init__(self) -> None:
                self.batches = 0
                self.restored: dict[str, Any] | None = None
                self.loaded_hook_keys: list[str] | None = None

            def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
                self.batches += 1

            def state_dict(self) -> dict[str, Any]:
                return {"batches": self.batches}

            def load_state_dict(self, state_dict: dict[str, Any]) -> None:
                self.restored = dict(state_dict)

            def on_save_checkpoint(
                self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]
            ) -> None:
                checkpoint["counting_callback"] = {"batches": self.batches}

            def on_load_checkpoint(
                self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]
            ) -> None:
                self.loaded_hook_keys = sorted(checkpoint)

        return CountingCallback

    return _cached(target, "CountingCallback", build)


def save_every_batch_class(target: Target) -> type:
    """A callback that saves after every batch and at every epoch end.

    ``trainer.save_checkpoint(dirpath/step=N.ckpt)`` in ``on_train_batch_end`` (``paths[N]``) and
    ``dirpath/epoch_end=E.ckpt`` in ``on_train_epoch_end`` (``epoch_paths[E]``). It is how the
    resume clauses "interrupt" a run at every possible point without needing the target's
    ``ModelCheckpoint``: each file is what a crash right after that point would leave.
    """

    def build() -> type:
        class SaveEveryBatch(target.Callback):  # type: ignore[name-defined,misc]
            def __init__(self, dirpath: str) -> None:
                self.dirpath = dirpath
                self.paths: dict[int, str] = {}
                self.epoch_paths: dict[int, str] = {}

            def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
                step = int(trainer.global_step)
                path = f"{self.dirpath}/step={step}.ckpt"
                trainer.save_checkpoint(path)
                self.paths[step] = path

            def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
                epoch = int(trainer.current_epoch)
                path = f"{self.dirpath}/epoch_end={epoch}.ckpt"
                trainer.save_checkpoint(path)
                self.epoch_paths[epoch] = path

        return SaveEveryBatch

    return _cached(target, "SaveEveryBatch", build)
