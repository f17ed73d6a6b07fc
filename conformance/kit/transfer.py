"""Batches for the transfer clauses (XFER): nested containers, objects with and without ``.to``.

:func:`nested_batches` is a hypothesis strategy over what a DataLoader may yield: tensors, Python
scalars, strings, ``None`` and opaque objects inside lists, tuples, dicts, namedtuples and
dataclasses, plus user objects with a ``.to`` method. :func:`transfer_problems` compares a batch
with what a transfer returned and names every difference, tagged by the rule it breaks, so one
property run can serve several clauses.
"""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from collections.abc import Mapping
from typing import Any

import torch
from hypothesis import strategies as st

from conformance.kit.devices import same_device

Pair = namedtuple("Pair", ["first", "second"])


@dataclasses.dataclass
class Sample:
    """A dataclass batch, as users write them."""

    features: Any
    target: Any
    tag: str = "sample"


class Opaque:
    """A user object without ``.to``: a transfer must pass it through untouched."""

    def __repr__(self) -> str:
        return f"Opaque@{id(self):x}"


class Movable:
    """A user object with ``.to(device)``: records each call and returns a moved copy."""

    def __init__(self, payload: torch.Tensor) -> None:
        self.payload = payload
        self.calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
        self.returned: list[Movable] = []

    def to(self, device: Any, *args: Any, **kwargs: Any) -> Movable:
        self.calls.append((device, args, kwargs))
        moved = Movable(self.payload.to(device))
        self.returned.append(moved)
        return moved

    def __repr__(self) -> str:
        return f"Movable({tuple(self.payload.shape)}, calls={len(self.calls)})"


class MovableInPlace:
    """A user object whose ``.to`` moves its payload in place and (wrongly) returns None."""

    def __init__(self, payload: torch.Tensor) -> None:
        self.payload = payload
        self.calls: list[Any] = []

    def to(self, device: Any, *args: Any, **kwargs: Any) -> None:
        self.calls.append(device)
        self.payload = self.payload.to(device)


def _tensor(dtype: torch.dtype, shape: list[int]) -> torch.Tensor:
    n = 1
    for size in shape:
        n *= size
    return torch.arange(n).reshape(shape).to(dtype)


_names = st.text(alphabet="abcxyz", min_size=1, max_size=3)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(_names, children, max_size=3),
        st.builds(Pair, children, children),
        st.builds(Sample, children, children),
    )


def nested_batches(float64: bool = True) -> st.SearchStrategy[Any]:
    """Arbitrarily nested batches (a few leaves each, so one example stays cheap).

    Each batch is ``[<random nesting>, <one of each kind>]``: the second part holds a tensor of
    every dtype, a ``.to`` object, an opaque object, a number, a string and None inside a
    dataclass, a dict, a namedtuple, a list and a tuple, so every example exercises every rule
    while hypothesis varies the first part. ``float64=False`` leaves out float64 tensors, for
    devices without float64 (MPS).
    """
    dtypes = [torch.float32, torch.int64, torch.bool] + ([torch.float64] if float64 else [])
    shapes = st.lists(st.integers(1, 3), max_size=2)
    tensors = st.builds(_tensor, st.sampled_from(dtypes), shapes)
    others = st.one_of(
        tensors.map(Movable),
        st.integers(-3, 3),
        st.floats(allow_nan=False, width=32),
        _names,
        st.none(),
        st.builds(Opaque),
    )
    leaves = st.one_of(tensors, others)  # half of the leaves are tensors
    one_of_each = st.builds(
        _one_of_each,
        st.tuples(*(st.builds(_tensor, st.just(dtype), shapes) for dtype in dtypes)),
        st.builds(_tensor, st.just(torch.float32), shapes).map(Movable),
        st.integers(-3, 3),
        _names,
    )
    return st.tuples(st.recursive(leaves, _containers, max_leaves=8), one_of_each).map(list)


