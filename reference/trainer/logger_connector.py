"""From ``self.log`` to the outside: ``trainer.callback_metrics`` & co, and the loggers.

The three metric views are computed when read, from the live :class:`ResultCollection` of the
running loop, merged over a persistent dict that remembers values from loops that already ended.
Loggers are only written at ``log_every_n_steps`` (training) and at epoch ends, which is also the
only time logged tensors are converted to Python numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor

from reference.trainer.results import ResultCollection

if TYPE_CHECKING:
    from reference.trainer.trainer import Trainer


def to_scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, Tensor) else v) for k, v in metrics.items()}


class LoggerConnector:
    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self._callback_metrics: dict[str, Tensor] = {}
        self._logged_metrics: dict[str, Tensor] = {}
        self._progress_bar_metrics: dict[str, Tensor] = {}
        # True while a batch loop runs (views show step values), False after it (epoch values)
        self.in_batch_loop = False

    # ---------------------------------------------------------------- the three metric views
    def _live(self) -> tuple[dict, dict, dict] | None:
        results = self.trainer._results
        if results is None:
            return None
        return results.metrics(on_step=self.in_batch_loop)

    def snapshot(self) -> tuple[dict, dict, dict] | None:
        """Fold the live values into the persistent views (before the live ones go away);
        returns them."""
        live = self._live()
        if live is not None:
            self._callback_metrics.update(live[0])
            self._logged_metrics.update(live[1])
            self._progress_bar_metrics.update(live[2])
        return live

    @property
    def callback_metrics(self) -> dict[str, Tensor]:
        live = self._live()
        if live is not None:
            self._callback_metrics.update(live[0])
        return self._callback_metrics

    @property
    def logged_metrics(self) -> dict[str, Tensor]:
        live = self._live()
        if live is not None:
            self._logged_metrics.update(live[1])
        return self._logged_metrics

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        live = self._live()
        if live is not None:
            self._progress_bar_metrics.update(live[2])
        return to_scalars(self._progress_bar_metrics)

    # ---------------------------------------------------------------------- writing loggers
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Send ``metrics`` to every logger (Lightning adds ``epoch`` and uses the stepped-batch
        axis).
        """
        loggers = self.trainer.loggers
        if not loggers or not metrics:
            return
        self._logged_metrics.update(metrics)
        scalars = to_scalars(metrics)
        if step is None:
            step_metric = scalars.pop("step", None)
            if step_metric is not None:
                step = int(step_metric)
            else:
                scalars.setdefault("epoch", self.trainer.current_epoch)
                step = self.trainer.fit_loop.epoch_loop._batches_that_stepped
        for logger in loggers:
            logger.log_metrics(metrics=scalars, step=step)
            logger.save()

    def _should_update_logs(self) -> bool:
        trainer = self.trainer
        every = trainer.log_every_n_steps
        if every == 0:
            return False
        # + 1: the stepped-batch counter is only advanced after this batch's bookkeeping
        step = trainer.fit_loop.epoch_loop._batches_that_stepped + 1
        return step % every == 0 or trainer.should_stop

    # ------------------------------------------------------------------- loop notifications
    def on_batch_start(
        self, results: ResultCollection, batch: Any, dataloader_idx: int | None = None
    ) -> None:
        self.in_batch_loop = True
        results.batch = batch
        results.batch_size = None
        results.dataloader_idx = dataloader_idx

    def on_batch_end(self, results: ResultCollection) -> None:
        results.batch = None  # do not keep the batch alive until the next one
        results.batch_size = None

    def epoch_end_reached(self) -> None:
        if self.in_batch_loop:
            self.snapshot()
        self.in_batch_loop = False

    def on_epoch_end(self) -> None:
        self.snapshot()

    def update_train_step_metrics(self) -> None:
        """Log the step values of this batch every ``log_every_n_steps`` stepped batches."""
        trainer = self.trainer
        if not trainer.loggers:
            return
        if (
            trainer.fit_loop.epoch_loop._should_accumulate()
            and trainer.lightning_module.automatic_optimization
        ):
            return
        if self._should_update_logs() or trainer.fast_dev_run:
            live = self._live()
            if live is not None:
                self.log_metrics(live[1])

    def update_train_epoch_metrics(self) -> None:
        live = self._live()
        if live is not None:
            self.log_metrics(live[1])
        self.reset_results()

    def update_eval_step_metrics(self, step: int) -> None:
        if self.trainer.loggers:
            live = self._live()
            if live is not None:
                self.log_metrics(live[1], step=step)

    def update_eval_epoch_metrics(self) -> dict[str, Tensor]:
        """The epoch values of the current dataloader; also folded into the persistent views."""
        if self.trainer.sanity_checking:
            return {}
        live = self.snapshot()
        return {} if live is None else live[1]

    def log_eval_end_metrics(self, metrics: dict[str, Tensor]) -> None:
        if not self.trainer.sanity_checking:
            self.log_metrics(metrics)

    def reset_results(self) -> None:
        results = self.trainer._results
        if results is not None:
            self.snapshot()
            results.reset()
        self.in_batch_loop = False

    def reset_metrics(self) -> None:
        self._callback_metrics = {}
        self._logged_metrics = {}
        self._progress_bar_metrics = {}
