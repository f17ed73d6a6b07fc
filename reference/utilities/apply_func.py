"""Walking nested batches: apply a function to every leaf of a given type, move data to a device.

A batch may be a tensor or any nesting of lists, tuples, namedtuples, dicts and dataclasses, and
may hold objects of the user's own classes that know how to move themselves (they have ``.to``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch


def apply_to_collection(
    data: Any, dtype: type | tuple[type, ...], function: Callable, *args: Any, **kwargs: Any
) -> Any:
    """Return ``data`` with ``function(leaf, *args, **kwargs)`` applied to every leaf of ``dtype``.

    Containers are rebuilt with their own type (namedtuples field by field, dataclasses with
    :func:`dataclasses.replace` semantics, mappings with ``type(data)(...)``); other leaves are
    returned unchanged.
    """
    if isinstance(data, dtype):
        return function(data, *args, **kwargs)
    if isinstance(data, Mapping):
        items = [
            (k, apply_to_collection(v, dtype, function, *args, **kwargs)) for k, v in data.items()
        ]
        try:
            return type(data)(items)
        except TypeError:  # e.g. a defaultdict needs its factory first
            return _rebuild_mapping(data, items)
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(apply_to_collection(v, dtype, function, *args, **kwargs) for v in data))
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        items = [apply_to_collection(v, dtype, function, *args, **kwargs) for v in data]
        return items if type(data) is list else _rebuild_sequence(data, items)
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return _rebuild_dataclass(data, dtype, function, *args, **kwargs)
    return data


def _rebuild_mapping(original: Mapping, items: list) -> Any:
    clone = type(original).__new__(type(original))  # type: ignore[call-overload]
    clone.__dict__.update(getattr(original, "__dict__", {}))
    if hasattr(original, "default_factory"):
        clone.default_factory = original.default_factory  # type: ignore[attr-defined]
    clone.update(items)
    return clone


def _rebuild_sequence(original: Sequence, items: list) -> Any:
    try:
        return type(original)(items)  # type: ignore[call-arg]
    except TypeError:
        return items


def _rebuild_dataclass(data: Any, dtype: Any, function: Callable, *args: Any, **kwargs: Any) -> Any:
    # copy.copy keeps fields with init=False; then every field is replaced by its converted value
    import copy

    clone = copy.copy(data)
    for field in dataclasses.fields(data):
        value = apply_to_collection(getattr(data, field.name), dtype, function, *args, **kwargs)
        object.__setattr__(clone, field.name, value)  # also works for frozen dataclasses
    return clone


class _TransferableMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return not isinstance(obj, type) and callable(getattr(obj, "to", None))


class Transferable(metaclass=_TransferableMeta):
    """Matches any object with a callable ``.to`` (tensors, modules, the user's own batch
    classes).
    """


def move_data_to_device(batch: Any, device: torch.device | str | int) -> Any:
    """Move every tensor (and every object with a ``.to`` method) in ``batch`` to ``device``.

    Tensors get ``non_blocking=True`` unless the target is the CPU or MPS, as in Lightning. An
    object whose ``.to`` returns None (an in-place mover) is kept as it is.
    """
    if not isinstance(device, torch.device):
        device = torch.device(device)
    return _move(batch, device, device.type not in ("cpu", "mps"))


def _move(data: Any, device: torch.device, non_blocking: bool) -> Any:
    # fast paths for the shapes almost every batch has; everything else goes the generic way
    if isinstance(data, torch.Tensor):
        # .to() returns the same tensor when it is already there; skipping the call saves a
        # dispatcher round trip per tensor per batch on the hot path
        return data if data.device == device else data.to(device, non_blocking=non_blocking)
    if type(data) in (list, tuple):
        return type(data)([_move(v, device, non_blocking) for v in data])
    return apply_to_collection(data, Transferable, _move_transferable, device, non_blocking)


def _move_transferable(data: Any, device: torch.device, non_blocking: bool) -> Any:
    if isinstance(data, torch.Tensor):
        return _move(data, device, non_blocking)
    moved = data.to(device)
    return data if moved is None else moved
