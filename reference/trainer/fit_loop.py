"""The epochs of ``fit``: the ``fit_loop()`` of the docs' pseudocode.

::

    on_train_start
    for epoch in epochs:                         # until max_epochs / max_steps / should_stop
        on_train_epoch_start
        training_epoch_loop.run()                # batches, and in-fit validation
        on_train_epoch_end                       # after that epoch's validation (issue #9811)
        ReduceLROnPlateau schedulers with interval="epoch"; epoch metrics to the loggers
    on_train_end

``trainer.current_epoch`` is ``epoch_progress.current.completed``: it only advances after
``on_train_epoch_end``, so every hook of epoch ``k`` sees ``k``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from reference.trainer.data import (
    BatchIterator,
    CycleCombined,
    DataSource,
    check_iterable,
    flatten,
    num_batches,
    set_sampler_epoch,
)
from reference.trainer.progress import Progress
from reference.trainer.training_epoch_loop import TrainingEpochLoop
from reference.utilities import rng
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import PossibleUserWarning, info, warn

if TYPE_CHECKING:
    from reference.trainer.loop_state import ResumePoint
    from reference.trainer.trainer import Trainer


class FitLoop:
    def __init__(
        self, trainer: Trainer, min_epochs: int | None = 0, max_epochs: int | None = None
    ) -> None:
        self.trainer = trainer
        self.min_epochs = min_epochs
        self.max_epochs = max_epochs
        self.epoch_progress = Progress()
        self.epoch_loop = TrainingEpochLoop(trainer)
        self.source = DataSource(None, "train_dataloader")
        self.dataloaders: Any = None  # what the source returned
        self._iterable: Any = None  # what an epoch iterates (the loader, or the combined loaders)
        self._batches: BatchIterator | None = None
        self.max_batches: int | float = float("inf")
        self._last_reload_epoch = float("-inf")
        # checkpoints: the RNG states when this epoch's data pass began (exact resume), and
        # where a resumed fit continues (set by the checkpoint connector, used by one epoch)
        self._epoch_rng_states: dict[str, Any] | None = None
        self._resume: ResumePoint | None = None

    # --------------------------------------------------------------------------- counters
    @property
    def total_batch_idx(self) -> int:
        return self.epoch_loop.total_batch_idx

    @property
    def batch_idx(self) -> int:
        return self.epoch_loop.batch_idx

    @property
    def min_steps(self) -> int | None:
        return self.epoch_loop.min_steps

    @property
    def max_steps(self) -> int:
        return self.epoch_loop.max_steps

    @property
    def _can_stop_early(self) -> bool:
        """``should_stop`` only stops once ``min_epochs`` and ``min_steps`` are met."""
        met_epochs = (
            self.epoch_progress.current.processed >= self.min_epochs if self.min_epochs else True
        )
        met_steps = self.epoch_loop.global_step >= self.min_steps if self.min_steps else True
        return met_epochs and met_steps

    @property
    def done(self) -> bool:
        if self.max_batches == 0:
            info("`Trainer.fit` stopped: No training batches.")
            return True
        if 0 <= self.max_steps <= self.epoch_loop.global_step:
            info(f"`Trainer.fit` stopped: `max_steps={self.max_steps!r}` reached.")
            return True
        # `processed` advances before on_train_epoch_end, `completed` after it
        if (
            self.max_epochs is not None
            and 0 <= self.max_epochs <= self.epoch_progress.current.processed
        ):
            self.epoch_progress.current.completed = self.epoch_progress.current.processed
            info(f"`Trainer.fit` stopped: `max_epochs={self.max_epochs!r}` reached.")
            return True
        return self.trainer.should_stop and self._can_stop_early

    @property
    def skip(self) -> bool:
        return self.done or self.trainer.limit_train_batches == 0

    # ------------------------------------------------------------------------------ run
    def run(self) -> None:
        self.setup_data()
        if self.skip:
            return
        torch.set_grad_enabled(True)
        self._on_train_start()
        while not self.done:
            self._run_epoch()
        self._on_train_end()

    def _should_reload(self) -> bool:
        every = self.trainer.reload_dataloaders_every_n_epochs
        return bool(every) and self.trainer.current_epoch - self._last_reload_epoch >= every

    def setup_data(self) -> None:
        """Request the training dataloader(s), once per fit (or every n epochs when reloading)."""
        if self.dataloaders is not None and not self._should_reload():
            return
        trainer = self.trainer
        from reference.module import LightningModule
        from reference.utilities.signature import is_overridden

        if trainer.limit_train_batches == 0 or not is_overridden(
            "training_step", trainer.lightning_module, LightningModule
        ):
            return
        dataloaders = self.source.request(trainer)
        loaders = flatten(dataloaders)
        for loader in loaders:
            check_iterable(loader, self.source, "fit")
        limits = [num_batches(dl, trainer.limit_train_batches, "train") for dl in loaders]
        self.dataloaders = dataloaders
        if isinstance(dataloaders, (list, tuple, dict)):
            self._iterable = CycleCombined(dataloaders, limits)
        else:
            self._iterable = dataloaders
        self._limit = max(limits, default=0)
        self.max_batches = self._limit
        # the iterator is created here, before on_train_start, as Lightning does: creating a
        # DataLoader iterator draws from the global RNG
        self._epoch_rng_states = rng.capture()
        self._batches = BatchIterator(self._iterable, self._limit)
        if self.max_batches == 0:
            return
        self._last_reload_epoch = trainer.current_epoch
        self._set_val_check_batch()
        if (
            trainer.loggers
            and self.max_batches < trainer.log_every_n_steps
            and not trainer.fast_dev_run
        ):
            warn(
                f"The number of training batches ({self.max_batches}) is smaller than the logging"
                f" interval Trainer(log_every_n_steps={trainer.log_every_n_steps}). Set a lower"
                " value for log_every_n_steps if you want to see logs for the training epoch.",
                PossibleUserWarning,
            )

    def _set_val_check_batch(self) -> None:
        """Every how many batches validation runs (facts §2.4)."""
        trainer = self.trainer
        interval = trainer.val_check_interval
        if isinstance(interval, int):
            trainer.val_check_batch = interval
            if (
                interval > self.max_batches
                and trainer.check_val_every_n_epoch is not None
                and trainer.limit_val_batches > 0
            ):
                raise ValueError(
                    f" `val_check_interval` ({interval}) must be less than or equal to the number"
                    f" of the training batches ({self.max_batches}). If you want to disable"
                    " validation set `limit_val_batches` to 0.0 instead. If you want to validate"
                    " based on the total training batches, set `check_val_every_n_epoch=None`."
                )
        elif self.max_batches == float("inf"):
            if interval != 1.0:
                raise MisconfigurationException(
                    "When using an IterableDataset for `train_dataloader`,"
                    " `Trainer(val_check_interval)` must be `1.0` or an int. An int k specifies"
                    " checking validation every k training batches."
                )
            trainer.val_check_batch = float("inf")
        else:
            trainer.val_check_batch = max(1, int(self.max_batches * interval))

    def _on_train_start(self) -> None:
        trainer = self.trainer
        if self.max_steps == -1:  # epoch-based: a resumed run's epoch counter is its processed one
            self.epoch_progress.current.completed = self.epoch_progress.current.processed
        val_loop = self.epoch_loop.val_loop
        if self.epoch_loop.should_check_val_epoch() and val_loop.dataloaders is None:
            # ask for the val dataloader now, so that progress bars know its length
            trainer.validating = True
            val_loop.setup_data()
            trainer.training = True
        eval_modules = [
            name for name, m in trainer.lightning_module.named_modules() if not m.training
        ]
        if eval_modules:
            warn(
                f"Found {len(eval_modules)} module(s) in eval mode at the start of training. This"
                " may lead to unexpected behavior during training. If this is intentional, you"
                " can ignore this warning.",
                PossibleUserWarning,
            )
        trainer._hooks.event("on_train_start")
        trainer.strategy.on_train_start()

    def _run_epoch(self) -> None:
        trainer = self.trainer
        hooks = trainer._hooks
        resume, self._resume = self._resume, None  # only the first epoch of a resumed fit
        if resume is not None:
            resume.before_epoch()
        self.setup_data()  # reloads when reload_dataloaders_every_n_epochs says so
        for loader in flatten(self.dataloaders):
            set_sampler_epoch(loader, self.epoch_progress.current.processed)
        in_epoch = resume is not None and resume.in_epoch
        if not in_epoch:  # a resumed epoch already had its start
            self.epoch_progress.increment_ready()
            hooks.event("on_train_epoch_start")
            self.epoch_progress.increment_started()

        batches = self._batches
        if in_epoch:
            resume.position(self, batches)  # type: ignore[union-attr]
        elif self.trainer.current_epoch > 0 or resume is not None:
            self._start_pass(batches)
        self.epoch_loop.run(batches, resume if in_epoch else None)

        trainer._logger_connector.epoch_end_reached()
        self.epoch_progress.increment_processed()
        hooks.train_epoch_end()
        trainer._logger_connector.on_epoch_end()
        if self.epoch_loop._num_ready_batches_reached():
            self.epoch_loop.update_lr_schedulers("epoch", plateau=True)
        # epoch-level values are logged at the step of the epoch's last stepped batch
        self.epoch_loop._batches_that_stepped -= 1
        trainer._logger_connector.update_train_epoch_metrics()
        self.epoch_loop._batches_that_stepped += 1
        self.epoch_progress.increment_completed()

    def _start_pass(self, batches: BatchIterator) -> None:
        """A fresh pass over the data (a new dataloader iterator, which draws from the RNG)."""
        self._epoch_rng_states = rng.capture()  # a checkpoint can recreate this pass exactly
        batches.restart()

    def _on_train_end(self) -> None:
        trainer = self.trainer
        trainer._hooks.event("on_train_end")
        trainer.strategy.on_train_end()

    def teardown(self) -> None:
        """After a run: an epoch cut short (max_steps, should_stop) leaves workers running."""
        if self._batches is not None:
            self._batches.close()

    # ---------------------------------------------------------------- checkpoint seams
    def state_dict(self) -> dict[str, Any]:
        return {
            "state_dict": {},
            "epoch_progress": self.epoch_progress.state_dict(),
            "epoch_loop": self.epoch_loop.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch_progress.load_state_dict(state["epoch_progress"])
        self.epoch_loop.load_state_dict(state["epoch_loop"])
