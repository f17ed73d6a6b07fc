"""Validation and normalisation of the Trainer's loop flags (one clear error per bad value).

Lightning's defaults and rules (facts §2.1, §2.10); where Lightning accepts a value that can only
fail later (``accumulate_grad_batches=0``, ``check_val_every_n_epoch=0``), the reference rejects it
up front, naming the flag.
"""

from __future__ import annotations

import numbers
from datetime import timedelta
from typing import Any

from reference.profilers import PassThroughProfiler
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import PossibleUserWarning, info, warn

NOT_YET = "is not supported by the reference trainer yet"


def refuse_unsupported(**flags: Any) -> None:
    """Lightning flags the reference does not implement: only their "off" value is accepted."""
    off = {"max_time": None, "overfit_batches": 0, "model_registry": None}
    for name, value in flags.items():
        if value != off[name]:
            raise NotImplementedError(
                f"`Trainer({name}={value!r})` {NOT_YET}; leave it at {off[name]!r}."
            )


def profiler(value: Any) -> PassThroughProfiler:
    """``trainer.profiler``: None (or a ``PassThroughProfiler``) gives the pass-through one.

    Lightning's profilers need timing calls around every hook and fetch; the reference makes
    none, so a profiler that records would silently report nothing: it is refused instead.
    """
    if value is None:
        return PassThroughProfiler()
    if isinstance(value, PassThroughProfiler):
        return value
    if isinstance(value, str):
        known = ["simple", "advanced", "pytorch", "xla"]
        if value.lower() not in known:
            raise MisconfigurationException(
                "When passing string value for the `profiler` parameter of `Trainer`, it can only"
                f" be one of {known}"
            )
    raise NotImplementedError(
        f"`Trainer(profiler={value!r})`: profiling is not supported by the reference trainer;"
        " leave it at None (`trainer.profiler` is then a PassThroughProfiler that records"
        " nothing)."
    )


def check_barebones(**flags: Any) -> None:
    """``barebones=True`` turns these off; asking for one of them as well is an error."""
    for name, value in flags.items():
        if value:
            raise ValueError(
                f"`Trainer(barebones=True, {name}={value!r})` was passed. Barebones mode turns"
                f" {name} off."
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def batch_limit(value: int | float | None, name: str) -> int | float:
    """``limit_*_batches`` / ``val_check_interval``: a fraction in [0, 1] or a whole number of
    batches.
    """
    if value is None:
        return 1.0
    if name == "val_check_interval" and isinstance(value, (str, dict, timedelta)):
        raise MisconfigurationException(
            f"`val_check_interval={value!r}`: time-based validation intervals are not supported by"
            " the reference trainer yet; use an int (batches) or a float (fraction of an epoch)."
        )
    if not _is_number(value):
        raise MisconfigurationException(
            f"You have passed invalid value {value!r} for {name}, it has to be in [0.0, 1.0] or an"
            " int."
        )
    if _is_int(value) and value == 1:
        info(f"`Trainer({name}=1)` was configured so 1 batch will be used.")
    if name == "val_check_interval" and _is_int(value) and value == 0:
        # Lightning accepts it and divides by zero at the first batch; 0.0 (a fraction) is
        # valid and means "every batch".
        raise MisconfigurationException(
            "`val_check_interval=0` would never validate (it is a number of batches). Use an int"
            " >= 1, a float fraction of the epoch, or `limit_val_batches=0` to turn validation"
            " off."
        )
    if 0 <= value <= 1:
        return value
    if value > 1 and value % 1.0 == 0:
        return int(value)
    raise MisconfigurationException(
        f"You have passed invalid value {value} for {name}, it has to be in [0.0, 1.0] or an int."
    )


def non_negative_int(value: Any, name: str, allow_none: bool = False, minimum: int = 0) -> Any:
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < minimum:
        expected = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise MisconfigurationException(f"`{name}` should be {expected}, got {value!r}.")
    return int(value)


def max_steps(value: Any) -> int:
    if not _is_int(value) or value < -1:
        raise MisconfigurationException(
            "`max_steps` must be a non-negative integer or -1 (infinite steps). You passed in"
            f" {value}."
        )
    return int(value)


def max_epochs(value: Any) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value < -1:
        raise MisconfigurationException(
            f"`max_epochs` must be a non-negative integer or -1. You passed in {value}."
        )
    return int(value)


def check_val_every_n_epoch(value: Any, val_check_interval: Any) -> int | None:
    if value is not None and not _is_int(value):
        raise MisconfigurationException(
            f"`check_val_every_n_epoch` should be an integer, found {value!r}."
        )
    if value is not None and value < 1:
        raise MisconfigurationException(
            "`check_val_every_n_epoch` should be >= 1 (or None to count batches across epochs),"
            f" found {value}."
        )
    if value is None and isinstance(val_check_interval, float):
        raise MisconfigurationException(
            "`val_check_interval` should be an integer when `check_val_every_n_epoch=None`."
        )
    return value


def gradient_clipping(val: Any, algorithm: Any) -> tuple[float | None, str | None]:
    if val is not None:
        if not _is_number(val):
            raise TypeError(f"`gradient_clip_val` should be an int or a float. Got {val}.")
        if val < 0:
            raise MisconfigurationException(f"`gradient_clip_val` should be >= 0, got {val}.")
    if algorithm is not None:
        if not isinstance(algorithm, str) or algorithm.lower() not in ("norm", "value"):
            raise MisconfigurationException(
                f"`gradient_clip_algorithm` {algorithm} is invalid. Allowed algorithms: ['value',"
                " 'norm']."
            )
        algorithm = algorithm.lower()
    return val, algorithm


def accumulate_grad_batches(value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise MisconfigurationException(
            f"`accumulate_grad_batches` should be an int >= 1, got {value!r}."
        )
    return int(value)


def num_sanity_val_steps(value: Any) -> int | float:
    """None → 2; -1 → every batch (infinity)."""
    if value is None:
        return 2
    if not _is_int(value) or value < -1:
        raise MisconfigurationException(
            f"`num_sanity_val_steps` should be an int >= -1 (-1 runs all batches), got {value!r}."
        )
    return float("inf") if value == -1 else int(value)


def fast_dev_run(value: Any) -> int | bool:
    if isinstance(value, bool):
        return value
    if not _is_int(value) or value < 0:
        raise MisconfigurationException(
            f"fast_dev_run={value!r} is not a valid configuration. It should be >= 0."
        )
    return True if value == 1 else int(value)


def boolean(value: Any, name: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MisconfigurationException(f"`{name}` should be True or False, got {value!r}.")
    return value


def deterministic(value: Any) -> bool | str | None:
    if value not in (None, True, False, "warn"):
        raise MisconfigurationException(
            f"`deterministic` should be a bool, 'warn' or None, got {value!r}."
        )
    return value


def loop_limits(
    min_steps: int | None, max_steps: int, min_epochs: int | None, max_epochs: int | None
) -> tuple[int, int]:
    """``(min_epochs, max_epochs)`` with Lightning's defaults, resolved at each ``fit``."""
    if max_epochs is None:
        if max_steps == -1:
            warn(
                "`max_epochs` was not set. Setting it to 1000 epochs. To train without an epoch"
                " limit, set `max_epochs=-1`.",
                PossibleUserWarning,
            )
            max_epochs = 1000
        else:
            max_epochs = -1
    if min_epochs is None:
        min_epochs = 1 if min_steps is not None else 0
    return min_epochs, max_epochs
