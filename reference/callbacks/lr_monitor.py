"""``LearningRateMonitor``: log every optimizer's learning rate (and optionally momentum and
weight decay) to the trainer's loggers while fitting.

Names follow Lightning so dashboards keep working when code moves between the two:

* ``lr-<OptimizerClass>``, or the scheduler config's ``name`` when it has one;
* a second, third, ... optimizer of the same class (without a scheduler name) gets ``-1``,
  ``-2``, ...;
* with several parameter groups each gets ``/<group name>`` or ``/pg<i>`` (from 1); a single
  group with a ``name`` gets ``/<name>`` too;
* ``-momentum`` and ``-weight_decay`` are appended for the optional values.

When: a scheduler stepping per ``"epoch"`` is logged at ``on_train_epoch_start``, one stepping
per ``"step"`` at ``on_train_batch_start`` of every ``log_every_n_steps``-th batch, and an
optimizer without a scheduler at both; ``logging_interval`` logs them all at one of the two
instead. Values go straight to the loggers at the stepped-batch axis (as Lightning does: not
through ``self.log``), and into ``trainer.callback_metrics``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

import torch

from reference.callbacks.callback import Callback
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import warn

_Interval = Literal["step", "epoch"]


class LearningRateMonitor(Callback):
    """Log learning rates of all optimizers during ``fit``.

    Args:
        logging_interval: ``None`` logs each scheduler at its own ``interval``; ``"step"`` or
            ``"epoch"`` logs everything at that interval.
        log_momentum: also log ``momentum`` (``betas[0]`` for Adam-like optimizers; 0 for
            optimizers that have neither).
        log_weight_decay: also log ``weight_decay``.
    """

    def __init__(
        self,
        logging_interval: _Interval | None = None,
        log_momentum: bool = False,
        log_weight_decay: bool = False,
    ) -> None:
        if logging_interval not in (None, "step", "epoch"):
            raise MisconfigurationException(
                "logging_interval should be `step` or `epoch` or `None`."
            )
        self.logging_interval = logging_interval
        self.log_momentum = log_momentum
        self.log_weight_decay = log_weight_decay
        # every value logged so far, per learning-rate name
        self.lrs: dict[str, list[float]] = {}
        self.last_momentum_values: dict[str, float | None] = {}
        self.last_weight_decay_values: dict[str, float | None] = {}

    # ------------------------------------------------------------------------------- hooks
    def on_train_start(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
        if not trainer.loggers:
            raise MisconfigurationException(
                "Cannot use `LearningRateMonitor` callback with `Trainer` that has no logger."
            )
        if self.log_momentum and _lacks(trainer, "momentum") and _lacks(trainer, "betas"):
            warn(
                "You have set log_momentum=True, but some optimizers do not have momentum. This"
                " will log a value 0 for the momentum.",
                RuntimeWarning,
            )
        names = [name for _, _, group_names in _named_optimizers(trainer) for name in group_names]
        self.lrs = {name: [] for name in names}
        self.last_momentum_values = {f"{name}-momentum": None for name in names}
        self.last_weight_decay_values = {f"{name}-weight_decay": None for name in names}

    def on_train_batch_start(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
        if self.logging_interval == "epoch":
            return
        if not trainer._logger_connector._should_update_logs():
            return
        self._log(trainer, "step" if self.logging_interval is None else "any")

    def on_train_epoch_start(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
        if self.logging_interval == "step":
            return
        self._log(trainer, "epoch" if self.logging_interval is None else "any")

    # ------------------------------------------------------------------------------ values
    def _log(self, trainer: Any, interval: str) -> None:
        stats = self._current_stats(trainer, interval)
        if not stats:
            return
        device = trainer.strategy.root_device
        trainer.callback_metrics.update(
            {name: torch.tensor(value, device=device) for name, value in stats.items()}
        )
        step = trainer.fit_loop.epoch_loop._batches_that_stepped
        for logger in trainer.loggers:
            logger.log_metrics(stats, step=step)

    def _current_stats(self, trainer: Any, interval: str) -> dict[str, float]:
        """The values due at ``interval`` ("step", "epoch" or "any"), by logging name.

        Names are worked out again each time: parameter groups may have been added since the
        start (fine-tuning unfreezes layers), which turns ``lr-Adam`` into ``lr-Adam/pg1``.
        """
        stats: dict[str, float] = {}
        for optimizer, config, names in _named_optimizers(trainer):
            self._carry_history_over(names)
            if config is not None and interval not in (config.interval, "any"):
                continue
            stats.update(self._optimizer_stats(optimizer, names))
        return stats

    def _carry_history_over(self, names: list[str]) -> None:
        """A single-group optimizer that grew a second group: ``name`` became ``name/pg1``."""
        for name in names:
            before = name.replace("/pg1", "")
            if "/pg1" in name and before in self.lrs:
                self.lrs[name] = self.lrs.pop(before)
            elif name not in self.lrs:
                self.lrs[name] = []

    def _optimizer_stats(self, optimizer: Any, names: list[str]) -> dict[str, float]:
        stats: dict[str, float] = {}
        adam_like = "betas" in optimizer.defaults
        for group, name in zip(optimizer.param_groups, names):
            stats[name] = group["lr"]
            self.lrs[name].append(group["lr"])
            if self.log_momentum:
                momentum = group["betas"][0] if adam_like else group.get("momentum", 0)
                stats[f"{name}-momentum"] = momentum
                self.last_momentum_values[f"{name}-momentum"] = momentum
            if self.log_weight_decay:
                weight_decay = group.get("weight_decay", 0)
                stats[f"{name}-weight_decay"] = weight_decay
                self.last_weight_decay_values[f"{name}-weight_decay"] = weight_decay
        return stats


# ------------------------------------------------------------------------------------ names
def _lacks(trainer: Any, key: str) -> bool:
    """Whether some optimizer (those with schedulers, if there are any) has no default ``key``."""
    if trainer.lr_scheduler_configs:
        optimizers = [config.scheduler.optimizer for config in trainer.lr_scheduler_configs]
    else:
        optimizers = list(trainer.optimizers)
    return any(key not in optimizer.defaults for optimizer in optimizers)


def _named_optimizers(trainer: Any) -> list[tuple[Any, Any, list[str]]]:
    """``(optimizer, scheduler config or None, one name per parameter group)``: optimizers with
    a scheduler first (in scheduler order), then the others (in optimizer order)."""
    class_counts: defaultdict[type, int] = defaultdict(int)  # unnamed ones seen, per class
    entries: list[tuple[Any, Any, list[str]]] = []
    for config in trainer.lr_scheduler_configs:
        optimizer = config.scheduler.optimizer
        base = config.name if config.name is not None else f"lr-{type(optimizer).__name__}"
        if config.name is None:
            class_counts[type(optimizer)] += 1
        entries.append((optimizer, config, _group_names(optimizer, base, class_counts)))
    for optimizer in trainer.optimizers:
        if any(optimizer is seen for seen, _, _ in entries):
            continue
        class_counts[type(optimizer)] += 1
        base = f"lr-{type(optimizer).__name__}"
        entries.append((optimizer, None, _group_names(optimizer, base, class_counts)))
    return entries


def _group_names(optimizer: Any, base: str, class_counts: defaultdict[type, int]) -> list[str]:
    groups = optimizer.param_groups
    labels = [group.get("name", f"pg{i}") for i, group in enumerate(groups, start=1)]
    duplicates = {label for label in labels if labels.count(label) > 1}
    if duplicates:
        raise MisconfigurationException(
            "A single `Optimizer` cannot have multiple parameter groups with identical `name`"
            f" values. {base} has duplicated parameter group names {duplicates}"
        )
    # Lightning numbers by the count of unnamed optimizers of this class so far, and applies
    # the number to a scheduler's own name as well (an "x" after two unnamed SGDs is "x-1")
    count = class_counts.get(type(optimizer), 0)
    name = f"{base}-{count - 1}" if count > 1 else base
    if len(groups) > 1:
        return [f"{name}/{label}" for label in labels]
    return [f"{name}/{groups[0]['name']}" if groups[0].get("name") else name]