def _one_of_each(tensors: tuple[Any, ...], movable: Movable, number: int, name: str) -> Sample:
    return Sample(
        features={"tensors": list(tensors), "pair": Pair(movable, Opaque())},
        target=(number, name, None),
    )


# Problem kinds, one per rule: the container structure, tensors, `.to` objects, other leaves.
STRUCTURE, TENSOR, MOVABLE, LEAF = "structure", "tensor", "movable", "leaf"


def transfer_problems(original: Any, moved: Any, device: torch.device) -> list[tuple[str, str]]:
    """``(kind, message)`` for every way ``moved`` is not ``original`` transferred to ``device``."""
    problems: list[tuple[str, str]] = []
    _compare(original, moved, torch.device(device), "batch", problems)
    return problems


def _compare(
    original: Any, moved: Any, device: torch.device, path: str, out: list[tuple[str, str]]
) -> None:
    if isinstance(original, torch.Tensor):
        _compare_tensor(original, moved, device, path, out)
    elif isinstance(original, Movable):
        _compare_movable(original, moved, device, path, out)
    elif isinstance(original, (Mapping, list, tuple)) or _is_dataclass(original):
        if type(moved) is not type(original):
            out.append(
                (
                    STRUCTURE,
                    f"{path}: a {type(original).__name__} came back as {type(moved).__name__}",
                )
            )
            return
        for sub_path, a, b in _children(original, moved, path, out):
            _compare(a, b, device, sub_path, out)
    elif moved is not original:
        out.append((LEAF, f"{path}: {original!r} has no .to() but was replaced by {moved!r}"))


def _compare_tensor(
    original: torch.Tensor, moved: Any, device: torch.device, path: str, out: list[Any]
) -> None:
    if not isinstance(moved, torch.Tensor):
        out.append((TENSOR, f"{path}: a tensor came back as {type(moved).__name__}"))
        return
    if not same_device(moved.device, device):
        out.append((TENSOR, f"{path}: on {moved.device}, expected {device}"))
        return
    if moved.dtype != original.dtype or moved.shape != original.shape:
        out.append(
            (
                TENSOR,
                f"{path}: {original.dtype}{tuple(original.shape)} came back as "
                f"{moved.dtype}{tuple(moved.shape)}",
            )
        )
    elif not torch.equal(moved.cpu(), original.cpu()):
        out.append((TENSOR, f"{path}: values changed in transfer"))


def _compare_movable(
    original: Movable, moved: Any, device: torch.device, path: str, out: list[Any]
) -> None:
    if len(original.calls) != 1:
        out.append((MOVABLE, f"{path}: .to() called {len(original.calls)} times, expected once"))
        return
    called_with = original.calls[0][0]
    try:
        right_device = same_device(called_with, device)
    except (TypeError, RuntimeError):
        right_device = False
    if not right_device:
        out.append((MOVABLE, f"{path}: .to({called_with!r}) called, expected {device}"))
    if moved is not original.returned[0]:
        out.append((MOVABLE, f"{path}: the object .to() returned is not what came back"))


def _is_dataclass(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def _children(original: Any, moved: Any, path: str, out: list[Any]) -> list[tuple[str, Any, Any]]:
    if isinstance(original, Mapping):
        if list(original.keys()) != list(moved.keys()):
            out.append((STRUCTURE, f"{path}: keys {list(original)} came back as {list(moved)}"))
            return []
        return [(f"{path}[{k!r}]", original[k], moved[k]) for k in original]
    if _is_dataclass(original):
        names = [f.name for f in dataclasses.fields(original)]
        return [(f"{path}.{n}", getattr(original, n), getattr(moved, n)) for n in names]
    if len(original) != len(moved):
        out.append((STRUCTURE, f"{path}: length {len(original)} came back as {len(moved)}"))
        return []
    return [(f"{path}[{i}]", a, b) for i, (a, b) in enumerate(zip(original, moved))]
