"""Read-only views of the Trainer's state (what callbacks and modules read from
``self.trainer``).
"""

from __future__ import annotations

import math
from typing import Any

from reference.callbacks.checkpoint import Checkpoint
from reference.callbacks.early_stopping import EarlyStopping
from reference.callbacks.progress import ProgressBar
from reference.loggers.csv_logs import CSVLogger
from reference.loggers.tensorboard import TensorBoardLogger
from reference.trainer.states import RunningStage, TrainerFn, TrainerStatus
from reference.utilities.signature import is_overridden
from reference.utilities.warnings import info


class TrainerProperties:
    # ------------------------------------------------------------------- what is running
    def _set_stage(self, stage: RunningStage, value: bool) -> None:
        if value:
            self.state.stage = stage
        elif self.state.stage == stage:
            self.state.stage = None

    @property
    def training(self) -> bool:
        return self.state.stage == RunningStage.TRAINING

    @training.setter
    def training(self, value: bool) -> None:
        self._set_stage(RunningStage.TRAINING, value)

    @property
    def validating(self) -> bool:
        return self.state.stage == RunningStage.VALIDATING

    @validating.setter
    def validating(self, value: bool) -> None:
        self._set_stage(RunningStage.VALIDATING, value)

    @property
    def testing(self) -> bool:
        return self.state.stage == RunningStage.TESTING

    @testing.setter
    def testing(self, value: bool) -> None:
        self._set_stage(RunningStage.TESTING, value)

    @property
    def predicting(self) -> bool:
        return self.state.stage == RunningStage.PREDICTING

    @predicting.setter
    def predicting(self, value: bool) -> None:
        self._set_stage(RunningStage.PREDICTING, value)

    @property
    def sanity_checking(self) -> bool:
        return self.state.stage == RunningStage.SANITY_CHECKING

    @sanity_checking.setter
    def sanity_checking(self, value: bool) -> None:
        self._set_stage(RunningStage.SANITY_CHECKING, value)

    @property
    def evaluating(self) -> bool:
        return self.state.stage is not None and self.state.stage.evaluating

    @property
    def interrupted(self) -> bool:
        return self.state.status == TrainerStatus.INTERRUPTED

    @property
    def received_sigterm(self) -> bool:
        return False

    @property
    def _evaluation_loop(self) -> Any:
        if self.state.fn == TrainerFn.FITTING:
            return self.fit_loop.epoch_loop.val_loop
        if self.state.fn == TrainerFn.VALIDATING:
            return self.validate_loop
        if self.state.fn == TrainerFn.TESTING:
            return self.test_loop
        raise RuntimeError(
            "The `Trainer._evaluation_loop` property isn't defined. Accessed outside of scope"
        )

    @property
    def _results(self) -> Any:
        """The result collection ``self.log`` writes to right now (None outside a loop/in
        predict).
        """
        stage = self.state.stage
        if stage is RunningStage.TRAINING:
            return self.fit_loop.epoch_loop._results
        if stage is None or stage is RunningStage.PREDICTING:
            return None
        return self._evaluation_loop._results

    # ---------------------------------------------------------------------- progress
    @property
    def current_epoch(self) -> int:
        return self.fit_loop.epoch_progress.current.completed

    @property
    def global_step(self) -> int:
        return self.fit_loop.epoch_loop.global_step

    @property
    def max_epochs(self) -> int | None:
        return self.fit_loop.max_epochs

    @property
    def min_epochs(self) -> int | None:
        return self.fit_loop.min_epochs

    @property
    def max_steps(self) -> int:
        return self.fit_loop.max_steps

    @property
    def min_steps(self) -> int | None:
        return self.fit_loop.min_steps

    @property
    def is_last_batch(self) -> bool:
        return self.fit_loop.epoch_loop.batch_progress.is_last_batch

    @property
    def num_training_batches(self) -> int | float:
        return self.fit_loop.max_batches

    @property
    def num_sanity_val_batches(self) -> list[int | float]:
        val_loop = self.fit_loop.epoch_loop.val_loop
        return [min(self.num_sanity_val_steps, b) for b in val_loop._max_batches]

    @property
    def num_val_batches(self) -> list[int | float]:
        if self.state.fn == TrainerFn.FITTING:
            return self.fit_loop.epoch_loop.val_loop._max_batches
        return self.validate_loop._max_batches

    @property
    def num_test_batches(self) -> list[int | float]:
        return self.test_loop._max_batches

    @property
    def num_predict_batches(self) -> list[int | float]:
        return self.predict_loop.max_batches

    @property
    def estimated_stepping_batches(self) -> int | float:
        """Optimizer steps ``fit`` will take: ceil(batches / accumulation) × epochs, capped by
        max_steps.
        """
        max_epochs, max_steps = self.fit_loop.max_epochs, self.max_steps
        if max_epochs == -1:
            return float("inf") if max_steps == -1 else max_steps
        if self.fit_loop.dataloaders is None:
            info("Loading `train_dataloader` to estimate number of stepping batches.")
            stage = self.state.stage
            self.training = True
            self.fit_loop.setup_data()
            self.state.stage = stage
        total = self.num_training_batches
        if total == float("inf"):
            return max_steps
        estimate = math.ceil(total / self.accumulate_grad_batches) * max(max_epochs or 1, 1)
        return min(estimate, max_steps) if max_steps != -1 else estimate

    @property
    def enable_validation(self) -> bool:
        from reference.module import LightningModule

        return (
            self.fit_loop.epoch_loop.val_loop.source.is_defined()
            and is_overridden("validation_step", self.lightning_module, LightningModule)
            and self.limit_val_batches > 0
        )

    # -------------------------------------------------------------------------- metrics
    @property
    def callback_metrics(self) -> dict[str, Any]:
        return self._logger_connector.callback_metrics

    @property
    def logged_metrics(self) -> dict[str, Any]:
        return self._logger_connector.logged_metrics

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        return self._logger_connector.progress_bar_metrics

    # ---------------------------------------------------------------- model, optimizers
    @property
    def lightning_module(self) -> Any:
        return self.strategy.lightning_module

    @property
    def model(self) -> Any:
        return self.strategy.model

    @property
    def optimizers(self) -> list[Any]:
        return self.strategy.optimizers

    @optimizers.setter
    def optimizers(self, optimizers: list[Any]) -> None:
        self.strategy.optimizers = optimizers

    @property
    def lr_scheduler_configs(self) -> list[Any]:
        return self.strategy.lr_scheduler_configs

    @property
    def precision_plugin(self) -> Any:
        return self.strategy.precision_plugin

    @property
    def precision(self) -> str:
        return self.strategy.precision_plugin.precision

    @property
    def scaler(self) -> Any:
        return getattr(self.precision_plugin, "scaler", None)

    @property
    def accelerator(self) -> Any:
        return self.strategy.accelerator

    # --------------------------------------------------------------------------- devices
    @property
    def root_device(self) -> Any:
        return self.strategy.root_device

    @property
    def device_ids(self) -> list[int]:
        device = self.strategy.root_device
        return [device.index or 0]

    @property
    def num_devices(self) -> int:
        return len(self.device_ids)

    @property
    def num_nodes(self) -> int:
        return 1

    @property
    def global_rank(self) -> int:
        return self.strategy.global_rank

    @property
    def local_rank(self) -> int:
        return self.strategy.local_rank

    @property
    def node_rank(self) -> int:
        return self.strategy.node_rank

    @property
    def world_size(self) -> int:
        return self.strategy.world_size

    @property
    def is_global_zero(self) -> bool:
        return self.strategy.is_global_zero

    # ------------------------------------------------------------------------------ data
    @property
    def train_dataloader(self) -> Any:
        return self.fit_loop.dataloaders

    @property
    def val_dataloaders(self) -> Any:
        loaders = self.fit_loop.epoch_loop.val_loop.dataloaders
        return loaders if loaders is not None else self.validate_loop.dataloaders

    @property
    def test_dataloaders(self) -> Any:
        return self.test_loop.dataloaders

    @property
    def predict_dataloaders(self) -> Any:
        return self.predict_loop.dataloaders

    # ------------------------------------------------------------------ callbacks, logs
    @property
    def logger(self) -> Any:
        return self.loggers[0] if self.loggers else None

    @logger.setter
    def logger(self, logger: Any) -> None:
        self.loggers = [] if logger is None else [logger]

    @property
    def log_dir(self) -> str:
        if self.loggers:
            first = self.loggers[0]
            if isinstance(first, (TensorBoardLogger, CSVLogger)):
                return first.log_dir
            return first.save_dir
        return self.default_root_dir

    @property
    def checkpoint_callbacks(self) -> list[Checkpoint]:
        return [c for c in self.callbacks if isinstance(c, Checkpoint)]

    @property
    def checkpoint_callback(self) -> Checkpoint | None:
        callbacks = self.checkpoint_callbacks
        return callbacks[0] if callbacks else None

    @property
    def early_stopping_callbacks(self) -> list[EarlyStopping]:
        return [c for c in self.callbacks if isinstance(c, EarlyStopping)]

    @property
    def early_stopping_callback(self) -> EarlyStopping | None:
        callbacks = self.early_stopping_callbacks
        return callbacks[0] if callbacks else None

    @property
    def progress_bar_callback(self) -> ProgressBar | None:
        return next((c for c in self.callbacks if isinstance(c, ProgressBar)), None)

    @property
    def ckpt_path(self) -> str | None:
        """The checkpoint the current (or last) run restored; settable to pin one for later runs."""
        return self._checkpoint_connector.ckpt_path

    @ckpt_path.setter
    def ckpt_path(self, path: Any) -> None:
        self._checkpoint_connector.pin(path)
