"""``ModelCheckpoint``: save checkpoints during ``fit`` -- when, under which name, which to keep.

When (facts §3.2): every ``every_n_epochs`` epochs (the default, 1) at the end of the training
epoch -- or at the end of validation when validation does not run exactly once per epoch -- or
after every ``every_n_train_steps``-th optimizer step, or every ``train_time_interval``. Never
during the sanity check, outside ``fit``, under ``fast_dev_run``, or twice at one global step.

Names: ``filename`` is a template over ``epoch``, ``step`` and logged metrics
(``"{epoch}-{val_loss:.2f}"`` renders ``epoch=3-val_loss=0.12.ckpt``;
``auto_insert_metric_name=False`` leaves the ``name=`` out); a name that already exists gets
``-v1``, ``-v2``... Files go to ``dirpath``, by default
``<save_dir>/<name>/version_<n>/checkpoints`` of the first logger, else
``<default_root_dir>/checkpoints`` (see checkpoint_files.py).

Which to keep: without ``monitor`` only the latest (``save_top_k=1``) or all (``-1``); with
``monitor`` the ``save_top_k`` best by ``mode``. ``save_last`` also writes ``last.ckpt``
(``"link"``: a symbolic link to the latest file).
"""

from __future__ import annotations

import copy
import os
import time
import warnings
import weakref
from datetime import timedelta
from typing import Any

import torch
from torch import Tensor

from reference.callbacks import checkpoint_files as files
from reference.callbacks.checkpoint import Checkpoint
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import WarnOnce, info


