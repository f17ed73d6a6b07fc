"""Helpers the precision plugins share: switching torch's default dtype, casting float inputs."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from reference.utilities.apply_func import apply_to_collection


class DefaultDtype:
    """A reusable context manager: ``torch.get_default_dtype()`` is ``dtype`` inside.

    Tensors created without a dtype (``torch.zeros(3)``, a new ``Linear``) then match weights kept
    in that dtype. The previous default is restored on exit, also when the block raises; nesting
    works because each entry saves what it replaced.
    """

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self._saved: list[torch.dtype] = []

    def __enter__(self) -> None:
        self._saved.append(torch.get_default_dtype())
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc_info: Any) -> None:
        torch.set_default_dtype(self._saved.pop())


def _cast_floating(tensor: Tensor, dtype: torch.dtype) -> Tensor:
    # integer, boolean and complex tensors (labels, indices, masks) keep their dtype
    return tensor.to(dtype) if torch.is_floating_point(tensor) else tensor


def cast_floating_inputs(data: Any, dtype: torch.dtype) -> Any:
    """``data`` with every floating-point tensor in it cast to ``dtype``."""
    return apply_to_collection(data, Tensor, _cast_floating, dtype)
