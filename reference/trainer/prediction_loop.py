"""The predict loop: ``predict_step`` over every predict dataloader, collecting the outputs.

Order (facts §1.9): ``on_predict_model_eval``, ``on_predict_start``, ``on_predict_epoch_start``,
per batch the transfer hooks, ``on_predict_batch_start``, ``predict_step``,
``on_predict_batch_end``; then ``on_predict_epoch_end``, ``on_predict_end``. There is no
``on_predict_model_train`` hook: the captured train/eval modes are restored directly.
Returns a list of per-batch outputs, or one such list per dataloader when there are several.

Prediction writers (``BasePredictionWriter``) read ``predictions``, ``current_batch_indices`` and
``epoch_batch_indices`` from this loop; with an epoch writer attached the outputs are kept for it
even when ``return_predictions=False`` (and dropped at ``on_predict_end``), as in Lightning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from reference.callbacks.prediction_writer import BasePredictionWriter
from reference.trainer.batch_indices import recorder_of, recording_batch_indices
from reference.trainer.data import BatchIterator, DataSource, check_iterable, flatten, num_batches
from reference.trainer.evaluation_loop import no_grad_context, verify_dataloader_idx
from reference.trainer.progress import BatchProgress
from reference.utilities.apply_func import move_data_to_device
from reference.utilities.module_mode import ModuleMode
from reference.utilities.signature import is_param_in_hook_signature
from reference.utilities.warnings import WarnOnce

if TYPE_CHECKING:
    from reference.trainer.trainer import Trainer


class PredictionLoop:
    def __init__(self, trainer: Trainer, inference_mode: bool = True) -> None:
        self.trainer = trainer
        self.inference_mode = inference_mode
        self.return_predictions = True
        self.batch_progress = BatchProgress()
        self.source = DataSource(None, "predict_dataloader")
        self.dataloaders: Any = None
        self._flat: list[Any] = []
        self.max_batches: list[int | float] = []
        self._predictions: list[list[Any]] = []  # per dataloader, per batch
        # dataset indices, for prediction writers: per dataloader, per batch, per sample
        self.epoch_batch_indices: list[list[Any]] = []
        self.current_batch_indices: Any = []
        self._writers_on_batch = self._writers_on_epoch = False
        self._module_mode = ModuleMode()
        self._results = None  # self.log is not allowed while predicting
        self._warnings = WarnOnce()

    @property
    def num_dataloaders(self) -> int:
        return len(self._flat)

    @property
    def predictions(self) -> list[Any]:
        """The outputs so far: a list of batches, or one such list per dataloader if several."""
        if not self._predictions:
            return []
        return self._predictions[0] if len(self._predictions) == 1 else self._predictions

    def setup_data(self) -> None:
        trainer = self.trainer
        if trainer.limit_predict_batches == 0:
            self._flat, self.max_batches = [], []
            return
        dataloaders = self.source.request(trainer)
        self._flat = flatten(dataloaders)
        for dataloader in self._flat:
            check_iterable(dataloader, self.source, "predict")
        self.dataloaders = dataloaders
        self.max_batches = [
            num_batches(dl, trainer.limit_predict_batches, "predict") for dl in self._flat
        ]

    def run(self) -> list[Any] | None:
        with no_grad_context(self.inference_mode, self.trainer.strategy):
            self.setup_data()
            if sum(self.max_batches) == 0:
                return None
            self._find_writers()
            if not (self._writers_on_batch or self._writers_on_epoch):
                return self._run()
            with recording_batch_indices(self._flat):
                return self._run()

    def _find_writers(self) -> None:
        writers = [cb for cb in self.trainer.callbacks if isinstance(cb, BasePredictionWriter)]
        self._writers_on_batch = any(w.interval.on_batch for w in writers)
        self._writers_on_epoch = any(w.interval.on_epoch for w in writers)

    def _run(self) -> list[Any] | None:
        self.batch_progress.reset_on_run()
        self._predictions = [[] for _ in self._flat]
        self.epoch_batch_indices = [[] for _ in self._flat]
        self.current_batch_indices = []
        # the first iterator is created before any hook, as Lightning does (it draws RNG)
        first = BatchIterator(self._flat[0], self.max_batches[0])
        self._on_run_start()
        keep = self.return_predictions or self._writers_on_epoch
        for dataloader_idx, dataloader in enumerate(self._flat):
            self.trainer._active_dataloader_idx = dataloader_idx
            outputs = self._predictions[dataloader_idx]
            limit = self.max_batches[dataloader_idx]
            batches = first if dataloader_idx == 0 else BatchIterator(dataloader, limit)
            for batch_idx, batch in enumerate(batches):
                self.batch_progress.is_last_batch = batches.done
                prediction = self._predict_step(batch, batch_idx, dataloader_idx)
                if keep:
                    outputs.append(prediction)
        self.trainer._active_dataloader_idx = 0
        return self._on_run_end(self._predictions)

    def _on_run_start(self) -> None:
        trainer = self.trainer
        hooks = trainer._hooks
        module = trainer.lightning_module
        several = self.num_dataloaders > 1
        verify_dataloader_idx(module, ("predict_step",), several, "predict")
        verify_dataloader_idx(
            module, ("on_predict_batch_start", "on_predict_batch_end"), several, "predict"
        )
        self._pass_batch_idx = is_param_in_hook_signature(
            module.predict_step, "batch_idx", min_args=2
        )
        self._module_mode.capture(module)
        hooks.module("on_predict_model_eval")
        hooks.event("on_predict_start")
        trainer.strategy.on_predict_start()
        hooks.event("on_predict_epoch_start")

    def _predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int) -> Any:
        trainer = self.trainer
        hooks = trainer._hooks
        strategy = trainer.strategy
        batch = strategy.precision_plugin.convert_input(batch)
        batch = hooks.batch_hook("on_before_batch_transfer", batch, dataloader_idx)
        batch = strategy.batch_to_device(batch, dataloader_idx=dataloader_idx)
        hook_args = (
            (batch, batch_idx, dataloader_idx) if self.num_dataloaders > 1 else (batch, batch_idx)
        )
        self.batch_progress.increment_ready()
        if self._writers_on_batch or self._writers_on_epoch:
            self._store_batch_indices(batch_idx, dataloader_idx)
        hooks.event("on_predict_batch_start", *hook_args)
        self.batch_progress.increment_started()
        step_args = hook_args if self._pass_batch_idx else (batch, *hook_args[2:])
        prediction = hooks.strategy("predict_step", *step_args)
        if prediction is None:
            self._warnings.warn(
                "predict returned None if it was on purpose, ignore this warning..."
            )
        self.batch_progress.increment_processed()
        hooks.event("on_predict_batch_end", prediction, *hook_args)
        self.batch_progress.increment_completed()
        if strategy.root_device.type != "cpu":
            prediction = move_data_to_device(prediction, torch.device("cpu"))
        return prediction

    def _store_batch_indices(self, batch_idx: int, dataloader_idx: int) -> None:
        dataloader = self._flat[dataloader_idx]
        recorder = recorder_of(dataloader)
        if recorder is None:
            self._warnings.warn(
                "Couldn't infer the batch indices fetched from your dataloader:"
                f" `{type(dataloader).__name__}`"
            )
            # Lightning keeps the previous batch's indices here; [] cannot be mistaken for them
            self.current_batch_indices = []
            return
        indices = recorder.seen_batch_indices[batch_idx]
        if self._writers_on_epoch:
            self.epoch_batch_indices[dataloader_idx].append(indices)
        self.current_batch_indices = indices

    def _on_run_end(self, per_dataloader: list[list[Any]]) -> list[Any] | None:
        """The end hooks; returns the outputs kept in ``per_dataloader`` (one list per
        dataloader), unwrapped for a single dataloader, or None under
        ``return_predictions=False``."""
        trainer = self.trainer
        hooks = trainer._hooks
        hooks.event("on_predict_epoch_end")
        results = None
        if self.return_predictions:
            results = per_dataloader[0] if len(per_dataloader) == 1 else per_dataloader
        else:  # what was kept only for the writers goes before on_predict_end, as in Lightning
            self._predictions = []
        self.epoch_batch_indices = []
        hooks.event("on_predict_end")
        trainer.strategy.on_predict_end()
        self._module_mode.restore(trainer.lightning_module)
        return results

    def state_dict(self) -> dict[str, Any]:
        return {"batch_progress": self.batch_progress.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batch_progress.load_state_dict(state["batch_progress"])
