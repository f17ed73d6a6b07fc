"""``LightningModule.log`` / ``log_dict``: where a hook may log, and with which defaults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor

from reference.core.logged_values import parse_reduce_fx, to_logged_value
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import warn

# Where each hook may log, and its defaults: (default_on_step, default_on_epoch, may_log_on_step).
# Hooks missing from this table may not log at all (Lightning's _FxValidator, facts §8).
_STEP = (True, False, True)  # per-step hooks: default on_step; both allowed
_EVAL_STEP = (False, True, True)  # evaluation batch hooks: default on_epoch; both allowed
_EPOCH = (False, True, False)  # epoch-level hooks: only on_epoch=True allowed
LOGGING_RULES: dict[str, tuple[bool, bool, bool]] = {
    **dict.fromkeys(
        (
            "training_step",
            "on_train_batch_start",
            "on_train_batch_end",
            "on_before_backward",
            "backward",
            "on_after_backward",
            "on_before_optimizer_step",
            "optimizer_step",
            "configure_gradient_clipping",
            "clip_gradients",
            "on_before_zero_grad",
            "optimizer_zero_grad",
        ),
        _STEP,
    ),
    **dict.fromkeys(
        (
            "validation_step",
            "test_step",
            "on_validation_batch_start",
            "on_validation_batch_end",
            "on_test_batch_start",
            "on_test_batch_end",
        ),
        _EVAL_STEP,
    ),
    **dict.fromkeys(
        (
            "on_train_start",
            "on_validation_start",
            "on_test_start",
            "on_train_epoch_start",
            "on_train_epoch_end",
            "on_validation_epoch_start",
            "on_validation_epoch_end",
            "on_test_epoch_start",
            "on_test_epoch_end",
        ),
        _EPOCH,
    ),
}


class LoggingMixin:
    """The logging methods of :class:`~reference.module.LightningModule`."""

    def log(
        self,
        name: str,
        value: Any,
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: str | Callable = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        metric_attribute: str | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """Record ``value`` under ``name`` for callbacks, the progress bar and the loggers.

        The hook calling it decides the defaults: per-step in training hooks, per-epoch (mean
        over batches, weighted by batch size) in evaluation hooks and epoch hooks.
        """
        if not isinstance(name, str):
            raise TypeError(f"`self.log` needs a str name, got {type(name).__name__}: {name!r}")
        trainer = self._trainer
        if trainer is None:
            warn(
                "You are trying to `self.log()` but the `self.trainer` reference is not"
                " registered on the model yet. This is most likely because the model hasn't been"
                " passed to the `Trainer`"
            )
            return
        if trainer.barebones:
            warn(
                "You are trying to `self.log()` but `Trainer(barebones=True)` is configured."
                " Logging can impact raw speed so it is disabled under this setting."
            )
            return
        fx = trainer._hooks.current_fx
        results = trainer._results
        if results is None:
            raise MisconfigurationException(
                "You are trying to `self.log()` but the loop's result collection is not"
                " registered yet. This is most likely because you are trying to log in a"
                " `predict` hook, but it doesn't support logging"
            )
        if fx is None:
            raise MisconfigurationException(
                "You are trying to `self.log()` but it is not managed by the `Trainer` control flow"
            )
        rules = LOGGING_RULES.get(fx)
        if rules is None:
            raise MisconfigurationException(
                f"You can't `self.log()` inside `{fx}`. HINT: You can still log directly to the"
                " logger by using `self.logger.experiment`."
            )
        default_on_step, default_on_epoch, may_log_on_step = rules
        on_step = default_on_step if on_step is None else on_step
        on_epoch = default_on_epoch if on_epoch is None else on_epoch
        if not may_log_on_step and (on_step or not on_epoch):
            which = ("on_step", on_step, (False,)) if on_step else ("on_epoch", on_epoch, (True,))
            raise MisconfigurationException(
                f"You can't `self.log({which[0]}={which[1]})` inside `{fx}`, must be one of"
                f" {which[2]}."
            )
        if add_dataloader_idx and "/dataloader_idx_" in name:
            raise MisconfigurationException(
                f"You called `self.log` with the key `{name}` but it should not contain"
                " information about `dataloader_idx` when `add_dataloader_idx=True`"
            )
        if logger and not trainer.loggers:
            warn(
                f"You called `self.log({name!r}, ..., logger=True)` but have no logger configured."
                " You can enable one by doing `Trainer(logger=ALogger(...))`"
            )
        device = None if isinstance(value, Tensor) else self.device  # only numbers need it
        value = to_logged_value(value, name, device, enable_graph)
        results.log(
            fx,
            name,
            value,
            prog_bar=prog_bar,
            logger=True if logger is None else logger,
            on_step=on_step,
            on_epoch=on_epoch,
            reduce=parse_reduce_fx(reduce_fx),
            enable_graph=enable_graph,
            add_dataloader_idx=add_dataloader_idx,
            batch_size=batch_size,
        )

    def log_dict(
        self,
        dictionary: Mapping[str, Any],
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: str | Callable = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """:meth:`log` every key/value of ``dictionary`` with the same settings."""
        if not callable(getattr(dictionary, "items", None)):  # a Mapping or a MetricCollection
            raise TypeError(
                "`self.log_dict` takes a dict of names to values, got"
                f" {type(dictionary).__name__}: {dictionary!r:.100}"
            )
        for name, value in dictionary.items():
            self.log(
                name,
                value,
                prog_bar=prog_bar,
                logger=logger,
                on_step=on_step,
                on_epoch=on_epoch,
                reduce_fx=reduce_fx,
                enable_graph=enable_graph,
                sync_dist=sync_dist,
                sync_dist_group=sync_dist_group,
                add_dataloader_idx=add_dataloader_idx,
                batch_size=batch_size,
                rank_zero_only=rank_zero_only,
            )
