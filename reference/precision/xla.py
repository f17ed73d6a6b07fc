"""``XLAPrecision``: precision on XLA devices (``"32-true"``, ``"16-true"``, ``"bf16-true"``).

Half precision casts the module and the float inputs and switches the default dtype inside the
steps, exactly as :class:`~reference.precision.half.HalfPrecision` does on other devices, which is
what torch_xla asks for ("please convert your model to bf16 directly").

Lightning instead sets the ``XLA_USE_F16`` / ``XLA_USE_BF16`` environment flags and leaves PyTorch
seeing float32. With torch_xla 2.9 that does not give the requested precision (reproduced, see
``docs/xla.md``): ``XLA_USE_F16`` is no longer read at all (16-true silently runs float32), and
``XLA_USE_BF16`` is read once per process, at the first XLA tensor: set later it does nothing,
and once read it turns every later XLA computation of the process, 32-true runs included, into
bfloat16.

The optimizer step is followed by a graph sync, so that each step's graph is compiled and run
once (where Lightning calls ``xm.mark_step()``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.nn import Module
from torch.optim import Optimizer

from reference.accelerators.xla import sync
from reference.precision.half import HALF_DTYPES
from reference.precision.precision import _NULL_CONTEXT, Precision
from reference.precision.utils import DefaultDtype, cast_floating_inputs

XLA_PRECISIONS: tuple[str, ...] = ("32-true", "16-true", "bf16-true")


class XLAPrecision(Precision):
    def __init__(self, precision: str = "32-true") -> None:
        if precision not in XLA_PRECISIONS:
            raise ValueError(
                f"`precision={precision!r}` is not supported on XLA devices. `precision` must be"
                f" one of: {', '.join(repr(p) for p in XLA_PRECISIONS)}."
            )
        self.precision = precision
        self.dtype = HALF_DTYPES.get(precision)  # None: float32, nothing to convert
        self._default_dtype = DefaultDtype(self.dtype) if self.dtype is not None else None

    def convert_module(self, module: Module) -> Module:
        return module if self.dtype is None else module.to(dtype=self.dtype)

    def convert_input(self, data: Any) -> Any:
        return data if self.dtype is None else cast_floating_inputs(data, self.dtype)

    def tensor_init_context(self) -> Any:
        return self._default_dtype or _NULL_CONTEXT

    def forward_context(self) -> Any:
        return self._default_dtype or _NULL_CONTEXT

    def optimizer_step(
        self, optimizer: Optimizer, model: Any, closure: Callable[[], Any], **kwargs: Any
    ) -> Any:
        output = super().optimizer_step(optimizer, model=model, closure=closure, **kwargs)
        sync()
        return output

    def __repr__(self) -> str:
        return f"XLAPrecision(precision={self.precision!r})"
