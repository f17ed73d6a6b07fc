"""What ``self.log`` accepts: the value (validated and copied) and the ``reduce_fx`` name.

These live with the module rather than with the loop's result storage
(:mod:`reference.trainer.results`) so that ``LightningModule.log`` can import them once at module
import: importing anything under ``reference.trainer`` imports the Trainer, which imports the
LightningModule, and an import inside ``log`` costs about a microsecond on every call.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from reference.utilities.exceptions import MisconfigurationException

# reduce_fx may be given as a name or as the function itself (Lightning accepts both)
_REDUCTIONS: dict[Any, str] = {
    "mean": "mean",
    "avg": "mean",
    "sum": "sum",
    "max": "max",
    "min": "min",
    torch.mean: "mean",
    torch.sum: "sum",
    torch.max: "max",
    torch.min: "min",
    sum: "sum",
    max: "max",
    min: "min",
}


def parse_reduce_fx(reduce_fx: str | Callable) -> str:
    key = reduce_fx.lower() if isinstance(reduce_fx, str) else reduce_fx
    try:
        return _REDUCTIONS[key]
    except (KeyError, TypeError):
        raise MisconfigurationException(
            "Only `self.log(..., reduce_fx={min,max,mean,sum})` are supported."
            f" If you need a custom reduction, log the reduced value yourself. Found: {reduce_fx}"
        ) from None


def default_float_dtype() -> torch.dtype:
    """The default dtype, but no lower than float32 (logged values are reduced in >= fp32)."""
    dtype = torch.get_default_dtype()
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def is_metric_object(value: Any) -> bool:
    """A ``torchmetrics.Metric`` (or anything with its protocol): it reduces itself."""
    return all(
        callable(getattr(value, name, None)) for name in ("update", "compute", "reset")
    ) and hasattr(value, "_forward_cache")


def to_logged_value(value: Any, name: str, device: torch.device | None, enable_graph: bool) -> Any:
    """Validate one ``self.log`` value: a detached scalar tensor, or a Metric object as it is.

    ``device`` is where a Python number becomes a tensor; callers may pass None for a tensor
    value (it is not needed, and a module's ``device`` costs a property call per log).
    """
    if isinstance(value, Tensor):
        if not enable_graph:
            value = value.detach()
        if value.numel() != 1:
            raise ValueError(
                f"`self.log({name}, {value})` was called, but the tensor must have a single"
                f" element. You can try doing `self.log({name}, {value}.mean())`"
            )
        if value.dim():
            value = value.squeeze()
        dtype = value.dtype
        if dtype is not torch.float32 and dtype is not torch.float64:
            if not value.is_floating_point():
                warnings.warn(
                    f"You called `self.log({name!r}, ...)` but the value needs to be floating to"
                    f" be reduced. Converting it to {default_float_dtype()}.",
                    stacklevel=4,
                )
            value = value.to(default_float_dtype())
        # a copy: the caller may keep changing its tensor in place after logging it
        return value.clone()
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        return torch.tensor(value, device=device, dtype=default_float_dtype())
    if is_metric_object(value):
        return value
    if isinstance(value, Mapping):
        raise ValueError(
            f"`self.log({name}, {value})` was called, but nested dictionaries cannot be logged"
        )
    raise ValueError(
        f"`self.log({name}, {value})` was called, but `{type(value).__name__}` values cannot be"
        " logged"
    )
