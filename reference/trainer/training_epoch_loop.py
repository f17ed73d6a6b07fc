"""One training epoch: the ``for batch_idx, batch in enumerate(train_dataloader)`` of the docs.

Per batch (facts §1.4, entry order)::

    batch moved: on_before_batch_transfer → transfer_batch_to_device → on_after_batch_transfer
    on_train_batch_start                  (returning -1 ends the epoch here)
    optimization (see optimization.py)    (training_step ... optimizer step)
    LR schedulers with interval="step"; on the last batch, those with interval="epoch"
    on_train_batch_end(outputs, batch, batch_idx)
    validation, if this batch is a val-check point (on_validation_model_zero_grad first)
    ReduceLROnPlateau schedulers with interval="step"

The docs' pseudocode puts ``on_train_batch_start`` before the transfer hooks; Lightning runs the
transfer first (seed 002, "Hooks"; facts §1.13 item 1), and so does this loop.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from reference.trainer.evaluation_loop import EvaluationLoop
from reference.trainer.optimization import AutomaticOptimization, ManualOptimization
from reference.trainer.progress import BatchProgress, SchedulerProgress
from reference.trainer.results import ResultCollection
from reference.trainer.states import RunningStage, TrainerFn
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.signature import is_param_in_hook_signature
from reference.utilities.warnings import WarnOnce

if TYPE_CHECKING:
    from reference.trainer.data import BatchIterator
    from reference.trainer.loop_state import ResumePoint
    from reference.trainer.trainer import Trainer


class TrainingEpochLoop:
    def __init__(self, trainer: Trainer, min_steps: int | None = None, max_steps: int = -1) -> None:
        self.trainer = trainer
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.batch_progress = BatchProgress()
        self.scheduler_progress = SchedulerProgress()
        self.automatic_optimization = AutomaticOptimization(trainer)
        self.manual_optimization = ManualOptimization(trainer)
        self.val_loop = EvaluationLoop(
            trainer, TrainerFn.FITTING, RunningStage.VALIDATING, verbose=False, inference_mode=False
        )
        self._results = ResultCollection(training=True)
        # batches after which the optimizer stepped: the step axis of the loggers
        self._batches_that_stepped = 0
        self._warnings = WarnOnce()
        # answered once per epoch by _prepare_run, or once per batch (_accumulating)
        self._automatic = True
        self._pass_batch_idx = True
        self._validation_enabled = False
        self._steps_schedulers = False
        self._epoch = 0
        self._num_batches: int | float = float("inf")
        self._accumulating = False

    # -------------------------------------------------------------------------- counters
    @property
    def total_batch_idx(self) -> int:
        """The index of the current batch across epochs."""
        return self.batch_progress.total.ready - 1

    @property
    def batch_idx(self) -> int:
        """The index of the current batch in this epoch."""
        return self.batch_progress.current.ready - 1

    @property
    def global_step(self) -> int:
        """Optimizer steps: automatic steps, or every ``optimizer.step()`` under manual
        optimization.
        """
        module = self.trainer.lightning_module
        if module is None or module.automatic_optimization:
            return self.automatic_optimization.optim_progress.optimizer_steps
        return self.manual_optimization.optim_step_progress.total.completed

    def _num_ready_batches_reached(self) -> bool:
        """Whether the current batch is the last of the epoch."""
        return (
            self.batch_progress.current.ready == self._num_batches  # set per epoch
            or self.batch_progress.is_last_batch
        )

    def _should_accumulate(self) -> bool:
        """True while inside an accumulation window; the last batch of an epoch always steps."""
        accumulation_done = (
            self.batch_progress.current.ready % self.trainer.accumulate_grad_batches == 0
        )
        return not accumulation_done and not self._num_ready_batches_reached()

    @property
    def done(self) -> bool:
        trainer = self.trainer
        if self.max_steps >= 0 and self.global_step >= self.max_steps:
            return True
        if self._num_ready_batches_reached():
            return True
        if trainer.should_stop:
            if trainer.fit_loop._can_stop_early:
                return True
            self._warnings.info(
                "Trainer was signaled to stop but the required"
                f" `min_epochs={trainer.fit_loop.min_epochs!r}` or `min_steps={self.min_steps!r}`"
                " has not been met. Training will continue..."
            )
        return False

    # ------------------------------------------------------------------------------ run
    def run(self, batches: BatchIterator, resume: ResumePoint | None = None) -> None:
        """Train one epoch on ``batches``; ends early on ``max_steps``, ``should_stop`` or -1.

        ``resume``: continue an epoch restored from a checkpoint, whose counters stand.
        """
        if resume is None:
            self.batch_progress.reset_on_run()
            self.scheduler_progress.reset_on_run()
            self.automatic_optimization.optim_progress.reset_on_run()
            self.val_loop.batch_progress.total.reset()
        self._prepare_run()
        if resume is not None and resume.batch_end_pending:  # saved in on_train_batch_end
            self.batch_progress.increment_completed()
            self._on_advance_end()  # that batch's validation, if due, and what follows it
        elif resume is not None and resume.batches_done:  # saved after the batch was complete
            self._on_advance_end(validate=False)
        while not self.done:
            try:
                batch = next(batches)
            except StopIteration:
                break
            self.batch_progress.is_last_batch = batches.done
            if self._advance(batch) is False:
                break  # on_train_batch_start returned -1
            self._on_advance_end()

    def _prepare_run(self) -> None:
        """Answer once per epoch what every batch would otherwise ask again."""
        trainer = self.trainer
        module = trainer.lightning_module
        self._automatic = module.automatic_optimization
        self._pass_batch_idx = is_param_in_hook_signature(
            module.training_step, "batch_idx", min_args=2
        )
        self._validation_enabled = trainer.enable_validation
        self._epoch = trainer.current_epoch
        self._num_batches = trainer.num_training_batches
        self._steps_schedulers = bool(trainer.lr_scheduler_configs) and self._automatic
        if not self._automatic:
            self.manual_optimization.attach()

    def _advance(self, batch: Any) -> bool:
        """Train on one batch; False if ``on_train_batch_start`` asked to end the epoch."""
        trainer = self.trainer
        hooks = trainer._hooks
        strategy = trainer.strategy
        connector = trainer._logger_connector
        progress = self.batch_progress
        batch_idx = progress.current.ready  # the index this batch gets

        batch = strategy.precision_plugin.convert_input(batch)
        if not hooks.default_batch_transfer:
            batch = hooks.batch_hook("on_before_batch_transfer", batch, 0)
        batch = strategy.batch_to_device(batch, dataloader_idx=0)
        progress.increment_ready()
        self._accumulating = accumulating = self._should_accumulate()
        connector.on_batch_start(self._results, batch)

        outputs: Any = None
        skip_rest = False
        if batch is None:
            self._warnings.warn(
                "train_dataloader yielded None. If this was on purpose, ignore this warning..."
            )
        else:
            response = None
            if "on_train_batch_start" in hooks.live:
                hooks.callbacks("on_train_batch_start", batch, batch_idx)
                response = hooks.module("on_train_batch_start", batch, batch_idx)
            strategy.on_train_batch_start(batch, batch_idx)
            skip_rest = response == -1
            if skip_rest:
                progress.increment_by(0, is_last_batch=True)
            else:
                progress.increment_started()
                step_args = (batch, batch_idx) if self._pass_batch_idx else (batch,)
                if self._automatic:
                    outputs = self.automatic_optimization.run(
                        trainer.optimizers[0], batch_idx, self._epoch, step_args, accumulating
                    )
                else:
                    outputs = self.manual_optimization.run(step_args)
        progress.increment_processed()

        if self._steps_schedulers:
            self.update_lr_schedulers("step", plateau=False)
            if self._num_ready_batches_reached():
                self.update_lr_schedulers("epoch", plateau=False)
        if skip_rest:
            return False

        if "on_train_batch_end" in hooks.live:
            hooks.event("on_train_batch_end", outputs, batch, batch_idx)
        connector.on_batch_end(self._results)
        progress.increment_completed()
        if trainer.loggers:
            connector.update_train_step_metrics()
        return True

    def _on_advance_end(self, validate: bool = True) -> None:
        trainer = self.trainer
        if validate and self._validation_enabled and self._should_check_val():
            trainer._logger_connector.snapshot()  # training values stay visible while validating
            trainer.validating = True
            if not self._accumulating:
                trainer._hooks.module("on_validation_model_zero_grad")
            self.val_loop.run()
            trainer.training = True
        if self._steps_schedulers:
            self.update_lr_schedulers("step", plateau=True)
        if not self._accumulating:
            self._batches_that_stepped += 1
        if trainer.should_stop:
            for logger in trainer.loggers:
                logger.save()

    # --------------------------------------------------------------------- validation
    def should_check_val_epoch(self) -> bool:
        trainer = self.trainer
        every = trainer.check_val_every_n_epoch
        return trainer.enable_validation and (
            every is None or (trainer.current_epoch + 1) % every == 0
        )

    def _should_check_val(self) -> bool:
        """Whether this batch is a val-check point (facts §2.4)."""
        trainer = self.trainer
        every = trainer.check_val_every_n_epoch
        if every is not None and (trainer.current_epoch + 1) % every:
            return False
        val_check_batch = trainer.val_check_batch
        is_infinite = math.isinf(val_check_batch)
        is_last = self.batch_progress.is_last_batch
        if is_last and is_infinite:
            return True
        if trainer.should_stop and trainer.fit_loop._can_stop_early:
            return True  # validate once more before stopping early
        if isinstance(trainer.limit_train_batches, int) and is_infinite:
            return (self.batch_idx + 1) % trainer.limit_train_batches == 0
        if is_infinite:
            return is_last
        index = self.total_batch_idx if every is None else self.batch_idx
        return (index + 1) % val_check_batch == 0

    # ---------------------------------------------------------------- LR schedulers
    def update_lr_schedulers(self, interval: str, plateau: bool) -> None:
        """Step the schedulers of ``interval`` due now (plateau ones, or the others)."""
        trainer = self.trainer
        configs = trainer.lr_scheduler_configs
        if not configs or not trainer.lightning_module.automatic_optimization:
            return
        if interval == "step" and self._should_accumulate():
            return  # step-interval schedulers follow optimizer steps
        for config in configs:
            if plateau != config.reduce_on_plateau or config.interval != interval:
                continue
            index = (self.batch_idx if interval == "step" else trainer.current_epoch) + 1
            if index % config.frequency:
                continue
            metric = None
            if config.reduce_on_plateau:
                metric = trainer.callback_metrics.get(config.monitor)
                if metric is None:
                    available = list(trainer.callback_metrics)
                    if config.strict:
                        raise MisconfigurationException(
                            f"ReduceLROnPlateau conditioned on metric {config.monitor} which is"
                            f" not available. Available metrics are: {available}. Condition can be"
                            " set using `monitor` key in lr scheduler dict"
                        )
                    self._warnings.warn(
                        f"ReduceLROnPlateau conditioned on metric {config.monitor} which is not"
                        " available but strict is set to `False`. Skipping learning rate update.",
                        RuntimeWarning,
                    )
                    continue
            self.scheduler_progress.increment_ready()
            trainer._hooks.module("lr_scheduler_step", config.scheduler, metric)
            self.scheduler_progress.increment_completed()

    # ---------------------------------------------------------------- checkpoint seams
    def state_dict(self) -> dict[str, Any]:
        return {
            "state_dict": {"_batches_that_stepped": self._batches_that_stepped},
            "batch_progress": self.batch_progress.state_dict(),
            "scheduler_progress": self.scheduler_progress.state_dict(),
            "automatic_optimization": self.automatic_optimization.state_dict(),
            "manual_optimization": self.manual_optimization.state_dict(),
            "val_loop": self.val_loop.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._batches_that_stepped = state["state_dict"].get("_batches_that_stepped", 0)
        self.batch_progress.load_state_dict(state["batch_progress"])
        self.scheduler_progress.load_state_dict(state["scheduler_progress"])
        self.automatic_optimization.load_state_dict(state["automatic_optimization"])
        self.manual_optimization.load_state_dict(state["manual_optimization"])
        self.val_loop.load_state_dict(state["val_loop"])
