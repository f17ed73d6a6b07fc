"""Device helpers for clauses: comparing devices, finding every tensor in a batch, autocast state.

Everything here is plain torch, so it works the same for any target.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import torch


def same_device(a: torch.device | str, b: torch.device | str) -> bool:
    """Whether two devices are the same, treating a bare ``cuda`` as the current CUDA device.

    Lightning reports ``cuda:0`` where a user may write ``cuda``; both mean one device.
    """
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    if a.type == "cpu":
        return True
    return _index(a) == _index(b)


def _index(device: torch.device) -> int:
    if device.index is not None:
        return device.index
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.current_device()
    return 0


def tensors_in(obj: Any, path: str = "batch") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor inside a (nested) batch, with a readable path such as ``batch['x'][1]``.

    Walks what Lightning's default transfer walks: sequences, mappings, namedtuples, dataclasses.
    """
    if isinstance(obj, torch.Tensor):
        yield path, obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for field in dataclasses.fields(obj):
            yield from tensors_in(getattr(obj, field.name), f"{path}.{field.name}")
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from tensors_in(value, f"{path}[{key!r}]")
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            yield from tensors_in(value, f"{path}[{index}]")


def devices_in(obj: Any) -> dict[str, torch.device]:
    """``{path: device}`` for every tensor in a batch."""
    return {path: tensor.device for path, tensor in tensors_in(obj)}


def autocast_enabled(device_type: str) -> bool:
    """Whether ``torch.autocast`` is active for ``device_type`` right now."""
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except TypeError:  # torch < 2.4: no device argument
        if device_type == "cpu":
            return bool(torch.is_autocast_cpu_enabled())
        return bool(torch.is_autocast_enabled())


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast casts to for ``device_type``, or None if autocast is off there."""
    if not autocast_enabled(device_type):
        return None
    getter = getattr(torch, "get_autocast_dtype", None)
    if getter is not None:
        return getter(device_type)
    if device_type == "cpu":  # torch < 2.4
        return torch.get_autocast_cpu_dtype()
    return torch.get_autocast_gpu_dtype()
