"""``DoublePrecision`` (``"64-true"``): weights, float inputs and new tensors in float64."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import Module

from reference.precision.precision import Precision
from reference.precision.utils import DefaultDtype, cast_floating_inputs


class DoublePrecision(Precision):
    precision = "64-true"

    def __init__(self) -> None:
        self._default_dtype = DefaultDtype(torch.float64)

    def convert_module(self, module: Module) -> Module:
        return module.double()

    def convert_input(self, data: Any) -> Any:
        return cast_floating_inputs(data, torch.float64)

    def tensor_init_context(self) -> Any:
        return self._default_dtype

    def forward_context(self) -> Any:
        # tensors a step creates (torch.zeros, torch.rand) meet float64 weights
        return self._default_dtype

    def __repr__(self) -> str:
        return "DoublePrecision()"
