"""The predict loop: ``predict_step`` over every predict dataloader, collecting the outputs.

Order (facts §1.9): ``on_predict_model_eval``, ``on_predict_start``, ``on_predict_epoch_start``,
per batch the transfer hooks, ``on_predict_batch_start``, ``predict_step``,
``on_predict_batch_end``; then ``on_predict_epoch_end``, ``on_predict_end``. There is no
``on_predict_model_train`` hook: the captured train/eval modes are restored directly.
Returns a list of per-batch outputs, or one such list per dataloader when there are several.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

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
        self.predictions: list[Any] = []
        self._module_mode = ModuleMode()
        self._results = None  # self.log is not allowed while predicting
        self._warnings = WarnOnce()

    @property
    def num_dataloaders(self) -> int:
        return len(self._flat)

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
            self.batch_progress.reset_on_run()
            # the first iterator is created before any hook, as Lightning does (it draws RNG)
            first = BatchIterator(self._flat[0], self.max_batches[0])
            self._on_run_start()
            per_dataloader: list[list[Any]] = []
            for dataloader_idx, dataloader in enumerate(self._flat):
                self.trainer._active_dataloader_idx = dataloader_idx
                outputs: list[Any] = []
                limit = self.max_batches[dataloader_idx]
                batches = first if dataloader_idx == 0 else BatchIterator(dataloader, limit)
                for batch_idx, batch in enumerate(batches):
                    self.batch_progress.is_last_batch = batches.done
                    prediction = self._predict_step(batch, batch_idx, dataloader_idx)
                    if self.return_predictions:
                        outputs.append(prediction)
                per_dataloader.append(outputs)
            self.trainer._active_dataloader_idx = 0
            return self._on_run_end(per_dataloader)

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

    def _on_run_end(self, per_dataloader: list[list[Any]]) -> list[Any] | None:
        trainer = self.trainer
        hooks = trainer._hooks
        hooks.event("on_predict_epoch_end")
        hooks.event("on_predict_end")
        trainer.strategy.on_predict_end()
        self._module_mode.restore(trainer.lightning_module)
        if not self.return_predictions:
            return None
        self.predictions = per_dataloader[0] if len(per_dataloader) == 1 else per_dataloader
        return self.predictions

    def state_dict(self) -> dict[str, Any]:
        return {"batch_progress": self.batch_progress.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batch_progress.load_state_dict(state["batch_progress"])
