"""A small linear model for clauses that check numbers (updates, gradients, learning rates).

:func:`linear_probe_class` subclasses the *target's* ``LightningModule``. The model is
``Linear(4, 2)`` with loss ``mean((layer(x) - goal) ** 2)``, trained by a
:class:`~conformance.kit.optim.RecordingSGD` on an explicit list of batches that the clause
also feeds to its own plain-torch computation (see :func:`~conformance.kit.optim.expected_sgd`).
Clauses subclass it further to change one behaviour at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader

from conformance.kit.optim import RecordingSGD
from conformance.target import Target

FEATURES = 4
OUTPUTS = 2
_CACHE: dict[int, type] = {}


def make_batches(count: int, batch_size: int = 2, seed: int = 0) -> list[torch.Tensor]:
    """``count`` input batches of shape ``(batch_size, FEATURES)`` from a fixed seed."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch_size, FEATURES, generator=generator) for _ in range(count)]


def batch_loader(batches: Sequence[torch.Tensor]) -> DataLoader:
    """A loader yielding exactly ``batches``, in order, unchanged (no collation)."""
    return DataLoader(list(batches), batch_size=None, shuffle=False)


def probe_loss(layer: torch.nn.Module, batch: torch.Tensor, goal: float = 1.0) -> torch.Tensor:
    """The probe's loss, shared by the LightningModule and the plain-torch expectation."""
    return ((layer(batch) - goal) ** 2).mean()


def linear_probe_class(target: Target) -> type:
    """The ``LinearProbe`` subclass of ``target.LightningModule`` (cached per target)."""
    key = id(target.LightningModule)
    if key in _CACHE:
        return _CACHE[key]

    class LinearProbe(target.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(
            self,
            batches: Sequence[torch.Tensor],
            lr: float = 0.1,
            goal: float = 1.0,
            val_batches: Sequence[torch.Tensor] | None = None,
            seed: int = 0,
        ) -> None:
            super().__init__()
            # Fixed initial weights without disturbing the global RNG the clause may check.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.layer = torch.nn.Linear(FEATURES, OUTPUTS)
            self.train_batches = list(batches)
            self.val_batches = list(val_batches) if val_batches is not None else None
            self.lr = lr
            self.goal = goal
            self.optimizer: RecordingSGD | None = None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

        def loss_of(self, batch: torch.Tensor) -> torch.Tensor:
            return probe_loss(self.layer, batch, self.goal)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            return self.loss_of(batch)

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            return self.loss_of(batch)

        def configure_optimizers(self) -> Any:
            self.optimizer = RecordingSGD(self.layer.named_parameters(), lr=self.lr)
            return self.optimizer

        def train_dataloader(self) -> DataLoader:
            return batch_loader(self.train_batches)

        def val_dataloader(self) -> DataLoader:
            return batch_loader(self.val_batches or self.train_batches[:1])

        def initial_layer(self) -> torch.nn.Module:
            """A plain-torch copy of the layer (call before fitting)."""
            copy = torch.nn.Linear(FEATURES, OUTPUTS)
            copy.load_state_dict(self.layer.state_dict())
            return copy

    _CACHE[key] = LinearProbe
    return LinearProbe
