"""``Callback``: every hook the trainer calls on callbacks, each receiving ``(trainer,
pl_module)``.
"""

from __future__ import annotations

from typing import Any

import torch


class Callback:
    """Override any hook; the defaults do nothing.

    For the same event, callbacks run before the LightningModule (in ``trainer.callbacks``
    order), except ``on_train_epoch_end`` of monitoring callbacks (EarlyStopping, checkpoints),
    which run after the module's so they can see what it logged there.
    """

    @property
    def state_key(self) -> str:
        """The key of this callback's state in a checkpoint (must be unique per trainer)."""
        return self.__class__.__qualname__

    @property
    def _legacy_state_key(self) -> type[Callback]:
        return type(self)

    def _generate_state_key(self, **kwargs: Any) -> str:
        """A state key that also names the arguments that tell two instances apart."""
        return f"{self.__class__.__qualname__}{repr(kwargs)}"

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Called when fit, validate, test or predict begins (after the datamodule's setup)."""

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Called when fit, validate, test or predict ends."""

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when fit begins."""

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when fit ends."""

    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        """Called before the validation sanity check."""

    def on_sanity_check_end(self, trainer: Any, pl_module: Any) -> None:
        """Called after the validation sanity check."""

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        """Called before the training step of a batch."""

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Called after the optimization of a batch."""

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when a training epoch begins."""

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when a training epoch ends (after its validation)."""

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when a validation epoch begins."""

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when a validation epoch ends."""

    def on_test_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when a test epoch begins."""

    def on_test_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when a test epoch ends."""

    def on_predict_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when a predict epoch begins."""

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when a predict epoch ends."""

    def on_validation_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Called before a validation step."""

    def on_validation_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Called after a validation step."""

    def on_test_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Called before a test step."""

    def on_test_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Called after a test step."""

    def on_predict_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Called before a predict step."""

    def on_predict_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Called after a predict step."""

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when training begins (after the sanity check)."""

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when training ends."""

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when a validation loop begins."""

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when a validation loop ends."""

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when the test loop begins."""

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when the test loop ends."""

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        """Called when the predict loop begins."""

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        """Called when the predict loop ends."""

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """Called when fit/validate/test/predict is interrupted by an exception."""

    def state_dict(self) -> dict[str, Any]:
        """State to save in a checkpoint (empty by default: nothing is saved)."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state returned by :meth:`state_dict`."""

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        """Called when a checkpoint is saved; may add entries to ``checkpoint``."""

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        """Called when a checkpoint is restored."""

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
        """Called before ``loss.backward()``."""

    def on_after_backward(self, trainer: Any, pl_module: Any) -> None:
        """Called after ``loss.backward()``."""

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        """Called before ``optimizer.step()``."""

    def on_before_zero_grad(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        """Called before ``optimizer.zero_grad()``."""
