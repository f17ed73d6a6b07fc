"""Default bodies of the hooks a LightningModule (and partly a LightningDataModule) can override.

Most defaults do nothing. The trainer skips calling a hook listed in :data:`NOOP_MODULE_HOOKS`
when the user has not overridden it: the result is the same and the per-batch cost is lower.
Hooks whose default does real work (moving a batch, calling ``.eval()``) are always called.
"""

from __future__ import annotations

from typing import Any

import torch

from reference.utilities.apply_func import move_data_to_device
from reference.utilities.exceptions import MisconfigurationException


class ModelHooks:
    """Hooks around fit/validate/test/predict, epochs, batches and the optimization step."""

    def on_fit_start(self) -> None:
        """Called at the very beginning of fit (after ``configure_optimizers``)."""

    def on_fit_end(self) -> None:
        """Called at the very end of fit."""

    def on_train_start(self) -> None:
        """Called after the sanity check, before the first training epoch."""

    def on_train_end(self) -> None:
        """Called after the last training epoch."""

    def on_validation_start(self) -> None:
        """Called when a validation loop begins (also for the sanity check)."""

    def on_validation_end(self) -> None:
        """Called when a validation loop ends."""

    def on_test_start(self) -> None:
        """Called when the test loop begins."""

    def on_test_end(self) -> None:
        """Called when the test loop ends."""

    def on_predict_start(self) -> None:
        """Called when the predict loop begins."""

    def on_predict_end(self) -> None:
        """Called when the predict loop ends."""

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
        """Called before ``training_step``; return ``-1`` to skip the rest of the epoch."""

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Called after the optimization of a batch; ``outputs`` holds the normalized loss."""

    def on_validation_batch_start(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Called before ``validation_step``."""

    def on_validation_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Called with the output of ``validation_step``."""

    def on_test_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called before ``test_step``."""

    def on_test_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Called with the output of ``test_step``."""

    def on_predict_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called before ``predict_step``."""

    def on_predict_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Called with the output of ``predict_step``."""

    def on_validation_model_zero_grad(self) -> None:
        """Called before in-fit validation, to free gradient memory while evaluating."""
        self.zero_grad()  # type: ignore[attr-defined]

    def on_validation_model_eval(self) -> None:
        """Puts the model in eval mode before validation."""
        self.trainer.model.eval()  # type: ignore[attr-defined]

    def on_validation_model_train(self) -> None:
        """Puts the model in train mode after validation.

        Only called when overridden (Lightning >= 2.2); otherwise the trainer restores the
        train/eval mode every submodule had before validation.
        """
        self.trainer.model.train()  # type: ignore[attr-defined]

    def on_test_model_eval(self) -> None:
        """Puts the model in eval mode before testing."""
        self.trainer.model.eval()  # type: ignore[attr-defined]

    def on_test_model_train(self) -> None:
        """Puts the model back in train mode after testing (only called when overridden)."""
        self.trainer.model.train()  # type: ignore[attr-defined]

    def on_predict_model_eval(self) -> None:
        """Puts the model in eval mode before predicting."""
        self.trainer.model.eval()  # type: ignore[attr-defined]

    def on_train_epoch_start(self) -> None:
        """Called at the start of every training epoch."""

    def on_train_epoch_end(self) -> None:
        """Called at the end of every training epoch, after that epoch's validation."""

    def on_validation_epoch_start(self) -> None:
        """Called at the start of a validation epoch."""

    def on_validation_epoch_end(self) -> None:
        """Called at the end of a validation epoch."""

    def on_test_epoch_start(self) -> None:
        """Called at the start of a test epoch."""

    def on_test_epoch_end(self) -> None:
        """Called at the end of a test epoch."""

    def on_predict_epoch_start(self) -> None:
        """Called at the start of a predict epoch."""

    def on_predict_epoch_end(self) -> None:
        """Called at the end of a predict epoch."""

    def on_before_zero_grad(self, optimizer: torch.optim.Optimizer) -> None:
        """Called after ``training_step`` and before ``optimizer.zero_grad()``."""

    def on_before_backward(self, loss: torch.Tensor) -> None:
        """Called before ``loss.backward()``."""

    def on_after_backward(self) -> None:
        """Called after ``loss.backward()``, before the optimizer step."""

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Called before ``optimizer.step()``, after gradients are complete (and unscaled)."""

    def configure_sharded_model(self) -> None:
        """Deprecated predecessor of :meth:`configure_model` (only called when overridden)."""

    def configure_model(self) -> None:
        """Create layers here to build them directly on the target device/dtype.

        Only called when overridden; may be called more than once, so make it idempotent.
        """


class DataHooks:
    """Hooks that provide and move data; shared by LightningModule and LightningDataModule."""

    def __init__(self) -> None:
        super().__init__()
        self.prepare_data_per_node: bool = True
        self.allow_zero_length_dataloader_with_multiple_devices: bool = False

    def prepare_data(self) -> None:
        """Download or write data once per node (only called when overridden)."""

    def setup(self, stage: str) -> None:
        """Called at the beginning of fit/validate/test/predict on every process."""

    def teardown(self, stage: str) -> None:
        """Called at the end of fit/validate/test/predict."""

    def train_dataloader(self) -> Any:
        """The training data: a DataLoader, any iterable, or a collection of them."""
        raise MisconfigurationException(
            "`train_dataloader` must be implemented to be used with the Lightning Trainer"
        )

    def test_dataloader(self) -> Any:
        """The test data: one or several dataloaders."""
        raise MisconfigurationException(
            "`test_dataloader` must be implemented to be used with the Lightning Trainer"
        )

    def val_dataloader(self) -> Any:
        """The validation data: one or several dataloaders."""
        raise MisconfigurationException(
            "`val_dataloader` must be implemented to be used with the Lightning Trainer"
        )

    def predict_dataloader(self) -> Any:
        """The prediction data: one or several dataloaders."""
        raise MisconfigurationException(
            "`predict_dataloader` must be implemented to be used with the Lightning Trainer"
        )

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """Move a batch to ``device``: tensors, nested collections and anything with ``.to``."""
        return move_data_to_device(batch, device)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Alter a batch before it is moved to the device."""
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Alter a batch after it was moved to the device."""
        return batch


class CheckpointHooks:
    """Hooks that add to, or read from, a checkpoint dictionary."""

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Called when a checkpoint is restored, before the weights are loaded."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Called when a checkpoint is saved; add entries to ``checkpoint`` in place."""


# Hooks whose default body does nothing: skipping them when not overridden changes nothing.
NOOP_MODULE_HOOKS = frozenset(
    name
    for cls in (ModelHooks, CheckpointHooks)
    for name, value in vars(cls).items()
    if callable(value)
    and not name.startswith("_")
    and name
    not in {
        "on_validation_model_zero_grad",
        "on_validation_model_eval",
        "on_validation_model_train",
        "on_test_model_eval",
        "on_test_model_train",
        "on_predict_model_eval",
    }
) | {"prepare_data", "setup", "teardown"}

# Batch hooks whose default returns the batch unchanged.
IDENTITY_BATCH_HOOKS = frozenset({"on_before_batch_transfer", "on_after_batch_transfer"})