class ModelCheckpoint(Checkpoint):
    CHECKPOINT_JOIN_CHAR = files.JOIN_CHAR
    CHECKPOINT_EQUALS_CHAR = files.EQUALS_CHAR
    CHECKPOINT_NAME_LAST = "last"
    FILE_EXTENSION = files.EXTENSION
    STARTING_VERSION = 1

    def __init__(
        self,
        dirpath: str | os.PathLike[str] | None = None,
        filename: str | None = None,
        monitor: str | None = None,
        verbose: bool = False,
        save_last: bool | str | None = None,
        save_top_k: int = 1,
        save_on_exception: bool = False,
        save_weights_only: bool = False,
        mode: str = "min",
        auto_insert_metric_name: bool = True,
        every_n_train_steps: int | None = None,
        train_time_interval: timedelta | None = None,
        every_n_epochs: int | None = None,
        save_on_train_epoch_end: bool | None = None,
        enable_version_counter: bool = True,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.mode = mode
        self.verbose = verbose
        self.save_last = save_last
        self.save_top_k = save_top_k
        self.save_on_exception = save_on_exception
        self.save_weights_only = save_weights_only
        self.auto_insert_metric_name = auto_insert_metric_name
        self._save_on_train_epoch_end = save_on_train_epoch_end
        self._enable_version_counter = enable_version_counter
        self.dirpath = os.path.realpath(os.path.expanduser(dirpath)) if dirpath else None
        self.filename = filename
        if every_n_train_steps is None and every_n_epochs is None and train_time_interval is None:
            every_n_epochs = 1  # no trigger given: once per epoch
        self._every_n_epochs = every_n_epochs or 0
        self._every_n_train_steps = every_n_train_steps or 0
        self._train_time_interval = train_time_interval
        files.check_arguments(
            mode, save_last, monitor, save_top_k, self._every_n_train_steps, every_n_epochs or 0,
            train_time_interval,
        )  # fmt: skip

        self.best_k_models: dict[str, Tensor] = {}
        self.kth_best_model_path = ""
        self.kth_value = torch.tensor(float("inf") if mode == "min" else float("-inf"))
        self.best_model_score: Tensor | None = None
        self.best_model_path = ""
        self.current_score: Tensor | None = None
        self.last_model_path = ""
        self._last_global_step_saved = 0  # nothing to save before the first step
        self._last_checkpoint_saved = ""
        self._last_time_checked: float | None = None
        self._defer_save_until_validation = False
        self._warnings = WarnOnce()

    @property
    def state_key(self) -> str:
        # the arguments that let several ModelCheckpoints coexist in one checkpoint
        return self._generate_state_key(
            monitor=self.monitor,
            mode=self.mode,
            every_n_train_steps=self._every_n_train_steps,
            every_n_epochs=self._every_n_epochs,
            train_time_interval=self._train_time_interval,
        )

    @property
    def every_n_epochs(self) -> int:
        return self._every_n_epochs

    # ------------------------------------------------------------------------ hooks
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.dirpath = self.dirpath or files.default_dirpath(trainer)
        if trainer.is_global_zero and stage == "fit" and self.save_top_k != 0:
            if os.path.isdir(self.dirpath) and os.listdir(self.dirpath):
                self._warnings.warn(f"Checkpoint directory {self.dirpath} exists and is not empty.")

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._last_time_checked = time.monotonic()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Step and time triggers (after the optimizer step, before that batch's validation)."""
        step_due = (
            self._every_n_train_steps >= 1 and trainer.global_step % self._every_n_train_steps == 0
        )
        time_due = False
        if self._train_time_interval is not None and self._last_time_checked is not None:
            now = time.monotonic()
            time_due = now - self._last_time_checked >= self._train_time_interval.total_seconds()
            if time_due:
                self._last_time_checked = now
        if not (step_due or time_due):
            return
        candidates = self._monitor_candidates(trainer)
        if self.monitor is not None and (
            self.monitor not in candidates or self._validation_follows(trainer)
        ):
            # the monitored value comes (fresh) from validation: save when validation ends
            self._defer_save_until_validation = True
            return
        if not self._skip_saving(trainer):
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self._skip_saving(trainer) and self._saves_on_train_epoch_end(trainer):
            self._save_epoch_checkpoint(trainer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self._skip_saving(trainer) or self._saves_on_train_epoch_end(trainer):
            return
        if self._defer_save_until_validation:
            self._defer_save_until_validation = False
            candidates = self._monitor_candidates(trainer)
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)
            return
        self._save_epoch_checkpoint(trainer)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if not self.save_on_exception or trainer.fast_dev_run or trainer.sanity_checking:
            return
        if self._last_global_step_saved == trainer.global_step:
            return
        candidates = self._monitor_candidates(trainer)
        path = self.format_checkpoint_name(candidates)
        self._save_checkpoint(trainer, path)
        self._save_last_checkpoint(trainer, candidates)
        info(f"An {type(exception).__name__} was raised ({exception}); saved checkpoint to {path}")

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.save_last and not self._last_checkpoint_saved:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    # -------------------------------------------------------------------- own state
    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "best_model_score": self.best_model_score,
            "best_model_path": self.best_model_path,
            "current_score": self.current_score,
            "dirpath": self.dirpath,
            "best_k_models": self.best_k_models,
            "kth_best_model_path": self.kth_best_model_path,
            "kth_value": self.kth_value,
            "last_model_path": self.last_model_path,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("dirpath", self.dirpath) == self.dirpath:
            self.best_model_score = state_dict["best_model_score"]
            self.kth_best_model_path = state_dict.get("kth_best_model_path", "")
            self.kth_value = state_dict.get("kth_value", self.kth_value)
            self.best_k_models = state_dict.get("best_k_models", self.best_k_models)
            self.last_model_path = state_dict.get("last_model_path", self.last_model_path)
        else:
            warnings.warn(
                f"The dirpath has changed from {state_dict.get('dirpath')!r} to"
                f" {self.dirpath!r}, therefore `best_model_score`, `kth_best_model_path`,"
                " `kth_value`, `last_model_path` and `best_k_models` won't be reloaded. Only"
                " `best_model_path` will be reloaded.",
                stacklevel=2,
            )
        self.best_model_path = state_dict["best_model_path"]

    # ---------------------------------------------------------------------- when
    def _skip_saving(self, trainer: Any) -> bool:
        return (
            bool(trainer.fast_dev_run)
            or trainer.state.fn != "fit"
            or trainer.sanity_checking
            or self._last_global_step_saved == trainer.global_step  # saved at this step already
        )

    def _saves_on_train_epoch_end(self, trainer: Any) -> bool:
        """Epoch saves happen at train-epoch end when validation runs once per epoch (or not at
        all); otherwise at validation end, so that its metrics are available."""
        if self._save_on_train_epoch_end is not None:
            return self._save_on_train_epoch_end
        if trainer.check_val_every_n_epoch != 1:
            return False
        if sum(trainer.num_val_batches) == 0:
            return True
        return trainer.val_check_interval == 1.0

    def _validation_follows(self, trainer: Any) -> bool:
        """Whether this batch is the epoch's last and a validation saving at its end follows."""
        if self._saves_on_train_epoch_end(trainer):
            return False
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return False
        every = trainer.check_val_every_n_epoch
        return bool(
            trainer.enable_validation
            and sum(trainer.num_val_batches) > 0
            and (every is None or (trainer.current_epoch + 1) % every == 0)
        )

    def _save_epoch_checkpoint(self, trainer: Any) -> None:
        candidates = self._monitor_candidates(trainer)
        if self._every_n_epochs >= 1 and (trainer.current_epoch + 1) % self._every_n_epochs == 0:
            self._save_topk_checkpoint(trainer, candidates)
        if self._last_global_step_saved == trainer.global_step or (
            self.save_last == "link" and self._last_checkpoint_saved
        ):
            self._save_last_checkpoint(trainer, candidates)

    # ---------------------------------------------------------------- which files
    def _monitor_candidates(self, trainer: Any) -> dict[str, Tensor]:
        candidates = copy.deepcopy(trainer.callback_metrics)
        epoch, step = candidates.get("epoch"), candidates.get("step")
        candidates["epoch"] = (
            epoch.int() if isinstance(epoch, Tensor) else torch.tensor(trainer.current_epoch)
        )
        candidates["step"] = (
            step.int() if isinstance(step, Tensor) else torch.tensor(trainer.global_step)
        )
        return candidates

    def _save_topk_checkpoint(self, trainer: Any, candidates: dict[str, Tensor]) -> None:
        if self.save_top_k == 0:
            return
        if self.monitor is None:
            self._save_latest(trainer, candidates)
            return
        if self.monitor not in candidates:
            message = (
                f"`ModelCheckpoint(monitor={self.monitor!r})` could not find the monitored key in"
                f" the returned metrics: {list(candidates)}. HINT: Did you call"
                f" `log({self.monitor!r}, value)` in the `LightningModule`?"
            )
            if trainer.fit_loop.epoch_loop.val_loop._has_run:
                raise MisconfigurationException(message)
            self._warnings.warn(message)
            return
        current = candidates[self.monitor]
        if self._is_top_k(current):
            self._update_best_and_save(current, trainer, candidates)
        elif self.verbose:
            info(
                f"Epoch {int(candidates['epoch'])}, global step {int(candidates['step'])}:"
                f" {self.monitor!r} was not in top {self.save_top_k}"
            )

    def _is_top_k(self, current: Tensor) -> bool:
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k:
            return True
        better = torch.lt if self.mode == "min" else torch.gt
        return bool(better(current, self.best_k_models[self.kth_best_model_path]))

    def _save_latest(self, trainer: Any, candidates: dict[str, Tensor]) -> None:
        """No monitor: the newest file is the best; with save_top_k=1 it replaces the last."""
        path = self._unused_name(candidates, replaceable=self.best_model_path)
        previous, self.best_model_path = self.best_model_path, path  # part of the saved state
        self._save_checkpoint(trainer, path)
        if self.save_top_k == 1 and previous and self._may_remove(trainer, previous, path):
            self._remove(trainer, previous)

    def _update_best_and_save(
        self, current: Tensor, trainer: Any, candidates: dict[str, Tensor]
    ) -> None:
        k = len(self.best_k_models) + 1 if self.save_top_k == -1 else self.save_top_k
        dropped = None
        if len(self.best_k_models) == k:
            dropped = self.kth_best_model_path
            self.best_k_models.pop(dropped)
        if torch.isnan(current):  # a NaN is never the best
            current = torch.tensor(float("inf" if self.mode == "min" else "-inf"))
        path = self._unused_name(candidates, replaceable=dropped)
        self.current_score = current
        self.best_k_models[path] = current
        worst, best = (max, min) if self.mode == "min" else (min, max)
        if len(self.best_k_models) == k:
            self.kth_best_model_path = worst(self.best_k_models, key=self.best_k_models.get)
            self.kth_value = self.best_k_models[self.kth_best_model_path]
        self.best_model_path = best(self.best_k_models, key=self.best_k_models.get)
        self.best_model_score = self.best_k_models[self.best_model_path]
        if self.verbose:
            info(
                f"Epoch {int(candidates['epoch'])}, global step {int(candidates['step'])}:"
                f" {self.monitor!r} reached {float(current):0.5f} (best"
                f" {float(self.best_model_score):0.5f}), saving model to {path!r} as top {k}"
            )
        self._save_checkpoint(trainer, path)
        if dropped and self._may_remove(trainer, dropped, path):
            self._remove(trainer, dropped)

    def _save_last_checkpoint(self, trainer: Any, candidates: dict[str, Tensor]) -> None:
        if not self.save_last:
            return
        path = self._unused_name(candidates, self.last_model_path, self.CHECKPOINT_NAME_LAST)
        previous, self.last_model_path = self.last_model_path, path  # part of the saved state
        if self.save_last == "link" and self._last_checkpoint_saved and self.save_top_k != 0:
            self._link(trainer, self._last_checkpoint_saved, path)
        else:
            self._save_checkpoint(trainer, path)
        if previous and self._may_remove(trainer, previous, path):
            self._remove(trainer, previous)

    def _unused_name(
        self, candidates: dict[str, Tensor], replaceable: str | None, filename: str | None = None
    ) -> str:
        """The formatted name, with -vN while it names another existing file than
        ``replaceable`` (the file this save replaces)."""
        path = self.format_checkpoint_name(candidates, filename)
        if self._enable_version_counter:
            version = self.STARTING_VERSION
            while os.path.exists(path) and path != replaceable:
                path = self.format_checkpoint_name(candidates, filename, ver=version)
                version += 1
        return path

    # --------------------------------------------------------------- disk actions
    def _save_checkpoint(self, trainer: Any, path: str) -> None:
        trainer.save_checkpoint(path, self.save_weights_only)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = path
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(weakref.proxy(self))

    @staticmethod
    def _link(trainer: Any, target: str, link: str) -> None:
        if trainer.is_global_zero:
            files.symlink(target, link)
        trainer.strategy.barrier()

    def _may_remove(self, trainer: Any, previous: str, current: str) -> bool:
        """Only our own files, never the current one nor the file this run resumed from."""
        if previous == current:
            return False
        resumed = trainer.ckpt_path
        if resumed is not None and os.path.abspath(resumed) == os.path.abspath(previous):
            return False
        return files.is_inside(str(self.dirpath), previous)

    @staticmethod
    def _remove(trainer: Any, path: str) -> None:
        if trainer.is_global_zero and os.path.lexists(path):
            os.remove(path)

    # ----------------------------------------------------------------------- names
    def format_checkpoint_name(
        self,
        metrics: dict[str, Any],
        filename: str | None = None,
        ver: int | None = None,
        prefix: str | None = None,
    ) -> str:
        """The path of a checkpoint for these metrics, e.g. ``.../epoch=2-val_loss=0.12.ckpt``."""
        name = files.render_filename(
            filename or self.filename, metrics, self.auto_insert_metric_name
        )
        if prefix:
            name = self.CHECKPOINT_JOIN_CHAR.join([prefix, name])
        if ver is not None:
            name = self.CHECKPOINT_JOIN_CHAR.join((name, f"v{ver}"))
        name += self.FILE_EXTENSION
        return os.path.join(self.dirpath, name) if self.dirpath else name

    def find_last_checkpoints(self, trainer: Any) -> set[str]:
        """The ``last*.ckpt`` files in this callback's directory (for ``ckpt_path="last"``)."""
        directory = self.dirpath or files.default_dirpath(trainer)
        return files.last_checkpoints(directory, self.CHECKPOINT_NAME_LAST)

    _find_last_checkpoints = find_last_checkpoints  # Lightning's name
