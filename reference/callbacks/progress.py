"""Progress bars: the ``ProgressBar`` interface and the default ``TQDMProgressBar``.

Per batch the bar only counts; the metrics shown next to it (which need ``.item()``, a host
sync) are read only when tqdm actually redraws, at most ~10 times a second.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from reference.callbacks.callback import Callback


class ProgressBar(Callback):
    """Base class of progress bars; the trainer keeps at most one, as
    ``trainer.progress_bar_callback``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._trainer: Any = None

    @property
    def trainer(self) -> Any:
        if self._trainer is None:
            raise TypeError(f"The `{type(self).__name__}._trainer` reference has not been set yet.")
        return self._trainer

    @property
    def is_enabled(self) -> bool:
        return True

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def disable(self) -> None:
        """Turn the bar off (e.g. on other ranks)."""

    def enable(self) -> None:
        """Turn the bar back on."""

    def print(self, *args: Any, **kwargs: Any) -> None:
        print(*args, **kwargs)

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._trainer = trainer

    @property
    def total_train_batches(self) -> int | float:
        return self.trainer.num_training_batches

    @property
    def total_val_batches_current_dataloader(self) -> int | float:
        batches = (
            self.trainer.num_sanity_val_batches
            if self.trainer.sanity_checking
            else self.trainer.num_val_batches
        )
        idx = self.trainer._active_dataloader_idx
        return batches[idx] if idx < len(batches) else 0

    @property
    def total_test_batches_current_dataloader(self) -> int | float:
        batches = self.trainer.num_test_batches
        idx = self.trainer._active_dataloader_idx
        return batches[idx] if idx < len(batches) else 0

    @property
    def total_predict_batches_current_dataloader(self) -> int | float:
        batches = self.trainer.num_predict_batches
        idx = self.trainer._active_dataloader_idx
        return batches[idx] if idx < len(batches) else 0

    @property
    def total_val_batches(self) -> int | float:
        """Every validation batch of this epoch, all dataloaders (0 if it does not validate)."""
        if not self.trainer.fit_loop.epoch_loop.should_check_val_epoch():
            return 0
        return sum(self.trainer.num_val_batches)

    # the words the bars start with; Lightning's names, so a subclass can change them
    sanity_check_description = "Sanity Checking"
    train_description = "Training"
    validation_description = "Validation"
    test_description = "Testing"
    predict_description = "Predicting"

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, int | str | float | dict]:
        """What is shown next to the bar: the logger version, then every ``prog_bar=True``
        metric.
        """
        standard: dict[str, Any] = {}
        if trainer.loggers:
            version = trainer.loggers[0].version
            if version is not None:
                standard["v_num"] = version[-4:] if isinstance(version, str) else version
        return {**standard, **trainer.progress_bar_metrics}


def _total(value: int | float) -> int | None:
    return None if value is None or math.isinf(value) else int(value)


