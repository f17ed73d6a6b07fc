"""Reading ``configure_optimizers``: every return form Lightning accepts, and its scheduler configs.

Accepted (facts §2.8): an optimizer; a list/tuple of optimizers; ``([optimizers], [schedulers])``;
a dict ``{"optimizer": ..., "lr_scheduler": scheduler-or-config, "monitor": ...}``; a list of
such dicts; ``None`` (a warning, then a no-op optimizer). A scheduler config is a dict with
``scheduler`` and optionally ``interval`` ("epoch"|"step"), ``frequency``, ``monitor``,
``strict``, ``name``, ``reduce_on_plateau``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau

from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.signature import is_overridden, is_param_in_hook_signature

try:
    from torch.optim.lr_scheduler import LRScheduler
except ImportError:  # torch < 2.0
    from torch.optim.lr_scheduler import _LRScheduler as LRScheduler  # type: ignore[attr-defined,no-redef]


@dataclass
class LRSchedulerConfig:
    """One scheduler and when to step it."""

    scheduler: Any
    name: str | None = None
    interval: str = "epoch"  # "epoch" or "step"
    frequency: int = 1
    reduce_on_plateau: bool = False
    monitor: str | None = None  # the metric ReduceLROnPlateau reads from trainer.callback_metrics
    strict: bool = True  # missing monitor: error (True) or warning and skip (False)


class MockOptimizer(Optimizer):
    """Stands in when ``configure_optimizers`` returns None: steps run the closure, nothing else."""

    def __init__(self) -> None:
        super().__init__([torch.zeros(1)], {})

    def add_param_group(self, param_group: dict[Any, Any]) -> None:
        pass

    def load_state_dict(self, state_dict: dict[Any, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        return closure() if closure is not None else None

    def zero_grad(self, set_to_none: bool | None = True) -> None:
        pass

    def __repr__(self) -> str:
        return "No Optimizer"


def _is_optimizer(obj: Any) -> bool:
    # Lightning's "Optimizable": anything with step() and zero_grad(), e.g. a wrapped optimizer
    return isinstance(obj, Optimizer) or (
        callable(getattr(obj, "step", None))
        and callable(getattr(obj, "zero_grad", None))
        and hasattr(obj, "param_groups")
    )


_FORMS = (
    "Output from `model.configure_optimizers()` should be one of:\n"
    " * `Optimizer`\n"
    " * [`Optimizer`]\n"
    " * ([`Optimizer`], [`LRScheduler`])\n"
    ' * {"optimizer": `Optimizer`, (optional) "lr_scheduler": `LRScheduler`}\n'
    ' * [{"optimizer": ...}, {"optimizer": ...}]'
)


def _check_optimizer_dict(conf: dict[str, Any]) -> None:
    if "optimizer" not in conf:
        raise MisconfigurationException(
            f"`configure_optimizers` returned a dict without the key 'optimizer': {sorted(conf)}. "
            + _FORMS
        )
    extra = set(conf) - {"optimizer", "lr_scheduler", "monitor"}
    if extra:
        warnings.warn(
            f"Found unsupported keys in the optimizer configuration: {extra}",
            RuntimeWarning,
            stacklevel=4,
        )


def parse_configure_optimizers(conf: Any) -> tuple[list[Any], list[Any], str | None]:
    """``(optimizers, schedulers-or-configs, monitor)`` from what ``configure_optimizers``
    returned.
    """
    if _is_optimizer(conf):
        return [conf], [], None
    if (
        isinstance(conf, (list, tuple))
        and len(conf) == 2
        and isinstance(conf[0], list)
        and all(_is_optimizer(o) for o in conf[0])
    ):
        optimizers, schedulers = conf
        return (
            list(optimizers),
            list(schedulers) if isinstance(schedulers, (list, tuple)) else [schedulers],
            None,
        )
    if isinstance(conf, dict):
        _check_optimizer_dict(conf)
        schedulers = [conf["lr_scheduler"]] if "lr_scheduler" in conf else []
        return [conf["optimizer"]], schedulers, conf.get("monitor")
    if isinstance(conf, (list, tuple)) and conf and all(isinstance(d, dict) for d in conf):
        for d in conf:
            _check_optimizer_dict(d)
        schedulers = [
            dict(d["lr_scheduler"])
            if isinstance(d["lr_scheduler"], dict)
            else {"scheduler": d["lr_scheduler"]}
            for d in conf
            if "lr_scheduler" in d
        ]
        return [d["optimizer"] for d in conf], schedulers, None
    if isinstance(conf, (list, tuple)) and conf and all(_is_optimizer(o) for o in conf):
        return list(conf), [], None
    described = f"{type(conf).__name__}: {conf!r}"
    raise MisconfigurationException(
        "Unknown configuration for model optimizers: `configure_optimizers` returned"
        f" {described[:200]}. " + _FORMS
    )


def scheduler_configs_automatic(
    schedulers: list[Any], monitor: str | None
) -> list[LRSchedulerConfig]:
    configs = []
    supported = {f.name for f in fields(LRSchedulerConfig)}
    for scheduler in schedulers:
        if isinstance(scheduler, dict):
            extra = set(scheduler) - supported
            if extra:
                warnings.warn(
                    f"Found unsupported keys in the lr scheduler dict: {extra}. HINT: remove them"
                    " from the output of `configure_optimizers`.",
                    RuntimeWarning,
                    stacklevel=4,
                )
                scheduler = {k: v for k, v in scheduler.items() if k in supported}
            if "scheduler" not in scheduler:
                raise MisconfigurationException(
                    'The lr scheduler dict must have the key "scheduler" with its item being an lr'
                    " scheduler"
                )
            if "interval" in scheduler and scheduler["interval"] not in ("step", "epoch"):
                raise MisconfigurationException(
                    'The "interval" key in lr scheduler dict must be "step" or "epoch"'
                    f' but is "{scheduler["interval"]}"'
                )
            frequency = scheduler.get("frequency", 1)
            if not isinstance(frequency, int) or isinstance(frequency, bool) or frequency < 1:
                raise MisconfigurationException(
                    'The "frequency" key in lr scheduler dict must be an int >= 1 but is'
                    f" {frequency!r}"
                )
            scheduler = dict(scheduler)
            scheduler.setdefault(
                "reduce_on_plateau", isinstance(scheduler["scheduler"], ReduceLROnPlateau)
            )
            if scheduler["reduce_on_plateau"] and scheduler.get("monitor") is None:
                raise MisconfigurationException(
                    "The lr scheduler dict must include a monitor when a `ReduceLROnPlateau`"
                    " scheduler is used."
                    ' For example: {"optimizer": optimizer, "lr_scheduler":'
                    ' {"scheduler": scheduler, "monitor": "your_loss"}}'
                )
            if (
                isinstance(scheduler["scheduler"], OneCycleLR)
                and scheduler.get("interval", "epoch") == "epoch"
            ):
                warnings.warn(
                    "A `OneCycleLR` scheduler is using 'interval': 'epoch'. Are you sure you"
                    " didn't mean 'interval': 'step'?",
                    RuntimeWarning,
                    stacklevel=4,
                )
            configs.append(LRSchedulerConfig(**scheduler))
        elif isinstance(scheduler, ReduceLROnPlateau):
            if monitor is None:
                raise MisconfigurationException(
                    "`configure_optimizers` must include a monitor when a `ReduceLROnPlateau`"
                    " scheduler is used. For example:"
                    ' {"optimizer": optimizer, "lr_scheduler": scheduler,'
                    ' "monitor": "metric_to_track"}'
                )
            configs.append(LRSchedulerConfig(scheduler, reduce_on_plateau=True, monitor=monitor))
        else:
            configs.append(LRSchedulerConfig(scheduler))
    return configs


def scheduler_configs_manual(schedulers: list[Any]) -> list[LRSchedulerConfig]:
    """Manual optimization: the user steps schedulers; stepping keys are accepted and ignored."""
    configs = []
    for scheduler in schedulers:
        if isinstance(scheduler, dict):
            ignored = [k for k in scheduler if k in {"reduce_on_plateau", "monitor", "strict"}]
            if ignored:
                warnings.warn(
                    f"The lr scheduler dict contains the key(s) {ignored}, but the keys will be"
                    " ignored. You need to call `lr_scheduler.step()` manually in manual"
                    " optimization.",
                    RuntimeWarning,
                    stacklevel=4,
                )
            configs.append(
                LRSchedulerConfig(**{k: v for k, v in scheduler.items() if k not in ignored})
            )
        else:
            configs.append(LRSchedulerConfig(scheduler))
    return configs


def init_optimizers_and_lr_schedulers(model: Any) -> tuple[list[Any], list[LRSchedulerConfig]]:
    """Call ``configure_optimizers`` (traced like any hook), parse and validate what it returned."""
    conf = model.trainer._hooks.module("configure_optimizers")
    if conf is None:
        warnings.warn(
            "`LightningModule.configure_optimizers` returned `None`, this fit will run with no"
            " optimizer",
            UserWarning,
            stacklevel=3,
        )
        conf = MockOptimizer()
    optimizers, schedulers, monitor = parse_configure_optimizers(conf)
    if model.automatic_optimization:
        configs = scheduler_configs_automatic(schedulers, monitor)
    else:
        configs = scheduler_configs_manual(schedulers)
    _validate(model, optimizers, configs)
    return optimizers, configs


def _validate(model: Any, optimizers: list[Any], configs: list[LRSchedulerConfig]) -> None:
    from reference.module import LightningModule

    if is_param_in_hook_signature(model.training_step, "optimizer_idx", explicit=True):
        raise RuntimeError(
            "Training with multiple optimizers is only supported with manual optimization. Remove"
            " the `optimizer_idx` argument from `training_step`, set `self.automatic_optimization"
            " = False` and access your optimizers in `training_step` with `opt1, opt2, ... ="
            " self.optimizers()`."
        )
    if model.automatic_optimization and len(optimizers) > 1:
        raise RuntimeError(
            f"`configure_optimizers` returned {len(optimizers)} optimizers, but training with"
            " multiple optimizers is only supported with manual optimization. Set"
            " `self.automatic_optimization = False`, then access your optimizers in"
            " `training_step` with `opt1, opt2, ... = self.optimizers()`."
        )
    for config in configs:
        scheduler = config.scheduler
        if not hasattr(scheduler, "optimizer"):  # e.g. a list, or the name of a scheduler
            raise MisconfigurationException(
                f"`configure_optimizers` returned {type(scheduler).__name__} {scheduler!r:.80} as"
                " an lr scheduler; expected an lr scheduler (which has an `optimizer`) or a"
                ' scheduler config dict {"scheduler": ..., "interval": ...}.'
            )
        if getattr(scheduler, "optimizer", None) not in optimizers:
            raise MisconfigurationException(
                "Some schedulers are attached with an optimizer that wasn't returned from"
                " `configure_optimizers`."
            )
        if not (
            callable(getattr(scheduler, "state_dict", None))
            and callable(getattr(scheduler, "load_state_dict", None))
        ):
            raise TypeError(
                f"The provided lr scheduler `{type(scheduler).__name__}` is invalid. It should"
                " have `state_dict` and `load_state_dict` methods defined."
            )
        if (
            not isinstance(scheduler, (LRScheduler, ReduceLROnPlateau))
            and not is_overridden("lr_scheduler_step", model, LightningModule)
            and model.automatic_optimization
        ):
            raise MisconfigurationException(
                f"The provided lr scheduler `{type(scheduler).__name__}` doesn't follow PyTorch's"
                " LRScheduler API. You should override the `LightningModule.lr_scheduler_step`"
                " hook with your own logic if you are using a custom LR scheduler."
            )
