"""``HalfPrecision`` (``"16-true"``, ``"bf16-true"``): everything in float16 or bfloat16.

No autocast and no loss scaling: the module itself is cast, float inputs are cast, and the default
dtype is switched inside the steps so that tensors created there match the weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import Module

from reference.precision.precision import Precision
from reference.precision.utils import DefaultDtype, cast_floating_inputs

HALF_DTYPES: dict[str, torch.dtype] = {"16-true": torch.float16, "bf16-true": torch.bfloat16}


class HalfPrecision(Precision):
    def __init__(self, precision: str = "16-true") -> None:
        if precision not in HALF_DTYPES:
            raise ValueError(
                f"`HalfPrecision(precision={precision!r})`: precision must be one of"
                f" {list(HALF_DTYPES)}"
            )
        self.precision = precision
        self.dtype = HALF_DTYPES[precision]
        self._default_dtype = DefaultDtype(self.dtype)

    def convert_module(self, module: Module) -> Module:
        return module.to(dtype=self.dtype)

    def convert_input(self, data: Any) -> Any:
        return cast_floating_inputs(data, self.dtype)

    def tensor_init_context(self) -> Any:
        return self._default_dtype

    def forward_context(self) -> Any:
        return self._default_dtype

    def __repr__(self) -> str:
        return f"HalfPrecision(precision={self.precision!r})"