class TQDMProgressBar(ProgressBar):
    """A tqdm bar for training (one per epoch), validation, testing and prediction.

    Each bar comes from an ``init_*_tqdm`` method, which a subclass may override (Lightning's
    way to customise a bar); the trainer then sets its description and total.
    """

    BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"

    def __init__(
        self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False
    ) -> None:
        super().__init__()
        self._refresh_rate = refresh_rate
        self._process_position = process_position
        self._enabled = True
        self._leave = leave
        self._bars: dict[str, Any] = {}
        self._opening: tuple[str, int | float] = ("", 0)  # what the next new bar shows

    @property
    def refresh_rate(self) -> int:
        return self._refresh_rate

    @property
    def process_position(self) -> int:
        return self._process_position

    @property
    def is_enabled(self) -> bool:
        return self._enabled and self.refresh_rate > 0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def train_progress_bar(self) -> Any:
        return self._bars.get("train")

    @property
    def val_progress_bar(self) -> Any:
        return self._bars.get("val")

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        bar = next((b for b in self._bars.values() if b is not None and not b.disable), None)
        if bar is None:
            print(*args, sep=sep, **kwargs)
            return
        bar.write(sep.join(map(str, args)), **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_bars": {}}  # tqdm bars cannot be pickled

    # ------------------------------------------- the bars (Lightning's extension points)
    def init_sanity_tqdm(self) -> Any:
        """The bar of the sanity check's batches; override to customise it."""
        return self._new_bar(leave=False, position=2 * self.process_position + 1)

    def init_train_tqdm(self) -> Any:
        """The training bar (one for the whole fit, reset each epoch)."""
        return self._new_bar(leave=True, position=2 * self.process_position)

    def init_validation_tqdm(self) -> Any:
        """The validation bar: below the training bar while fitting, kept after ``validate``."""
        fitting = self.trainer.state.fn == "fit"
        return self._new_bar(leave=not fitting, position=2 * self.process_position + 1)

    def init_test_tqdm(self) -> Any:
        return self._new_bar(leave=True, position=2 * self.process_position)

    def init_predict_tqdm(self) -> Any:
        return self._new_bar(leave=True, position=2 * self.process_position)

    # ------------------------------------------------------------------ bar bookkeeping
    def _new_bar(self, leave: bool, position: int) -> Any:
        """A tqdm bar showing the description and total :meth:`_open` is opening it with (so
        it is drawn right the first time, and an ``init_*_tqdm`` override can change either)."""
        from tqdm.auto import tqdm  # imported when a bar is first shown, not with the package

        desc, total = self._opening
        return tqdm(
            desc=desc,
            total=_total(total),
            leave=leave,
            position=position,
            disable=self.is_disabled,
            dynamic_ncols=True,
            file=sys.stdout,
            smoothing=0,
            bar_format=self.BAR_FORMAT,
        )

    def _open(self, key: str, init: Any, desc: str, total: int | float) -> Any:
        self._close(key)
        self._opening = (desc, total)
        self._bars[key] = bar = init()
        return bar

    def _sanity_header(self) -> Any:
        # the "Sanity Checking" line shown before the first sanity batch (Lightning's too)
        return self._new_bar(leave=False, position=2 * self.process_position)

    def _close(self, key: str) -> None:
        bar = self._bars.pop(key, None)
        if bar is not None:
            bar.close()

    def _advance(self, key: str, n: int, total: int | float | None = None) -> None:
        bar = self._bars.get(key)
        if bar is None or n % self.refresh_rate and n != total:
            return
        step = n - bar.n
        if step > 0 and bar.update(step) and key == "train":
            # tqdm just redrew: only now is it worth reading (and syncing) the metrics
            self._show_metrics(bar, refresh=True)

    def _show_metrics(self, bar: Any, refresh: bool = False) -> None:
        bar.set_postfix(
            self.get_metrics(self.trainer, self.trainer.lightning_module), refresh=refresh
        )

    # ----------------------------------------------------------------------------- hooks
    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        self._open("sanity", self._sanity_header, self.sanity_check_description, 0)

    def on_sanity_check_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("sanity")
        self._close("val")

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        description, total = f"Epoch {trainer.current_epoch}", self.total_train_batches
        bar = self._bars.get("train")
        if bar is None:  # the first epoch, or the bar was closed at the end of the last one
            self._open("train", self.init_train_tqdm, description, total)
            return
        bar.reset(total=_total(total))
        bar.set_description(description, refresh=False)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._advance("train", batch_idx + 1, self.total_train_batches)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        bar = self._bars.get("train")
        if bar is not None and not bar.disable:
            self._show_metrics(bar, refresh=True)
        if self._leave:
            self._close("train")

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("train")

    def on_validation_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if batch_idx == 0:
            if trainer.sanity_checking:
                init, desc = self.init_sanity_tqdm, self.sanity_check_description
            else:
                init, desc = self.init_validation_tqdm, self.validation_description
            if trainer.sanity_checking or trainer.state.fn != "fit":
                desc = f"{desc} DataLoader {dataloader_idx}"
            self._open("val", init, desc, self.total_val_batches_current_dataloader)

    def on_validation_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._advance("val", batch_idx + 1, self.total_val_batches_current_dataloader)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("val")
        bar = self._bars.get("train")
        if bar is not None and trainer.state.fn == "fit" and not bar.disable:
            self._show_metrics(bar)

    def on_test_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if batch_idx == 0:
            self._open(
                "test",
                self.init_test_tqdm,
                f"{self.test_description} DataLoader {dataloader_idx}",
                self.total_test_batches_current_dataloader,
            )

    def on_test_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._advance("test", batch_idx + 1, self.total_test_batches_current_dataloader)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("test")

    def on_predict_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if batch_idx == 0:
            self._open(
                "predict",
                self.init_predict_tqdm,
                f"{self.predict_description} DataLoader {dataloader_idx}",
                self.total_predict_batches_current_dataloader,
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
        self._advance("predict", batch_idx + 1, self.total_predict_batches_current_dataloader)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("predict")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        for key in list(self._bars):
            self._close(key)
