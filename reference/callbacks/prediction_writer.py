"""``BasePredictionWriter``: a callback that hands predictions to user code as they are made.

Subclasses override ``write_on_batch_end`` and/or ``write_on_epoch_end``; ``write_interval``
says which of the two runs. The dataset indices of each batch come from the prediction loop
(``trainer.predict_loop.current_batch_indices`` / ``epoch_batch_indices``), which records them
from the batch sampler of each ``torch.utils.data.DataLoader`` while a writer is attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Literal

from reference.callbacks.callback import Callback
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.signature import is_param_in_hook_signature


class WriteInterval(str, Enum):
    BATCH = "batch"
    EPOCH = "epoch"
    BATCH_AND_EPOCH = "batch_and_epoch"

    @property
    def on_batch(self) -> bool:
        return self in (WriteInterval.BATCH, WriteInterval.BATCH_AND_EPOCH)

    @property
    def on_epoch(self) -> bool:
        return self in (WriteInterval.EPOCH, WriteInterval.BATCH_AND_EPOCH)


class BasePredictionWriter(Callback):
    """Base class for callbacks that store predictions (to files, a database, ...).

    Args:
        write_interval: ``"batch"`` calls ``write_on_batch_end`` after every predict batch,
            ``"epoch"`` calls ``write_on_epoch_end`` once with all predictions,
            ``"batch_and_epoch"`` does both.

    With an epoch writer attached the predictions are kept for it even under
    ``trainer.predict(..., return_predictions=False)`` (and dropped after the run).
    """

    def __init__(
        self, write_interval: Literal["batch", "epoch", "batch_and_epoch"] = "batch"
    ) -> None:
        if write_interval not in [i.value for i in WriteInterval]:
            raise MisconfigurationException(
                f"`write_interval` should be one of {[i.value for i in WriteInterval]}."
            )
        self.interval = WriteInterval(write_interval)

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        # the loop could not tell which batch a step consumed, so neither could a writer
        if is_param_in_hook_signature(pl_module.predict_step, "dataloader_iter", explicit=True):
            raise NotImplementedError(
                "The `PredictionWriterCallback` does not support using `dataloader_iter`."
            )

    def write_on_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Store one batch's prediction; ``batch_indices`` are its samples' dataset indices."""
        raise NotImplementedError(
            f"{type(self).__name__} has write_interval={self.interval.value!r} but does not"
            " override `write_on_batch_end`."
        )

    def write_on_epoch_end(
        self,
        trainer: Any,
        pl_module: Any,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        """Store all predictions: a list of batches (one list per dataloader if several);
        ``batch_indices`` is always per dataloader, then per batch."""
        raise NotImplementedError(
            f"{type(self).__name__} has write_interval={self.interval.value!r} but does not"
            " override `write_on_epoch_end`."
        )

    def on_predict_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not self.interval.on_batch:
            return
        batch_indices = trainer.predict_loop.current_batch_indices
        self.write_on_batch_end(
            trainer, pl_module, outputs, batch_indices, batch, batch_idx, dataloader_idx
        )

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self.interval.on_epoch:
            return
        loop = trainer.predict_loop
        self.write_on_epoch_end(trainer, pl_module, loop.predictions, loop.epoch_batch_indices)
