"""Validation and test loops: the ``val_loop()`` of the docs, used in fit and by validate/test.

Order (facts §1.3, §1.8)::

    on_{stage}_model_eval                      (after capturing every submodule's train/eval mode)
    on_{stage}_start, on_{stage}_epoch_start
    per dataloader, per batch: transfer hooks, on_{stage}_batch_start, {stage}_step,
                               on_{stage}_batch_end
    on_{stage}_epoch_end, on_{stage}_end
    on_{stage}_model_train if overridden, else the captured modes are restored

Gradients: ``torch.no_grad`` inside fit, ``torch.inference_mode`` for ``validate``/``test`` when
``Trainer(inference_mode=True)`` (the default). The docs' pseudocode says
``torch.set_grad_enabled(False)`` and ``model.train()`` afterwards (seed 002, "Hooks"); Lightning
2.2+ restores the exact per-submodule modes instead, as done here.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import torch

from reference.trainer.data import BatchIterator, DataSource, check_iterable, flatten, num_batches
from reference.trainer.progress import BatchProgress
from reference.trainer.results import ResultCollection
from reference.trainer.states import RunningStage, TrainerFn
from reference.utilities.module_mode import ModuleMode
from reference.utilities.signature import (
    is_overridden,
    is_param_in_hook_signature,
    required_parameter,
)

if TYPE_CHECKING:
    from reference.trainer.trainer import Trainer


def verify_dataloader_idx(module: Any, hooks: tuple[str, ...], several: bool, prefix: str) -> None:
    """``dataloader_idx`` must be accepted with several dataloaders, and optional with one."""
    for hook in hooks:
        fn = getattr(module, hook)
        present = is_param_in_hook_signature(fn, "dataloader_idx")
        if several and not present:
            raise RuntimeError(
                f"You provided multiple `{prefix}_dataloader`, but no `dataloader_idx` argument in"
                f" `{type(module).__name__}.{hook}()`. Try adding `dataloader_idx=0` to its"
                " signature."
            )
        if not several and present and required_parameter(fn, "dataloader_idx"):
            raise RuntimeError(
                f"You provided only a single `{prefix}_dataloader`, but have included"
                f" `dataloader_idx` in `{type(module).__name__}.{hook}()`. Either remove the"
                " argument or give it a default value i.e. `dataloader_idx=0`."
            )


def no_grad_context(inference_mode: bool, strategy: Any) -> Any:
    """Where evaluation and prediction run: ``torch.inference_mode()`` when asked for and the
    strategy supports it (XLA does not), else ``torch.no_grad()``."""
    if inference_mode and strategy.supports_inference_mode:
        return torch.inference_mode()
    return torch.no_grad()


class EvaluationLoop:
    def __init__(
        self,
        trainer: Trainer,
        fn: TrainerFn,
        stage: RunningStage,
        verbose: bool = True,
        inference_mode: bool = True,
    ) -> None:
        self.trainer = trainer
        self.fn = fn
        self.stage = stage
        self.verbose = verbose
        self.inference_mode = inference_mode
        self.batch_progress = BatchProgress()
        self._results = ResultCollection(training=False)
        self.source = DataSource(None, f"{stage.dataloader_prefix}_dataloader")
        self.dataloaders: Any = None  # what the source returned (one loader or a collection)
        self._flat: list[Any] = []
        self._max_batches: list[int | float] = []
        self._last_reload_epoch = float("-inf")
        self._module_mode = ModuleMode()
        self._logged_outputs: list[dict[str, Any]] = []
        self._seen_batches: defaultdict[int, int] = defaultdict(int)
        self._has_run = False

    # ------------------------------------------------------------------------- names
    @property
    def _noun(self) -> str:
        return "test" if self.stage == RunningStage.TESTING else "validation"

    @property
    def _limit(self) -> int | float:
        trainer = self.trainer
        return (
            trainer.limit_test_batches
            if self.stage == RunningStage.TESTING
            else trainer.limit_val_batches
        )

    @property
    def num_dataloaders(self) -> int:
        return len(self._flat)

    @property
    def max_batches(self) -> list[int | float]:
        """Batches per dataloader (capped by ``num_sanity_val_steps`` during the sanity check)."""
        if not self.trainer.sanity_checking:
            return self._max_batches
        return [min(self.trainer.num_sanity_val_steps, b) for b in self._max_batches]

    @property
    def skip(self) -> bool:
        return sum(self.max_batches) == 0

    # -------------------------------------------------------------------------- data
    def _should_reload(self) -> bool:
        every = self.trainer.reload_dataloaders_every_n_epochs
        return bool(every) and self.trainer.current_epoch - self._last_reload_epoch >= every

    def setup_data(self) -> None:
        """Request the dataloaders (once per fit unless reloading; every validate/test call)."""
        trainer = self.trainer
        if (
            self.dataloaders is not None
            and self.fn == TrainerFn.FITTING
            and not self._should_reload()
        ):
            return
        module = trainer.lightning_module
        from reference.module import LightningModule

        if self._limit == 0 or not is_overridden(f"{self._noun}_step", module, LightningModule):
            return
        if self.fn == TrainerFn.FITTING and (
            not trainer.sanity_checking or trainer.fit_loop.epoch_loop.should_check_val_epoch()
        ):
            self._last_reload_epoch = trainer.current_epoch
        dataloaders = self.source.request(trainer)
        self._flat = flatten(dataloaders)
        for dataloader in self._flat:
            check_iterable(dataloader, self.source, str(self.fn))
        self.dataloaders = dataloaders
        prefix = self.stage.dataloader_prefix
        self._max_batches = [num_batches(dl, self._limit, prefix) for dl in self._flat]
        self._seen_batches = defaultdict(int)

    def _grad_context(self) -> Any:
        return no_grad_context(self.inference_mode, self.trainer.strategy)

    # --------------------------------------------------------------------------- run
    def run(self) -> list[dict[str, Any]]:
        with self._grad_context():
            self.setup_data()
            if self.skip:
                return []
            self._reset()
            # the first iterator is created before any hook, as Lightning does (it draws RNG)
            first = BatchIterator(self._flat[0], self.max_batches[0])
            self._on_run_start()
            for dataloader_idx, dataloader in enumerate(self._flat):
                self.trainer._active_dataloader_idx = dataloader_idx
                limit = self.max_batches[dataloader_idx]
                batches = first if dataloader_idx == 0 else BatchIterator(dataloader, limit)
                for batch_idx, batch in enumerate(batches):
                    self.batch_progress.is_last_batch = batches.done
                    self._evaluation_step(batch, batch_idx, dataloader_idx)
                self._store_dataloader_outputs()
            self.trainer._active_dataloader_idx = 0
            return self._on_run_end()

    def _reset(self) -> None:
        self._has_run = False
        self._logged_outputs = []
        self.batch_progress.reset_on_run()
        if self.fn == TrainerFn.FITTING:
            from reference.trainer.data import set_sampler_epoch

            for dataloader in self._flat:
                set_sampler_epoch(
                    dataloader, self.trainer.fit_loop.epoch_progress.current.processed
                )

    def _on_run_start(self) -> None:
        trainer = self.trainer
        hooks = trainer._hooks
        module = trainer.lightning_module
        noun = self._noun
        several = self.num_dataloaders > 1
        prefix = self.stage.dataloader_prefix
        verify_dataloader_idx(module, (f"{noun}_step",), several, prefix)
        verify_dataloader_idx(
            module, (f"on_{noun}_batch_start", f"on_{noun}_batch_end"), several, prefix
        )
        self._pass_batch_idx = is_param_in_hook_signature(
            getattr(module, f"{noun}_step"), "batch_idx", min_args=2
        )
        self._module_mode.capture(module)
        hooks.module(f"on_{noun}_model_eval")
        hooks.event(f"on_{noun}_start")
        getattr(trainer.strategy, f"on_{noun}_start")()
        hooks.event(f"on_{noun}_epoch_start")

    def _evaluation_step(self, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
        trainer = self.trainer
        hooks = trainer._hooks
        strategy = trainer.strategy
        noun = self._noun
        batch = strategy.precision_plugin.convert_input(batch)
        batch = hooks.batch_hook("on_before_batch_transfer", batch, dataloader_idx)
        batch = strategy.batch_to_device(batch, dataloader_idx=dataloader_idx)
        several = self.num_dataloaders > 1
        hook_args = (batch, batch_idx, dataloader_idx) if several else (batch, batch_idx)
        self.batch_progress.increment_ready()
        trainer._logger_connector.on_batch_start(
            self._results, batch, dataloader_idx if several else None
        )
        hooks.event(f"on_{noun}_batch_start", *hook_args)
        self.batch_progress.increment_started()
        step_args = hook_args if self._pass_batch_idx else (batch, *hook_args[2:])
        output = hooks.strategy(f"{noun}_step", *step_args)
        self.batch_progress.increment_processed()
        hooks.event(f"on_{noun}_batch_end", output, *hook_args)
        trainer._logger_connector.on_batch_end(self._results)
        self.batch_progress.increment_completed()
        if not trainer.sanity_checking:
            self._has_run = True
            trainer._logger_connector.update_eval_step_metrics(self._seen_batches[dataloader_idx])
            self._seen_batches[dataloader_idx] += 1

    def _store_dataloader_outputs(self) -> None:
        connector = self.trainer._logger_connector
        connector.epoch_end_reached()
        self._logged_outputs.append(connector.update_eval_epoch_metrics())

    def _on_run_end(self) -> list[dict[str, Any]]:
        trainer = self.trainer
        hooks = trainer._hooks
        connector = trainer._logger_connector
        noun = self._noun
        connector.epoch_end_reached()
        self._results.dataloader_idx = None
        hooks.event(f"on_{noun}_epoch_end")
        connector.on_epoch_end()

        logged_outputs, self._logged_outputs = self._logged_outputs, []
        epoch_end_outputs = connector.update_eval_epoch_metrics()
        all_outputs: dict[str, Any] = {}
        for outputs in logged_outputs:
            all_outputs.update(outputs)
        all_outputs.update(epoch_end_outputs)
        for outputs in logged_outputs:
            outputs.update(epoch_end_outputs)
        connector.log_eval_end_metrics(all_outputs)

        hooks.event(f"on_{noun}_end")
        getattr(trainer.strategy, f"on_{noun}_end")()
        connector.reset_results()
        self._restore_train_mode()
        if self.verbose and trainer.is_global_zero:
            print_results(logged_outputs, self.stage.value)
        return logged_outputs

    def _restore_train_mode(self) -> None:
        from reference.module import LightningModule

        module = self.trainer.lightning_module
        hook = f"on_{self._noun}_model_train"
        if is_overridden(hook, module, LightningModule):
            self.trainer._hooks.module(hook)
        else:
            self._module_mode.restore(module)

    # ---------------------------------------------------------------- checkpoint seams
    def state_dict(self) -> dict[str, Any]:
        return {"batch_progress": self.batch_progress.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batch_progress.load_state_dict(state["batch_progress"])


def print_results(results: list[dict[str, Any]], stage: str) -> None:
    """The table ``trainer.validate``/``test`` print: one column per dataloader."""
    names = sorted({k.split("/dataloader_idx_")[0] for result in results for k in result})
    if not names:
        return
    width = shutil.get_terminal_size(fallback=(120, 30)).columns or 120
    cell = max(min(max(len(n) for n in names), width // 2), 25)
    headers = [f"{stage.capitalize()} metric"] + [f"DataLoader {i}" for i in range(len(results))]
    rule = "─" * min(width, cell * len(headers))
    lines = [rule, "".join(h.center(cell) for h in headers).rstrip(), rule]
    for name in names:
        row = [name]
        for i, result in enumerate(results):
            value = result.get(name, result.get(f"{name}/dataloader_idx_{i}"))
            if isinstance(value, torch.Tensor):
                value = value.item() if value.numel() == 1 else value.tolist()
            row.append("" if value is None else f"{value}")
        lines.append("".join(c.center(cell) for c in row).rstrip())
    lines.append(rule)
    print("\n".join(lines))
