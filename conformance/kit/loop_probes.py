"""Probe models that record which batches the loops really ran.

:func:`stop_probe` subclasses the target's ``BoringModel`` (:mod:`conformance.kit.models`). It
records every trained batch as ``(current_epoch, batch_idx)``, the trained batch after which each
in-fit validation started, the number of batches of each validation run and of the sanity check,
and every ``on_train_epoch_end``. It can also set ``trainer.should_stop`` in one batch or return
``-1`` from ``on_train_batch_start`` at one batch index.
"""

from __future__ import annotations

from typing import Any

from conformance.kit.models import boring_model_class
from conformance.target import Target


def all_batches(n_epochs: int, n_batches: int) -> list[tuple[int, int]]:
    """Every ``(epoch, batch_idx)`` of ``n_epochs`` full epochs, in order."""
    return [(e, b) for e in range(n_epochs) for b in range(n_batches)]


def fit_probe(target: Target, root: Any, model: Any, **flags: Any) -> Any:
    """Fit ``model``; validation and the sanity check are off unless ``flags`` turn them on."""
    flags = {"limit_val_batches": 0, "num_sanity_val_steps": 0, **flags}
    trainer = target.trainer(root, **flags)
    trainer.fit(model)
    return trainer


def stop_probe(
    target: Target,
    n_batches: int = 4,
    *,
    stop_at: tuple[int, int] | None = None,
    skip_from: int | None = None,
) -> Any:
    """A fresh probe over ``n_batches`` one-sample batches (see the module docstring)."""
    base = boring_model_class(target)

    class StopProbe(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(batches=n_batches)
            self.trained: list[tuple[int, int]] = []
            self.validated_after: list[tuple[int, int] | None] = []
            self.val_batches_run: list[int] = []
            self.sanity_batches = 0
            self.epoch_ends: list[int] = []

        def on_train_batch_start(self, batch: Any, batch_idx: int) -> Any:
            if skip_from is not None and batch_idx == skip_from:
                return -1
            return None

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.trained.append((self.current_epoch, batch_idx))
            if stop_at == (self.current_epoch, batch_idx):
                self.trainer.should_stop = True
            return super().training_step(batch, batch_idx)

        def on_validation_epoch_start(self) -> None:
            if not self.trainer.sanity_checking:
                self.validated_after.append(self.trained[-1] if self.trained else None)
                self.val_batches_run.append(0)

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            if self.trainer.sanity_checking:
                self.sanity_batches += 1
            else:
                self.val_batches_run[-1] += 1
            return super().validation_step(batch, batch_idx)

        def on_train_epoch_end(self) -> None:
            self.epoch_ends.append(self.current_epoch)

    return StopProbe()
